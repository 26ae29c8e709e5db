"""Reproduces the paper's three claims on the embedded digits, as figures and JSON.

  python -m train.reproduce_claims --claim=exploding   # SN bounds D's gradients
  python -m train.reproduce_claims --claim=vanishing   # exact SN makes them vanish
  python -m train.reproduce_claims --claim=quality     # BSSN vs SN: FCD and stability

Flags -> bssn_tf.workflows.claims.ClaimsConfig -> reproduce_claim. Each claim
writes `<claim>_*.png` and `<claim>.json` into --out_dir. The defaults are
sized for about 20 minutes per claim on 2 CPU cores; the paper's own runs are
400k iterations at full width, so these are small-scale checks.
"""

import json
import sys

from absl import app, flags

from bssn_tf.analysis import OBJECTIVES
from bssn_tf.workflows import claims

_CLAIM = flags.DEFINE_enum("claim", None, ["exploding", "vanishing", "quality"], "Which claim.")
_OUT_DIR = flags.DEFINE_string("out_dir", "docs/claims", "Where figures and JSON go.")
_WORK_DIR = flags.DEFINE_string(
    "work_dir", "/tmp/bssn_claims", "Training run directories of the quality claim (resumable)."
)
_DATASET = flags.DEFINE_string("dataset", "mnist5k", "bssn_tf.data dataset name.")
_STEPS = flags.DEFINE_integer("steps", None, "Generator steps per run (default: per claim).")
_WIDTH = flags.DEFINE_float("width", None, "Channel multiplier (default: per claim).")
_SEEDS = flags.DEFINE_integer("seeds", None, "Seeds per quality setting (default 1).")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 64, "Batch size.")
_LR = flags.DEFINE_float("lr", 2e-4, "Adam lr of G and D (exploding, vanishing).")
_LOG_EVERY = flags.DEFINE_integer("log_every", 10, "Steps between measurements (exploding).")
_REPEATS = flags.DEFINE_integer(
    "repeats", None, "Copies of each stride-1 conv3x3 in D (1: the paper's D; default per claim)."
)
_SCALE = flags.DEFINE_float(
    "bssn_scale", 1.6, "The scale c of BSSN (1.6: the recorded claims' value)."
)
_NORMS = flags.DEFINE_list("norms", None, "D normalizations to compare (default: per claim).")
_LRS = flags.DEFINE_list("lrs", ["1e-4", "2e-4", "4e-4"], "Stability grid: learning rates.")
_N_DIS = flags.DEFINE_list("n_dis", ["1", "5"], "Stability grid: D steps per G step.")
_PARALLEL_RUNS = flags.DEFINE_integer(
    "parallel_runs", 2, "Stability grid: training runs at once, each its own process."
)
_JIT_COMPILE = flags.DEFINE_boolean(
    "jit_compile", True, "XLA-compile the steps (the recorded claims ran compiled)."
)
_EVAL_EVERY = flags.DEFINE_integer("eval_every", None, "Steps between FCDs (quality; default 25).")
_EVAL_SAMPLES = flags.DEFINE_integer("eval_num_samples", 1000, "Generated images per FCD.")
_RISE_FACTOR = flags.DEFINE_float(
    "rise_factor", 1.5, "A quality run diverged if its last FCD exceeds this times its best."
)
_OBJECTIVE = flags.DEFINE_enum(
    "objective",
    "mean_output",
    sorted(OBJECTIVES),
    "Scalar of D(real batch) whose kernel gradients are measured (exploding, vanishing).",
)
_DEPTHS = flags.DEFINE_list("depth_repeats", ["1", "2", "3", "4", "5"], "Vanishing depth sweep.")
_POWER_ITERATIONS = flags.DEFINE_integer(
    "power_iterations", 100, "Power steps for each exact conv-operator norm (vanishing)."
)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    if _CLAIM.value is None:
        sys.exit("--claim must be one of exploding, vanishing, quality.")
    try:
        config = claims.ClaimsConfig(
            claim=_CLAIM.value,
            out_dir=_OUT_DIR.value,
            work_dir=_WORK_DIR.value,
            dataset=_DATASET.value,
            steps=_STEPS.value,
            width=_WIDTH.value,
            seeds=_SEEDS.value,
            batch_size=_BATCH_SIZE.value,
            lr=_LR.value,
            log_every=_LOG_EVERY.value,
            repeats=_REPEATS.value,
            bssn_scale=_SCALE.value,
            norms=None if _NORMS.value is None else tuple(_NORMS.value),
            lrs=tuple(float(value) for value in _LRS.value),
            n_dis=tuple(int(value) for value in _N_DIS.value),
            parallel_runs=_PARALLEL_RUNS.value,
            jit_compile=_JIT_COMPILE.value,
            eval_every=_EVAL_EVERY.value,
            eval_num_samples=_EVAL_SAMPLES.value,
            rise_factor=_RISE_FACTOR.value,
            objective=_OBJECTIVE.value,
            depth_repeats=tuple(int(value) for value in _DEPTHS.value),
            power_iterations=_POWER_ITERATIONS.value,
        )
    except ValueError as error:
        sys.exit(f"reproduce_claims: {error}")
    record = claims.reproduce_claim(config)
    print(json.dumps(record["summary"], indent=1, sort_keys=True))


if __name__ == "__main__":
    app.run(main)
