"""Wraps every supported layer of an existing model in one call."""

import keras

from bssn_tf.layers.kernel_layout import SUPPORTED_LAYERS
from bssn_tf.layers.spectral_normalization import SpectralNormalization


def _is_sequential_or_functional(model):
    return isinstance(model, keras.Sequential) or any(
        cls.__name__ == "Functional" for cls in type(model).__mro__
    )


def _copy_weights(original, cloned):
    """Copies weights layer by layer, into the inner layer of new wrappers."""
    for source, target in zip(original.layers, cloned.layers):
        if _is_sequential_or_functional(source):
            _copy_weights(source, target)
            continue
        if isinstance(target, SpectralNormalization) and not isinstance(
            source, SpectralNormalization
        ):
            target = target.layer
        target.set_weights(source.get_weights())


def spectralize(model, mode="sn", scale=1.0, **wrapper_kwargs):
    """Returns a copy of `model` with each supported layer spectrally normalized.

    The copy starts from `model`'s current weights. Nested Sequential or
    Functional models are handled too; layers that are already wrapped are
    copied as they are. Subclassed models cannot be cloned and are refused.
    """
    if not _is_sequential_or_functional(model):
        raise ValueError(
            f"spectralize needs a Sequential or Functional keras model; got {type(model).__name__}."
        )

    def wrap(layer):
        clone = layer.__class__.from_config(layer.get_config())
        if isinstance(layer, SUPPORTED_LAYERS):
            return SpectralNormalization(clone, mode=mode, scale=scale, **wrapper_kwargs)
        return clone

    copy = keras.models.clone_model(model, clone_function=wrap, recursive=True)
    _copy_weights(model, copy)
    return copy
