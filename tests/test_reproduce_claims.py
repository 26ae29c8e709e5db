"""Each claim of train/reproduce_claims.py end to end in a tiny configuration.

One normalization per claim keeps this fast: each trainer costs a trace.
"""

import json
import math
import os

import pytest
from absl import flags
from absl.testing import flagsaver

from train import reproduce_claims

TINY = {
    "exploding": dict(steps=2, width=0.125, log_every=1, norms=["bssn"]),
    "vanishing": dict(
        steps=1,
        width=0.125,
        repeats=1,
        power_iterations=3,
        norms=["exact"],
        depth_repeats=["1", "2"],
    ),
    "quality": dict(
        steps=2,
        width=0.125,
        eval_every=1,
        eval_num_samples=100,
        lrs=["4e-4"],
        n_dis=["1"],
        norms=["sn"],
        parallel_runs=1,
    ),
}
FIGURES = {
    "exploding": ["exploding_layer_grad_norms.png", "exploding_input_grad_norm.png"],
    "vanishing": [
        "vanishing_layer_grad_norms.png",
        "vanishing_weight_scale.png",
        "vanishing_depth_sweep.png",
    ],
    "quality": ["quality_fcd_curves.png", "quality_stability_grid.png"],
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


@pytest.fixture(autouse=True, scope="module")
def parsed_flags():
    if not flags.FLAGS.is_parsed():
        flags.FLAGS.mark_as_parsed()


@pytest.mark.parametrize("claim", sorted(TINY))
def test_claim_writes_figures_and_finite_numbers(claim, tmp_path):
    with flagsaver.flagsaver(
        claim=claim,
        out_dir=str(tmp_path / "out"),
        work_dir=str(tmp_path / "work"),
        batch_size=16,
        **TINY[claim],
    ):
        reproduce_claims.main(["reproduce_claims"])
    for name in FIGURES[claim]:
        assert os.path.getsize(tmp_path / "out" / name) > 1000
    with open(tmp_path / "out" / f"{claim}.json") as handle:
        record = json.load(handle)
    assert record["claim"] == claim and record["summary"]
    values = numbers(record["summary"])
    assert values and all(math.isfinite(value) for value in values)


def test_norms_outside_the_claims_list_are_refused(tmp_path):
    with flagsaver.flagsaver(claim="quality", norms=["exact"], out_dir=str(tmp_path)):
        with pytest.raises(ValueError, match="'exact'"):
            reproduce_claims.main(["reproduce_claims"])
