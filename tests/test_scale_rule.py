"""The scale rule (bssn_tf.analysis.scale_rule) and its table, on hand-computed scores."""

import dataclasses
import math

import pytest
from test_zoo_study import write_run

from bssn_tf.analysis.convergence import convergence
from bssn_tf.analysis.scale_rule import RULE_SCALES, RULE_SEEDS, choose_scale, run_score
from bssn_tf.training.run_records import read_run
from bssn_tf.workflows.study import (
    DIGITS_DIRECTION,
    RESNET_PLATEAU,
    comparison_table,
    scale_rule_table,
)

STEPS = [500, 1000, 1500]


def test_a_run_that_degraded_after_its_best_scores_its_final_fcd():
    # 1.09x its best: not degraded
    assert run_score(convergence(STEPS, [20.0, 10.0, 10.9])) == 10.0
    # 1.15x its best: degraded
    assert run_score(convergence(STEPS, [20.0, 10.0, 11.5])) == 11.5


def test_a_clear_winner_is_chosen():
    # Means 15, 9, 13, each with sd 1: the runner-up 1.2 is 4 behind, pooled sd 1.
    scale, reason = choose_scale({0.8: [14, 15, 16], 1.0: [8, 9, 10], 1.2: [12, 13, 14]})
    assert scale == 1.0
    assert "more than one pooled standard deviation (1.00)" in reason


def test_within_one_pooled_sd_the_scale_closer_to_one_wins():
    # 1.2: mean 10, sd 1; 1.0: mean 10.5, sd 1; pooled sd 1 > gap 0.5.
    scale, reason = choose_scale({0.8: [20, 21, 22], 1.0: [9.5, 10.5, 11.5], 1.2: [9, 10, 11]})
    assert scale == 1.0 and "closer to 1" in reason


def test_at_equal_distance_from_one_the_lower_mean_wins():
    # 0.8 and 1.2 are both 0.2 from 1 (in floating point too); 0.8 has the lower mean.
    scale, reason = choose_scale({0.8: [9, 10, 11], 1.0: [30, 31, 32], 1.2: [9.5, 10.5, 11.5]})
    assert scale == 0.8 and "lower mean at equal distance" in reason


def test_the_pooled_sd_is_the_root_mean_of_the_two_variances():
    # Variances 0 and 1: pooled sqrt(0.5) = 0.707. A gap of 0.75 is outside it, 0.65 inside.
    outside, _ = choose_scale({1.2: [10, 10, 10], 1.0: [9.75, 10.75, 11.75]})
    inside, _ = choose_scale({1.2: [10, 10, 10], 1.0: [9.65, 10.65, 11.65]})
    assert math.isclose(math.sqrt((0 + 1) / 2), 0.7071, rel_tol=1e-4)
    assert outside == 1.2 and inside == 1.0


def test_the_rule_needs_two_seeds_of_two_scales():
    with pytest.raises(ValueError, match="at least two scales with two seeds"):
        choose_scale({1.0: [9.0], 1.2: [10.0, 11.0]})


def _write_rule_runs(root, scores_by_key, seeds):
    """One rule run per (candidate, seed), whose FCD curve ends at its best (its score)."""
    records = []
    for key, scores in scores_by_key.items():
        for seed, score in zip(seeds, scores):
            name = f"rule_sn_s{seed}" if key == "sn" else f"rule_bssn_c{key}_s{seed}"
            path = write_run(root, name, "sn" if key == "sn" else "bssn", seed, [40.0, score])
            records.append(read_run(path))
            if key != "sn":
                # write_run records scale 1.2 for bssn: set the candidate's own.
                records[-1].flags["scale"] = key
    return records


def test_the_table_waits_for_every_planned_run(tmp_path):
    scores = {0.8: [14, 15], 1.0: [8, 9], 1.2: [12, 13], "sn": [10, 11]}
    table = scale_rule_table(_write_rule_runs(tmp_path, scores, RULE_SEEDS[:2]))
    assert "Choice pending: 8 of the rule's 12 runs have finished." in table
    assert "The rule chooses" not in table


def test_the_table_chooses_once_every_planned_run_is_done(tmp_path):
    scores = {0.8: [14, 15, 16], 1.0: [8, 9, 10], 1.2: [12, 13, 14], "sn": [10, 11, 12]}
    assert set(scores) - {"sn"} == set(RULE_SCALES)
    table = scale_rule_table(_write_rule_runs(tmp_path, scores, RULE_SEEDS))
    assert "| BSSN c=1.0 | 8.00 | 9.00 | 10.00 | 9.00 ± 1.00 |" in table
    assert "| SN (baseline) | 10.00 | 11.00 | 12.00 | 11.00 ± 1.00 |" in table
    assert "**The rule chooses c = 1.0**" in table


def _write_direction_run(root, key, seed, fcds, prefix="digits_"):
    norm = "sn" if key == "sn" else "bssn"
    name = f"{prefix}sn_s{seed}" if key == "sn" else f"{prefix}bssn_c{key}_s{seed}"
    record = read_run(write_run(root, name, norm, seed, fcds))
    if key != "sn":
        record.flags["scale"] = key
    return record


