"""bssn_tf.metrics.evaluate: evaluate_generator against the same draws featurized directly."""

import numpy as np
import pytest

from bssn_tf.extractors.digit_classifier import make_digit_extractor
from bssn_tf.metrics import evaluate_generator, fid_statistics, frechet_distance_from_statistics
from bssn_tf.metrics.classifier_score import classifier_score_from_logits


def test_score_samples_beyond_the_fid_samples_and_real_statistics():
    """The paper's shape of protocol (IS on more draws than FID), shrunk, with the digit network."""
    rng = np.random.default_rng(6)
    real = rng.uniform(-1, 1, (30, 28, 28, 1)).astype(np.float32)
    projection = rng.normal(size=(4, 28 * 28)).astype(np.float32)
    sample_fn = lambda z: np.tanh(z @ projection).reshape(-1, 28, 28, 1)
    results = evaluate_generator(
        sample_fn, real, num_samples=20, num_score_samples=50, batch_size=16, z_dim=4,
        score_classes=5, splits=5,
    )  # fmt: skip
    # Oracle: the same z draws, featurized directly.
    z = np.random.default_rng(0).standard_normal((50, 4)).astype(np.float32)
    extractor = make_digit_extractor()
    features, logits = extractor.features_and_logits(sample_fn(z))
    expected_fcd = frechet_distance_from_statistics(
        *fid_statistics(extractor.features(real)), *fid_statistics(features[:20])
    )
    assert results["fcd"] == pytest.approx(expected_fcd, rel=1e-6)  # float32 features
    expected_score, _ = classifier_score_from_logits(logits[:, :5], splits=5)
    assert results["classifier_score"] == pytest.approx(expected_score, rel=1e-6)
    assert (results["num_samples"], results["num_score_samples"], results["score_classes"]) == (
        20, 50, 5,
    )  # fmt: skip
    from_statistics = evaluate_generator(
        sample_fn, None, real_statistics=fid_statistics(extractor.features(real)),
        num_samples=20, batch_size=16, z_dim=4,
    )  # fmt: skip
    assert from_statistics["fcd"] == pytest.approx(expected_fcd, rel=1e-6)
    assert from_statistics["kcd"] is None
    with pytest.raises(ValueError, match="real statistics have 3 features but the digits"):
        evaluate_generator(
            sample_fn, None, real_statistics=(np.zeros(3), np.eye(3)), num_samples=20, z_dim=4
        )
