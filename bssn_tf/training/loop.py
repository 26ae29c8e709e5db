"""`train(config)`: the whole run, from an empty or partly trained model_dir to an export."""

import contextlib
import os
import shutil
import time

import keras
import numpy as np
import tensorflow as tf

from bssn_tf import data
from bssn_tf.command_line import first_line
from bssn_tf.io import write_grid_png
from bssn_tf.training import inputs, summaries
from bssn_tf.training.checkpoints import CheckpointKeeper, apply_optimizer_flags
from bssn_tf.training.config import ConfigError, card_flag_history
from bssn_tf.training.duties import (
    Checkpointing,
    Evaluation,
    LossCheck,
    PreemptionGuard,
    Progress,
    SampleGrids,
    Summaries,
    run_loop,
)
from bssn_tf.training.evaluation import SUMMARY_COLUMNS, PeriodicEvaluator, last_evaluation
from bssn_tf.training.export import export_generator
from bssn_tf.training.gan_trainer import GANTrainer
from bssn_tf.training.jit_choice import JIT_INCOMPATIBLE_STRATEGIES
from bssn_tf.training.progress import ProgressReporter
from bssn_tf.training.run_directory import (
    RunDirectory,
    RunLock,
    check_model_dir,
    record_config,
    remove_debris,
)
from bssn_tf.training.strategies import is_chief, make_strategy

SAMPLE_GRID_SIZE = 64
# Conditional runs: one row of SAMPLE_GRID_COLUMNS samples per class, at most SAMPLE_GRID_ROWS.
SAMPLE_GRID_COLUMNS = 8
SAMPLE_GRID_ROWS = 10


def _write_summaries(step, outputs, diagnostic_values, trainer):
    summaries.scalar("loss/d", outputs["d_loss"], step=step)
    summaries.scalar("loss/g", outputs["g_loss"], step=step)
    for name, value in diagnostic_values.items():
        summaries.scalar(name, value, step=step)
    for model_name, groups in (("d", trainer.d_layer_groups), ("g", trainer.g_layer_groups)):
        norms = outputs[f"{model_name}_grad_norms"].numpy()
        for (layer_name, _), norm in zip(groups, norms):
            summaries.scalar(f"grad_norm/{model_name}/{layer_name}", norm, step=step)


def train(config):
    """Trains (or resumes) the GAN `config` describes; returns a summary dict.

    The chief holds model_dir's RunLock for the whole run. Everything that can
    refuse a start (the flags, the stored config.json, the checkpoint, the data,
    the evaluator) is checked before config.json is written, so a failed start
    leaves the records as they were.

    Raises ConfigError for settings that cannot work here (checked before any
    training step), RunDirectoryBusyError when another run holds model_dir,
    CheckpointError for a checkpoint that cannot be restored or saved, and
    NonFiniteLossError when a loss becomes NaN/Inf.
    """
    started = time.monotonic()
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()
    strategy = _start_strategy(config.strategy)
    replicas = strategy.num_replicas_in_sync
    if config.batch_size % replicas:
        raise ConfigError(
            f"batch_size={config.batch_size} is not divisible by the "
            f"{replicas} replicas of strategy={config.strategy}."
        )
    if config.jit_compile and config.strategy in JIT_INCOMPATIBLE_STRATEGIES:
        raise ConfigError(
            f"jit_compile=True needs strategy=default or tpu; got "
            f"strategy={config.strategy} (its optimizer sync cannot be compiled)."
        )
    chief = is_chief(strategy)
    created = chief and not os.path.lexists(config.model_dir)
    try:
        # Non-chief workers of a multi-worker run share the chief's model_dir and
        # write only their private checkpoint folders.
        with RunLock(config.model_dir) if chief else contextlib.nullcontext():
            return _train_owned(config, strategy, chief, started)
    except BaseException:
        # A start that failed before recording its config leaves no folder it made.
        if created and not os.path.exists(RunDirectory(config.model_dir).config):
            shutil.rmtree(config.model_dir, ignore_errors=True)
        raise


