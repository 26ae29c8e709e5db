"""Tables and curves of the zoo study: SN against BSSN across seeds and settings.

  python -m train.zoo_study --runs='zoo/study/*' --out_dir=zoo/study --readme=zoo/README.md
  python -m train.zoo_study --record=$HOME/bssn_runs/sn_s0,$HOME/bssn_runs/bssn_s0

--record first copies finished runs' config.json (without the machine's
paths) and metrics.csv into --out_dir/<run name>, where the tables find them.

Writes `curves.png`, `convergence_curves.png` (long runs) and `study.json`
into --out_dir, and rewrites the blocks "study" and "convergence" of --readme;
the rest of the README is kept. The logic is bssn_tf.workflows.study.
"""

import sys

from absl import flags

from train import cli

flags.adopt_module_key_flags(cli)  # --tf_verbose in --help

_RUNS = flags.DEFINE_string("runs", "zoo/study/*", "Glob of run directories.")
_OUT_DIR = flags.DEFINE_string("out_dir", "zoo/study", "Where the curves and study.json go.")
_README = flags.DEFINE_string("readme", "zoo/README.md", "README whose blocks are rewritten.")
_RECORD = flags.DEFINE_list(
    "record", [], "Finished run directories to copy into --out_dir before the tables are built."
)
_RISE_FACTOR = flags.DEFINE_float(
    "rise_factor",
    1.5,
    "A run diverged if it stopped early or its last FCD exceeds this times its best.",
)
_CONVERGENCE_MIN_STEPS = flags.DEFINE_integer(
    "convergence_min_steps", 2000, "Runs trained at least this long get convergence rows."
)


def main(argv):
    if len(argv) > 1:
        sys.exit(f"zoo_study: error: unexpected arguments {argv[1:]}.")
    cli.import_tensorflow()
    from bssn_tf.workflows.study import StudyConfig, run_study

    config = StudyConfig(
        runs=_RUNS.value,
        out_dir=_OUT_DIR.value,
        readme=_README.value,
        record=tuple(_RECORD.value),
        rise_factor=_RISE_FACTOR.value,
        convergence_min_steps=_CONVERGENCE_MIN_STEPS.value,
    )
    try:
        print(run_study(config))
    except (ValueError, OSError) as error:
        sys.exit(f"zoo_study: error: {cli.one_line(error)}")


if __name__ == "__main__":
    cli.run(main)
