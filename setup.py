"""Installs bssn_tf; dependencies live here so `pip install .` is the one set-up step."""

from setuptools import find_namespace_packages, setup

# The model zoo lives in the repository's zoo/ folder and installs as the data
# package bssn_tf.zoo_files (zoo/__init__.py makes it importable in editable
# installs too), where bssn_tf.zoo.registry finds it. Its subfolders are listed
# as packages as well, or setuptools warns about data in unlisted folders.
ZOO_PACKAGES = ["bssn_tf.zoo_files"] + [
    f"bssn_tf.zoo_files.{name}"
    for name in find_namespace_packages(where="zoo", exclude=["__pycache__", "*.__pycache__"])
]

setup(
    name="bssn_tf",
    version="0.1.0",
    description=(
        "Spectral normalization (SN) and Bidirectional Scaled Spectral "
        "Normalization (BSSN) for Keras 3 / TensorFlow GANs."
    ),
    python_requires=">=3.10",
    packages=find_namespace_packages(
        include=["bssn_tf", "bssn_tf.*", "train", "train.*"], exclude=["*.__pycache__"]
    )
    + ZOO_PACKAGES,
    package_dir={"bssn_tf.zoo_files": "zoo"},
    include_package_data=True,
    package_data={
        "bssn_tf": ["**/*.json", "**/*.npz", "**/*.keras"],
        **{package: ["*"] for package in ZOO_PACKAGES},
    },
    install_requires=[
        "tensorflow>=2.16",
        "keras>=3",
        "absl-py",
        "numpy",
        # Decodes image folders as pytorch-fid does (bssn_tf.metrics.image_sources).
        "pillow",
    ],
    extras_require={
        # The embedded offline datasets and the TFDS pipelines, and matplotlib
        # for the report figures (bssn_tf.analysis.plots, train/zoo_study.py).
        "data": [
            "tensorflow-datasets",
            "importlib_resources",
            "mlxtend",
            "scikit-learn",
            "matplotlib",
        ],
        # Oracles (scipy), the data extra, and jax for the JAX-backend run.
        "test": [
            "pytest",
            "ruff==0.17.6",
            "scipy",
            "jax",
            "tensorflow-datasets",
            "importlib_resources",
            "mlxtend",
            "scikit-learn",
            "matplotlib",
            # pytorch-fid is the oracle of the FID Inception tests (the CPU build of torch).
            "torch==2.13.0",
            "pytorch-fid",
        ],
        "jax": ["jax"],
        # Only benchmarks/train_step.py's PyTorch twin uses it.
        "bench": ["torch==2.13.0"],
        # The oracle of tests/test_fid_inception.py and benchmarks/metrics_speed.py:
        # pytorch-fid's own FID Inception network and Frechet distance (CPU torch).
    },
)
