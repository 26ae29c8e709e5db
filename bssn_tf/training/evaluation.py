"""Periodic generator evaluation into model_dir/metrics.csv."""

import csv
import math
import os

import numpy as np

from bssn_tf import metrics
from bssn_tf.extractors.registry import get_extractor
from bssn_tf.metrics.conditional import class_consistency
from bssn_tf.training.inputs import real_train_images
from bssn_tf.training.run_directory import RunDirectory

COLUMNS = (
    "step",
    "fcd",
    "kcd",
    "kcd_std",
    "classifier_score",
    "classifier_score_std",
    "num_samples",
    "num_real",
    "extractor",
)
# Conditional runs also log the share of samples the classifier assigns to their label.
CONDITIONAL_COLUMNS = COLUMNS + ("class_consistency",)


SUMMARY_COLUMNS = ("step", "fcd", "classifier_score", "class_consistency")


def last_evaluation(model_dir):
    """The last row of model_dir/metrics.csv as {"step", "fcd", ...} numbers, or None."""
    path = RunDirectory(model_dir).metrics
    if not os.path.exists(path):
        return None
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        return None
    last = rows[-1]
    numbers = {name: float(last[name]) for name in SUMMARY_COLUMNS if last.get(name)}
    return dict(numbers, step=int(last["step"]))


class PeriodicEvaluator:
    """Scores the generator with `bssn_tf.metrics.evaluate_generator` (config.eval_extractor).

    A conditional generator gets labels drawn uniformly (seeded), and its rows
    add the class consistency of the same samples. The extractor and the real
    images are loaded when this is made, so a missing digit classifier stops
    the run before training starts.
    """

    def __init__(self, config, spec, image_size, resumed_step, extractor="digits"):
        self._config = config
        self._extractor = get_extractor(extractor)
        self._real = real_train_images(config, spec, image_size, "eval_num_real")
        self.path = RunDirectory(config.model_dir).metrics
        self._columns = CONDITIONAL_COLUMNS if config.num_classes else COLUMNS
        self.best_fcd = min(
            (float(row["fcd"]) for row in self._drop_rows_after(resumed_step)), default=math.inf
        )

    def _drop_rows_after(self, step):
        """Rows of steps past the checkpoint come from a run that died; they will be redone.

        Returns the rows that are kept.
        """
        if not os.path.exists(self.path):
            return []
        with open(self.path, newline="") as handle:
            rows = [row for row in csv.DictReader(handle) if int(row["step"]) <= step]
        self._write(rows, mode="w")
        return rows

    def _write(self, rows, mode):
        new_file = mode == "w" or not os.path.exists(self.path)
        with open(self.path, mode, newline="") as handle:
            writer = csv.DictWriter(handle, self._columns, extrasaction="ignore")
            if new_file:
                writer.writeheader()
            writer.writerows(rows)

    def evaluate(self, step, generate):
        """Appends one row for `step`; `generate(z)` (`generate((z, labels))` for a
        conditional generator) returns images in [-1, 1].

        The returned metrics carry `"best": True` when this FCD is the run's lowest so far.
        """
        num_classes = self._config.num_classes
        labels_rng = np.random.default_rng(self._config.seed)
        generated = {"images": [], "labels": []}

        def sample(z):
            if not num_classes:
                return np.asarray(generate(z))
            labels = labels_rng.integers(0, num_classes, len(z)).astype(np.int32)
            images = np.asarray(generate((z, labels)))
            generated["images"].append(images)
            generated["labels"].append(labels)
            return images

        results = metrics.evaluate_generator(
            sample,
            self._real,
            extractor=self._extractor,
            num_samples=self._config.eval_num_samples,
            seed=self._config.seed,
            z_dim=self._config.z_dim,
        )
        if num_classes:
            results["class_consistency"] = class_consistency(
                np.concatenate(generated["images"]),
                np.concatenate(generated["labels"]),
                extractor=self._extractor,
            )
        self._write([dict(results, step=step)], mode="a")
        best = results["fcd"] < self.best_fcd
        if best:
            self.best_fcd = results["fcd"]
        return dict(results, best=best)
