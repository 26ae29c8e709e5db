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
from bssn_tf.io import write_json_atomically
from bssn_tf.metrics.conditional import evaluate_conditional_generator
from bssn_tf.metrics.evaluate import EXTRACTORS, evaluate_generator
from bssn_tf.metrics.inception import make_inception_extractor

SOURCES = ("model_dir", "saved_model", "zoo")
RESULTS_FILE = "eval_metrics.json"
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
        if self.extractor not in EXTRACTORS:
            raise EvaluationConfigError(
                f"extractor={self.extractor}: expected one of {'|'.join(sorted(EXTRACTORS))}."
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
        return os.path.join(self.model_dir or ".", RESULTS_FILE)


def load_generator(config):
    """The verified ZooGenerator that `config` names; EvaluationConfigError if none is there."""
    name, value = config.source
    if name == "zoo":
        return zoo.load(value)
    path = os.path.join(value, "export") if name == "model_dir" else value
    if not os.path.isdir(path):
        raise EvaluationConfigError(f"{name}={value}: no generator export folder at {path}.")
    return zoo.load(path)


def _extractor(config):
    if config.extractor == "inception":
        return make_inception_extractor(config.inception_weights or "env")
    return config.extractor


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
    real = data.load_array(
        config.dataset,
        config.real_split,
        limit=config.num_real,
        with_labels=bool(generator.num_classes),
    )
    real_images = real[0] if generator.num_classes else real
    results = evaluate_generator(
        generator.with_uniform_labels(config.seed),
        real_images,
        extractor=_extractor(config),
        num_samples=config.num_samples,
        batch_size=config.batch_size,
        seed=config.seed,
        z_dim=generator.z_dim,
        progress=config.num_samples + len(real_images) >= _PROGRESS_BAR_MIN_IMAGES,
    )
    if generator.num_classes:
        results.update(
            evaluate_conditional_generator(
                generator,
                *real,
                generator.num_classes,
                extractor=_extractor(config),
                num_per_class=config.num_per_class,
                batch_size=config.batch_size,
                seed=config.seed,
                z_dim=generator.z_dim,
            )
        )
    name, value = config.source
    results.update(
        dataset=config.dataset,
        real_split=config.real_split,
        model={name: value, "directory": os.path.abspath(generator.directory)},
    )
    write_json_atomically(config.output_path, results)
    return results
