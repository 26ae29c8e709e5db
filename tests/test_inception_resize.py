"""bssn_tf.extractors.inception_resize: both conventions follow their formulas; tf_legacy is
TensorFlow's own resize_bilinear, the one both Inception extractors use."""

import numpy as np
import pytest
import tensorflow as tf

from bssn_tf.extractors.inception_resize import resize_images


def _bilinear_by_loops(image, out_h, out_w, source_of):
    """Explicit per-pixel bilinear resize of one [H, W] plane; `source_of(dst, in, out)`."""
    in_h, in_w = image.shape
    result = np.zeros((out_h, out_w))
    for i in range(out_h):
        y = source_of(i, in_h, out_h)
        y0 = min(int(np.floor(y)), in_h - 1)
        y1, wy = min(y0 + 1, in_h - 1), y - y0
        for j in range(out_w):
            x = source_of(j, in_w, out_w)
            x0 = min(int(np.floor(x)), in_w - 1)
            x1, wx = min(x0 + 1, in_w - 1), x - x0
            top = (1 - wx) * image[y0, x0] + wx * image[y0, x1]
            bottom = (1 - wx) * image[y1, x0] + wx * image[y1, x1]
            result[i, j] = (1 - wy) * top + wy * bottom
    return result


_LEGACY_SOURCE = lambda dst, size_in, size_out: dst * size_in / size_out
_PYTORCH_SOURCE = lambda dst, size_in, size_out: max((dst + 0.5) * size_in / size_out - 0.5, 0.0)


@pytest.mark.parametrize(
    "mode, source_of", [("tf_legacy", _LEGACY_SOURCE), ("pytorch", _PYTORCH_SOURCE)]
)
@pytest.mark.parametrize("in_shape, size", [((5, 7), 11), ((9, 6), 4)])
def test_resize_follows_its_formula(mode, source_of, in_shape, size):
    image = np.random.default_rng(0).uniform(-1, 1, (1, *in_shape, 1)).astype(np.float32)
    expected = _bilinear_by_loops(image[0, :, :, 0].astype(np.float64), size, size, source_of)
    ours = resize_images(image, size, mode)[0, :, :, 0]
    np.testing.assert_allclose(ours, expected, atol=1e-6)  # float32 rounding of [-1, 1] values


def test_legacy_resize_is_tensorflows_and_differs_from_pytorchs():
    images = np.random.default_rng(1).uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)
    tensorflow_legacy = tf.raw_ops.ResizeBilinear(
        images=images, size=(299, 299), align_corners=False, half_pixel_centers=False
    ).numpy()
    np.testing.assert_allclose(
        resize_images(images, 299, "tf_legacy"), tensorflow_legacy, atol=1e-5
    )
    difference = np.abs(resize_images(images, 299, "pytorch") - tensorflow_legacy)
    assert difference.max() > 0.1  # half a source pixel apart: the conventions disagree


@pytest.mark.parametrize("mode", ["tf_legacy", "pytorch"])
def test_299_images_pass_through_unchanged(mode):
    images = np.random.default_rng(2).uniform(-1, 1, (1, 299, 299, 3)).astype(np.float32)
    np.testing.assert_array_equal(resize_images(images, 299, mode), images)
    with pytest.raises(ValueError, match="resize must be one of.*'clean'"):
        resize_images(images, 299, "clean")
