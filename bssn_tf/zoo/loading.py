"""Loads a zoo model by name, folder or pinned URL, verified, screened, from a private copy."""

import contextlib
import os

import tensorflow as tf

from bssn_tf.command_line import one_line
from bssn_tf.zoo import download, registry
from bssn_tf.zoo.generator import ZooGenerator
from bssn_tf.zoo.integrity import CARD, IntegrityError, check_pin, verified_copy
from bssn_tf.zoo.screening import screen_saved_model

_CALLER = "the caller's sha256"


def _located(source, sha256=None):
    """(local folder, pin, where the pin comes from) of a zoo name, model folder or URL."""
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
    (pin, pinned_by), *others = pins or [(None, None)]
    for other, other_by in others:
        if other != pin:
            raise IntegrityError(
                f"{os.path.join(directory, CARD)}: {other_by} is {other}, but {pinned_by} is {pin}"
            )
    return directory, pin, pinned_by


@contextlib.contextmanager
def _verified_copy(directory, pin, pinned_by):
    """Yields (private verified copy, card) of a screened model folder.

    Everything after the copy is made (screening, loading) reads the copy, which
    nobody else can write, so nothing can be swapped between check and load.
    """
    with verified_copy(directory, pin, pinned_by) as (copy, model_card):
        screen_saved_model(copy, model_card, shown_as=directory)
        yield copy, model_card


def verify(source, sha256=None):
    """Returns the local folder of `source` after every check that load makes.

    Args:
      source: a zoo name (pinned by index.json), a model folder, or an
        http(s)/file URL (downloaded into the cache).
      sha256: hex sha256 of the model's model_card.json. Required for a URL;
        optional for a folder or a name, where it must match as well.

    Raises:
      PinRequiredError: a URL without `sha256`.
      IntegrityError (a bssn_tf.io.UntrustedFileError): a card or file that
        does not match or exceeds its size, an unlisted file or link, a
        malformed card field; ForbiddenOpError (a subclass) for what the
        screen refuses (bssn_tf.zoo.screening).
    """
    directory, pin, pinned_by = _located(source, sha256)
    with _verified_copy(directory, pin, pinned_by):
        return directory


def card(source, sha256=None):
    """The verified model card (a dict) of a zoo name, model folder or URL; see verify."""
    with _verified_copy(*_located(source, sha256)) as (_, model_card):
        return model_card


def load(source, sha256=None):
    """A ZooGenerator for a zoo name, model folder or URL, loaded only once verified.

    Takes the same arguments and raises the same errors as verify. TensorFlow
    loads the verified private copy, which is removed once loaded; a model
    that TensorFlow itself cannot load (a damaged variables file that its own
    checksums catch, say) raises IntegrityError naming the folder.
    """
    directory, pin, pinned_by = _located(source, sha256)
    with _verified_copy(directory, pin, pinned_by) as (copy, model_card):
        try:
            saved_model = tf.saved_model.load(copy)
        except (tf.errors.OpError, ValueError) as error:
            raise IntegrityError(
                f"{directory}: TensorFlow could not load this model: {one_line(error)}"
            ) from error
    return ZooGenerator(saved_model, model_card, directory, source=source)
