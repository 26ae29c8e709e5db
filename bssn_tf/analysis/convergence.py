"""FCD curves of research runs: convergence, divergence, and the spread over seeds.

When a curve has converged, how good it got, and whether it got worse afterwards.

A run is evaluated every few hundred steps (metrics.csv). Its plateau is the
first evaluation at which the best FCD so far improved by less than
`min_gain` (5%) over the last `window` (25%) of the steps: for step s, the best
FCD up to s against the best FCD up to (1 - window) * s. That window must hold
at least two evaluations, so that one noisy evaluation cannot end it early
(zoo/README.md, "Convergence: training to the plateau", shows the run that
stalled once and then kept improving). With evaluations every 500 steps, a
plateau can therefore be declared from step 2,500 on. Past its best, a run
counts as degraded when its final FCD is more than `tolerance` (10%) above
that best; with a few thousand real images, D can overfit and pull G back.
"""

import dataclasses
import math
from typing import Optional

PLATEAU_WINDOW = 0.25
PLATEAU_MIN_GAIN = 0.05
PLATEAU_MIN_WINDOW_EVALUATIONS = 2
DEGRADATION_TOLERANCE = 0.10


def plateau_step(
    steps,
    fcds,
    window=PLATEAU_WINDOW,
    min_gain=PLATEAU_MIN_GAIN,
    min_window_evaluations=PLATEAU_MIN_WINDOW_EVALUATIONS,
):
    """The first evaluated step at which the curve has plateaued, or None if it never did.

    Args:
      steps, fcds: the evaluated steps (increasing) and their FCDs.
      window: the trailing share of the steps over which improvement is measured.
      min_gain: the relative improvement of the best FCD below which it has plateaued.
      min_window_evaluations: evaluations the trailing window must hold.
    """
    _check_curve(steps, fcds)
    for index, step in enumerate(steps):
        earlier = [fcd for at, fcd in zip(steps, fcds) if at <= (1.0 - window) * step]
        if not earlier or index + 1 - len(earlier) < min_window_evaluations:
            continue
        best_before, best_now = min(earlier), min(fcds[: index + 1])
        if best_before - best_now < min_gain * best_before:
            return int(step)
    return None


def first_step_at_or_below(steps, fcds, threshold):
    """The first evaluated step whose FCD is <= threshold, or None."""
    _check_curve(steps, fcds)
    return next((int(step) for step, fcd in zip(steps, fcds) if fcd <= threshold), None)


@dataclasses.dataclass(frozen=True)
class Convergence:
    best_fcd: float
    best_step: int
    final_fcd: float
    final_step: int
    plateau_step: Optional[int]  # None: still improving at its last evaluation
    degraded: bool  # final FCD above (1 + tolerance) x best
    final_over_best: float


def convergence(steps, fcds, tolerance=DEGRADATION_TOLERANCE):
    """Summary of one FCD curve (see the module docstring for the rules)."""
    _check_curve(steps, fcds)
    best_index = min(range(len(fcds)), key=fcds.__getitem__)
    best, final = fcds[best_index], fcds[-1]
    return Convergence(
        best_fcd=best,
        best_step=int(steps[best_index]),
        final_fcd=final,
        final_step=int(steps[-1]),
        plateau_step=plateau_step(steps, fcds),
        degraded=final > (1.0 + tolerance) * best,
        final_over_best=final / best,
    )


def _check_curve(steps, fcds):
    if not fcds or len(steps) != len(fcds):
        raise ValueError(
            f"need one FCD per evaluated step; got {len(steps)} steps and {len(fcds)} FCDs."
        )
    if not all(math.isfinite(value) for value in fcds):
        raise ValueError(f"FCD curve holds non-finite values: {list(fcds)}.")


def why_diverged(fcds, rise_factor, stopped=None):
    """Why a run counts as diverged, or None: the reason it `stopped` early (if it did),
    a missing or non-finite FCD, or a last FCD above `rise_factor` times its best."""
    if stopped:
        return stopped
    if not fcds or not all(math.isfinite(value) for value in fcds):
        return "non-finite or missing FCD"
    if fcds[-1] > rise_factor * min(fcds):
        return f"FCD rose from {min(fcds):.3g} to {fcds[-1]:.3g}"
    return None


def mean_std(values):
    """Mean and sample standard deviation (ddof=1; 0 for a single value)."""
    values = [float(value) for value in values]
    if not values:
        raise ValueError("mean_std needs at least one value.")
    mean = sum(values) / len(values)
    if len(values) == 1:
        return mean, 0.0
    variance = sum((value - mean) ** 2 for value in values) / (len(values) - 1)
    return mean, math.sqrt(variance)
