"""Turns decoded uint8 images into the float32 [-1, 1] squares a GAN trains on."""

import tensorflow as tf

from bssn_tf.data.specs import DatasetSpec


def center_crop(image: tf.Tensor, size: int) -> tf.Tensor:
    """Cuts the central size x size window; odd margins round down at top/left, as in the reference.

    `crop_to_bounding_box` fails on images smaller than `size` instead of wrapping around.
    """
    height, width = tf.shape(image)[0], tf.shape(image)[1]
    return tf.image.crop_to_bounding_box(
        image, (height - size) // 2, (width - size) // 2, size, size
    )


def central_square(image: tf.Tensor) -> tf.Tensor:
    """Cuts the largest central square, so resizing never distorts aspect ratio."""
    return center_crop(image, tf.minimum(tf.shape(image)[0], tf.shape(image)[1]))


def to_signed_unit_range(image: tf.Tensor) -> tf.Tensor:
    """Maps pixel values 0..255 linearly onto -1..1, the range of the generator's tanh."""
    return tf.cast(image, tf.float32) / 127.5 - 1.0


def preprocess_image(image: tf.Tensor, spec: DatasetSpec, image_size: int) -> tf.Tensor:
    """Crops as the spec says, converts to its channels, resizes (bilinear without
    antialiasing, as cv2.resize, unless the spec says otherwise) and rescales."""
    if spec.center_crop is not None:
        image = center_crop(image, spec.center_crop)
    elif spec.crop_square:
        image = central_square(image)
    image = to_signed_unit_range(image)
    if image.shape[-1] == 3 and spec.channels == 1:
        image = tf.image.rgb_to_grayscale(image)
    elif image.shape[-1] == 1 and spec.channels == 3:
        image = tf.image.grayscale_to_rgb(image)
    if image.shape[:2] != (image_size, image_size):
        image = tf.image.resize(image, (image_size, image_size), method=spec.resize_method)
    return tf.ensure_shape(image, (image_size, image_size, spec.channels))
