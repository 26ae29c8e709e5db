"""Frechet classifier distance (FID when the classifier is Inception-v3).

Same names and semantics as TF-GAN's `frechet_classifier_distance*`: means and
unbiased (n - 1) covariances of the two activation sets, then
    |mu_r - mu_g|^2 + tr(S_r) + tr(S_g) - 2 tr((S_r^1/2 S_g S_r^1/2)^1/2).
The trace of the matrix square root is taken from the eigenvalues of the
symmetric PSD matrix S_r^1/2 S_g S_r^1/2 in float64, with rounding-level
negative eigenvalues clipped to zero. This avoids `scipy.linalg.sqrtm` on the
non-symmetric product S_r S_g, which can return complex values or lose accuracy.
"""

import numpy as np

from bssn_tf.metrics.activations import as_activation_pair
from bssn_tf.metrics.batching import run_in_batches
from bssn_tf.metrics.gaussian_statistics import fid_statistics, require_statistics


def _symmetric_psd_sqrt(matrix):
    eigenvalues, eigenvectors = np.linalg.eigh(matrix)
    return (eigenvectors * np.sqrt(np.clip(eigenvalues, 0.0, None))) @ eigenvectors.T


def _trace_sqrt_product(sigma_a, sigma_b):
    """tr((sigma_a sigma_b)^1/2), via the similar symmetric matrix A^1/2 B A^1/2."""
    sqrt_a = _symmetric_psd_sqrt(sigma_a)
    product = sqrt_a @ sigma_b @ sqrt_a
    eigenvalues = np.linalg.eigvalsh((product + product.T) / 2.0)
    return float(np.sum(np.sqrt(np.clip(eigenvalues, 0.0, None))))


def frechet_distance_from_statistics(mu1, sigma1, mu2, sigma2):
    """Frechet distance of N(mu1, sigma1) and N(mu2, sigma2), as pytorch-fid's
    `calculate_frechet_distance` computes it from saved statistics (see module docstring)."""
    mu1, sigma1 = require_statistics(mu1, sigma1, "first statistics")
    mu2, sigma2 = require_statistics(mu2, sigma2, "second statistics")
    if mu1.shape != mu2.shape:
        raise ValueError(
            f"the statistics have {len(mu1)} and {len(mu2)} features; they must match."
        )
    mean_difference = mu1 - mu2
    distance = (
        mean_difference @ mean_difference
        + np.trace(sigma1)
        + np.trace(sigma2)
        - 2.0 * _trace_sqrt_product(sigma1, sigma2)
    )
    return float(distance)


def frechet_classifier_distance_from_activations(real_activations, generated_activations):
    """FID between two [n, d] activation sets (numpy arrays or tensors) as a float."""
    real, generated = as_activation_pair(real_activations, generated_activations)
    return frechet_distance_from_statistics(*fid_statistics(real), *fid_statistics(generated))


def frechet_classifier_distance(real_images, generated_images, classifier_fn, batch_size=500):
    """FID of two image sets through `classifier_fn` (images -> [n, d] features)."""
    return frechet_classifier_distance_from_activations(
        run_in_batches(classifier_fn, real_images, batch_size),
        run_in_batches(classifier_fn, generated_images, batch_size),
    )