def _summary_metrics(evaluation):
    if evaluation is None:
        return None
    return {name: evaluation[name] for name in SUMMARY_COLUMNS if name in evaluation}


def _resolve_dataset(config, image_size):
    """The dataset's spec; an image folder is decoded and stored on its first use."""
    try:
        return data.resolve_dataset(
            config.dataset,
            image_size=image_size,
            channels=config.channels,
            data_dir=config.data_dir,
            skip_bad_images=config.skip_bad_images,
        )
    except data.DatasetUnavailableError:
        raise
    except ValueError as error:
        raise ConfigError(f"dataset={config.dataset}: {error}") from None


def _start_strategy(name):
    try:
        return make_strategy(name)
    except (ValueError, RuntimeError, tf.errors.OpError) as error:
        raise ConfigError(
            f"strategy={name} cannot start here: {type(error).__name__}: {first_line(error)}"
        ) from None


def _train_owned(config, strategy, chief, started):
    if chief:
        remove_debris(config.model_dir)
    image_size = config.resolved_image_size
    spec = _resolve_dataset(config, image_size)
    config = config.with_data(spec)
    previous_record = check_model_dir(config)
    keras.utils.set_random_seed(config.seed)
    trainer = GANTrainer.for_config(config, strategy, image_size, spec.channels)
    keeper = CheckpointKeeper(trainer, config.model_dir)
    keeper.restore_latest()
    apply_optimizer_flags(trainer, config)
    start_step = int(trainer.step.numpy())
    if start_step > config.steps:
        raise ConfigError(
            f"steps={config.steps} is below step {start_step} of the checkpoint in "
            f"model_dir={config.model_dir}; a run cannot go back. Pass --steps={start_step} "
            "to export it as it is, or more to train on."
        )
    evaluator = (
        PeriodicEvaluator(config, spec, image_size, start_step, config.eval_extractor)
        if config.eval_every and chief
        else None
    )
    # One batch of real images for the logged diagnostics; read before config.json is
    # written, so that a dataset smaller than a batch refuses the start cleanly.
    diagnostic_real = inputs.real_train_images(
        config, spec, image_size, "batch_size", with_labels=bool(config.num_classes)
    )
    iterators = inputs.input_iterators(trainer, spec, image_size)
    flag_history = []
    if chief:
        flag_history = record_config(config, previous_record, start_step)
        RunDirectory(config.model_dir).discard_best_export_after(start_step)
    run = _Run(config, trainer, spec, image_size, flag_history, started, keeper, diagnostic_real)
    progress = ProgressReporter(config.steps)
    progress.start(start_step)
    writer = (
        tf.summary.create_file_writer(run.directory.logs)
        if chief
        else tf.summary.create_noop_writer()
    )
    with writer.as_default(), PreemptionGuard(keeper, run.wall_time_s, config.model_dir) as guard:
        evaluation, duties = _duties(run, chief, evaluator, progress)
        outputs = run_loop(trainer, iterators, config.steps, duties + [guard])
    writer.flush()
    return _finish(run, chief, start_step, evaluation, outputs)


class _Run:
    """What the duties of one run share: its config, trainer, clock and model cards."""

    def __init__(
        self, config, trainer, spec, image_size, flag_history, started, keeper, diagnostic_real
    ):
        self.config, self.trainer, self.keeper = config, trainer, keeper
        self.directory = RunDirectory(config.model_dir)
        self.image_shape = [image_size, image_size, spec.channels]
        self.flag_history = flag_history
        self.diagnostic_real = diagnostic_real
        self._started, self._before = started, keeper.restored_wall_time

    def wall_time_s(self):
        """Training time over every start of this run, up to now."""
        return self._before + time.monotonic() - self._started

    def card(self, at_step, **extra):
        config = self.config
        record = {
            "flags": config.card_flags(),
            "steps": at_step,
            "wall_time_s": round(self.wall_time_s(), 1),
            "image_shape": self.image_shape,
            **extra,
        }
        if config.class_names:
            record["class_names"] = list(config.class_names)
        changes = card_flag_history(self.flag_history)
        if changes:
            record["flag_changes"] = changes
        return record

    def export(self, step, path, **extra):
        """Exports the generator of `step` to `path` (export/ or best_export/)."""
        config = self.config
        return export_generator(
            self.trainer.generator,
            config.z_dim,
            path,
            self.card(step, **extra),
            num_classes=config.num_classes,
        )


