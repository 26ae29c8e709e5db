"""A trainer's input streams, and N training steps with a callback, for loops other than `train`.

`loop.train` adds checkpoints, evaluation and exports around the same steps;
analyses that only need to step a GANTrainer and look at it in between use
these instead of writing their own loop.
"""

import math

from bssn_tf import data
from bssn_tf.training import inputs


def input_iterators(trainer, image_size, position=0):
    """The trainer's distributed (real, z) and z iterators, from batch `position` on."""
    strategy, config = trainer.strategy, trainer.config
    return (
        iter(
            strategy.experimental_distribute_dataset(
                inputs.discriminator_inputs(
                    config, data.DATASETS[config.dataset], image_size, position
                )
            )
        ),
        iter(strategy.experimental_distribute_dataset(inputs.generator_inputs(config, position))),
    )


def finite_or_none(value):
    """`float(value)`, or None when it is NaN or infinite (JSON has no NaN)."""
    value = float(value)
    return value if math.isfinite(value) else None


def run_steps(trainer, steps, image_size, on_step=None):
    """Runs `steps` training steps from the first batch; stops early on a non-finite loss.

    Args:
      trainer: a GANTrainer.
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
    history = {"d_loss": [], "g_loss": [], "diverged_at": None}
    d_iterator, g_iterator = input_iterators(trainer, image_size)
    for step in range(steps):
        if on_step is not None:
            on_step(step)
        outputs = trainer.train_step(d_iterator, g_iterator)
        d_loss = finite_or_none(outputs["d_loss"])
        g_loss = finite_or_none(outputs["g_loss"])
        history["d_loss"].append(d_loss)
        history["g_loss"].append(g_loss)
        if d_loss is None or g_loss is None:
            history["diverged_at"] = step + 1
            return history
        if (step + 1) % 50 == 0:
            print(f"  step {step + 1}/{steps} d_loss={d_loss:.3f} g_loss={g_loss:.3f}", flush=True)
    if on_step is not None:
        on_step(steps)
    return history
