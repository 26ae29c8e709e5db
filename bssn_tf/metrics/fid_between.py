"""FID (with KID and IS on request) between any two image sources: `python -m bssn_tf.fid`.

Each source is opened by bssn_tf.metrics.image_sources (folder, image array,
zoo model, or saved statistics). Images run through one extractor in
batches; statistics accumulate as they go (running_statistics), so memory
does not grow with the number of images unless KID or IS needs the features
or logits themselves. With the FID Inception, the "pytorch" resize and a
folder on each side, the result is `python -m pytorch_fid`'s.
"""

import dataclasses
import os
import sys
from typing import Optional

import numpy as np

from bssn_tf.extractors.feature_extractor import FeatureExtractor
from bssn_tf.extractors.inception_resize import require_resize_mode
from bssn_tf.extractors.registry import get_extractor
from bssn_tf.metrics.classifier_score import classifier_score_from_logits
from bssn_tf.metrics.evaluate import _StderrProgress
from bssn_tf.metrics.frechet import frechet_distance_from_statistics
from bssn_tf.metrics.gaussian_statistics import save_fid_statistics
from bssn_tf.metrics.image_sources import ImageSource, StatisticsSource, open_source
from bssn_tf.metrics.kernel_distance import kernel_classifier_distance_from_activations
from bssn_tf.metrics.protocols import resolve_protocol
from bssn_tf.metrics.running_statistics import RunningStatistics

# pytorch-fid's F.interpolate convention: its numbers are what most users compare with.
DEFAULT_RESIZE = "pytorch"
IS_SPLITS = 10


@dataclasses.dataclass
class _Measured:
    """One source's statistics, plus its features and logits when a metric needs them."""

    mu: np.ndarray
    sigma: np.ndarray
    record: dict
    features: Optional[np.ndarray] = None
    logits: Optional[np.ndarray] = None


def _extractor(extractor, fid_weights, resize, batch_size):
    """The named extractor (bssn_tf.extractors.registry), with the FID Inception's options."""
    if extractor != "fid_inception":
        return get_extractor(extractor, fid_weights)
    # jit_compile=None: oneDNN beats XLA on TensorFlow's CPU backend (benchmarks/RESULTS.md).
    return get_extractor(
        extractor,
        fid_weights,
        resize=resize or DEFAULT_RESIZE,
        batch_size=batch_size,
        jit_compile=None,
    )


@dataclasses.dataclass
class _Run:
    """The opened sources, the extractor (None when every source is saved statistics), and
    one progress bar over all their images."""

    sources: list
    extractor: Optional[FeatureExtractor]
    batch_size: int
    bar: _StderrProgress
    progress_shown: bool
    images_done: int = 0

    @property
    def provenance(self):
        if self.extractor is None:
            return {}
        return {"extractor": self.extractor.name, **self.extractor.provenance}

    def measure(self, source, keep_features=False, keep_logits=False, other=None):
        """Statistics of `source` (and its features / logits if asked).

        `other` is the other side's saved statistics, if any: their feature
        size is checked on the first batch, not after the whole source has run.
        """
        record = {"source": source.name, "kind": source.kind, "num_images": source.count}
        if isinstance(source, StatisticsSource):
            return _Measured(source.mu, source.sigma, record)
        running = RunningStatistics(source.name)
        kept_features, kept_logits = [], []
        try:
            for images in source.batches(self.batch_size):
                features, logits = self.extractor.features_and_logits(images)
                if other is not None and features.shape[1] != len(other.mu):
                    raise ValueError(
                        f"{other.name} holds statistics of {len(other.mu)} features, but the "
                        f"{self.extractor.name} extractor gives {features.shape[1]} for "
                        f"{source.name}: they were made with another extractor."
                    )
                running.add(features)
                if keep_features:
                    kept_features.append(np.asarray(features, dtype=np.float64))
                if keep_logits:
                    kept_logits.append(np.asarray(logits, dtype=np.float64))
                self.bar.advance(len(images))
                self.images_done += len(images)
        except BaseException:
            if self.progress_shown and self.images_done:
                sys.stderr.write("\n")  # an error (or Ctrl-C) gets a line of its own
            raise
        return _Measured(
            *running.statistics(),
            record,
            np.concatenate(kept_features) if keep_features else None,
            np.concatenate(kept_logits) if keep_logits else None,
        )

    def inception_score(self, measured):
        """(mean, std) over IS_SPLITS splits; the FID Inception scores its 1000 ImageNet logits."""
        count = len(measured.logits)
        if count < IS_SPLITS:
            raise ValueError(
                f"{measured.record['source']}: {count} images; the Inception Score needs at "
                f"least {IS_SPLITS} (one per split)."
            )
        classes = resolve_protocol("custom", count, None, self.extractor.name).score_classes
        return classifier_score_from_logits(measured.logits[:, :classes], splits=IS_SPLITS)


def _start(
    sources,
    extractor="fid_inception",
    fid_weights=None,
    resize=None,
    batch_size=50,
    num_samples=10000,
    seed=0,
    progress=False,
):
    """Opens every source first, so bad input fails before the network is built."""
    if resize is not None:
        require_resize_mode(resize)
    if int(batch_size) < 1:
        raise ValueError(f"batch_size={batch_size}: must be a positive integer.")
    opened = [open_source(source, int(num_samples), seed) for source in sources]
    total = sum(source.count for source in opened if isinstance(source, ImageSource))
    feature_extractor = None
    if total:
        feature_extractor = _extractor(extractor, fid_weights, resize, int(batch_size))
    # The bar shows only where there is more than one batch to wait for.
    shown = bool(progress) and total > int(batch_size)
    return _Run(
        opened, feature_extractor, int(batch_size), _StderrProgress(max(total, 1), shown), shown
    )


