"""Validation shared by every distance and score: bad activations must fail loudly.

A NaN, a single sample or a feature-size mismatch would otherwise come back as a
plausible-looking (or NaN) metric, which is worse than an error.
"""

import numpy as np


def as_activation_matrix(name, values):
    """Returns `values` as a finite float64 [n, d] array with n >= 2, else ValueError."""
    matrix = np.asarray(values, dtype=np.float64)
    if matrix.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D [num_samples, num_features] array; got shape {matrix.shape}."
        )
    if matrix.shape[0] < 2:
        raise ValueError(
            f"{name} needs at least 2 samples to estimate statistics; got {matrix.shape[0]}."
        )
    if not np.all(np.isfinite(matrix)):
        bad = int(np.size(matrix) - np.count_nonzero(np.isfinite(matrix)))
        raise ValueError(f"{name} contains {bad} NaN or Inf values.")
    return matrix


def as_activation_pair(real_activations, generated_activations):
    """Validates both sets and checks that their feature sizes agree."""
    real = as_activation_matrix("real_activations", real_activations)
    generated = as_activation_matrix("generated_activations", generated_activations)
    if real.shape[1] != generated.shape[1]:
        raise ValueError(
            f"real_activations have {real.shape[1]} features but "
            f"generated_activations have {generated.shape[1]}; they must match."
        )
    return real, generated
