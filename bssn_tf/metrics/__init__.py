"""GAN evaluation metrics with TF-GAN's names and semantics.

tensorflow-gan 2.1.0 does not import on TF >= 2.16 (it subclasses
`tf.estimator.SessionRunHook`, and `tf.estimator` is gone), so its
`frechet_classifier_distance`, `kernel_classifier_distance`, `classifier_score`
and their `_from_activations` / `_from_logits` forms live here, computed in
float64 numpy. Deliberate differences from TF-GAN: image-level functions take
`batch_size` instead of `num_batches`; `kernel_classifier_distance*` return
(mean, std); `classifier_score*` return (mean, std) over `splits`.

The networks these formulas measure with (the digit classifier, the FID
Inception and its weights, Keras' InceptionV3) live in bssn_tf.extractors;
their public factories are re-exported here.
"""

from bssn_tf.extractors.digit_classifier import load_digit_classifier, make_digit_extractor
from bssn_tf.extractors.feature_extractor import FeatureExtractor
from bssn_tf.extractors.fid_extractor import make_fid_inception_extractor
from bssn_tf.extractors.keras_inception import make_inception_extractor
from bssn_tf.metrics.classifier_score import classifier_score, classifier_score_from_logits
from bssn_tf.metrics.conditional import (
    class_consistency,
    class_consistency_from_logits,
    evaluate_conditional_generator,
    intra_class_fcd_from_activations,
)
from bssn_tf.metrics.evaluate import evaluate_generator
from bssn_tf.metrics.fid_between import fid_between, inception_score_of, statistics_of
from bssn_tf.metrics.frechet import (
    frechet_classifier_distance,
    frechet_classifier_distance_from_activations,
    frechet_distance_from_statistics,
)
from bssn_tf.metrics.gaussian_statistics import (
    fid_statistics,
    load_fid_statistics,
    save_fid_statistics,
)
from bssn_tf.metrics.kernel_distance import (
    kernel_classifier_distance,
    kernel_classifier_distance_from_activations,
)

__all__ = [
    "FeatureExtractor",
    "class_consistency",
    "class_consistency_from_logits",
    "classifier_score",
    "classifier_score_from_logits",
    "evaluate_conditional_generator",
    "evaluate_generator",
    "fid_between",
    "fid_statistics",
    "frechet_classifier_distance",
    "frechet_classifier_distance_from_activations",
    "frechet_distance_from_statistics",
    "inception_score_of",
    "intra_class_fcd_from_activations",
    "kernel_classifier_distance",
    "kernel_classifier_distance_from_activations",
    "load_digit_classifier",
    "load_fid_statistics",
    "make_digit_extractor",
    "make_fid_inception_extractor",
    "make_inception_extractor",
    "save_fid_statistics",
    "statistics_of",
]
