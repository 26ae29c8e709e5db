"""The SNGAN "standard CNN" generator and discriminator.

The protocol they belong to: docs/DESIGN.md, "The reference training protocol".

Sizes: 32/48/64 px use `mg = size // 8` and three stride-2 deconvolutions
(256, 128, 64 channels), as in the paper. 28 px (MNIST) starts at `mg = 7` and
needs only two doublings, so its generator keeps the first two (256, 128;
7 -> 14 -> 28) and drops the 64-channel one. The discriminator is the same
for every size; its three stride-2 convolutions end at `ceil(size / 8)` pixels
(4 for 28 px). `width` multiplies every channel count (base 64).

With `num_classes` > 0 both are class-conditional (models/conditional.py): every
BatchNorm of G is conditional, and D's logit gains the projection term on its
flattened last feature map.
"""

import keras

from bssn_tf.models.conditional import (
    batch_norm,
    check_num_classes,
    discriminator_logits,
    label_input,
)
from bssn_tf.models.initializers import layer_kwargs, reference_layer_kwargs
from bssn_tf.models.normalization import check_norm, normalized
from bssn_tf.models.space_to_depth_conv import SpaceToDepthConv2D
from bssn_tf.models.width import scaled_channels

IMAGE_SIZES = (28, 32, 48, 64)
LEAKY_SLOPE = 0.1
# (kernel, stride, base channels) of the discriminator's convolutions.
DISCRIMINATOR_CONVS = (
    (3, 1, 64),
    (4, 2, 64),
    (3, 1, 128),
    (4, 2, 128),
    (3, 1, 256),
    (4, 2, 256),
    (3, 1, 512),
)
GENERATOR_DECONV_CHANNELS = (256, 128, 64)
MNIST_SIZE = 28


def check_image_size(image_size):
    if image_size not in IMAGE_SIZES:
        raise ValueError(
            f"image_size must be one of {IMAGE_SIZES} for the CNN; got image_size={image_size!r}."
        )


def generator_start_size(image_size):
    """`mg`, the side of the generator's first feature map."""
    check_image_size(image_size)
    return 7 if image_size == MNIST_SIZE else image_size // 8


def generator_deconv_channels(image_size):
    """Base channels of the generator's stride-2 deconv4x4 layers."""
    check_image_size(image_size)
    return GENERATOR_DECONV_CHANNELS[:2] if image_size == MNIST_SIZE else GENERATOR_DECONV_CHANNELS


def cnn_generator(image_size=32, channels=3, z_dim=128, width=1.0, num_classes=0, name="generator"):
    """z [n, z_dim] (and labels [n] if num_classes) -> images [n, size, size, channels] in
    [-1, 1]; never normalized."""
    start = generator_start_size(image_size)
    check_num_classes(num_classes)
    init = reference_layer_kwargs()
    z = keras.Input((z_dim,), name="z")
    labels = label_input() if num_classes else None
    top = scaled_channels(512, width)
    x = keras.layers.Dense(start * start * top, name="dense", **init)(z)
    x = batch_norm(x, labels, num_classes, "dense_bn")
    x = keras.layers.ReLU(name="dense_relu")(x)
    x = keras.layers.Reshape((start, start, top), name="reshape")(x)
    for index, base in enumerate(generator_deconv_channels(image_size)):
        x = keras.layers.Conv2DTranspose(
            scaled_channels(base, width), 4, 2, padding="same", name=f"deconv{index}", **init
        )(x)
        x = batch_norm(x, labels, num_classes, f"deconv{index}_bn")
        x = keras.layers.ReLU(name=f"deconv{index}_relu")(x)
    x = keras.layers.Conv2DTranspose(channels, 3, 1, padding="same", name="to_image", **init)(x)
    images = keras.layers.Activation("tanh", dtype="float32", name="tanh")(x)
    return keras.Model([z, labels] if num_classes else z, images, name=name)


def cnn_discriminator(
    image_size=32,
    channels=3,
    norm="sn",
    scale=1.0,
    width=1.0,
    num_classes=0,
    name="discriminator",
    conv3x3_repeats=1,
    init="reference",
    space_to_depth=True,
):
    """images (and labels [n] if num_classes) -> one logit per image.

    Every conv, the final Dense and the class embedding are wrapped as `norm` says.

    Args:
      conv3x3_repeats: copies of each stride-1 conv3x3 (1: the paper's D). More
        copies make D deeper at the paper's resolution schedule, to see how
        gradients scale with depth.
      init: "reference" (truncated normal 0.02, the paper's) or "lecun".
      space_to_depth: run the strided convs as `SpaceToDepthConv2D`: the same
        layer, variables and outputs as `Conv2D`, faster under XLA but slower
        with TensorFlow's own (oneDNN) kernels (benchmarks/RESULTS.md).

    Raises:
      ValueError: naming a bad image_size, norm, conv3x3_repeats or init.
    """
    check_image_size(image_size)
    check_norm(norm)
    check_num_classes(num_classes)
    if (
        isinstance(conv3x3_repeats, bool)
        or not isinstance(conv3x3_repeats, int)
        or conv3x3_repeats < 1
    ):
        raise ValueError(
            f"conv3x3_repeats must be an integer >= 1; got conv3x3_repeats={conv3x3_repeats!r}."
        )
    init = layer_kwargs(init)
    images = keras.Input((image_size, image_size, channels), name="images")
    x = images
    index = 0
    for kernel, stride, base in DISCRIMINATOR_CONVS:
        for _ in range(conv3x3_repeats if stride == 1 else 1):
            strided = stride > 1 and space_to_depth
            conv_class = SpaceToDepthConv2D if strided else keras.layers.Conv2D
            conv = conv_class(
                scaled_channels(base, width),
                kernel,
                stride,
                padding="same",
                name=f"conv{index}",
                **init,
            )
            x = normalized(conv, norm, scale)(x)
            x = keras.layers.LeakyReLU(LEAKY_SLOPE, name=f"conv{index}_lrelu")(x)
            index += 1
    x = keras.layers.Flatten(name="flatten")(x)
    labels = label_input() if num_classes else None
    logits = discriminator_logits(x, labels, num_classes, norm, scale, **init)
    return keras.Model([images, labels] if num_classes else images, logits, name=name)
