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


@pytest.mark.parametrize("jit_compile", [True, False])
def test_the_trainer_uses_space_to_depth_under_xla_only(tmp_path, jit_compile):
    from bssn_tf.training import GANTrainer, TrainConfig

    config = TrainConfig(model_dir=str(tmp_path), width=0.125, jit_compile=jit_compile)
    trainer = GANTrainer.for_config(config, tf.distribute.get_strategy(), 28, 1)
    strided = [
        layer.layer
        for layer in trainer.discriminator.layers
        if hasattr(layer, "layer") and getattr(layer.layer, "strides", (1, 1))[0] > 1
    ]
    assert len(strided) == 3
    assert all(isinstance(conv, SpaceToDepthConv2D) == jit_compile for conv in strided)


def test_a_checkpoint_moves_between_the_two_strided_conv_choices(tmp_path):
    """A run resumed on a machine with the other compile path restores the same D: the
    two choices hold the same variables, and give the same logits to float rounding."""
    from bssn_tf.models import build_discriminator

    keras.utils.set_random_seed(0)
    images = np.random.default_rng(0).uniform(-1, 1, (4, 28, 28, 1)).astype("float32")
    saved = build_discriminator("cnn", 28, 1, "bssn", 1.0, 0.25, space_to_depth=True)
    expected = saved(images, training=False).numpy()
    path = tf.train.Checkpoint(discriminator=saved).write(str(tmp_path / "ckpt"))

    keras.utils.set_random_seed(1)  # different initial weights, so the restore must work
    restored = build_discriminator("cnn", 28, 1, "bssn", 1.0, 0.25, space_to_depth=False)
    assert not np.allclose(restored(images, training=False).numpy(), expected, atol=1e-3)
    tf.train.Checkpoint(discriminator=restored).read(path).assert_consumed()
    # Two algorithms for one convolution: float32 rounding of 4-layer sums, about 1e-6.
    np.testing.assert_allclose(restored(images, training=False).numpy(), expected, atol=1e-5)
