"""bssn_tf.analysis.convergence on hand-made curves whose answers are worked out below."""

import math

import numpy as np
import pytest

from bssn_tf.analysis.convergence import (
    convergence,
    first_step_at_or_below,
    mean_std,
    plateau_step,
    why_diverged,
)

STEPS = [500, 1000, 1500, 2000, 2500, 3000, 3500, 4000]


def test_plateau_is_the_first_step_whose_last_quarter_gained_under_five_percent():
    fcds = [100.0, 50.0, 30.0, 20.0, 15.0, 14.5, 14.2, 14.0]
    # Step 2000: best up to 1500 is 30, best now 20 -> 33% gain.
    # Step 2500: best up to 1875 (1500) is 30 -> 15: 50%.
    # Step 3000: up to 2250 (2000) is 20 -> 14.5: 27.5%.
    # Step 3500: up to 2625 (2500) is 15 -> 14.2: 5.3%, still >= 5%.
    # Step 4000: up to 3000 is 14.5 -> 14.0: 3.4% < 5% -> plateau at 4000.
    assert plateau_step(STEPS, fcds) == 4000


def test_a_curve_still_falling_has_no_plateau():
    fcds = [100.0 * 0.8**index for index in range(len(STEPS))]
    # Each quarter of the steps spans at least one 20% drop.
    assert plateau_step(STEPS, fcds) is None


def test_a_window_of_one_evaluation_never_plateaus():
    # Flat from the start, but at 500-step evaluations the last quarter of s holds
    # two evaluations only from s = 2500: (1500, 2000] holds 2000 alone, while
    # (1875, 2500] holds 2000 and 2500.
    flat = [10.0] * len(STEPS)
    assert plateau_step(STEPS[:4], flat[:4]) is None
    assert plateau_step(STEPS, flat) == 2500


def test_a_one_evaluation_stall_is_not_a_plateau():
    # The BSSN c=1.2 seed 0 curve (zoo/study/long_bssn_c1.2_s0) up to 4000: at step
    # 2000 the best FCD gained 4.5% (26.9 -> 25.7) over a window holding only that
    # evaluation; the curve then fell to 15. At 4000 the window (3000, 4000] gained
    # 15.7 -> 14.8 = 5.7%, so there is no plateau yet.
    fcds = [75.6, 40.1, 26.9, 25.7, 20.2, 15.7, 14.8, 15.1]
    assert plateau_step(STEPS, fcds) is None
    # The old rule (any window with an earlier evaluation) would have stopped at 2000.
    assert plateau_step(STEPS, fcds, min_window_evaluations=1) == 2000


def test_degradation_after_the_best_is_reported():
    fcds = [60.0, 30.0, 20.0, 18.0, 19.0, 21.0, 24.0, 25.0]
    result = convergence(STEPS, fcds)
    assert (result.best_fcd, result.best_step) == (18.0, 2000)
    assert (result.final_fcd, result.final_step) == (25.0, 4000)
    assert result.degraded and result.final_over_best == pytest.approx(25.0 / 18.0)
    # 19 is within 10% of 18 (19.8), so a run ending there is not degraded.
    assert not convergence(STEPS[:5], fcds[:5]).degraded


def test_steps_to_a_threshold():
    fcds = [60.0, 30.0, 20.0, 18.0]
    assert first_step_at_or_below(STEPS[:4], fcds, 20.0) == 1500
    assert first_step_at_or_below(STEPS[:4], fcds, 10.0) is None


@pytest.mark.parametrize(
    "steps,fcds,message",
    [([], [], "one FCD per"), ([1, 2], [1.0], "one FCD per"), ([1], [float("nan")], "non-finite")],
)
def test_bad_curves_are_refused(steps, fcds, message):
    with pytest.raises(ValueError, match=message):
        convergence(steps, fcds)


def test_divergence_is_an_early_stop_a_missing_fcd_or_an_fcd_rise():
    assert why_diverged([5.0, 4.0], 1.5, stopped="non-finite loss") == "non-finite loss"
    assert why_diverged([5.0, 4.0, 4.5], 1.5) is None  # 4.5 <= 1.5 * 4
    assert why_diverged([5.0, 4.0, 6.5], 1.5) == "FCD rose from 4 to 6.5"
    assert (
        why_diverged([], 1.5) == why_diverged([5.0, math.nan], 1.5) == ("non-finite or missing FCD")
    )


def test_mean_std_matches_numpy_sample_std():
    values = [3.0, 5.0, 10.0]
    mean, std = mean_std(values)
    assert mean == pytest.approx(6.0)
    assert std == pytest.approx(np.std(values, ddof=1))  # sqrt(13)
    assert std == pytest.approx(math.sqrt(13.0))
    assert mean_std([4.0]) == (4.0, 0.0)
    with pytest.raises(ValueError, match="at least one"):
        mean_std([])
