"""Finished runs read back from disk (config.json + metrics.csv), for studies across seeds.

A study compares runs that differ only in their seed; grouping by every other
training flag makes "identical flags" a checked fact rather than a promise.
"""

import csv
import dataclasses
import json
import os

from bssn_tf.io import write_bytes_atomically, write_json_atomically
from bssn_tf.models.normalization import used_scale
from bssn_tf.training.config import FIELD_DEFAULTS, LOCATION_FIELDS, card_flag_history
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

    @property
    def finished(self):
        """Whether its evaluations reach its --steps (a run cut short does not)."""
        return bool(self.rows) and self.final("step") >= self.flags["steps"]

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
                (key, _hashable(value))
                for key, value in flags.items()
                if key not in NON_SETTING_FLAGS and key not in ignore
            )
        )


def _hashable(value):
    """JSON's lists (class_names, say) as tuples, as the config holds them."""
    if isinstance(value, list):
        return tuple(_hashable(item) for item in value)
    return value


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


class RecordError(ValueError):
    """A run that cannot go into a study: unfinished, or its name already holds another run."""


def record_run(model_dir, study_dir):
    """Copies a finished run's config.json and metrics.csv into study_dir/<run name>.

    The copy keeps what the run trained and measured, not where the training
    machine kept it: LOCATION_FIELDS go from the flags and from their history.
    Only finished runs are recorded, since a table of best FCDs would read a run
    cut short as converged. Recording the same run again changes nothing; a
    different run under an existing name is refused rather than overwritten.
    Returns the record's directory.
    """
    record = read_run(model_dir)
    if not record.finished:
        done = int(record.final("step")) if record.rows else 0
        raise RecordError(
            f"{model_dir} has evaluations up to step {done} of its steps={record.flags['steps']}; "
            "only a finished run is recorded (resume it, or pass the --steps it stopped at)."
        )
    source = RunDirectory(model_dir)
    with open(source.config) as handle:
        config = json.load(handle)
    config["run"] = {
        name: value for name, value in config["run"].items() if name not in LOCATION_FIELDS
    }
    config["history"] = card_flag_history(config.get("history", []))
    with open(source.metrics, "rb") as handle:
        metrics = handle.read()
    name = os.path.basename(os.path.abspath(model_dir))
    if not name:
        raise RecordError(f"{model_dir} has no folder name to record the run under.")
    destination = os.path.join(study_dir, name)
    target = RunDirectory(destination)
    if os.path.isfile(target.config) and _recorded(target) != (config, metrics):
        raise RecordError(
            f"{destination} already records another run named {name}; remove it "
            "first to replace it."
        )
    write_bytes_atomically(target.metrics, metrics)
    write_json_atomically(target.config, config)
    return destination


def _recorded(run_directory):
    """(config.json as parsed, metrics.csv bytes or None) of a study record."""
    with open(run_directory.config) as handle:
        config = json.load(handle)
    if not os.path.isfile(run_directory.metrics):
        return config, None
    with open(run_directory.metrics, "rb") as handle:
        return config, handle.read()
