"""A plain `pip install .` (no extras), used from outside the checkout: the loader-only promise.

The zoo loader and the layers must not need the `data` extra (tensorflow-datasets,
mlxtend, scikit-learn, matplotlib). This builds a fresh virtualenv, installs the
package without extras the way a user would, and runs the zoo CLI and the
Python API from a folder where the checkout cannot shadow the installed package.
"""

import os
import subprocess
import venv

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXTRA_ONLY_PACKAGES = ("tensorflow_datasets", "mlxtend", "sklearn", "matplotlib")


@pytest.mark.slow
def test_zoo_and_layers_work_after_a_plain_install(tmp_path):
    environment = tmp_path / "venv"
    venv.create(environment, with_pip=True)
    python = str(environment / "bin" / "python")
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", REPO_ROOT],
        check=True,
        timeout=1800,
        env=dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1"),
    )
    outside = tmp_path / "elsewhere"
    outside.mkdir()

    def run(*arguments):
        result = subprocess.run(
            [python, *arguments],
            cwd=outside,
            capture_output=True,
            text=True,
            timeout=600,
            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=""),
        )
        assert result.returncode == 0, result.stderr[-3000:]
        return result.stdout

    for package in EXTRA_ONLY_PACKAGES:
        probe = f"import importlib.util as u; print(u.find_spec({package!r}) is None)"
        assert run("-c", probe).strip() == "True", f"{package} came with a plain install"
    assert "cnn_bssn" in run("-m", "bssn_tf.zoo", "list")
    assert '"z_dim": 128' in run("-m", "bssn_tf.zoo", "card", "cnn_bssn")
    assert "cnn_bssn: ok" in run("-m", "bssn_tf.zoo", "verify")
    grid = outside / "grid.png"
    run("-m", "bssn_tf.zoo", "sample", "cnn_bssn", "--num", "4", "--out", str(grid))
    assert grid.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    api = (
        "import bssn_tf, bssn_tf.layers\n"
        "from bssn_tf import zoo\n"
        "generator = zoo.load('cnn_bssn')\n"
        "images = generator(zoo.latents(2, seed=0, z_dim=generator.z_dim))\n"
        "assert bssn_tf.__file__.startswith(sys.prefix), bssn_tf.__file__\n"
        "print(images.shape, float(abs(images).max()) <= 1.0)\n"
    )
    assert run("-c", "import sys\n" + api).strip() == "(2, 28, 28, 1) True"
