"""Image grids as PNG files: training samples, zoo grids and the CLI all draw them here."""

import math

import numpy as np
import tensorflow as tf

from bssn_tf.io.atomic_files import write_bytes_atomically


def image_grid(images):
    """[n, H, W, C] in [-1, 1] -> one uint8 [rows*H, cols*W, C] image, rows = ceil(sqrt(n))."""
    images = np.asarray(images, np.float32)
    count, height, width, channels = images.shape
    columns = math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    padded = np.full((rows * columns, height, width, channels), -1.0, np.float32)
    padded[:count] = images
    grid = padded.reshape(rows, columns, height, width, channels).transpose(0, 2, 1, 3, 4)
    grid = grid.reshape(rows * height, columns * width, channels)
    return np.clip(np.round((grid + 1.0) * 127.5), 0, 255).astype(np.uint8)


def write_grid_png(path, images):
    """Writes the image_grid of `images` ([n, H, W, C] in [-1, 1]) to `path` atomically."""
    write_bytes_atomically(path, tf.io.encode_png(image_grid(images)).numpy())
