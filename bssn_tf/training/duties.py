"""The periodic jobs of a training loop, one object each, in the manner of Keras callbacks.

`run_loop` steps a GANTrainer and, after every step, asks each duty whether it
is due (`due(step, last)`) and runs it (`run(step, outputs)`). `train` builds
summaries, progress, sample grids, evaluation with the best export,
checkpointing and the preemption guard from these; the claims grid uses the
same loop with a loss history. A duty stops the loop by raising, or, like
`LossHistory` on a non-finite loss, by setting `stop`.
"""

import math
import signal
import sys
import threading


class Duty:
    """One periodic job: runs every `every` steps (0: never) and at the last step."""

    stop = False

    def __init__(self, every):
        self.every = every

    def due(self, step, last):
        return bool(self.every) and (step % self.every == 0 or last)

    def run(self, step, outputs):
        raise NotImplementedError


def run_loop(trainer, iterators, last_step, duties):
    """Steps `trainer` until `last_step` or until a duty stops it; returns the last outputs."""
    outputs = None
    step = int(trainer.step.numpy())
    while step < last_step:
        outputs = trainer.train_step(*iterators)
        step = int(trainer.step.numpy())
        for duty in duties:
            if duty.due(step, step == last_step):
                duty.run(step, outputs)
        if any(duty.stop for duty in duties):
            break
    return outputs


def losses_of(outputs):
    return {"d_loss": float(outputs["d_loss"]), "g_loss": float(outputs["g_loss"])}


class LossCheck(Duty):
    """Every step: a NaN or infinite loss stops the run (NonFiniteLossError from the keeper)."""

    def __init__(self, keeper):
        super().__init__(every=1)
        self._keeper = keeper

    def run(self, step, outputs):
        self._keeper.check_losses(losses_of(outputs))


class Summaries(Duty):
    """TensorBoard scalars: losses, sigma and gradient diagnostics, per-layer gradient norms."""

    def __init__(self, every, trainer, diagnostic_real, diagnostic_z, write):
        super().__init__(every)
        self._trainer = trainer
        self._inputs = (diagnostic_real, diagnostic_z)
        self._write = write

    def run(self, step, outputs):
        self._write(step, outputs, self._trainer.diagnose(*self._inputs), self._trainer)


class Progress(Duty):
    """One progress line per logged step (ProgressReporter)."""

    def __init__(self, every, reporter):
        super().__init__(every)
        self._reporter = reporter

    def run(self, step, outputs):
        self._reporter.report(step, losses_of(outputs))


class SampleGrids(Duty):
    """A PNG grid of the generator's images for one fixed z, written by `write(step, images)`."""

    def __init__(self, every, generate, sample_z, write):
        super().__init__(every)
        self._generate, self._sample_z, self._write = generate, sample_z, write

    def run(self, step, outputs):
        self._write(step, self._generate(self._sample_z).numpy())


class Evaluation(Duty):
    """Scores the generator (PeriodicEvaluator), reports it, and exports it when it is the best."""

    def __init__(self, every, evaluator, generate, reporter, record, export_best):
        super().__init__(every)
        self._evaluator, self._generate = evaluator, generate
        self._reporter, self._record, self._export_best = reporter, record, export_best
        self.last = None

    def run(self, step, outputs):
        results = self._evaluator.evaluate(step, self._generate)
        self._reporter.report_evaluation(step, results)
        self._record(step, results)
        self.last = dict(results, step=step)
        if results["best"]:
            self._export_best(step, results)


class Checkpointing(Duty):
    """Saves a checkpoint with the run's training time so far."""

    def __init__(self, every, keeper, wall_time_s):
        super().__init__(every)
        self._keeper, self._wall_time_s = keeper, wall_time_s

    def run(self, step, outputs):
        self._keeper.save(self._wall_time_s())


class LossHistory(Duty):
    """Every step: records the losses (None where non-finite) and stops at a non-finite one."""

    def __init__(self, on_step=None):
        super().__init__(every=1)
        self._on_step = on_step
        self.history = {"d_loss": [], "g_loss": [], "diverged_at": None}

    def run(self, step, outputs):
        losses = {name: finite_or_none(value) for name, value in losses_of(outputs).items()}
        for name, value in losses.items():
            self.history[name].append(value)
        if None in losses.values():
            self.history["diverged_at"] = step
            self.stop = True
        elif self._on_step is not None:
            self._on_step(step)


def finite_or_none(value):
    """`float(value)`, or None when it is NaN or infinite (JSON has no NaN)."""
    value = float(value)
    return value if math.isfinite(value) else None


class Preempted(Exception):
    """SIGTERM stopped the run after a checkpoint of its current step; the message says so."""


class PreemptionGuard(Duty):
    """On SIGTERM (a scheduler's stop, a preemption): checkpoint the current step, then stop.

    The handler only sets a flag; the step in flight finishes, this duty saves
    a checkpoint and raises Preempted, and the run's lock is released as the
    exception leaves `train`. Installed only on the main thread (Python
    delivers signals there); elsewhere it does nothing.
    """

    def __init__(self, keeper, wall_time_s, model_dir):
        super().__init__(every=1)
        self._keeper, self._wall_time_s, self._model_dir = keeper, wall_time_s, model_dir
        self._requested = False
        self._previous = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGTERM, self._request)
        return self

    def __exit__(self, *exc_info):
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)
            self._previous = None

    def _request(self, signum, frame):
        del signum, frame
        self._requested = True

    def due(self, step, last):
        return self._requested

    def run(self, step, outputs):
        self._keeper.save(self._wall_time_s())
        sys.stderr.flush()
        raise Preempted(
            f"stopped by SIGTERM at step {step}; its checkpoint is saved in {self._model_dir}. "
            "Re-run the same command to resume."
        )
