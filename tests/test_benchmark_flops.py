"""The benchmark's analytic FLOP counter against hand-computed counts.

A wrong counter would make every "fraction of matmul FLOP/s" in
benchmarks/RESULTS.md wrong, so it is checked on a model small enough to count
by hand: conv, batch norm, deconv and dense, one conv spectrally normalized.
"""

import keras
import pytest

from benchmarks.flop_count import LayerSpec, forward_flops, gan_step_flops, keras_layer_specs
from bssn_tf.layers import BSSN


def tiny_model():
    images = keras.Input((6, 6, 2))
    x = BSSN(keras.layers.Conv2D(3, 3, strides=2, padding="same", name="conv"), scale=1.5)(images)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.Conv2DTranspose(4, 2, strides=2, padding="same", name="deconv")(x)
    x = keras.layers.Flatten()(x)
    return keras.Model(images, keras.layers.Dense(5, name="dense")(x))


def test_tiny_model_layers_parameters_and_flops():
    specs = {spec.name: spec for spec in keras_layer_specs(tiny_model())}
    assert list(specs) == ["conv", "bn", "deconv", "dense"]
    # conv: 3x3 outputs (stride 2 on 6x6), 3x3 kernel, 2 -> 3 channels.
    assert specs["conv"].parameters == 3 * 3 * 2 * 3 + 3  # u, u2 are not trainable
    assert forward_flops(specs["conv"]) == 2 * (3 * 3) * (3 * 3) * 2 * 3
    assert specs["bn"].parameters == 2 * 3
    assert forward_flops(specs["bn"]) == 0
    # deconv: each of the 3x3 inputs scatters a 2x2 kernel, 3 -> 4 channels, out 6x6.
    assert specs["deconv"].out_spatial == (6, 6)
    assert specs["deconv"].parameters == 2 * 2 * 4 * 3 + 4
    assert forward_flops(specs["deconv"]) == 2 * (3 * 3) * (2 * 2) * 3 * 4
    assert specs["dense"].parameters == 6 * 6 * 4 * 5 + 5
    assert forward_flops(specs["dense"]) == 2 * (6 * 6 * 4) * 5


def test_gan_step_is_four_generator_and_eight_discriminator_forwards():
    generator = [LayerSpec("g", "dense", parameters=0, in_channels=10, out_channels=7)]
    discriminator = [
        LayerSpec(
            "d",
            "conv",
            parameters=0,
            in_channels=1,
            out_channels=2,
            kernel_size=(3, 3),
            in_spatial=(4, 4),
            out_spatial=(4, 4),
        )
    ]
    batch = 3
    g_forward = batch * 2 * 10 * 7
    d_forward = batch * 2 * 16 * 9 * 1 * 2
    assert gan_step_flops(generator, discriminator, batch) == 4 * g_forward + 8 * d_forward


def test_layer_without_flop_rule_raises():
    inputs = keras.Input((4, 3))
    model = keras.Model(inputs, keras.layers.LayerNormalization(name="norm")(inputs))
    with pytest.raises(ValueError, match="LayerNormalization layer 'norm'"):
        keras_layer_specs(model)


def test_unknown_kind_raises():
    with pytest.raises(ValueError, match="kind must be one of"):
        LayerSpec("x", "pool", parameters=0)
