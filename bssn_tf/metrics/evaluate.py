"""One call that scores a generator: the entry point of the training loop and the CLI."""

import math
import sys

import numpy as np

from bssn_tf.extractors.feature_extractor import require_image_batch
from bssn_tf.extractors.registry import get_extractor
from bssn_tf.metrics.batching import run_in_batches
from bssn_tf.metrics.classifier_score import classifier_score_from_logits
from bssn_tf.metrics.frechet import frechet_distance_from_statistics
from bssn_tf.metrics.gaussian_statistics import fid_statistics, save_fid_statistics
from bssn_tf.metrics.kernel_distance import kernel_classifier_distance_from_activations


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


def _generated_features_and_logits(sample_fn, extractor, count, batch_size, seed, z_dim, bar):
    """Features and logits of `count` images of `sample_fn`, z ~ N(0, I) from default_rng(seed)."""
    rng = np.random.default_rng(seed)
    features, logits = [], []
    for start in range(0, count, batch_size):
        size = min(batch_size, count - start)
        z = rng.standard_normal((size, z_dim)).astype(np.float32)
        images = require_image_batch(sample_fn(z), "generated images")
        if len(images) != size:
            raise ValueError(f"sample_fn returned {len(images)} images for {size} latent vectors.")
        batch_features, batch_logits = extractor.features_and_logits(images)
        features.append(np.asarray(batch_features, dtype=np.float64))
        logits.append(np.asarray(batch_logits, dtype=np.float64))
        bar.advance(size)
    return np.concatenate(features), np.concatenate(logits)


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
    num_score_samples=None,
    score_classes=None,
    real_statistics=None,
    save_real_statistics=None,
):
    """FCD, KCD and classifier score of `sample_fn` against `real_images`.

    `sample_fn(z)` maps float32 z ~ N(0, I) of shape [n, z_dim], drawn with
    numpy's default_rng(seed), to images [n, H, W, C] in [-1, 1]. FCD and KCD
    use the first `num_samples` generated images; the classifier score uses the
    first `num_score_samples` (default `num_samples`), over the softmax of the
    first `score_classes` logits (default all). bssn_tf.metrics.protocols holds
    the published settings (the paper's: FID 10k vs 5k real, IS on 50k).

    `real_statistics` = (mu, sigma), e.g. from load_fid_statistics, replaces
    `real_images` (pass None): FCD uses them and KCD, which needs the real
    features themselves, is None. `save_real_statistics` = PATH writes the real
    images' (mu, sigma) there in pytorch-fid's .npz format.

    Returns a JSON-ready dict; `kcd_std` is None when all samples fit one KID block.
    """
    num_samples = int(num_samples)
    num_score_samples = num_samples if num_score_samples is None else int(num_score_samples)
    _check_settings(num_samples, num_score_samples, splits, z_dim, batch_size)
    if (real_images is None) == (real_statistics is None):
        raise ValueError("give exactly one of real_images and real_statistics.")
    feature_extractor = get_extractor(extractor)
    if real_images is not None:
        real_images = require_image_batch(real_images, "real_images")
    count = max(num_samples, num_score_samples)
    bar = _StderrProgress((0 if real_images is None else len(real_images)) + count, progress)
    real_features, real_statistics = _real_side(
        real_images, real_statistics, feature_extractor, int(batch_size), bar, save_real_statistics
    )
    features, logits = _generated_features_and_logits(
        sample_fn, feature_extractor, count, int(batch_size), seed, int(z_dim), bar
    )
    features = features[:num_samples]
    if len(real_statistics[0]) != features.shape[1]:
        raise ValueError(
            f"the real statistics have {len(real_statistics[0])} features but the "
            f"{feature_extractor.name} extractor gives {features.shape[1]}; they were made "
            "with another extractor."
        )
    kcd, kcd_std = _kernel_distance(real_features, features, max_block_size)
    score_logits = logits[:num_score_samples, :score_classes]
    score, score_std = classifier_score_from_logits(score_logits, splits=splits)
    return {
        "fcd": frechet_distance_from_statistics(*real_statistics, *fid_statistics(features)),
        "kcd": kcd,
        "kcd_std": kcd_std,
        "classifier_score": score,
        "classifier_score_std": score_std,
        "extractor": feature_extractor.name,
        **{key: value for key, value in feature_extractor.provenance.items() if key != "extractor"},
        "num_samples": num_samples,
        "num_score_samples": num_score_samples,
        "score_classes": score_logits.shape[1],
        "score_splits": int(splits),
        "num_real": None if real_images is None else len(real_images),
        "seed": int(seed),
    }


def _kernel_distance(real_features, features, max_block_size):
    """(KCD, its std or None when one block holds every sample); (None, None) without real
    features."""
    if real_features is None:
        return None, None
    kcd, kcd_std = kernel_classifier_distance_from_activations(
        real_features, features, max_block_size=max_block_size
    )
    return kcd, None if math.isnan(kcd_std) else kcd_std


def _check_settings(num_samples, num_score_samples, splits, z_dim, batch_size):
    for name, value, minimum in (
        ("num_samples", num_samples, 2),
        ("num_score_samples", num_score_samples, splits),
        ("z_dim", z_dim, 1),
        ("batch_size", batch_size, 1),
    ):
        if int(value) < minimum:
            raise ValueError(f"{name} must be at least {minimum}; got {value}.")


def _real_side(real_images, real_statistics, extractor, batch_size, bar, save_to):
    """(real features or None, real (mu, sigma)): the given statistics, or the images' own,
    saved to `save_to` when given."""
    if real_images is None:
        return None, real_statistics
    real_features = run_in_batches(
        extractor.features, real_images, batch_size, on_batch_done=bar.advance
    )
    real_statistics = fid_statistics(real_features)
    if save_to:
        save_fid_statistics(save_to, *real_statistics)
    return real_features, real_statistics
