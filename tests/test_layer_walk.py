"""bssn_tf.models.layer_walk: one walk for the sigma summaries and the analyses."""

import keras

from bssn_tf import analysis, models
from bssn_tf.layers import SpectralNormalization


def test_walk_layers_enters_nested_models_but_not_wrappers():
    inner_input = keras.Input((4,))
    inner = keras.Model(inner_input, keras.layers.Dense(3, name="inner_dense")(inner_input))
    outer_input = keras.Input((4,))
    wrapped = SpectralNormalization(keras.layers.Dense(2, name="head"), name="head_sn")
    outer = keras.Model(outer_input, wrapped(inner(outer_input)))
    names = [layer.name for layer in models.walk_layers(outer)]
    assert names == [outer.layers[0].name, inner.layers[0].name, "inner_dense", "head_sn"]
    assert models.spectral_layers(outer) == [wrapped]


def test_kernel_layers_and_spectral_layers_see_the_same_wrappers():
    discriminator = models.cnn_discriminator(28, 1, norm="bssn", width=0.125)
    nested = keras.Sequential([keras.Input((28, 28, 1)), discriminator])
    wrappers = [entry.wrapper for entry in analysis.kernel_layers(nested)]
    assert wrappers == models.spectral_layers(nested) and len(wrappers) == 8
