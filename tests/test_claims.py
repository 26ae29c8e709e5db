"""bssn_tf.workflows.claims: the config, the summaries on hand-made records, and tiny claim runs."""

import json
import math
import os

import pytest

from bssn_tf.workflows import claims

FIGURES = {
    "exploding": ["exploding_layer_grad_norms.png", "exploding_input_grad_norm.png"],
    "vanishing": [
        "vanishing_layer_grad_norms.png",
        "vanishing_weight_scale.png",
        "vanishing_depth_sweep.png",
    ],
    "quality": ["quality_fcd_curves.png", "quality_stability_grid.png"],
}
# One normalization per claim keeps the runs short: each trainer costs a trace.
TINY = {
    "exploding": dict(steps=2, width=0.125, log_every=1, norms=("bssn",)),
    "vanishing": dict(
        steps=1, width=0.125, repeats=1, power_iterations=3, norms=("exact",), depth_repeats=(1, 2)
    ),
    "quality": dict(
        steps=2,
        width=0.125,
        eval_every=1,
        eval_num_samples=100,
        lrs=(4e-4,),
        n_dis=(1,),
        norms=("sn",),
        parallel_runs=1,
    ),
}


def numbers(record):
    """Every number in a JSON record."""
    if isinstance(record, dict):
        return [n for value in record.values() for n in numbers(value)]
    if isinstance(record, list):
        return [n for value in record for n in numbers(value)]
    if isinstance(record, (int, float)) and not isinstance(record, bool):
        return [record]
    return []


def test_config_fills_the_claims_defaults_and_scales_only_scaled_norms():
    config = claims.ClaimsConfig("vanishing", steps=7, bssn_scale=1.2)
    assert (config.steps, config.width, config.repeats) == (7, 0.25, 3)
    assert config.norms == ("none", "sn", "exact", "bsn", "bssn")
    assert [config.scale_for(norm) for norm in config.norms] == [1.0, 1.0, 1.0, 1.0, 1.2]
    quality = claims.ClaimsConfig("quality", lrs=[1e-4], n_dis=[5])
    assert (quality.seeds, quality.eval_every, quality.lrs, quality.n_dis) == (1, 25, (1e-4,), (5,))


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        (dict(claim="quality", norms=("exact",)), "'exact'"),
        (dict(claim="hessian"), "claim='hessian'"),
        (dict(claim="exploding", objective="wasserstein"), "objective='wasserstein'"),
    ],
)
def test_bad_config_names_the_value(kwargs, needle):
    with pytest.raises(ValueError, match=needle):
        claims.ClaimsConfig(**kwargs)


def test_beta2_follows_the_papers_n_dis_variants():
    assert (claims.beta2_for(1), claims.beta2_for(5)) == (0.999, 0.9)


def test_exploding_summary_skips_non_finite_points():
    run = {
        "layer_grad_norms": {"conv0": [2.0, None, 5.0], "logit": [3.0, 1.0, 0.5]},
        "input_grad_norm": {"real": {"mean": [1.0, 4.0, None], "max": [2.0, 9.0, None]}},
        "diverged_at": 3,
    }
    assert claims.exploding_summary(run) == {
        "max_layer_grad_norm": 5.0,
        "max_layer_grad_norm_at_init": 3.0,
        "input_grad_norm_real_mean_init": 1.0,
        "input_grad_norm_real_mean_final": 4.0,
        "input_grad_norm_real_max_over_run": 9.0,
        "diverged_at": 3,
    }


def test_vanishing_summary_by_hand():
    snapshot = {
        "layer_grad_norms": {"a": 8.0, "b": 2.0, "c": 0.5},
        "input_grad_norm": {"real": {"mean": 0.25}},
        "weight_scales": {k: {"std_over_lecun": v} for k, v in zip("abc", (0.3, 0.1, 0.2))},
        "operator_norm_ratios": {k: {"ratio": v} for k, v in zip("ab", (1.5, 1.1))},
    }
    summary = claims.vanishing_summary(snapshot)
    assert summary["first_over_last"] == 16.0
    assert summary["geometric_mean_grad_norm"] == pytest.approx((8.0 * 2.0 * 0.5) ** (1 / 3))
    assert summary["median_std_over_lecun"] == 0.2
    assert summary["median_exact_over_reshaped"] == 1.5  # upper median of two


def test_quality_summary_counts_cells_and_pairs_bssn_with_sn():
    def cell(norm, lr, mean, diverged=0):
        return {
            "norm": norm,
            "lr": lr,
            "n_dis": 1,
            "runs": [{}, {}],
            "final_fcd_mean": mean,
            "diverged_runs": diverged,
        }

    cells = [
        cell("sn", 1e-4, 10.0),
        cell("bssn", 1e-4, 8.0),
        cell("sn", 2e-4, 5.0, 1),
        cell("bssn", 2e-4, 6.0),
        cell("sn", 4e-4, None, 2),
        cell("bssn", 4e-4, 7.0),
    ]
    summary = claims.quality_summary(cells)
    assert summary["sn"] == {
        "cells": 3,
        "diverged_runs": 3,
        "runs": 6,
        "best_cell_final_fcd": 5.0,
        "worst_cell_final_fcd": 10.0,
        "mean_cell_final_fcd": 7.5,
    }
    assert summary["bssn"]["mean_cell_final_fcd"] == pytest.approx(7.0)
    assert summary["cells_where_bssn_beats_sn"] == "1/2"  # the None cell is not paired


@pytest.mark.slow
@pytest.mark.parametrize("claim", sorted(TINY))
def test_claim_writes_figures_and_finite_numbers(claim, tmp_path):
    config = claims.ClaimsConfig(
        claim,
        out_dir=str(tmp_path / "out"),
        work_dir=str(tmp_path / "work"),
        batch_size=16,
        **TINY[claim],
    )
    record = claims.reproduce_claim(config)
    for name in FIGURES[claim]:
        assert os.path.getsize(tmp_path / "out" / name) > 1000
    with open(tmp_path / "out" / f"{claim}.json") as handle:
        assert json.load(handle) == json.loads(json.dumps(record))
    assert record["claim"] == claim and record["summary"]
    values = numbers(record["summary"])
    assert values and all(math.isfinite(value) for value in values)
    if claim == "exploding":
        # Measured at steps 0, 1 and 2 (log_every=1), one loss per step.
        run = record["runs"]["bssn"]
        assert run["steps"] == [0, 1, 2] and len(run["d_loss"]) == 2
    if claim == "vanishing":
        # depth_repeats 1 and 2: 4 conv3x3 more layers each step, plus 3 strided convs and Dense.
        assert [p["layers"] for p in record["depth_sweep"]["exact"]] == [8, 12]
