"""Scores a generator export: prints one JSON line of metrics and saves it as a file.

  python -m train.evaluate --model_dir=DIR     (scores DIR/export/; writes DIR/eval_metrics.json)
  python -m train.evaluate --saved_model=PATH  (any generator export folder)
  python -m train.evaluate --zoo=NAME          (a shipped zoo model, verified by its index)
  ... --extractor=fid_inception --fid_weights=PATH.pth --protocol=paper  (published-table FID/IS)

A generator export is a TF SavedModel whose `serving_default` signature maps
`z: float32[None, z_dim]` (and `labels: int32[None]` for class-conditional
models, which also get class consistency and intra-class FCD) to
`{"images": float32[None, H, W, C]}` in [-1, 1],
with a `model_card.json` holding `z_dim` and the sha256 of every file; every
file is checked before the model is loaded. Results go to --output (default:
DIR/eval_metrics.json with --model_dir, ./eval_metrics.json otherwise).
"""

import dataclasses
import json
import sys

from absl import flags

from train import cli

flags.adopt_module_key_flags(cli)  # --tf_verbose in --help

flags.DEFINE_string("model_dir", None, "Training directory; scores its export/.")
flags.DEFINE_string("saved_model", None, "Generator export folder.")
flags.DEFINE_string("zoo", None, "Name of a shipped zoo generator.")
flags.DEFINE_string("dataset", "mnist5k", "Dataset of the real images.")
flags.DEFINE_string("real_split", "train", "Split of the real images.")
flags.DEFINE_integer("num_real", None, "At most this many real images (default all).")
flags.DEFINE_integer("num_samples", 10000, "Number of generated images.")
flags.DEFINE_string(
    "extractor",
    "digits",
    "digits | fid_inception (the standard FID/IS network) | inception (Keras; not comparable).",
)
flags.DEFINE_string(
    "inception_weights", None, "Keras Inception-v3 .h5 weights (default: $BSSN_INCEPTION_WEIGHTS)."
)
flags.DEFINE_string(
    "fid_weights", None, "pt_inception-2015-12-05-6726825d.pth, or 'download' (default: env)."
)
flags.DEFINE_string("resize", "tf_legacy", "To 299 px: tf_legacy (paper) | pytorch.")
flags.DEFINE_string(
    "protocol", "custom", "paper (FID 10k vs 5k, IS 50k) | mimicry (50k vs 50k) | custom."
)
flags.DEFINE_string("real_stats", None, "Real statistics .npz (mu, sigma).")
flags.DEFINE_string("save_real_stats", None, "Save real statistics here.")
flags.DEFINE_integer("batch_size", 500, "Images per forward pass.")
flags.DEFINE_integer("seed", 0, "Seed of the latent vectors.")
flags.DEFINE_string("output", None, "Results JSON path (default: see above).")
flags.DEFINE_integer(
    "num_per_class",
    100,
    "Class-conditional models: generated images per class for class consistency and "
    "intra-class FCD.",
)


def config_from_flags():
    """The ExportEvaluationConfig the flags describe: each of its fields is a flag."""
    from bssn_tf.workflows.export_evaluation import ExportEvaluationConfig

    fields = dataclasses.fields(ExportEvaluationConfig)
    return ExportEvaluationConfig(**{field.name: flags.FLAGS[field.name].value for field in fields})


def main(argv):
    if len(argv) > 1:
        sys.exit(f"evaluate: error: unexpected arguments {argv[1:]}.")
    cli.import_tensorflow()
    from bssn_tf.workflows.export_evaluation import evaluate_export
    from bssn_tf.zoo import UnknownModelError

    try:
        results = evaluate_export(config_from_flags())
    except (ValueError, OSError, UnknownModelError) as error:  # each names the flag or file
        sys.exit(f"evaluate: error: {cli.one_line(error)}")
    print(json.dumps(results, sort_keys=True))


if __name__ == "__main__":
    cli.run(main)
