"""Periodic generator evaluation into model_dir/metrics.csv."""

import csv
import math
import os

import numpy as np

from bssn_tf import data, metrics
from bssn_tf.metrics.evaluate import get_extractor

METRICS_FILE = "metrics.csv"
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


class PeriodicEvaluator:
    """Scores the generator with `bssn_tf.metrics.evaluate_generator` (digits extractor).

    The extractor and the real images are loaded when this is made, so a
    missing digit classifier stops the run before training starts.
    """

    def __init__(self, config, image_size, resumed_step, extractor="digits"):
        self._config = config
        self._extractor = get_extractor(extractor)
        self._real = data.load_array(
            config.dataset,
            "train",
            image_size=image_size,
            limit=config.eval_num_real,
            data_dir=config.data_dir,
        )
        self.path = os.path.join(config.model_dir, METRICS_FILE)
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
            writer = csv.DictWriter(handle, COLUMNS, extrasaction="ignore")
            if new_file:
                writer.writeheader()
            writer.writerows(rows)

    def evaluate(self, step, generate):
        """Appends one row for `step`; `generate(z)` returns images in [-1, 1].

        The returned metrics carry `"best": True` when this FCD is the run's lowest so far.
        """
        results = metrics.evaluate_generator(
            lambda z: np.asarray(generate(z)),
            self._real,
            extractor=self._extractor,
            num_samples=self._config.eval_num_samples,
            seed=self._config.seed,
            z_dim=self._config.z_dim,
        )
        self._write([dict(results, step=step)], mode="a")
        best = results["fcd"] < self.best_fcd
        if best:
            self.best_fcd = results["fcd"]
        return dict(results, best=best)
