"""Where the shipped model zoo lives and which models it holds.

The zoo is the repository's `zoo/` folder. Found, in this order:
  1. $BSSN_ZOO_DIR (tests, Bazel runfiles, a zoo of your own);
  2. the `zoo/` folder beside the imported `bssn_tf` when that is a source
     checkout (a setup.py beside it), so the code and the zoo of one checkout
     go together. Running from the repository root imports the checkout's
     `bssn_tf` even after a plain `pip install .`, and the checkout has no
     `bssn_tf.zoo_files`;
  3. the data package `bssn_tf.zoo_files` that `pip install .` installs.
`index.json` is {"format": 1, "models": {name: {"path", "card_sha256", "summary"}}}.
"""

import importlib.util
import json
import os

from bssn_tf.io import write_json_atomically
from bssn_tf.io.hashing import sha256_of
from bssn_tf.zoo.integrity import CARD, check_relpath

ZOO_DIR_ENV = "BSSN_ZOO_DIR"
DATA_PACKAGE = "bssn_tf.zoo_files"
INDEX = "index.json"
INDEX_FORMAT = 1
# The imported bssn_tf package's folder (this file is bssn_tf/zoo/registry.py).
PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class UnknownModelError(KeyError):
    """A model name that the zoo index does not list."""

    def __str__(self):
        return self.args[0]  # KeyError would print the message in quotes


def checkout_zoo():
    """The `zoo/` folder of the source checkout that `bssn_tf` is imported from, else None."""
    checkout = os.path.dirname(PACKAGE_DIR)
    zoo = os.path.join(checkout, "zoo")
    is_checkout = os.path.isfile(os.path.join(checkout, "setup.py"))
    return zoo if is_checkout and os.path.isfile(os.path.join(zoo, INDEX)) else None


def zoo_root():
    """The folder holding index.json: $BSSN_ZOO_DIR, the checkout's zoo/, or the data package."""
    if os.environ.get(ZOO_DIR_ENV):
        return os.environ[ZOO_DIR_ENV]
    checkout = checkout_zoo()
    if checkout:
        return checkout
    spec = importlib.util.find_spec(DATA_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"no model zoo for bssn_tf at {PACKAGE_DIR}: it has neither the data package "
            f"{DATA_PACKAGE} nor a checkout's zoo/{INDEX} beside it; set {ZOO_DIR_ENV} "
            f"to a folder holding {INDEX} (the repository's zoo/)"
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


def index_pin(directory):
    """(name, card sha256) if `directory` is a model folder of the zoo index, else None.

    A shipped model loaded by its path is then still pinned by index.json.
    """
    try:
        root = zoo_root()
        models = read_index(root)["models"]
    except (OSError, ValueError):
        return None  # no zoo here: the folder is simply not one of its models
    target = os.path.realpath(directory)
    for name, entry in sorted(models.items()):
        relpath = entry.get("path")
        if isinstance(relpath, str) and target == os.path.realpath(
            os.path.join(root, *relpath.split("/"))
        ):
            return name, entry["card_sha256"]
    return None


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
            "classes": card.get("num_classes", 0),
            "fcd": round(metrics["fcd"], 2),
            "kcd": round(metrics["kcd"], 4),
            "classifier_score": round(metrics["classifier_score"], 2),
            "about": card["summary"],
        },
    }
    write_json_atomically(path, index)
