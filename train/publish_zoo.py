"""Turns a finished training run into a zoo model: zoo/NAME/ plus its line in zoo/index.json.

  python -m train.publish_zoo --model_dir=runs/base_bssn_s0 --name=cnn_bssn

By default the run's best_export (the generator of its lowest periodic FCD;
the card records the step and FCD that picked it) is published; --checkpoint=final
publishes the last step instead. The copy is scored on --num_samples generated
images against the whole real training split (FCD, KCD, classifier score with
the shipped digit classifier), and gets a sample grid, a reference output for
the reproducibility test, the run's metrics.csv and the sha256 of every file.
The logic is bssn_tf.workflows.publish.
"""

import sys

from absl import flags

from train import cli

flags.adopt_module_key_flags(cli)  # --tf_verbose in --help

_MODEL_DIR = flags.DEFINE_string("model_dir", None, "Finished training run.")
_NAME = flags.DEFINE_string("name", None, "Zoo name, e.g. cnn_bssn.")
_ZOO_DIR = flags.DEFINE_string("zoo_dir", "zoo", "Zoo root holding index.json.")
_NUM_SAMPLES = flags.DEFINE_integer("num_samples", 10000, "Generated images for the metrics.")
_SUMMARY = flags.DEFINE_string("summary", "", "One line on what the model is, for `list`.")
_CHECKPOINT = flags.DEFINE_string(
    "checkpoint", "best", "best (lowest periodic FCD) | final (last step)."
)


def main(argv):
    if len(argv) > 1:
        sys.exit(f"publish_zoo: error: unexpected arguments {argv[1:]}.")
    if not _MODEL_DIR.value or not _NAME.value:
        sys.exit("publish_zoo: error: give --model_dir and --name.")
    cli.import_tensorflow()
    from bssn_tf.workflows.publish import PublishConfig, publish

    try:
        card = publish(
            PublishConfig(
                model_dir=_MODEL_DIR.value,
                name=_NAME.value,
                zoo_dir=_ZOO_DIR.value,
                num_samples=_NUM_SAMPLES.value,
                summary=_SUMMARY.value,
                checkpoint=_CHECKPOINT.value,
            )
        )
    except (ValueError, OSError) as error:
        sys.exit(f"publish_zoo: error: {cli.one_line(error)}")
    print({key: card["metrics"][key] for key in ("fcd", "kcd", "classifier_score")})


if __name__ == "__main__":
    cli.run(main)