def test_the_digits_table_orders_the_candidates_by_the_rules_score(tmp_path):
    records = [
        _write_direction_run(tmp_path, 1.0, 0, [40.0, 1.0]),
        _write_direction_run(tmp_path, 1.0, 1, [40.0, 1.5]),
        _write_direction_run(tmp_path, "sn", 0, [40.0, 1.3]),
        _write_direction_run(tmp_path, "sn", 1, [40.0, 1.8]),
        # Best 5.0, then 9.0 (1.8x): degraded, so it scores its final 9.0.
        _write_direction_run(tmp_path, 1.6, 0, [40.0, 5.0, 9.0]),
    ]
    table = comparison_table(records, DIGITS_DIRECTION)
    assert "| BSSN c=1.6 | 9.00 (final: degraded) | - | 9.00 |" in table  # one seed: no sd
    assert "Order pending: 5 of 6 runs have finished." in table
    records.append(_write_direction_run(tmp_path, 1.6, 1, [40.0, 6.0]))
    table = comparison_table(records, DIGITS_DIRECTION)
    assert "| BSSN c=1.6 | 9.00 (final: degraded) | 6.00 | 7.50 ± 2.12 |" in table
    assert "| SN (baseline) | 1.30 | 1.80 | 1.55 ± 0.35 |" in table
    assert "Order by mean score, best first: c=1.0 (1.25) < SN (1.55) < c=1.6 (7.50)." in table
    assert comparison_table(records[:0], DIGITS_DIRECTION) is None


def test_the_resnet_table_leaves_out_the_older_runs_without_a_seed_in_their_name(tmp_path):
    old = [
        read_run(write_run(tmp_path, "resnet_sn", "sn", 0, [40.0, 32.0])),
        read_run(write_run(tmp_path, "resnet_bssn", "bssn", 0, [40.0, 20.0])),
    ]
    assert comparison_table(old, RESNET_PLATEAU) is None
    new = [_write_direction_run(tmp_path, 1.0, 0, [40.0, 5.0], prefix="resnet_")]
    table = comparison_table(old + new, dataclasses.replace(RESNET_PLATEAU, budget=None))
    assert "| BSSN c=1.0 | 5.00 | - | 5.00 |" in table
    assert "Order pending: 1 of 4 runs have finished." in table
    assert "32.00" not in table and "20.00" not in table


def test_the_budget_table_scores_only_the_evaluations_up_to_the_budget(tmp_path):
    # Evaluations every 100 steps; BSSN runs stop at 300, SN runs at 200.
    resnet = dataclasses.replace(RESNET_PLATEAU, budget=200)
    records = [
        _write_direction_run(tmp_path, 1.0, 0, [40.0, 30.0, 5.0], prefix="resnet_"),
        _write_direction_run(tmp_path, 1.0, 1, [40.0, 20.0, 6.0], prefix="resnet_"),
        _write_direction_run(tmp_path, "sn", 0, [40.0, 7.0], prefix="resnet_"),
    ]
    table = comparison_table(records, resnet)
    assert "Order pending: 3 of 4 runs have finished." in table
    records.append(_write_direction_run(tmp_path, "sn", 1, [40.0, 8.0], prefix="resnet_"))
    table = comparison_table(records, resnet)
    to_the_stop, within_budget = table.split("Each run on its evaluations up to step 200 only:")
    assert "| BSSN c=1.0 | 5.00 | 6.00 | 5.50 ± 0.71 |" in to_the_stop
    assert "Order by mean score, best first: c=1.0 (5.50) < SN (7.50)." in to_the_stop
    # Up to step 200 the BSSN runs' best FCDs are 30 and 20.
    assert "| BSSN c=1.0 | 30.00 | 20.00 | 25.00 ± 7.07 |" in within_budget
    assert "Order by mean score, best first: SN (7.50) < c=1.0 (25.00)." in within_budget
    # A run that stopped before the budget has no score within it.
    records.append(_write_direction_run(tmp_path, 1.0, 2, [40.0], prefix="resnet_"))
    within_budget = comparison_table(records, resnet).split("up to step 200 only:")[1]
    assert "| BSSN c=1.0 | 30.00 | 20.00 | - | 25.00 ± 7.07 |" in within_budget


def test_the_library_default_is_the_rules_choice_from_the_recorded_runs():
    """DEFAULT_BSSN_SCALE must be what the rule picks from zoo/study/rule_*; a changed
    record or a hand-edited default fails here."""
    import glob
    import os

    from bssn_tf.layers import DEFAULT_BSSN_SCALE

    root = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "zoo")
    records = [read_run(path) for path in sorted(glob.glob(os.path.join(root, "study", "rule_*")))]
    assert len(records) == len(RULE_SEEDS) * (len(RULE_SCALES) + 1)
    scores = {scale: [] for scale in RULE_SCALES}
    for record in records:
        if record.flags["norm"] == "bssn":
            steps, fcds = record.column("step"), record.column("fcd")
            scores[float(record.flags["scale"])].append(run_score(convergence(steps, fcds)))
    chosen, _ = choose_scale(scores)
    assert chosen == DEFAULT_BSSN_SCALE == 1.0


def test_the_claims_keep_the_scale_they_were_recorded_with():
    import json
    import os

    from bssn_tf.workflows.claims import ClaimsConfig

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for record in ("exploding.json", os.path.join("quality_ndis5", "quality.json")):
        with open(os.path.join(root, "docs", "claims", record)) as handle:
            assert json.load(handle)["settings"]["bssn_scale"] == 1.6
    assert ClaimsConfig("exploding").bssn_scale == ClaimsConfig("quality").bssn_scale == 1.6
