"""Where the shipped model zoo lives and which models it holds.

The zoo is the repository's `zoo/` folder, installed as the data package
`bssn_tf.zoo_files` so that both `pip install .` and `pip install -e .` find it;
the BSSN_ZOO_DIR environment variable points elsewhere (tests, Bazel runfiles).
`index.json` is {"format": 1, "models": {name: {"path", "card_sha256", "summary"}}}.
"""

import importlib.util
import json
import os

from bssn_tf.io import write_json_atomically
from bssn_tf.zoo.integrity import CARD, check_relpath, sha256_of

ZOO_DIR_ENV = "BSSN_ZOO_DIR"
DATA_PACKAGE = "bssn_tf.zoo_files"
INDEX = "index.json"
INDEX_FORMAT = 1


class UnknownModelError(KeyError):
    """A model name that the zoo index does not list."""

    def __str__(self):
        return self.args[0]  # KeyError would print the message in quotes


def zoo_root():
    """The folder holding index.json: $BSSN_ZOO_DIR, else the installed data package."""
    if os.environ.get(ZOO_DIR_ENV):
        return os.environ[ZOO_DIR_ENV]
    spec = importlib.util.find_spec(DATA_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"the model zoo package {DATA_PACKAGE} is not installed; reinstall bssn_tf "
            f"or set {ZOO_DIR_ENV} to a folder holding {INDEX}"
        )
    return list(spec.submodule_search_locations)[0]


def read_index(root=None):
    """The parsed index.json of the zoo at `root` (default: zoo_root())."""
    path = os.path.join(root or zoo_root(), INDEX)
    with open(path) as handle:
        index = json.load(handle)
    if index.get("format") != INDEX_FORMAT:
        raise ValueError(f"{path}: format {index.get('format')!r}, expected {INDEX_FORMAT}")
    return index


def available():
    """Sorted names of the shipped models."""
    return sorted(read_index()["models"])


def model_entry(name):
    """The index entry of `name`; UnknownModelError lists the names there are."""
    models = read_index()["models"]
    if name not in models:
        raise UnknownModelError(
            f"no zoo model named {name!r}; available: {', '.join(sorted(models)) or 'none'} "
            f"(zoo at {zoo_root()})"
        )
    return models[name]


def model_directory(name):
    """The folder of zoo model `name`."""
    relpath = model_entry(name)["path"]
    check_relpath(relpath, os.path.join(zoo_root(), INDEX))
    return os.path.join(zoo_root(), *relpath.split("/"))


def add_to_index(root, name, card):
    """Lists the published model `root/name` in root/index.json, replacing an older entry."""
    path = os.path.join(root, INDEX)
    index = read_index(root) if os.path.exists(path) else {"format": INDEX_FORMAT, "models": {}}
    metrics = card["metrics"]
    index["models"][name] = {
        "path": name,
        "card_sha256": sha256_of(os.path.join(root, name, CARD)),
        "summary": {
            "arch": card["arch"],
            "norm": card["norm"],
            "scale": card["scale"],
            "steps": card["steps"],
            "fcd": round(metrics["fcd"], 2),
            "kcd": round(metrics["kcd"], 4),
            "classifier_score": round(metrics["classifier_score"], 2),
            "about": card["summary"],
        },
    }
    write_json_atomically(path, index)
