"""SNGAN ResNet generator and discriminator (Miyato et al. 2018, appendix B).

Two configurations, with every channel count times `width`:
  - 32 px (CIFAR): G Dense 4x4x256, three up-blocks of 256; D optimized block
    128, one down-block 128, two blocks 128.
  - 128 px (ImageNet): base ch = 64; G Dense 4x4x16ch, up-blocks to 16ch, 8ch,
    4ch, 2ch, ch; D optimized block ch, down-blocks 2ch, 4ch, 8ch, 16ch, block 16ch.
G ends with BN, ReLU, conv3x3, tanh; D with ReLU, global sum pooling and Dense 1.
Kernels use Glorot-uniform initialisation, as in the SNGAN code; every D
convolution (shortcuts included) and the final Dense are wrapped as `norm` says.

With `num_classes` > 0 both are class-conditional, as in SNGAN's conditional
ResNets: the BatchNorms inside G's blocks are conditional (the final one before
`to_image` stays plain), and D's logit gains the projection term on the pooled
features (models/conditional.py).
"""

import keras
from keras import ops

from bssn_tf.models.conditional import (
    batch_norm,
    check_num_classes,
    discriminator_logits,
    label_input,
)
from bssn_tf.models.normalization import check_norm, normalized
from bssn_tf.models.width import scaled_channels

# image size -> (G start channels, G up-block channels, D optimized-block
# channels, D block channels with whether each downsamples).
CONFIGS = {
    32: (256, (256, 256, 256), 128, ((128, True), (128, False), (128, False))),
    128: (
        1024,
        (1024, 512, 256, 128, 64),
        64,
        ((128, True), (256, True), (512, True), (1024, True), (1024, False)),
    ),
}
START_SIZE = 4


@keras.saving.register_keras_serializable(package="bssn_tf")
class GlobalSumPooling2D(keras.layers.Layer):
    """Sums each channel over height and width, as SNGAN's ResNet discriminator does."""

    def call(self, inputs):
        return ops.sum(inputs, axis=(1, 2))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[3])


def check_image_size(image_size):
    if image_size not in CONFIGS:
        raise ValueError(
            f"image_size must be one of {sorted(CONFIGS)} for the ResNet; "
            f"got image_size={image_size!r}."
        )


def _conv(channels, kernel, name):
    return keras.layers.Conv2D(channels, kernel, padding="same", name=name)


def _generator_block(x, labels, num_classes, channels, name):
    """BN-ReLU-up-conv3-BN-ReLU-conv3, plus an upsampled 1x1-conv shortcut."""
    h = batch_norm(x, labels, num_classes, f"{name}_bn1")
    h = keras.layers.ReLU(name=f"{name}_relu1")(h)
    h = keras.layers.UpSampling2D(name=f"{name}_up")(h)
    h = _conv(channels, 3, f"{name}_conv1")(h)
    h = batch_norm(h, labels, num_classes, f"{name}_bn2")
    h = keras.layers.ReLU(name=f"{name}_relu2")(h)
    h = _conv(channels, 3, f"{name}_conv2")(h)
    shortcut = keras.layers.UpSampling2D(name=f"{name}_shortcut_up")(x)
    shortcut = _conv(channels, 1, f"{name}_shortcut")(shortcut)
    return keras.layers.Add(name=f"{name}_add")([h, shortcut])


def _discriminator_block(x, channels, downsample, norm, scale, name):
    """ReLU-conv3-ReLU-conv3(-avgpool); 1x1-conv(-avgpool) shortcut when shapes change."""
    h = keras.layers.ReLU(name=f"{name}_relu1")(x)
    h = normalized(_conv(channels, 3, f"{name}_conv1"), norm, scale)(h)
    h = keras.layers.ReLU(name=f"{name}_relu2")(h)
    h = normalized(_conv(channels, 3, f"{name}_conv2"), norm, scale)(h)
    shortcut = x
    if downsample or x.shape[-1] != channels:
        shortcut = normalized(_conv(channels, 1, f"{name}_shortcut"), norm, scale)(shortcut)
    if downsample:
        h = keras.layers.AveragePooling2D(2, name=f"{name}_pool")(h)
        shortcut = keras.layers.AveragePooling2D(2, name=f"{name}_shortcut_pool")(shortcut)
    return keras.layers.Add(name=f"{name}_add")([h, shortcut])


def _optimized_block(x, channels, norm, scale, name):
    """The first D block: conv3-ReLU-conv3-avgpool, shortcut avgpool then 1x1 conv."""
    h = normalized(_conv(channels, 3, f"{name}_conv1"), norm, scale)(x)
    h = keras.layers.ReLU(name=f"{name}_relu")(h)
    h = normalized(_conv(channels, 3, f"{name}_conv2"), norm, scale)(h)
    h = keras.layers.AveragePooling2D(2, name=f"{name}_pool")(h)
    shortcut = keras.layers.AveragePooling2D(2, name=f"{name}_shortcut_pool")(x)
    shortcut = normalized(_conv(channels, 1, f"{name}_shortcut"), norm, scale)(shortcut)
    return keras.layers.Add(name=f"{name}_add")([h, shortcut])


def resnet_generator(
    image_size=32, channels=3, z_dim=128, width=1.0, num_classes=0, name="generator"
):
    """z [n, z_dim] (and labels [n] if num_classes) -> images [n, size, size, channels] in
    [-1, 1]; never normalized."""
    check_image_size(image_size)
    check_num_classes(num_classes)
    start_channels, block_channels, _, _ = CONFIGS[image_size]
    z = keras.Input((z_dim,), name="z")
    labels = label_input() if num_classes else None
    top = scaled_channels(start_channels, width)
    x = keras.layers.Dense(START_SIZE * START_SIZE * top, name="dense")(z)
    x = keras.layers.Reshape((START_SIZE, START_SIZE, top), name="reshape")(x)
    for index, base in enumerate(block_channels):
        x = _generator_block(x, labels, num_classes, scaled_channels(base, width), f"block{index}")
    x = keras.layers.BatchNormalization(synchronized=True, name="final_bn")(x)
    x = keras.layers.ReLU(name="final_relu")(x)
    x = _conv(channels, 3, "to_image")(x)
    images = keras.layers.Activation("tanh", dtype="float32", name="tanh")(x)
    return keras.Model([z, labels] if num_classes else z, images, name=name)


def resnet_discriminator(
    image_size=32,
    channels=3,
    norm="sn",
    scale=1.0,
    width=1.0,
    num_classes=0,
    name="discriminator",
):
    """images (and labels [n] if num_classes) -> one logit per image; every conv, the final
    Dense and the class embedding wrapped as `norm` says."""
    check_image_size(image_size)
    check_norm(norm)
    check_num_classes(num_classes)
    _, _, first_channels, blocks = CONFIGS[image_size]
    images = keras.Input((image_size, image_size, channels), name="images")
    x = _optimized_block(images, scaled_channels(first_channels, width), norm, scale, "block0")
    for index, (base, downsample) in enumerate(blocks, start=1):
        x = _discriminator_block(
            x, scaled_channels(base, width), downsample, norm, scale, f"block{index}"
        )
    x = keras.layers.ReLU(name="final_relu")(x)
    x = GlobalSumPooling2D(name="sum_pool")(x)
    labels = label_input() if num_classes else None
    logits = discriminator_logits(x, labels, num_classes, norm, scale)
    return keras.Model([images, labels] if num_classes else images, logits, name=name)
