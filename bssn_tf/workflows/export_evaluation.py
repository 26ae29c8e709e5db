"""Scores a generator export (a training run's, any SavedModel folder's, or a zoo model's).

This is the library behind `python -m train.evaluate`: the script turns its
flags into an `ExportEvaluationConfig` and calls `evaluate_export`. Every
generator is loaded through `bssn_tf.zoo.load`, so its files are checked
against its card before TensorFlow reads them.
"""

import dataclasses
import os
from typing import Optional

from bssn_tf import data, zoo
from bssn_tf.extractors.inception_resize import RESIZE_MODES
from bssn_tf.extractors.registry import EXTRACTOR_NAMES, get_extractor
from bssn_tf.io import write_json_atomically
from bssn_tf.io.hashing import sha256_of
from bssn_tf.metrics.conditional import evaluate_conditional_generator
from bssn_tf.metrics.evaluate import evaluate_generator
from bssn_tf.metrics.gaussian_statistics import load_fid_statistics
from bssn_tf.metrics.protocols import PROTOCOL_NAMES, resolve_protocol
from bssn_tf.training.run_directory import RunDirectory

SOURCES = ("model_dir", "saved_model", "zoo")
# Below this many images in all, a progress bar is more noise than help.
_PROGRESS_BAR_MIN_IMAGES = 2000


class EvaluationConfigError(ValueError):
    """A bad evaluation setting or a missing export; the message names the setting."""


@dataclasses.dataclass(frozen=True)
class ExportEvaluationConfig:
    """What to score, against which real images, with which extractor.

    Exactly one of `model_dir` (scores its export/), `saved_model` (a generator
    export folder) and `zoo` (a zoo name) is set. `output` is where the JSON
    results go; None means model_dir/eval_metrics.json with `model_dir`, and
    ./eval_metrics.json otherwise (a model folder holds exactly the files its
    card lists, so results are never written into it).

    `protocol` "paper" or "mimicry" fixes the sample counts (bssn_tf.metrics.
    protocols) and overrides num_samples / num_real; "custom" uses them.
    `real_stats` names a pytorch-fid/TTUR .npz of real statistics used instead
    of real images (KCD is then None); `save_real_stats` writes the real
    images' statistics in that format.
    """

    model_dir: Optional[str] = None
    saved_model: Optional[str] = None
    zoo: Optional[str] = None
    dataset: str = "mnist5k"
    real_split: str = "train"
    num_real: Optional[int] = None  # None: the whole split
    num_samples: int = 10000
    extractor: str = "digits"
    inception_weights: Optional[str] = None  # None: $BSSN_INCEPTION_WEIGHTS
    fid_weights: Optional[str] = None  # None: $BSSN_FID_INCEPTION_WEIGHTS; or "download"
    resize: str = "tf_legacy"
    protocol: str = "custom"
    real_stats: Optional[str] = None
    save_real_stats: Optional[str] = None
    batch_size: int = 500
    seed: int = 0
    output: Optional[str] = None
    # Conditional models only: images per class for class consistency and intra-class FCD.
    num_per_class: int = 100

    def __post_init__(self):
        given = [name for name in SOURCES if getattr(self, name)]
        if len(given) != 1:
            named = ", ".join(given) or "none"
            raise EvaluationConfigError(
                f"give exactly one of model_dir, saved_model, zoo; got {named}."
            )
        for name, allowed in (
            ("extractor", EXTRACTOR_NAMES),
            ("protocol", PROTOCOL_NAMES),
            ("resize", RESIZE_MODES),
        ):
            if getattr(self, name) not in allowed:
                raise EvaluationConfigError(
                    f"{name}={getattr(self, name)}: expected one of {'|'.join(allowed)}."
                )
        if self.real_stats and self.save_real_stats:
            raise EvaluationConfigError(
                "real_stats and save_real_stats exclude each other: with real_stats no real "
                "images are read."
            )
        for name, minimum in (
            ("num_samples", 2),
            ("num_real", 2),
            ("batch_size", 1),
            ("num_per_class", 2),
        ):
            value = getattr(self, name)
            if value is not None and value < minimum:
                raise EvaluationConfigError(f"{name}={value}: must be at least {minimum}.")

    @property
    def source(self):
        """(setting name, value) of the one model source given."""
        return next((name, getattr(self, name)) for name in SOURCES if getattr(self, name))

    @property
    def output_path(self):
        if self.output:
            return self.output
        # With model_dir, the run's eval_metrics.json; otherwise the same name here.
        return RunDirectory(self.model_dir or ".").eval_results


