"""Image grids as PNG files: training samples, zoo grids and the CLI all draw them here."""

import math

import numpy as np

from bssn_tf.io.atomic_files import write_bytes_atomically
from bssn_tf.io.checks import check_int


def image_grid(images, columns=None, upscale=1):
    """[n, H, W, C] in [-1, 1] -> one uint8 [rows*H, cols*W, C] image, filled row by row.

    `columns` defaults to ceil(sqrt(n)), a near-square grid; `upscale` repeats
    every pixel K x K times (nearest neighbour), so small digits stay visible.
    """
    images = np.asarray(images, np.float32)
    count, height, width, channels = images.shape
    if columns is None:
        columns = math.ceil(math.sqrt(count))
    check_int("columns", columns, 1)
    check_int("upscale", upscale, 1)
    rows = math.ceil(count / columns)
    padded = np.full((rows * columns, height, width, channels), -1.0, np.float32)
    padded[:count] = images
    grid = padded.reshape(rows, columns, height, width, channels).transpose(0, 2, 1, 3, 4)
    grid = grid.reshape(rows * height, columns * width, channels)
    grid = np.repeat(np.repeat(grid, upscale, axis=0), upscale, axis=1)
    return np.clip(np.round((grid + 1.0) * 127.5), 0, 255).astype(np.uint8)


def write_grid_png(path, images, columns=None, upscale=1):
    """Writes the image_grid of `images` ([n, H, W, C] in [-1, 1]) to `path` atomically."""
    import tensorflow as tf  # here, so that importing bssn_tf.io imports no TensorFlow

    grid = image_grid(images, columns, upscale)
    write_bytes_atomically(path, tf.io.encode_png(grid).numpy())