def _sample_inputs(config):
    """(diagnostic G input, sample-grid G input, grid columns): fixed for the whole run.

    A conditional run's grid has one row per class (the first SAMPLE_GRID_ROWS),
    with the same z in every row.
    """
    diagnostic_z = inputs.latent_batch(
        config.seed, inputs.SAMPLE_STREAM, 1, config.batch_size, config.z_dim
    )
    sample_z = inputs.latent_batch(
        config.seed, inputs.SAMPLE_STREAM, 0, SAMPLE_GRID_SIZE, config.z_dim
    )
    if not config.num_classes:
        return diagnostic_z, sample_z, None
    labels = inputs.label_batch(
        config.seed, inputs.SAMPLE_STREAM, 1, config.batch_size, config.num_classes
    )
    rows = min(config.num_classes, SAMPLE_GRID_ROWS)
    grid = (
        tf.tile(sample_z[:SAMPLE_GRID_COLUMNS], [rows, 1]),
        tf.repeat(tf.range(rows, dtype=tf.int32), SAMPLE_GRID_COLUMNS),
    )
    return (diagnostic_z, labels), grid, SAMPLE_GRID_COLUMNS


def _duties(run, chief, evaluator, progress):
    """(the evaluation duty or None, every duty of the loop in the order they run)."""
    config, trainer = run.config, run.trainer
    diagnostic_z, sample_z, columns = _sample_inputs(config)
    duties = [
        LossCheck(run.keeper),
        Summaries(config.log_every, trainer, run.diagnostic_real, diagnostic_z, _write_summaries),
        Progress(config.log_every, progress),
    ]
    if chief and config.sample_every:
        write = lambda step, images: write_grid_png(
            run.directory.sample_grid(step), images, columns
        )
        duties.append(SampleGrids(config.sample_every, trainer.generate, sample_z, write))
    evaluation = None
    if evaluator is not None:
        evaluation = Evaluation(
            config.eval_every,
            evaluator,
            trainer.generate,
            progress,
            lambda step, results: _write_evaluation(step, results, config),
            lambda step, results: run.export(
                step, run.directory.best_export, selected_by=_selected_by(step, results)
            ),
        )
        duties.append(evaluation)
    duties.append(Checkpointing(config.checkpoint_every, run.keeper, run.wall_time_s))
    return evaluation, duties


def _write_evaluation(step, results, config):
    summaries.scalar("eval/fcd", results["fcd"], step=step)
    summaries.scalar("eval/classifier_score", results["classifier_score"], step=step)
    if config.num_classes:
        summaries.scalar("eval/class_consistency", results["class_consistency"], step=step)


def _selected_by(step, results):
    return {
        "metric": "fcd",
        "step": step,
        "value": results["fcd"],
        "num_samples": results["num_samples"],
        "extractor": results["extractor"],
    }


def _finish(run, chief, start_step, evaluation, outputs):
    """Exports the final generator (chief only) and returns the run's summary dict."""
    config = run.config
    step = int(run.trainer.step.numpy())
    export_dir = run.export(step, run.directory.export) if chief else None
    best_export_dir = run.directory.best_export
    last_eval = None if evaluation is None else evaluation.last
    return {
        "steps": step,
        "start_step": start_step,
        "wall_time_s": run.wall_time_s(),
        "export_dir": export_dir,
        "best_export_dir": best_export_dir if chief and os.path.isdir(best_export_dir) else None,
        "samples_dir": run.directory.samples if chief and config.sample_every else None,
        # A re-run of a finished command evaluates nothing: its summary shows the last row.
        "last_eval": last_evaluation(config.model_dir)
        if last_eval is None and chief
        else _summary_metrics(last_eval),
        "losses": None
        if outputs is None
        else {name: float(np.asarray(outputs[name])) for name in ("d_loss", "g_loss")},
    }