def load_generator(config):
    """The verified ZooGenerator that `config` names; EvaluationConfigError if none is there."""
    name, value = config.source
    if name == "zoo":
        return zoo.load(value)
    path = RunDirectory(value).export if name == "model_dir" else value
    if not os.path.isdir(path):
        raise EvaluationConfigError(f"{name}={value}: no generator export folder at {path}.")
    return zoo.load(path)


def _extractor(config):
    if config.extractor == "fid_inception":
        return get_extractor("fid_inception", config.fid_weights, resize=config.resize)
    weights = config.inception_weights if config.extractor == "inception" else None
    return get_extractor(config.extractor, weights)


def _real_inputs(config, protocol, generator):
    """(real images or None, their labels or None, real statistics or None, what to record).

    Real images come at the generator's size, as in training and on its card: a
    32 px ResNet trained on 28 px digits is compared with digits resized to 32.
    """
    if config.real_stats:
        statistics = load_fid_statistics(config.real_stats)
        record = {
            "real_stats": config.real_stats,
            "real_stats_sha256": sha256_of(config.real_stats),
        }
        return None, None, statistics, record
    # load_array refuses a split with fewer images than the protocol needs.
    with_labels = bool(generator.num_classes)
    real = data.load_array(
        config.dataset,
        config.real_split,
        image_size=int(generator.card["image_shape"][0]),
        limit=protocol.num_real,
        with_labels=with_labels,
    )
    images, labels = real if with_labels else (real, None)
    record = {"dataset": config.dataset, "real_split": config.real_split}
    return images, labels, None, record


def evaluate_export(config):
    """Scores the generator `config` names, writes the results JSON, and returns them.

    A class-conditional generator gets uniform labels for FCD, KCD and the
    classifier score, and `num_per_class` images of each class for class
    consistency and intra-class FCD (against the real images of that class).

    Raises:
      EvaluationConfigError: no such export, or bad settings.
      bssn_tf.zoo.IntegrityError: a file of the model does not match its card.
      OSError, ValueError: unreadable files, images outside [-1, 1], and the like.
    """
    generator = load_generator(config)
    extractor = _extractor(config)
    protocol = resolve_protocol(
        config.protocol, config.num_samples, config.num_real, extractor.name
    )
    if config.real_stats and generator.num_classes:
        raise EvaluationConfigError(
            f"real_stats={config.real_stats}: a class-conditional model needs the real images "
            "of each class for intra-class FCD; leave real_stats out."
        )
    real_images, real_labels, real_statistics, real_record = _real_inputs(
        config, protocol, generator
    )
    num_images = protocol.num_score_samples + (0 if real_images is None else len(real_images))
    results = evaluate_generator(
        generator.with_uniform_labels(config.seed),
        real_images,
        extractor=extractor,
        num_samples=protocol.num_samples,
        num_score_samples=protocol.num_score_samples,
        score_classes=protocol.score_classes,
        splits=protocol.splits,
        real_statistics=real_statistics,
        save_real_statistics=config.save_real_stats,
        batch_size=config.batch_size,
        seed=config.seed,
        z_dim=generator.z_dim,
        progress=num_images >= _PROGRESS_BAR_MIN_IMAGES,
    )
    if generator.num_classes:
        results.update(
            evaluate_conditional_generator(
                generator,
                real_images,
                real_labels,
                generator.num_classes,
                extractor=extractor,
                num_per_class=config.num_per_class,
                batch_size=config.batch_size,
                seed=config.seed,
                z_dim=generator.z_dim,
            )
        )
    name, value = config.source
    results.update(
        protocol=protocol.name,
        model={name: value, "directory": os.path.abspath(generator.directory)},
        **real_record,
    )
    if config.save_real_stats:
        results["saved_real_stats"] = config.save_real_stats
    write_json_atomically(config.output_path, results)
    return results
