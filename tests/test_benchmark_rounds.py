"""The step benchmark's interleaved ratios and targets, on hand-made timings.

The ratios in benchmarks/RESULTS.md are medians of per-round pairs; a pairing
bug (ratios across rounds, or of the wrong variants) would survive any real
run unnoticed, so it is checked here on numbers whose answer is known.
"""

from benchmarks.train_step import default_variant, ratio_pairs, round_ratios, summarize


def _runs():
    # Round 2 is slow for everyone (background load): per-round pairs cancel it.
    return {
        "tf": {"name": "ours", "facts": {"default_jit_compile": False}, "seconds": [1, 4, 1.2]},
        "tf_xla": {
            "name": "ours xla",
            "facts": {"default_jit_compile": False},
            "seconds": [2, 8, 2],
        },
        "torch_sn": {"name": "torch", "facts": {}, "seconds": [1.25, 5, 1.2]},
    }


def test_ratios_are_taken_within_each_round():
    runs = _runs()
    assert round_ratios(runs, "tf", "torch_sn") == [0.8, 0.8, 1.0]
    assert summarize(round_ratios(runs, "tf", "torch_sn"))["median"] == 0.8
    # The ratio of the two medians would say 1.2 / 1.25 = 0.96 instead.


def test_the_default_variant_follows_the_machine_choice():
    runs = _runs()
    assert default_variant(runs) == "tf"
    for run in runs.values():
        if "default_jit_compile" in run["facts"]:
            run["facts"]["default_jit_compile"] = True
    assert default_variant(runs) == "tf_xla"


def test_pairs_compare_ours_with_pytorch_and_the_two_paths():
    assert ratio_pairs(["tf", "tf_xla", "torch_sn"]) == [
        ("tf", "torch_sn"),
        ("tf_xla", "torch_sn"),
        ("tf", "tf_xla"),
    ]
