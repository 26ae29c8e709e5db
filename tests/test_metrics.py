"""Metric math against independent oracles (closed forms, scipy.linalg.sqrtm, naive
loops), and input validation."""

import numpy as np
import pytest
import scipy.linalg

from bssn_tf.metrics.classifier_score import classifier_score, classifier_score_from_logits
from bssn_tf.metrics.frechet import (
    frechet_classifier_distance,
    frechet_classifier_distance_from_activations,
)
from bssn_tf.metrics.kernel_distance import (
    kernel_classifier_distance,
    kernel_classifier_distance_from_activations,
)


def sqrtm_fid(x, y):
    """The textbook FID with scipy's general matrix square root of S_x S_y."""
    mean_difference = x.mean(0) - y.mean(0)
    sigma_x, sigma_y = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    covariance_mean = scipy.linalg.sqrtm(sigma_x @ sigma_y).real
    return mean_difference @ mean_difference + np.trace(sigma_x + sigma_y - 2 * covariance_mean)


def naive_kid_block(x, y):
    d = x.shape[1]
    k = lambda a, b: (np.dot(a, b) / d + 1.0) ** 3
    m, n = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j)
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j)
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n))
    return xx / (m * (m - 1)) + yy / (n * (n - 1)) - 2 * xy / (m * n)


def test_fid_of_gaussians_matches_closed_form():
    rng = np.random.default_rng(0)
    mean_a, mean_b = np.array([0.0, 1.0, -2.0]), np.array([1.0, 0.0, 0.0])
    variances_a, variances_b = np.array([1.0, 4.0, 0.25]), np.array([2.0, 1.0, 1.0])
    a = mean_a + rng.standard_normal((200_000, 3)) * np.sqrt(variances_a)
    b = mean_b + rng.standard_normal((200_000, 3)) * np.sqrt(variances_b)
    # For diagonal covariances the trace term is sum (sqrt(va) - sqrt(vb))^2.
    closed_form = np.sum((mean_a - mean_b) ** 2) + np.sum(
        (np.sqrt(variances_a) - np.sqrt(variances_b)) ** 2
    )
    assert frechet_classifier_distance_from_activations(a, b) == pytest.approx(
        closed_form, rel=0.01
    )


def test_fid_of_correlated_gaussians_matches_sqrtm_of_true_covariances():
    rng = np.random.default_rng(1)
    root_a, root_b = rng.standard_normal((2, 4, 4))
    cov_a, cov_b = root_a @ root_a.T + np.eye(4), root_b @ root_b.T + np.eye(4)
    a = rng.multivariate_normal(np.zeros(4), cov_a, size=200_000)
    b = rng.multivariate_normal(np.ones(4), cov_b, size=200_000)
    closed_form = 4.0 + np.trace(cov_a + cov_b - 2 * scipy.linalg.sqrtm(cov_a @ cov_b).real)
    assert frechet_classifier_distance_from_activations(a, b) == pytest.approx(
        closed_form, rel=0.02
    )


def test_fid_matches_sqrtm_implementation_on_random_data():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((300, 32))
    y = rng.standard_normal((250, 32)) @ rng.standard_normal((32, 32)) * 0.3 + 0.5
    assert frechet_classifier_distance_from_activations(x, y) == pytest.approx(
        sqrtm_fid(x, y), rel=1e-6
    )


def test_fid_is_zero_on_identical_sets_and_symmetric():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((500, 64)).astype(np.float32)
    y = rng.standard_normal((400, 64)).astype(np.float32) + 0.1
    assert abs(frechet_classifier_distance_from_activations(x, x)) < 1e-8
    assert frechet_classifier_distance_from_activations(x, y) == pytest.approx(
        frechet_classifier_distance_from_activations(y, x), rel=1e-9
    )


def test_fid_accepts_tensors():
    import tensorflow as tf

    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((2, 50, 5))
    assert frechet_classifier_distance_from_activations(
        tf.constant(x), tf.constant(y)
    ) == pytest.approx(frechet_classifier_distance_from_activations(x, y))


