"""Classifier score (Inception Score when the classifier is Inception-v3).

exp(E_x KL(p(y|x) || p(y))) computed from logits in float64 with log-softmax, as
TF-GAN's `classifier_score_from_logits`. TF-GAN scores the whole set at once;
here the n samples are cut, in order, into `splits` contiguous parts at the
boundaries floor(i * n / splits), as in Salimans et al.'s reference code, and the
(mean, population std) of the per-part scores is returned. `splits=1`
reproduces TF-GAN's number; `splits=10` is the protocol of the published IS.
"""

import numpy as np

from bssn_tf.metrics.activations import as_activation_matrix
from bssn_tf.metrics.batching import run_in_batches


def _score_of_part(log_probabilities):
    peak = log_probabilities.max(axis=0)
    log_marginal = peak + np.log(np.mean(np.exp(log_probabilities - peak), axis=0))
    kl = np.sum(np.exp(log_probabilities) * (log_probabilities - log_marginal), axis=1)
    return float(np.exp(np.mean(kl)))


def classifier_score_from_logits(logits, splits=10):
    """Returns (mean, std) of the classifier score over `splits` parts of `logits`."""
    logits = as_activation_matrix("logits", logits)
    if int(splits) < 1 or int(splits) > len(logits):
        raise ValueError(
            f"splits must be between 1 and the number of samples ({len(logits)}); "
            f"got splits={splits}."
        )
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probabilities = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    bounds = [i * len(logits) // int(splits) for i in range(int(splits) + 1)]
    scores = np.array(
        [_score_of_part(log_probabilities[bounds[i] : bounds[i + 1]]) for i in range(int(splits))]
    )
    return float(scores.mean()), float(scores.std())


def classifier_score(images, classifier_fn, splits=10, batch_size=500):
    """(mean, std) classifier score of `images` through `classifier_fn` (images -> logits)."""
    return classifier_score_from_logits(
        run_in_batches(classifier_fn, images, batch_size), splits=splits
    )
