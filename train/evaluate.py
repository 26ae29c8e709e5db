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

import json
import sys

from absl import flags

from train import cli

flags.adopt_module_key_flags(cli)  # --tf_verbose in --help

_MODEL_DIR = flags.DEFINE_string("model_dir", None, "Training directory; scores its export/.")
_SAVED_MODEL = flags.DEFINE_string("saved_model", None, "Generator export folder.")
_ZOO = flags.DEFINE_string("zoo", None, "Name of a shipped zoo generator.")
_DATASET = flags.DEFINE_string("dataset", "mnist5k", "Dataset of the real images.")
_REAL_SPLIT = flags.DEFINE_string("real_split", "train", "Split of the real images.")
_NUM_REAL = flags.DEFINE_integer("num_real", None, "At most this many real images (default all).")
_NUM_SAMPLES = flags.DEFINE_integer("num_samples", 10000, "Number of generated images.")
_EXTRACTOR = flags.DEFINE_string(
    "extractor",
    "digits",
    "digits | fid_inception (the standard FID/IS network) | inception (Keras; not comparable).",
)
_INCEPTION_WEIGHTS = flags.DEFINE_string(
    "inception_weights", None, "Keras Inception-v3 .h5 weights (default: $BSSN_INCEPTION_WEIGHTS)."
)
_FID_WEIGHTS = flags.DEFINE_string(
    "fid_weights", None, "pt_inception-2015-12-05-6726825d.pth, or 'download' (default: env)."
)
_RESIZE = flags.DEFINE_string("resize", "tf_legacy", "To 299 px: tf_legacy (paper) | pytorch.")
_PROTOCOL = flags.DEFINE_string(
    "protocol", "custom", "paper (FID 10k vs 5k, IS 50k) | mimicry (50k vs 50k) | custom."
)
_REAL_STATS = flags.DEFINE_string("real_stats", None, "Real statistics .npz (mu, sigma).")
_SAVE_REAL_STATS = flags.DEFINE_string("save_real_stats", None, "Save real statistics here.")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 500, "Images per forward pass.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the latent vectors.")
_OUTPUT = flags.DEFINE_string("output", None, "Results JSON path (default: see above).")
_NUM_PER_CLASS = flags.DEFINE_integer(
    "num_per_class",
    100,
    "Class-conditional models: generated images per class for class consistency and "
    "intra-class FCD.",
)


def config_from_flags():
    from bssn_tf.workflows.export_evaluation import ExportEvaluationConfig

    return ExportEvaluationConfig(
        model_dir=_MODEL_DIR.value,
        saved_model=_SAVED_MODEL.value,
        zoo=_ZOO.value,
        dataset=_DATASET.value,
        real_split=_REAL_SPLIT.value,
        num_real=_NUM_REAL.value,
        num_samples=_NUM_SAMPLES.value,
        extractor=_EXTRACTOR.value,
        inception_weights=_INCEPTION_WEIGHTS.value,
        fid_weights=_FID_WEIGHTS.value,
        resize=_RESIZE.value,
        protocol=_PROTOCOL.value,
        real_stats=_REAL_STATS.value,
        save_real_stats=_SAVE_REAL_STATS.value,
        batch_size=_BATCH_SIZE.value,
        seed=_SEED.value,
        output=_OUTPUT.value,
        num_per_class=_NUM_PER_CLASS.value,
    )


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
