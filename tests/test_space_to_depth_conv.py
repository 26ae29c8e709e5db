"""SpaceToDepthConv2D equals keras.layers.Conv2D: outputs and gradients, plain and wrapped."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from bssn_tf.layers import BSSN
from bssn_tf.models.space_to_depth_conv import SpaceToDepthConv2D


def twin_layers(filters, kernel, stride, input_shape, seed=0):
    """A SpaceToDepthConv2D and a Conv2D with the same random kernel and bias."""
    ours = SpaceToDepthConv2D(filters, kernel, stride, padding="same")
    reference = keras.layers.Conv2D(filters, kernel, stride, padding="same")
    ours.build(input_shape)
    reference.build(input_shape)
    rng = np.random.default_rng(seed)
    for variable in reference.weights:
        variable.assign(rng.normal(size=variable.shape).astype("float32"))
    for mine, theirs in zip(ours.weights, reference.weights):
        mine.assign(theirs)
    return ours, reference


@pytest.mark.parametrize(
    "kernel,stride,size",
    [(4, 2, 8), (4, 2, 7), (4, 2, 28), (2, 2, 5), (6, 2, 9), (6, 3, 10), (3, 3, 7)],
)
def test_outputs_and_gradients_equal_conv2d(kernel, stride, size):
    shape = (2, size, size + 1, 3)
    ours, reference = twin_layers(5, kernel, stride, shape)
    out_shape = (2, -(-size // stride), -(-(size + 1) // stride), 5)
    rng = np.random.default_rng(1)
    x = tf.constant(rng.normal(size=shape), tf.float32)
    # A random linear read-out makes every output element's gradient distinct.
    readout = tf.constant(rng.normal(size=out_shape), tf.float32)
    results = []
    for layer in (ours, reference):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
            loss = tf.reduce_sum(y * readout)
        results.append([y.numpy(), *[g.numpy() for g in tape.gradient(loss, [x, layer.kernel])]])
    assert results[0][0].shape == out_shape
    for mine, theirs in zip(*results):
        np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=1e-4)


def test_equals_conv2d_inside_bssn():
    shape = (2, 9, 9, 3)
    ours, reference = twin_layers(4, 4, 2, shape, seed=2)
    wrapped = [BSSN(layer, scale=1.3) for layer in (ours, reference)]
    for layer in wrapped:
        layer.build(shape)
    for variable, source in zip(wrapped[0].non_trainable_weights, wrapped[1].non_trainable_weights):
        variable.assign(source)
    x = tf.constant(np.random.default_rng(3).normal(size=shape), tf.float32)
    mine, theirs = (layer(x, training=True).numpy() for layer in wrapped)
    np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=1e-5)
    assert np.abs(mine).max() > 1e-2


@pytest.mark.parametrize(
    "kwargs,named",
    [
        (dict(kernel_size=3, strides=2, padding="same"), "kernel_size=(3, 3)"),
        (dict(kernel_size=4, strides=1, padding="same"), "strides=(1, 1)"),
        (dict(kernel_size=4, strides=2, padding="valid"), "padding='valid'"),
        (dict(kernel_size=4, strides=(2, 1), padding="same"), "strides=(2, 1)"),
    ],
)
def test_unsupported_settings_are_refused(kwargs, named):
    with pytest.raises(ValueError, match=named.replace("(", r"\(").replace(")", r"\)")):
        SpaceToDepthConv2D(4, **kwargs)


def test_unknown_spatial_size_is_refused():
    layer = SpaceToDepthConv2D(4, 4, 2, padding="same", name="down")
    layer.build((None, 8, 8, 3))
    traced = tf.function(layer, input_signature=[tf.TensorSpec((None, None, None, 3))])
    with pytest.raises(ValueError, match="'down' needs a known height and width"):
        traced.get_concrete_function()


def test_round_trips_through_keras_serialization():
    layer = SpaceToDepthConv2D(4, 4, 2, padding="same", name="down")
    copy = keras.layers.deserialize(keras.layers.serialize(layer))
    assert type(copy) is SpaceToDepthConv2D
    assert copy.get_config() == layer.get_config()
