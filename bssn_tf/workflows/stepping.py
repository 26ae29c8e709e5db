"""N training steps with a callback, for analyses that step a GANTrainer and look at it.

The claims grid uses this: the same loop (`duties.run_loop`) and the same input
iterators (`inputs.input_iterators`) as `loop.train`, with a loss history in
place of checkpoints, evaluation and exports.
"""

from bssn_tf import data
from bssn_tf.training import inputs
from bssn_tf.training.duties import Duty, LossHistory, losses_of, run_loop

PRINT_EVERY = 50


class _PrintedProgress(Duty):
    def __init__(self, steps):
        super().__init__(every=PRINT_EVERY)
        self._steps = steps

    def due(self, step, last):
        return step % self.every == 0

    def run(self, step, outputs):
        losses = losses_of(outputs)
        print(
            f"  step {step}/{self._steps} d_loss={losses['d_loss']:.3f} "
            f"g_loss={losses['g_loss']:.3f}",
            flush=True,
        )


def run_steps(trainer, steps, image_size, on_step=None):
    """Runs `steps` training steps of a new trainer; stops early on a non-finite loss.

    Args:
      trainer: a GANTrainer at step 0, on a registered dataset.
      steps: number of generator steps.
      image_size: side of the real images, for the input pipeline.
      on_step: called as `on_step(step)` before step `step` runs and once
        after the last, i.e. for step = 0 .. steps (or up to the step at
        which a loss became non-finite, exclusive).

    Returns:
      `{"d_loss": [...], "g_loss": [...], "diverged_at": None or the step
      number (1-based) whose loss was NaN/Inf}`; losses are floats, None
      where non-finite.
    """
    spec = data.DATASETS[trainer.config.dataset]
    iterators = inputs.input_iterators(trainer, spec, image_size)
    history = LossHistory(on_step)
    if on_step is not None:
        on_step(0)
    run_loop(trainer, iterators, steps, [history, _PrintedProgress(steps)])
    return history.history
