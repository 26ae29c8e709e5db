"""Checkpoints that are never half-written and never hold a non-finite state.

`tf.train.CheckpointManager` writes a checkpoint's files first and only then
rewrites the `checkpoint` state file (atomically, by rename), so a crash
mid-save leaves `latest_checkpoint` on the previous, complete checkpoint.
Under MultiWorkerMirroredStrategy every worker must take part in a save; the
non-chief ones write to a private folder that is deleted right after.
"""

import math
import os
import shutil

import numpy as np
import tensorflow as tf

from bssn_tf.training.run_directory import checkpoint_dir
from bssn_tf.training.strategies import is_chief, worker_id


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN/Inf loss or weight; the last good checkpoint is kept."""


class CheckpointKeeper:
    """Saves and restores a `GANTrainer`'s state in model_dir/checkpoints."""

    def __init__(self, trainer, model_dir, max_to_keep=3):
        self._trainer = trainer
        self._checkpoint = tf.train.Checkpoint(**trainer.checkpointables())
        self.directory = checkpoint_dir(model_dir)
        self._chief = is_chief(trainer.strategy)
        write_directory = (
            self.directory
            if self._chief
            else os.path.join(model_dir, f".{worker_id(trainer.strategy)}_checkpoints")
        )
        self._manager = tf.train.CheckpointManager(
            self._checkpoint, write_directory, max_to_keep=max_to_keep
        )

    def restore_latest(self):
        """Restores the chief's latest checkpoint if there is one; returns its path or None."""
        path = tf.train.latest_checkpoint(self.directory)
        if path is not None:
            self._checkpoint.restore(path).assert_existing_objects_matched()
        return path

    def save(self):
        """Saves the current state after checking that every variable is finite."""
        bad = [
            variable.name
            for variable in self._checkpoint_variables()
            if not np.all(np.isfinite(variable.numpy()))
        ]
        if bad:
            raise NonFiniteLossError(
                f"non-finite values in {', '.join(bad[:5])} at step "
                f"{int(self._trainer.step.numpy())}; not saved. {self.last_good_message()}"
            )
        path = self._manager.save(checkpoint_number=int(self._trainer.step.numpy()))
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
                f"training stopped. {self.last_good_message()}"
            )
