"""A run's model_dir: its layout (RunDirectory), one run at a time, no crash debris, config.json.

RunDirectory names every path under a model_dir; no other module joins one.

A run owns its model_dir through an exclusive `fcntl.flock` on model_dir/.lock,
held by an open descriptor for the whole run. The kernel drops the lock when
the process ends, however it ends, so a lock left by a dead run never blocks.
On NFS, flock is emulated with POSIX byte-range locks, which the server
arbitrates between clients on Linux >= 2.6.12 when the lock daemon runs; on
filesystems mounted with `nolock`, or CIFS without `nobrl`, it only excludes
runs on the same machine (docs/DESIGN.md, "Runs and resume").
"""

import errno
import fcntl
import json
import os
import re
import shutil

import tensorflow as tf

from bssn_tf.io import write_json_atomically
from bssn_tf.models.normalization import used_scale
from bssn_tf.training.config import FIELD_DEFAULTS, ConfigError
from bssn_tf.zoo.integrity import CARD

# Exports are assembled in a folder of this prefix beside their final place.
STAGING_PREFIX = ".export-"
# Leftovers of writes that a crash interrupted: staging folders of an export,
# the old export that replace_directory_atomically had set aside, atomic-write
# temporaries, and the sharded temporary folder of a checkpoint save.
DEBRIS = re.compile(rf"^({re.escape(STAGING_PREFIX)}|\.retired-|\.tmp-)|^ckpt-\d+_temp")
CHECKPOINT_FILE = re.compile(r"^ckpt-(\d+)\.(index|data-\d+-of-\d+)$")


def _under_model_dir(name):
    return property(lambda self: os.path.join(self.path, name), doc=f"model_dir/{name}")


class RunDirectory:
    """The layout of a training run's model_dir: every file and folder in it, by name.

    config.json (model flags, run flags, flag history, the compile path),
    metrics.csv (one row per evaluation), checkpoints/, logs/ (TensorBoard),
    samples/ (PNG grids), export/ and best_export/ (generator SavedModels with
    their cards), .lock (the RunLock), and eval_metrics.json (written by
    train.evaluate).
    """

    CONFIG = "config.json"
    METRICS = "metrics.csv"
    CHECKPOINTS = "checkpoints"
    LOGS = "logs"
    SAMPLES = "samples"
    EXPORT = "export"
    # The generator of the evaluation with the lowest FCD so far (with --eval_every).
    BEST_EXPORT = "best_export"
    LOCK = ".lock"
    EVAL_RESULTS = "eval_metrics.json"

    config = _under_model_dir(CONFIG)
    metrics = _under_model_dir(METRICS)
    checkpoints = _under_model_dir(CHECKPOINTS)
    logs = _under_model_dir(LOGS)
    samples = _under_model_dir(SAMPLES)
    export = _under_model_dir(EXPORT)
    best_export = _under_model_dir(BEST_EXPORT)
    lock = _under_model_dir(LOCK)
    eval_results = _under_model_dir(EVAL_RESULTS)

    def __init__(self, model_dir):
        self.path = os.fspath(model_dir)

    def sample_grid(self, step):
        """samples/step_XXXXXXX.png, the grid of `step`."""
        return os.path.join(self.samples, f"step_{step:07d}.png")

    def worker_checkpoints(self, worker):
        """The private, short-lived checkpoint folder of a non-chief worker."""
        return os.path.join(self.path, f".{worker}_checkpoints")

    def export_card(self, best=False):
        """The card of export/ (best_export/ with `best`) as a dict; None if there is none."""
        path = os.path.join(self.best_export if best else self.export, CARD)
        try:
            with open(path) as handle:
                return json.load(handle)
        except FileNotFoundError:
            return None

    def discard_best_export_after(self, step):
        """Removes best_export/ if a run that died made it after `step`.

        On resume, metrics rows past the checkpoint are dropped and redone; an
        export selected by one of those rows must go with them.
        """
        card = self.export_card(best=True)
        if card is not None and card["steps"] > step:
            shutil.rmtree(self.best_export)


class RunDirectoryBusyError(RuntimeError):
    """Another live process holds the run directory."""


class RunLock:
    """Exclusive ownership of a model_dir, as a context manager (see the module docstring)."""

    def __init__(self, model_dir):
        self.model_dir = model_dir
        self.path = RunDirectory(model_dir).lock
        self._descriptor = None

    def __enter__(self):
        _make_run_directory(self.model_dir)
        try:
            descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise ConfigError(
                f"model_dir={self.model_dir} is not writable: cannot open {self.path} "
                f"for writing ({error.strerror})."
            ) from None
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            holder = os.pread(descriptor, 32, 0).decode("ascii", "replace").strip()
            os.close(descriptor)
            if error.errno not in (errno.EWOULDBLOCK, errno.EACCES):
                raise ConfigError(
                    f"model_dir={self.model_dir}: cannot lock {self.path} ({error.strerror})."
                ) from None
            raise RunDirectoryBusyError(
                f"model_dir={self.model_dir} is in use by another training run "
                f"(pid {holder or 'unknown'}); wait for it to end or use another model_dir."
            ) from None
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()}\n".encode("ascii"), 0)
        self._descriptor = descriptor
        return self

    def __exit__(self, *exc_info):
        # Closing the descriptor releases the lock. The file stays: deleting it
        # would let a waiting process lock a file that a newer one recreates.
        os.close(self._descriptor)
        self._descriptor = None


