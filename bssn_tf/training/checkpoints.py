"""Checkpoints that are never half-written and never hold a non-finite state.

`tf.train.CheckpointManager` writes a checkpoint's files first and only then
rewrites the `checkpoint` state file (atomically, by rename), so a crash or a
full disk mid-save leaves `latest_checkpoint` on the previous, complete
checkpoint. Under MultiWorkerMirroredStrategy every worker must take part in a
save; the non-chief ones write to a private folder that is deleted right after.
Each checkpoint also holds the training wall time up to it, so that the time
of a run resumed any number of times adds up.
"""

import math
import re
import shutil

import numpy as np
import tensorflow as tf

from bssn_tf.command_line import first_line
from bssn_tf.training.run_directory import RunDirectory
from bssn_tf.training.strategies import is_chief, worker_id

WALL_TIME_KEY = "wall_time_s"


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN/Inf loss or weight; the last good checkpoint is kept."""


class CheckpointError(RuntimeError):
    """A checkpoint could not be restored or saved; the message names it and what was kept."""


def _reason(error):
    """`TypeName: first line` of an error, without TF's op-location markup."""
    first = re.sub(r"\{\{function_node [^}]*\}\}\s*|\s*\[Op:\w+\]", "", first_line(error))
    return f"{type(error).__name__}: {first}"


class CheckpointKeeper:
    """Saves and restores a `GANTrainer`'s state in model_dir/checkpoints."""

    def __init__(self, trainer, model_dir, max_to_keep=3):
        self._trainer = trainer
        with trainer.strategy.scope():
            self._wall_time = tf.Variable(0.0, dtype=tf.float64, trainable=False, name="wall_time")
        self._checkpoint = tf.train.Checkpoint(
            **trainer.checkpointables(), **{WALL_TIME_KEY: self._wall_time}
        )
        run = RunDirectory(model_dir)
        self.directory = run.checkpoints
        self._chief = is_chief(trainer.strategy)
        write_directory = (
            self.directory if self._chief else run.worker_checkpoints(worker_id(trainer.strategy))
        )
        self._manager = tf.train.CheckpointManager(
            self._checkpoint, write_directory, max_to_keep=max_to_keep
        )

    @property
    def restored_wall_time(self):
        """Training seconds the restored checkpoint holds (0 for a new run)."""
        return float(self._wall_time.numpy())

    def restore_latest(self):
        """Restores the chief's latest checkpoint if there is one; returns its path or None.

        Raises CheckpointError, naming the checkpoint, when its files are damaged
        or do not fit the models (another variable type, say).
        """
        path = tf.train.latest_checkpoint(self.directory)
        if path is None:
            return None
        try:
            # The trainer's objects must all be in the checkpoint; the wall time
            # may be missing (checkpoints made before it was recorded). The second
            # restore also brings back the wall time and the save counter.
            status = tf.train.Checkpoint(**self._trainer.checkpointables()).restore(path)
            status.assert_existing_objects_matched().expect_partial()
            self._checkpoint.restore(path).expect_partial()
        except (tf.errors.OpError, ValueError, AssertionError, OSError) as error:
            raise CheckpointError(
                f"checkpoint {path} cannot be restored ({_reason(error)}); nothing in "
                "model_dir was changed. Restore the folder from a backup or use a new model_dir."
            ) from None
        return path

    def save(self, wall_time_s):
        """Saves the current state and `wall_time_s` after checking every variable is finite.

        Raises NonFiniteLossError for a non-finite variable and CheckpointError
        when the files cannot be written (a full disk, say); the previous
        checkpoint stays the latest one in both cases.
        """
        bad = [
            variable.name
            for variable in self._checkpoint_variables()
            if not np.all(np.isfinite(variable.numpy()))
        ]
        step = int(self._trainer.step.numpy())
        if bad:
            raise NonFiniteLossError(
                f"non-finite values in {', '.join(bad[:5])} at step "
                f"{step}; not saved. {self.last_good_message()}"
            )
        self._wall_time.assign(wall_time_s)
        try:
            path = self._manager.save(checkpoint_number=step)
        except (tf.errors.OpError, OSError) as error:
            raise CheckpointError(
                f"checkpoint of step {step} could not be written to {self._manager.directory} "
                f"({_reason(error)}). {self.last_good_message()} It is intact; free space "
                "and re-run the same command to resume from it."
            ) from None
        if not self._chief:
            shutil.rmtree(self._manager.directory, ignore_errors=True)
        return path

    def _checkpoint_variables(self):
        trainer = self._trainer
        return (
            trainer.generator.variables
            + trainer.discriminator.variables
            + trainer.g_optimizer.variables
            + trainer.d_optimizer.variables
        )

    def last_good_message(self):
        path = tf.train.latest_checkpoint(self.directory)
        if path is None:
            return "No checkpoint was saved yet."
        return f"The last good checkpoint is {path}."

    def check_losses(self, losses):
        """Raises NonFiniteLossError, naming the step and the last good checkpoint, on NaN/Inf."""
        bad = {name: value for name, value in losses.items() if not math.isfinite(value)}
        if bad:
            described = ", ".join(f"{name}={value}" for name, value in bad.items())
            raise NonFiniteLossError(
                f"non-finite loss at step {int(self._trainer.step.numpy())}: {described}; "
                f"training stopped. {self.last_good_message()} A re-run with a smaller "
                "g_lr or d_lr trains at the new rate"
                + (" from it." if tf.train.latest_checkpoint(self.directory) else ".")
            )


def apply_optimizer_flags(trainer, config):
    """Sets the optimizers' learning rates and betas to `config`'s after a restore.

    Keras 3 keeps `learning_rate` in a variable that a checkpoint restores, so
    without this a resumed run would silently train at the old rate (and a run
    restarted after a NaN with a smaller rate would fail again). The betas are
    plain floats, never checkpointed; setting them too keeps the two in one place.
    """
    for optimizer, learning_rate in (
        (trainer.g_optimizer, config.g_lr),
        (trainer.d_optimizer, config.d_lr),
    ):
        inner = getattr(optimizer, "inner_optimizer", optimizer)  # LossScaleOptimizer
        inner.learning_rate = learning_rate
        inner.beta_1 = config.beta1
        inner.beta_2 = config.beta2
