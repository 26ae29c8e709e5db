"""Wraps every supported layer of an existing model in one call."""
import keras

from bssn_tf.layers.kernel_layout import SUPPORTED_LAYERS
from bssn_tf.layers.spectral_normalization import SpectralNormalization


def spectralize(model, mode="sn", scale=1.0, **wrapper_kwargs):
    """Returns a copy of `model` with each supported layer spectrally normalized.

    The copy starts from `model`'s current weights; layers that are already
    wrapped are copied as they are. Works on Sequential and Functional models.
    """
    if not isinstance(model, (keras.Sequential, keras.Model)) or not (
        isinstance(model, keras.Sequential) or getattr(model, "_is_graph_network", False)
        or type(model).__name__ == "Functional"
    ):
        raise ValueError(
            f"spectralize needs a Sequential or Functional keras model; got "
            f"{type(model).__name__}."
        )

    def wrap(layer):
        clone = layer.__class__.from_config(layer.get_config())
        if isinstance(layer, SUPPORTED_LAYERS):
            return SpectralNormalization(clone, mode=mode, scale=scale, **wrapper_kwargs)
        return clone

    copy = keras.models.clone_model(model, clone_function=wrap)
    for original, cloned in zip(model.layers, copy.layers):
        target = cloned.layer if isinstance(cloned, SpectralNormalization) and not isinstance(
            original, SpectralNormalization
        ) else cloned
        target.set_weights(original.get_weights())
    return copy
