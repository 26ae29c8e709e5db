"""Kernel classifier distance (KID when the classifier is Inception-v3).

Unbiased MMD^2 estimate with the cubic polynomial kernel
k(x, y) = (x . y / d + 1)^3 (Binkowski et al. 2018), computed in float64.

Block semantics follow TF-GAN's `kernel_classifier_distance_and_std_from_activations`:
with n_blocks = ceil(max(n_real, n_gen) / max_block_size), each set is cut, in
its given order, into n_blocks contiguous blocks whose sizes differ by at most
one (the larger blocks last). Block i of the real set is compared only with
block i of the generated set. The result is the mean of the per-block
estimates and the standard error of that mean,
sqrt(var_ddof1(estimates) / n_blocks), which is NaN when there is one block.
Unlike TF-GAN, where `kernel_classifier_distance_from_activations` returns the
mean only, this function returns (mean, std).
"""

import math

import numpy as np

from bssn_tf.metrics.activations import as_activation_pair
from bssn_tf.metrics.batching import run_in_batches


def _block_bounds(num_samples, num_blocks):
    base_size, num_larger = divmod(num_samples, num_blocks)
    sizes = [base_size] * (num_blocks - num_larger) + [base_size + 1] * num_larger
    return np.concatenate([[0], np.cumsum(sizes)])


def _unbiased_mmd2(real, generated):
    dim = real.shape[1]
    k_rr = (real @ real.T / dim + 1.0) ** 3
    k_gg = (generated @ generated.T / dim + 1.0) ** 3
    k_rg = (real @ generated.T / dim + 1.0) ** 3
    m, n = len(real), len(generated)
    mean_rr = (k_rr.sum() - np.trace(k_rr)) / (m * (m - 1))
    mean_gg = (k_gg.sum() - np.trace(k_gg)) / (n * (n - 1))
    return mean_rr + mean_gg - 2.0 * k_rg.mean()


def kernel_classifier_distance_from_activations(
    real_activations, generated_activations, max_block_size=1024
):
    """Returns (KID mean, KID standard error) over blocks, as Python floats."""
    real, generated = as_activation_pair(real_activations, generated_activations)
    if int(max_block_size) < 2:
        raise ValueError(f"max_block_size must be >= 2; got {max_block_size}.")
    num_blocks = math.ceil(max(len(real), len(generated)) / int(max_block_size))
    smallest = min(len(real), len(generated)) // num_blocks
    if smallest < 2:
        raise ValueError(
            f"With max_block_size={max_block_size}, {len(real)} real and "
            f"{len(generated)} generated activations split into {num_blocks} "
            f"blocks of which some hold {smallest} samples of one set; each block "
            "needs at least 2. Use a larger max_block_size or balance the sets."
        )
    real_bounds = _block_bounds(len(real), num_blocks)
    generated_bounds = _block_bounds(len(generated), num_blocks)
    estimates = np.array(
        [
            _unbiased_mmd2(
                real[real_bounds[i] : real_bounds[i + 1]],
                generated[generated_bounds[i] : generated_bounds[i + 1]],
            )
            for i in range(num_blocks)
        ]
    )
    if num_blocks == 1:
        return float(estimates[0]), float("nan")
    return (float(estimates.mean()), float(math.sqrt(estimates.var(ddof=1) / num_blocks)))


def kernel_classifier_distance(
    real_images, generated_images, classifier_fn, batch_size=500, max_block_size=1024
):
    """(KID mean, std) of two image sets through `classifier_fn` (images -> [n, d])."""
    return kernel_classifier_distance_from_activations(
        run_in_batches(classifier_fn, real_images, batch_size),
        run_in_batches(classifier_fn, generated_images, batch_size),
        max_block_size=max_block_size,
    )
