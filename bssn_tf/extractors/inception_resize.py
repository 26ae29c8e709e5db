"""Bilinear resizing to Inception's 299x299, in the two conventions published FIDs use.

The one resize of both Inception extractors: the FID Inception takes either
convention, Keras' InceptionV3 always "tf_legacy" (TF-GAN's `preprocess_image`).

The convention moves FID by small but visible amounts, so it is a named choice:
- "tf_legacy": TF1's `resize_bilinear(align_corners=False)` without half-pixel
  centres, as TF-GAN and the BSSN paper's code use: source = dst * in / out.
- "pytorch": `F.interpolate(mode="bilinear", align_corners=False)`, as
  pytorch-fid uses: half-pixel centres, source = (dst + 0.5) * in / out - 0.5,
  clamped at 0.
In both, the two neighbours are floor(source) and floor(source) + 1 (clamped to
the last pixel), weighted by the fractional part. clean-fid's "clean" mode (PIL
bicubic with antialiasing) is not offered: it cannot be reproduced exactly here.

Each axis is resized by one [out, in] interpolation matrix, so the whole resize
is two small matrix products; an image that already has the output size is
returned unchanged in every mode.
"""

import functools

import numpy as np

RESIZE_MODES = ("tf_legacy", "pytorch")
# The input side of every Inception network.
INCEPTION_IMAGE_SIZE = 299


def require_resize_mode(mode):
    """Returns `mode`; ValueError naming RESIZE_MODES unless it is one of them."""
    if mode not in RESIZE_MODES:
        raise ValueError(f"resize must be one of {list(RESIZE_MODES)}; got {mode!r}.")
    return mode


@functools.lru_cache(maxsize=32)
def _resize_matrix(in_size, out_size, mode):
    """[out_size, in_size] float32 matrix M with resized = M @ signal along one axis."""
    scale = in_size / out_size
    destination = np.arange(out_size, dtype=np.float64)
    if mode == "tf_legacy":
        source = destination * scale
    else:
        source = np.maximum((destination + 0.5) * scale - 0.5, 0.0)
    low = np.minimum(np.floor(source).astype(np.int64), in_size - 1)
    high = np.minimum(low + 1, in_size - 1)
    fraction = source - low
    matrix = np.zeros((out_size, in_size), dtype=np.float64)
    rows = np.arange(out_size)
    np.add.at(matrix, (rows, low), 1.0 - fraction)
    np.add.at(matrix, (rows, high), fraction)
    matrix = matrix.astype(np.float32)
    matrix.setflags(write=False)  # cached and shared between callers
    return matrix


def resize_images(images, size, mode):
    """[n, H, W, C] float32 -> [n, size, size, C] float32, bilinear in `mode`."""
    require_resize_mode(mode)
    images = np.asarray(images, dtype=np.float32)
    _, height, width, _ = images.shape
    if height == size and width == size:
        return images
    rows = _resize_matrix(height, size, mode)
    columns = _resize_matrix(width, size, mode)
    # [n, H, W, C] -> [n, C, H, W], so the matrices act on the last two axes.
    planes = np.transpose(images, (0, 3, 1, 2))
    resized = rows @ planes @ columns.T
    return np.ascontiguousarray(np.transpose(resized, (0, 2, 3, 1)))
