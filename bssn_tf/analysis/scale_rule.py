"""The rule that chooses BSSN's default scale from its runs (zoo/README.md, "Choosing
BSSN's default scale"), written down before the runs so that they cannot shape it.

A run's score is its best FCD, unless it degraded after its best (final FCD
above 1.1x the best, `convergence.DEGRADATION_TOLERANCE`): then its final FCD,
so that a scale that peaks and falls back is charged for the fall. The default
is the scale with the lowest mean score. If the runner-up's mean is within one
pooled standard deviation of the winner's (the square root of the mean of the
two sample variances), the one of the two closer to 1 is chosen; at equal
distance from 1, the lower mean.
"""

import math

from bssn_tf.analysis.convergence import mean_std

# The rule's runs, fixed with it: these scales and SN as the baseline, on these seeds.
RULE_SCALES = (0.8, 1.0, 1.2)
RULE_SEEDS = (3, 4, 5)


def run_score(result):
    """A run's score from its `convergence(steps, fcds)`: its best FCD, or its final
    FCD if it degraded after its best. It takes the result, not the curve, so that
    a table that also shows the degraded flag computes the convergence once."""
    return result.final_fcd if result.degraded else result.best_fcd


def choose_scale(scores):
    """`(chosen scale, one-line reason)` from `{scale: [score per seed]}`.

    Every scale needs at least two seeds, since the tie rule needs their spread.
    """
    if len(scores) < 2 or any(len(values) < 2 for values in scores.values()):
        raise ValueError(
            f"the rule needs at least two scales with two seeds each; got "
            f"{ {scale: len(values) for scale, values in scores.items()} }."
        )
    stats = {scale: mean_std(values) for scale, values in scores.items()}
    ranked = sorted(stats, key=lambda scale: stats[scale][0])
    winner, runner_up = ranked[0], ranked[1]
    (winner_mean, winner_std), (runner_mean, runner_std) = stats[winner], stats[runner_up]
    pooled = math.sqrt((winner_std**2 + runner_std**2) / 2.0)
    gap = runner_mean - winner_mean
    if gap > pooled:
        return winner, (
            f"c={winner} has the lowest mean score ({winner_mean:.2f}); the runner-up "
            f"c={runner_up} ({runner_mean:.2f}) is {gap:.2f} behind, more than one pooled "
            f"standard deviation ({pooled:.2f})"
        )
    distance = lambda scale: round(abs(scale - 1.0), 9)  # 1.2 and 0.8 are equally far
    closer = min((winner, runner_up), key=lambda scale: (distance(scale), stats[scale][0]))
    why = (
        "the one closer to 1"
        if distance(winner) != distance(runner_up)
        else "the lower mean at equal distance from 1"
    )
    return closer, (
        f"c={winner} ({winner_mean:.2f}) and c={runner_up} ({runner_mean:.2f}) are within "
        f"one pooled standard deviation ({pooled:.2f}) of each other; c={closer} is {why}"
    )
