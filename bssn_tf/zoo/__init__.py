"""Pretrained generators by zoo name, local folder or URL, every file verified before loading.

from bssn_tf import zoo
generator = zoo.load("cnn_bssn")
images = generator(zoo.latents(16, seed=0, z_dim=generator.z_dim))
"""

import os

import tensorflow as tf

from bssn_tf.zoo import download, registry
from bssn_tf.zoo.generator import ZooGenerator, latents, reference_labels
from bssn_tf.zoo.integrity import IntegrityError, read_card
from bssn_tf.zoo.registry import UnknownModelError, available

__all__ = [
    "IntegrityError",
    "UnknownModelError",
    "ZooGenerator",
    "available",
    "card",
    "latents",
    "load",
    "reference_labels",
    "verify",
]


def verify(source):
    """Returns the local folder of `source` after checking every file against its card.

    `source` is an http(s)/file URL (downloaded into the cache), an existing
    model folder, or else a zoo name, whose card must also match index.json.
    """
    return _verified(source)[0]


def _verified(source):
    """(folder, card) of a verified model; raises IntegrityError naming the bad file."""
    if download.is_url(source):
        directory = download.fetch(source)
        return directory, read_card(directory)
    if os.path.isdir(source):
        return source, read_card(source)
    expected = registry.model_entry(source)["card_sha256"]
    directory = registry.model_directory(source)
    return directory, read_card(directory, expected)


def card(source):
    """The verified model card (a dict) of a zoo name, model folder or URL."""
    return _verified(source)[1]


def load(source):
    """A ZooGenerator for a zoo name, model folder or URL, loaded only once verified."""
    directory, model_card = _verified(source)
    return ZooGenerator(tf.saved_model.load(directory), model_card, directory)