def fid_between(
    a,
    b,
    extractor="fid_inception",
    fid_weights=None,
    resize=None,
    batch_size=50,
    num_samples=10000,
    seed=0,
    kid=False,
    isc=False,
    progress=False,
):
    """The FID between sources `a` and `b`, as a JSON-ready dict.

    Args:
      a, b: a folder of images, an .npz of statistics (mu, sigma), an .npz or
        .npy array of images (uint8 in [0, 255] or float in [-1, 1], NHWC), a
        numpy image array, or a zoo model name, model folder or run directory
        (bssn_tf.metrics.image_sources.open_source).
      extractor: "fid_inception" (pytorch-fid's network and weights), "digits"
        (the shipped digit classifier), or a FeatureExtractor.
      fid_weights: the FID Inception weights: a path, "download", or None for
        $BSSN_FID_INCEPTION_WEIGHTS.
      resize: "pytorch" (default, pytorch-fid's) or "tf_legacy" (TF-GAN's and
        the BSSN paper's); the FID Inception only.
      batch_size: images per forward pass.
      num_samples, seed: images drawn from a generator source, and their seed.
      kid: add KID (mean and standard error); both sides must be images.
      isc: add the Inception Score of each image side (10 splits).
      progress: show a progress bar on stderr when there is more than one batch.

    Returns:
      {"fid", ["kid", "kid_std"], "a": {...}, "b": {...}, "extractor", ...}: each
      side says its source, kind and number of images (and "isc", "isc_std");
      the extractor's provenance (weights, sha256, resize) is included when one ran.

    Raises:
      FileNotFoundError, ValueError: a source or the weights cannot be used;
        the message names the path or value and what was expected.
    """
    run = _start((a, b), extractor, fid_weights, resize, batch_size, num_samples, seed, progress)
    source_a, source_b = run.sources
    statistics = [source for source in run.sources if isinstance(source, StatisticsSource)]
    if kid and statistics:
        raise ValueError(f"KID needs images on both sides; {statistics[0].name} holds statistics.")
    if isc and len(statistics) == 2:
        raise ValueError("the Inception Score needs images; both sources hold statistics.")
    if len(statistics) == 2 and len(source_a.mu) != len(source_b.mu):
        raise ValueError(
            f"{source_a.name} holds statistics of {len(source_a.mu)} features and "
            f"{source_b.name} of {len(source_b.mu)}: they were made with different extractors."
        )
    kept = {"keep_features": kid, "keep_logits": isc}
    saved = lambda source: source if isinstance(source, StatisticsSource) else None
    measured_a = run.measure(source_a, other=saved(source_b), **kept)
    measured_b = run.measure(source_b, other=saved(source_a), **kept)
    results = {
        "fid": frechet_distance_from_statistics(
            measured_a.mu, measured_a.sigma, measured_b.mu, measured_b.sigma
        )
    }
    if kid:
        kid_mean, kid_std = kernel_classifier_distance_from_activations(
            measured_a.features, measured_b.features
        )
        results.update(kid=kid_mean, kid_std=None if np.isnan(kid_std) else kid_std)
    for key, measured in (("a", measured_a), ("b", measured_b)):
        if isc and measured.logits is not None:
            measured.record["isc"], measured.record["isc_std"] = run.inception_score(measured)
        results[key] = measured.record
    return {**results, **run.provenance}


def statistics_of(source, save_to=None, **options):
    """FID statistics of one source (keyword arguments as fid_between), saved to `save_to`.

    Returns {"mu", "sigma", "source", "kind", "num_images", extractor provenance,
    ["saved_to"]}. `save_to` is written in pytorch-fid's .npz format; like
    `python -m pytorch_fid --save-stats`, an existing file is refused, not replaced.
    """
    if save_to is not None:
        _require_new_npz(str(save_to))
    run = _start((source,), **options)
    measured = run.measure(run.sources[0])
    results = {"mu": measured.mu, "sigma": measured.sigma, **measured.record}
    if save_to is not None:
        save_fid_statistics(save_to, measured.mu, measured.sigma)
        results["saved_to"] = str(save_to)
    return {**results, **run.provenance}


def _require_new_npz(path):
    if not path.endswith(".npz"):
        raise ValueError(f"{path}: statistics are saved as .npz; name the file *.npz.")
    if os.path.lexists(path):
        raise ValueError(f"{path} exists; statistics are never written over a file.")


def inception_score_of(source, **options):
    """The Inception Score (mean, std over 10 splits) of one image source, as a dict.

    Keyword arguments as fid_between. With extractor="digits" it is the digit
    classifier score, comparable only with other digit-classifier numbers.
    """
    run = _start((source,), **options)
    if run.extractor is None:
        raise ValueError(f"{source}: holds statistics; the Inception Score needs images.")
    measured = run.measure(run.sources[0], keep_logits=True)
    score, score_std = run.inception_score(measured)
    return {"isc": score, "isc_std": score_std, **measured.record, **run.provenance}
