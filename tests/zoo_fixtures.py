"""Pytest fixtures of the zoo tests (load with `pytest_plugins = ["zoo_fixtures"]`)."""

import os
import pathlib
import shutil

import pytest
from zoo_support import (
    IMAGE_SHAPE,
    NAME,
    Z_DIM,
    finish_model_dir,
    serving,
    tiny_generator,
    write_index,
)

from bssn_tf.training.export import export_generator
from bssn_tf.zoo import download, registry


@pytest.fixture(scope="module")
def network():
    return tiny_generator()


@pytest.fixture(scope="module")
def source_zoo(tmp_path_factory, network):
    """A zoo root holding the model `tiny`, built once; tests work on copies."""
    root = tmp_path_factory.mktemp("source") / "zoo"
    root.mkdir()
    run_dir = tmp_path_factory.mktemp("run")
    card = {"norm": "bssn", "steps": 1, "metrics": {"fcd": 1.5}, "image_shape": IMAGE_SHAPE}
    export = export_generator(network, Z_DIM, str(run_dir / "export"), card)
    os.replace(export, root / NAME)
    finish_model_dir(root / NAME, network)
    write_index(root, [NAME])
    return root


@pytest.fixture
def zoo_root(tmp_path, monkeypatch, source_zoo):
    root = tmp_path / "zoo"
    shutil.copytree(source_zoo, root)
    monkeypatch.setenv(registry.ZOO_DIR_ENV, str(root))
    monkeypatch.setenv(download.CACHE_ENV, str(tmp_path / "cache"))
    return root


@pytest.fixture
def model_copy(zoo_root, tmp_path):
    """A copy of `tiny` outside the zoo: a folder of one's own, which no index pins."""
    return pathlib.Path(shutil.copytree(zoo_root / NAME, tmp_path / "copy" / NAME))


@pytest.fixture
def server(zoo_root):
    """The zoo root over http; yields (base URL, list of request paths)."""
    with serving(zoo_root) as served:
        yield served