def _make_run_directory(model_dir):
    try:
        os.makedirs(model_dir, exist_ok=True)
    except OSError as error:
        raise ConfigError(
            f"model_dir={model_dir} cannot be created: {error.strerror}"
            f"{'' if error.filename in (None, model_dir) else f' ({error.filename})'}."
        ) from None
    if not os.path.isdir(model_dir):
        raise ConfigError(f"model_dir={model_dir} is a file; expected a folder.")


def remove_debris(model_dir):
    """Deletes what crashed writes left in model_dir, samples/ and checkpoints/.

    Call only while holding the RunLock: a live run's temporaries look the same.
    Checkpoint files that the `checkpoint` state file does not list (a save
    that failed after writing them) go too. Returns the removed paths.
    """
    run, removed = RunDirectory(model_dir), []
    for folder in (run.path, run.samples, run.checkpoints):
        if not os.path.isdir(folder):
            continue
        for name in os.listdir(folder):
            if DEBRIS.match(name):
                removed.append(_remove(os.path.join(folder, name)))
    state = tf.train.get_checkpoint_state(run.checkpoints)
    if state is not None:
        listed = {os.path.basename(path) for path in state.all_model_checkpoint_paths}
        listed.add(os.path.basename(state.model_checkpoint_path))
        for name in os.listdir(run.checkpoints):
            match = CHECKPOINT_FILE.match(name)
            if match and f"ckpt-{match.group(1)}" not in listed:
                removed.append(_remove(os.path.join(run.checkpoints, name)))
    return removed


def _remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    else:
        os.unlink(path)
    return path


def read_config_record(model_dir):
    """model_dir/config.json as a dict, {} if absent; ConfigError if it cannot be read."""
    path = RunDirectory(model_dir).config
    try:
        with open(path, encoding="utf-8") as handle:
            record = json.load(handle)
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ConfigError(
            f"model_dir={model_dir}: {path} cannot be read ({error}); "
            "restore it or use a new model_dir."
        ) from None
    if not (
        isinstance(record, dict)
        and isinstance(record.get("model"), dict)
        and isinstance(record.get("run"), dict)
    ):
        raise ConfigError(
            f"model_dir={model_dir}: {path} is not a run record (expected an object with "
            '"model" and "run" objects); restore it or use a new model_dir.'
        )
    return record


def check_model_dir(config):
    """Refuses a model_dir whose checkpoint was made with other model flags; reads nothing else.

    `config.json` keeps the model-defining fields (`TrainConfig.MODEL_FIELDS`)
    and the precision policy, which decides the checkpoint's variable types:
    a re-run with the same values resumes, any difference is refused. The scale
    is compared only where the norm uses it (`used_scale`).
    Returns the stored record ({} for a new run).
    """
    record = read_config_record(config.model_dir)
    checkpoints = RunDirectory(config.model_dir).checkpoints
    if tf.train.latest_checkpoint(checkpoints) is None:
        return record
    if not record:
        raise ConfigError(
            f"model_dir={config.model_dir} holds a checkpoint but no {RunDirectory.CONFIG}, so its "
            "model flags are unknown; use a new model_dir."
        )
    wanted = dict(config.model_fields(), mixed_precision=config.mixed_precision)
    stored = dict(record["model"], mixed_precision=record["run"].get("mixed_precision", "none"))
    stored = {name: stored.get(name, FIELD_DEFAULTS[name]) for name in wanted}
    for fields in (wanted, stored):
        fields["scale"] = used_scale(fields["norm"], fields["scale"])
    differing = [
        _changed_data(record, config)
        if name == "dataset_fingerprint"
        else f"{name}={stored[name]!r} (now {wanted[name]!r})"
        for name in wanted
        if stored[name] != wanted[name]
    ]
    if differing:
        raise ConfigError(
            f"model_dir={config.model_dir} holds a checkpoint made with other model "
            f"flags: {', '.join(differing)}; use a new model_dir or the same flags."
        )
    return record


def _changed_data(record, config):
    """Names how an image folder changed since the run that made the checkpoint began."""
    before = record["run"].get("dataset_images")
    fingerprint = record["model"].get("dataset_fingerprint") or "none"
    return (
        f"the contents of dataset={config.dataset} changed since the run began ({before} "
        f"images recorded, {config.dataset_images} now; fingerprint {fingerprint[:12]}... now "
        f"{(config.dataset_fingerprint or 'none')[:12]}...)"
    )


def record_config(config, previous, start_step):
    """Writes config.json for a run that has started at `start_step`; returns the flag history.

    "run" holds the flags in force now; "history" lists, per start that
    changed any flag, the step from which the new values apply. "compile" says
    whether this start's steps are XLA-compiled and why: with --jit_compile
    unset that depends on the machine, so it is rewritten at every start and is
    neither a flag nor compared on resume (a run can move to another machine).
    """
    flags = config.card_flags()  # no machine paths: records can be shared
    history = list(previous.get("history", []))
    before = previous.get("run")
    changed = {
        name: [None if before is None else before.get(name), value]
        for name, value in flags.items()
        if before is None or before.get(name) != value
    }
    if changed and before is not None:
        history.append({"start_step": start_step, "changed": changed})
    jit_compile, reason = config.jit_compile_choice
    write_json_atomically(
        RunDirectory(config.model_dir).config,
        {
            "model": config.model_fields(),
            "run": flags,
            "history": history,
            "compile": {"jit_compile": jit_compile, "reason": reason},
        },
    )
    return history
