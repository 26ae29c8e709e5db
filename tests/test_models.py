"""Reference GAN architectures: shapes, hand-counted parameters and normalization wrapping."""

import math

import keras
import numpy as np
import pytest

from bssn_tf import models
from bssn_tf.layers import SpectralNormalization

Z_DIM = 8
WIDTH = 0.125
NORMS = ("none", "sn", "ssn", "bsn", "bssn", "exact")


def conv_params(kernel, c_in, c_out):
    return kernel * kernel * c_in * c_out + c_out


def channels(base):
    return max(1, round(base * WIDTH))


def cnn_discriminator_params(size, image_channels):
    c_in, total = image_channels, 0
    for kernel, _, base in models.cnn.DISCRIMINATOR_CONVS:
        total += conv_params(kernel, c_in, channels(base))
        c_in = channels(base)
    final = math.ceil(size / 8)
    return total + final * final * c_in + 1


def cnn_generator_params(size, image_channels):
    """Trainable count: Dense, BN gamma/beta, deconv4x4s, BNs, final deconv3x3."""
    start = 7 if size == 28 else size // 8
    top = channels(512)
    total = Z_DIM * start * start * top + start * start * top + 2 * start * start * top
    c_in = top
    for base in (256, 128) if size == 28 else (256, 128, 64):
        total += conv_params(4, c_in, channels(base)) + 2 * channels(base)
        c_in = channels(base)
    return total + conv_params(3, c_in, image_channels)


@pytest.mark.parametrize("size,image_channels", [(28, 1), (32, 3), (48, 3), (64, 3)])
def test_cnn_shapes_and_parameter_counts(size, image_channels):
    generator = models.cnn_generator(size, image_channels, Z_DIM, WIDTH)
    discriminator = models.cnn_discriminator(size, image_channels, "sn", width=WIDTH)
    images = generator(np.random.default_rng(0).normal(size=(2, Z_DIM)).astype("float32"))
    assert images.shape == (2, size, size, image_channels)
    assert np.all(np.abs(np.asarray(images)) <= 1.0)
    assert discriminator(images).shape == (2, 1)
    count = lambda weights: sum(int(np.prod(w.shape)) for w in weights)
    assert count(generator.trainable_weights) == cnn_generator_params(size, image_channels)
    assert count(discriminator.trainable_weights) == cnn_discriminator_params(size, image_channels)


def resnet32_params(image_channels):
    """(G, D) trainable counts of the 32 px ResNet, block by block."""
    g_top = channels(256)
    g = Z_DIM * 16 * g_top + 16 * g_top
    c_in = g_top
    for _ in range(3):
        c = channels(256)
        g += (
            2 * c_in
            + conv_params(3, c_in, c)
            + 2 * c
            + conv_params(3, c, c)
            + conv_params(1, c_in, c)
        )
        c_in = c
    g += 2 * c_in + conv_params(3, c_in, image_channels)
    c = channels(128)
    d = conv_params(3, image_channels, c) + conv_params(3, c, c) + conv_params(1, image_channels, c)
    d += conv_params(3, c, c) + conv_params(3, c, c) + conv_params(1, c, c)  # downsampling block
    d += 2 * (conv_params(3, c, c) + conv_params(3, c, c))  # two plain blocks, identity shortcut
    return g, d + c + 1


@pytest.mark.parametrize("size", [32, 128])
def test_resnet_shapes(size):
    generator = models.resnet_generator(size, 3, Z_DIM, WIDTH)
    discriminator = models.resnet_discriminator(size, 3, "bssn", 1.5, WIDTH)
    images = generator(np.zeros((2, Z_DIM), "float32"))
    assert images.shape == (2, size, size, 3)
    assert discriminator(images).shape == (2, 1)
    if size == 32:
        count = lambda weights: sum(int(np.prod(w.shape)) for w in weights)
        assert (count(generator.trainable_weights), count(discriminator.trainable_weights)) == (
            resnet32_params(3)
        )


@pytest.mark.parametrize("arch", sorted(models.ARCHS))
@pytest.mark.parametrize("norm", NORMS)
def test_generator_never_wrapped_and_every_discriminator_layer_is(arch, norm):
    size = 32
    generator = models.build_generator(arch, size, 3, Z_DIM, WIDTH)
    discriminator = models.build_discriminator(arch, size, 3, norm, 1.7, WIDTH)
    assert not any(isinstance(layer, SpectralNormalization) for layer in generator.layers)
    assert models.spectral_layers(generator) == []
    wrappers = models.spectral_layers(discriminator)
    bare = [
        layer
        for layer in discriminator.layers
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense))
    ]
    if norm == "none":
        assert wrappers == [] and bare
        return
    assert bare == []
    mode, scaled = models.NORMS[norm]
    for wrapper in wrappers:
        assert wrapper.mode == mode
        assert wrapper.scale == (1.7 if scaled else 1.0)
    assert isinstance(wrappers[-1].layer, keras.layers.Dense)


def test_bad_norm_names_it():
    with pytest.raises(ValueError, match="'bsnn'"):
        models.cnn_discriminator(32, 3, norm="bsnn", width=WIDTH)
    with pytest.raises(ValueError, match="image_size=30"):
        models.cnn_generator(30, 3, Z_DIM, WIDTH)


def test_norm_spec_used_and_effective_scale_say_which_norms_use_scale():
    scaled = sorted(name for name, spec in models.NORMS.items() if spec.uses_scale)
    assert scaled == ["bssn", "ssn"]
    assert models.norm_spec("bssn") == models.NormSpec(mode="bsn", uses_scale=True)
    assert models.norm_spec("none").mode is None
    assert [models.effective_scale(norm, 1.7) for norm in ("ssn", "bssn", "sn", "exact")] == [
        1.7,
        1.7,
        1.0,
        1.0,
    ]
    assert [models.used_scale(norm, 1.7) for norm in ("ssn", "bssn", "sn", "none")] == [
        1.7,
        1.7,
        None,
        None,
    ]
    with pytest.raises(ValueError, match="'bsnn'"):
        models.effective_scale("bsnn", 1.0)