@pytest.mark.parametrize("num_real,num_generated,max_block_size", [(12, 9, 1024), (23, 17, 6)])
def test_kid_matches_naive_double_loop(num_real, num_generated, max_block_size):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((num_real, 4))
    y = rng.standard_normal((num_generated, 4)) + 0.3
    num_blocks = -(-max(num_real, num_generated) // max_block_size)

    # TF-GAN's blocks: contiguous, sizes differing by one, the larger ones last.
    def bounds(n):
        sizes = [n // num_blocks] * num_blocks
        for i in range(n % num_blocks):
            sizes[num_blocks - 1 - i] += 1
        return np.cumsum([0] + sizes)

    bx, by = bounds(num_real), bounds(num_generated)
    estimates = [
        naive_kid_block(x[bx[i] : bx[i + 1]], y[by[i] : by[i + 1]]) for i in range(num_blocks)
    ]
    mean, std = kernel_classifier_distance_from_activations(x, y, max_block_size=max_block_size)
    assert mean == pytest.approx(np.mean(estimates), rel=1e-10)
    if num_blocks == 1:
        assert np.isnan(std)
    else:
        assert std == pytest.approx(np.std(estimates, ddof=1) / np.sqrt(num_blocks), rel=1e-10)


def test_kid_is_near_zero_for_same_distribution():
    rng = np.random.default_rng(6)
    x, y = rng.standard_normal((2, 1000, 8))
    mean, std = kernel_classifier_distance_from_activations(x, y, max_block_size=100)
    assert abs(mean) < 4 * std


def test_classifier_score_of_uniform_logits_is_one():
    mean, std = classifier_score_from_logits(np.zeros((100, 10)), splits=10)
    assert mean == pytest.approx(1.0) and std == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("num_classes", [2, 10, 1000])
def test_classifier_score_of_balanced_one_hot_is_num_classes(num_classes):
    labels = np.tile(np.arange(num_classes), 10)  # every split holds every class once
    logits = 200.0 * np.eye(num_classes)[labels]
    mean, std = classifier_score_from_logits(logits, splits=10)
    assert mean == pytest.approx(num_classes, rel=1e-9)
    assert std == pytest.approx(0.0, abs=1e-9)


def test_classifier_score_with_one_split_matches_direct_formula():
    rng = np.random.default_rng(7)
    logits = rng.standard_normal((64, 5)) * 3
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    q = p.mean(0)
    expected = np.exp(np.mean(np.sum(p * np.log(p / q), axis=1)))
    assert classifier_score_from_logits(logits, splits=1)[0] == pytest.approx(expected, rel=1e-10)


def test_image_level_functions_batch_through_classifier_fn():
    rng = np.random.default_rng(8)
    real = rng.uniform(-1, 1, (37, 4, 4, 1)).astype(np.float32)
    fake = rng.uniform(-1, 1, (29, 4, 4, 1)).astype(np.float32)
    features = lambda images: np.reshape(images, (len(images), -1))
    flat_real, flat_fake = features(real), features(fake)
    assert frechet_classifier_distance(real, fake, features, batch_size=8) == pytest.approx(
        frechet_classifier_distance_from_activations(flat_real, flat_fake)
    )
    assert kernel_classifier_distance(real, fake, features, batch_size=8) == pytest.approx(
        kernel_classifier_distance_from_activations(flat_real, flat_fake), nan_ok=True
    )
    assert classifier_score(real, features, splits=3, batch_size=5) == pytest.approx(
        classifier_score_from_logits(flat_real, splits=3)
    )


GOOD = np.zeros((10, 3))


@pytest.mark.parametrize(
    "call,message",
    [
        (
            lambda: frechet_classifier_distance_from_activations(GOOD, np.zeros((10, 4))),
            "3 features.*4",
        ),
        (
            lambda: frechet_classifier_distance_from_activations(GOOD, np.zeros((1, 3))),
            "generated_activations needs at least 2 samples.*got 1",
        ),
        (
            lambda: frechet_classifier_distance_from_activations(GOOD, np.full((10, 3), np.nan)),
            "30 NaN or Inf",
        ),
        (
            lambda: kernel_classifier_distance_from_activations(np.full((10, 3), np.inf), GOOD),
            "real_activations contains 30 NaN or Inf",
        ),
        (
            lambda: kernel_classifier_distance_from_activations(GOOD, np.zeros((10, 2))),
            "must match",
        ),
        (
            lambda: frechet_classifier_distance_from_activations(np.zeros((10, 3, 1)), GOOD),
            r"2-D.*\(10, 3, 1\)",
        ),
        (lambda: classifier_score_from_logits(np.zeros(10)), r"2-D.*\(10,\)"),
        (lambda: classifier_score_from_logits(GOOD, splits=11), "splits=11"),
        (lambda: classifier_score_from_logits(GOOD, splits=0), "splits=0"),
        (
            lambda: kernel_classifier_distance_from_activations(
                np.zeros((3, 3)), np.zeros((40, 3)), max_block_size=10
            ),
            "at least 2",
        ),
    ],
)
def test_bad_input_raises_value_error_naming_it(call, message):
    with pytest.raises(ValueError, match=message):
        call()
