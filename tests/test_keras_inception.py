"""bssn_tf.extractors.keras_inception without its weights: shapes, the tf_legacy resize, and
where the weights come from."""

import numpy as np
import pytest
import tensorflow as tf

from bssn_tf.extractors.keras_inception import (
    INCEPTION_WEIGHTS_ENV,
    make_inception_extractor,
    to_inception_input,
)


def test_input_is_tensorflows_legacy_bilinear_resize_of_gray_repeated_to_rgb():
    gray = np.random.default_rng(0).uniform(-1, 1, (2, 28, 28, 1)).astype(np.float32)
    expected = tf.raw_ops.ResizeBilinear(
        images=np.repeat(gray, 3, axis=-1),
        size=(299, 299),
        align_corners=False,
        half_pixel_centers=False,
    ).numpy()
    np.testing.assert_allclose(to_inception_input(gray), expected, atol=1e-5)


def test_inception_extractor_shapes_with_random_weights():
    features, logits = make_inception_extractor(None).features_and_logits(
        np.zeros((2, 32, 32, 1), np.float32)
    )
    assert features.shape == (2, 2048) and logits.shape == (2, 1000)


def test_inception_without_weights_explains_how_to_supply_them(monkeypatch):
    monkeypatch.delenv(INCEPTION_WEIGHTS_ENV, raising=False)
    with pytest.raises(FileNotFoundError) as error:
        make_inception_extractor()
    message = str(error.value)
    assert "inception_v3_weights_tf_dim_ordering_tf_kernels.h5" in message
    assert INCEPTION_WEIGHTS_ENV in message
    with pytest.raises(FileNotFoundError, match="/no/such.h5"):
        make_inception_extractor("/no/such.h5")
