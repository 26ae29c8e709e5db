"""Pretrained generators by zoo name, local folder or pinned URL, verified and screened first.

from bssn_tf import zoo
generator = zoo.load("cnn_bssn")
images = generator(zoo.latents(16, seed=0, z_dim=generator.z_dim))

Before TensorFlow sees a model: its card is checked against a pin (the zoo
index for shipped names and their folders, the caller's `sha256` otherwise;
required for URLs), the folder must hold exactly the files the card lists
with matching sha256, and saved_model.pb may hold only the ops a generator
needs (bssn_tf.zoo.screening). An unpinned folder of your own is checked for
consistency with its card, but its card (metrics included) is taken as is.
"""

import os

import tensorflow as tf

from bssn_tf.zoo import download, registry
from bssn_tf.zoo.download import PinRequiredError
from bssn_tf.zoo.generator import ZooGenerator, latents, reference_labels
from bssn_tf.zoo.integrity import CARD, IntegrityError, check_pin, read_card
from bssn_tf.zoo.registry import UnknownModelError, available
from bssn_tf.zoo.screening import ForbiddenOpError, screen_saved_model

__all__ = [
    "ForbiddenOpError",
    "IntegrityError",
    "PinRequiredError",
    "UnknownModelError",
    "ZooGenerator",
    "available",
    "card",
    "latents",
    "load",
    "reference_labels",
    "verify",
]

_CALLER = "the caller's sha256"


def _pinned_card(directory, pins):
    """read_card of `directory`, pinned by [(sha256, where it comes from)] if any; all agree."""
    if not pins:
        return read_card(directory)
    (sha256, pinned_by), *others = pins
    for other, other_by in others:
        if other != sha256:
            raise IntegrityError(
                f"{os.path.join(directory, CARD)}: {other_by} is {other}, "
                f"but {pinned_by} is {sha256}"
            )
    return read_card(directory, sha256, pinned_by)


def _verified(source, sha256=None):
    """(folder, card) of a verified, screened model; raises IntegrityError naming the bad file."""
    pins = [] if sha256 is None else [(check_pin(sha256, "sha256"), _CALLER)]
    if download.is_url(source):
        directory = download.fetch(source, sha256)
    elif os.path.isdir(source):
        directory = source
        shipped = registry.index_pin(directory)
        if shipped:
            pins.insert(0, (shipped[1], f"the zoo index (model {shipped[0]!r})"))
    else:
        pins.insert(0, (registry.model_entry(source)["card_sha256"], "the zoo index"))
        directory = registry.model_directory(source)
    model_card = _pinned_card(directory, pins)
    screen_saved_model(directory, model_card)
    return directory, model_card


def verify(source, sha256=None):
    """Returns the local folder of `source` after every check that load makes.

    Args:
      source: a zoo name (pinned by index.json), a model folder, or an
        http(s)/file URL (downloaded into the cache).
      sha256: hex sha256 of the model's model_card.json. Required for a URL;
        optional for a folder or a name, where it must match as well.

    Raises:
      PinRequiredError: a URL without `sha256`.
      IntegrityError: a card or file that does not match, an unlisted file or
        link, a malformed card field; ForbiddenOpError (a subclass) for an op
        that a generator does not need.
    """
    return _verified(source, sha256)[0]


def card(source, sha256=None):
    """The verified model card (a dict) of a zoo name, model folder or URL; see verify."""
    return _verified(source, sha256)[1]


def load(source, sha256=None):
    """A ZooGenerator for a zoo name, model folder or URL, loaded only once verified.

    Takes the same arguments and raises the same errors as verify; a model
    that TensorFlow itself cannot load (a damaged variables file that its own
    checksums catch, say) raises IntegrityError naming the folder.
    """
    directory, model_card = _verified(source, sha256)
    try:
        saved_model = tf.saved_model.load(directory)
    except (tf.errors.OpError, ValueError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise IntegrityError(f"{directory}: TensorFlow could not load this model: {reason}") from (
            error
        )
    return ZooGenerator(saved_model, model_card, directory, source=source)
