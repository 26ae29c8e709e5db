"""One call that scores a generator: the entry point of the training loop and the CLI."""

import math
import sys

import numpy as np

from bssn_tf.metrics.batching import run_in_batches
from bssn_tf.metrics.classifier_score import classifier_score_from_logits
from bssn_tf.metrics.digit_classifier import make_digit_extractor
from bssn_tf.metrics.feature_extractor import FeatureExtractor, require_image_batch
from bssn_tf.metrics.frechet import frechet_classifier_distance_from_activations
from bssn_tf.metrics.inception import make_inception_extractor
from bssn_tf.metrics.kernel_distance import kernel_classifier_distance_from_activations

EXTRACTORS = {"digits": make_digit_extractor, "inception": make_inception_extractor}


def get_extractor(extractor):
    """A FeatureExtractor from itself or from its name in EXTRACTORS."""
    if isinstance(extractor, FeatureExtractor):
        return extractor
    if extractor not in EXTRACTORS:
        raise ValueError(
            f"extractor must be one of {sorted(EXTRACTORS)} or a FeatureExtractor; "
            f"got {extractor!r}."
        )
    return EXTRACTORS[extractor]()


class _StderrProgress:
    """A one-line bar on stderr, so stdout stays free for the metrics JSON."""

    def __init__(self, total, enabled, width=30):
        self._total, self._enabled, self._width, self._done = total, enabled, width, 0

    def advance(self, count):
        if not self._enabled:
            return
        self._done += count
        filled = self._width * self._done // self._total
        sys.stderr.write(
            f"\r[{'#' * filled}{'.' * (self._width - filled)}] {self._done}/{self._total} images"
        )
        if self._done >= self._total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def evaluate_generator(
    sample_fn,
    real_images,
    extractor="digits",
    num_samples=10000,
    batch_size=500,
    seed=0,
    z_dim=128,
    splits=10,
    max_block_size=1024,
    progress=False,
):
    """FCD, KCD and classifier score of `sample_fn` against `real_images`.

    `sample_fn(z)` maps float32 z ~ N(0, I) of shape [n, z_dim], drawn with
    numpy's default_rng(seed), to images [n, H, W, C] in [-1, 1]. The paper's
    protocol is 10k generated vs 5k real images with the Inception extractor;
    `extractor="digits"` uses the shipped digit classifier instead.
    Returns a JSON-ready dict; `kcd_std` is None when all samples fit one KID block.
    """
    if int(num_samples) < 2:
        raise ValueError(f"num_samples must be at least 2; got {num_samples}.")
    if int(z_dim) < 1:
        raise ValueError(f"z_dim must be a positive integer; got {z_dim}.")
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be a positive integer; got {batch_size}.")
    feature_extractor = get_extractor(extractor)
    real_images = require_image_batch(real_images, "real_images")
    bar = _StderrProgress(len(real_images) + int(num_samples), progress)

    real_features = run_in_batches(
        feature_extractor.features, real_images, batch_size, on_batch_done=bar.advance
    )
    rng = np.random.default_rng(seed)
    generated_features, generated_logits = [], []
    for start in range(0, int(num_samples), int(batch_size)):
        count = min(int(batch_size), int(num_samples) - start)
        z = rng.standard_normal((count, int(z_dim))).astype(np.float32)
        images = require_image_batch(sample_fn(z), "generated images")
        if len(images) != count:
            raise ValueError(f"sample_fn returned {len(images)} images for {count} latent vectors.")
        features, logits = feature_extractor.features_and_logits(images)
        generated_features.append(features)
        generated_logits.append(logits)
        bar.advance(count)
    generated_features = np.concatenate(generated_features)

    kcd, kcd_std = kernel_classifier_distance_from_activations(
        real_features, generated_features, max_block_size=max_block_size
    )
    score, score_std = classifier_score_from_logits(np.concatenate(generated_logits), splits=splits)
    return {
        "fcd": frechet_classifier_distance_from_activations(real_features, generated_features),
        "kcd": kcd,
        "kcd_std": None if math.isnan(kcd_std) else kcd_std,
        "classifier_score": score,
        "classifier_score_std": score_std,
        "extractor": feature_extractor.name,
        "num_samples": int(num_samples),
        "num_real": len(real_images),
        "seed": int(seed),
    }
