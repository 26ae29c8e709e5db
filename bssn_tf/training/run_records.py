"""Finished runs read back from disk (config.json + metrics.csv), for studies across seeds.

A study compares runs that differ only in their seed; grouping by every other
training flag makes "identical flags" a checked fact rather than a promise.
"""

import csv
import dataclasses
import json
import os

from bssn_tf.models.normalization import used_scale
from bssn_tf.training.config import FIELD_DEFAULTS
from bssn_tf.training.run_directory import RunDirectory

# Flags that say where a run lives or how often it reports, not what it trains.
NON_SETTING_FLAGS = (
    "seed",
    "model_dir",
    "data_dir",
    "checkpoint_every",
    "sample_every",
    "log_every",
    "eval_every",
)


@dataclasses.dataclass(frozen=True)
class RunRecord:
    model_dir: str
    flags: dict
    rows: tuple  # metrics.csv rows, numbers as float, in step order

    @property
    def name(self):
        return os.path.basename(os.path.normpath(self.model_dir))

    def column(self, name):
        return [row[name] for row in self.rows]

    def final(self, name):
        if not self.rows:
            raise ValueError(
                f"{self.model_dir} has no {RunDirectory.METRICS} rows; train it with "
                "--eval_every > 0."
            )
        return self.rows[-1][name]

    def setting(self, ignore=()):
        """Every training flag except the seed, bookkeeping and `ignore`, as a hashable key.

        The scale counts only for the norms that use it (`used_scale`): an sn run
        records the --scale default of its day, which changes nothing it trains.
        """
        flags = dict(FIELD_DEFAULTS, **self.flags)  # flags added since the run: defaults
        flags["scale"] = used_scale(flags["norm"], flags["scale"])
        return tuple(
            sorted(
                (key, value)
                for key, value in flags.items()
                if key not in NON_SETTING_FLAGS and key not in ignore
            )
        )


def _number(text):
    try:
        return float(text)
    except ValueError:
        return text


def read_run(model_dir):
    """The run's flags (config.json "run") and its metrics.csv rows."""
    run = RunDirectory(model_dir)
    config_path = run.config
    if not os.path.isfile(config_path):
        raise FileNotFoundError(f"{model_dir} is not a training run: {config_path} is missing.")
    with open(config_path) as handle:
        flags = json.load(handle)["run"]
    rows = []
    if os.path.isfile(run.metrics):
        with open(run.metrics, newline="") as handle:
            rows = [
                {key: _number(value) for key, value in row.items()}
                for row in csv.DictReader(handle)
            ]
    rows.sort(key=lambda row: row["step"])
    return RunRecord(model_dir, flags, tuple(rows))


def group_by_setting(records, ignore=()):
    """{setting key: [records sorted by seed]}, first-seen order; `ignore`: flags not compared."""
    groups = {}
    for record in records:
        groups.setdefault(record.setting(ignore), []).append(record)
    return {
        key: sorted(group, key=lambda record: record.flags["seed"]) for key, group in groups.items()
    }
