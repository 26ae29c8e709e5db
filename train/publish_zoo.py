"""Turns a finished training run into a zoo model: zoo/NAME/ plus its line in zoo/index.json.

  python -m train.publish_zoo --model_dir=runs/base_bssn_s0 --name=cnn_bssn

The run's export (SavedModel and model_card.json) is copied, scored on
--num_samples generated images against the whole real training split
(FCD, KCD, classifier score with the shipped digit classifier), and given a
sample grid, a reference output for the reproducibility test, the run's
metrics.csv, and the sha256 of every file in the card. The folder is built
beside zoo/NAME and renamed into place, so a reader never sees half of it;
then index.json and the "models" table of zoo/README.md are rewritten.
"""

import json
import os
import shutil
import sys
import tempfile

import numpy as np
import tensorflow as tf
from absl import app, flags

from bssn_tf import data, metrics
from bssn_tf.io import replace_directory_atomically, write_grid_png, write_json_atomically
from bssn_tf.io.markdown_block import rewrite_block
from bssn_tf.models import norm_spec
from bssn_tf.training.evaluation import METRICS_FILE
from bssn_tf.training.export import EXPORT_DIR
from bssn_tf.training.run_records import read_run
from bssn_tf.zoo import generator, integrity, registry

_MODEL_DIR = flags.DEFINE_string("model_dir", None, "Finished training run (holds export/).")
_NAME = flags.DEFINE_string("name", None, "Zoo name, e.g. cnn_bssn.")
_ZOO_DIR = flags.DEFINE_string("zoo_dir", "zoo", "Zoo root holding index.json.")
_NUM_SAMPLES = flags.DEFINE_integer("num_samples", 10000, "Generated images for the metrics.")
_SUMMARY = flags.DEFINE_string("summary", "", "One line on what the model is, for `list`.")

GRID_SIZE = 64
REFERENCE_SIZE = 8
EXTRACTOR = "digits"


def score(generate, flags_used, num_samples):
    """10k-sample metrics against every real training image, named with their extractor."""
    real = data.load_array(flags_used["dataset"], "train", image_size=flags_used["image_size"])
    results = metrics.evaluate_generator(
        generate,
        real,
        extractor=EXTRACTOR,
        num_samples=num_samples,
        seed=0,
        z_dim=flags_used["z_dim"],
        progress=True,
    )
    return dict(
        results,
        real_split="train",
        seed=0,
        extractor_file="bssn_tf/metrics/assets/digit_classifier.keras",
    )


def build_card(export_card, run, model_metrics, checksums, name, summary):
    flags_used = run.flags
    return dict(
        export_card,
        name=name,
        summary=summary,
        dataset=flags_used["dataset"],
        arch=flags_used["arch"],
        norm=flags_used["norm"],
        scale=flags_used["scale"] if norm_spec(flags_used["norm"]).uses_scale else None,
        metrics=model_metrics,
        reference_output={
            "file": "reference_output.npz",
            "z": f"bssn_tf.zoo.latents({REFERENCE_SIZE}, seed=0, z_dim)",
        },
        files=checksums,
    )


def models_table(zoo_dir):
    """The zoo README's table of models, from index.json and each card."""
    lines = [
        "| name | arch | D norm | scale | steps | training wall time | FCD | KCD | "
        "classifier score | samples |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name in sorted(registry.read_index(zoo_dir)["models"]):
        with open(os.path.join(zoo_dir, name, integrity.CARD)) as handle:
            card = json.load(handle)
        found = card["metrics"]
        lines.append(
            f"| `{name}` | {card['arch']} | {card['norm']} | {card['scale'] or '-'} "
            f"| {card['steps']} | {card['wall_time_s'] / 60:.1f} min | {found['fcd']:.2f} "
            f"| {found['kcd']:.3f} | {found['classifier_score']:.2f} "
            f"| [grid]({name}/samples.png) |"
        )
    return "\n".join(lines)


def publish(model_dir, name, zoo_dir, num_samples, summary):
    run = read_run(model_dir)
    export_dir = os.path.join(model_dir, EXPORT_DIR)
    with open(os.path.join(export_dir, integrity.CARD)) as handle:
        export_card = json.load(handle)
    if export_card["steps"] != run.flags["steps"]:
        raise ValueError(
            f"{model_dir} stopped at step {export_card['steps']} of "
            f"{run.flags['steps']}; only finished runs are published."
        )
    os.makedirs(zoo_dir, exist_ok=True)
    staging = tempfile.mkdtemp(dir=zoo_dir, prefix=f".{name}-")
    try:
        shutil.copytree(export_dir, staging, dirs_exist_ok=True)
        shutil.copy(
            os.path.join(model_dir, METRICS_FILE), os.path.join(staging, "training_metrics.csv")
        )
        generate = generator.ZooGenerator(tf.saved_model.load(staging), export_card, staging)
        write_grid_png(os.path.join(staging, "samples.png"), generate.sample(GRID_SIZE, seed=0))
        reference_z = generator.latents(REFERENCE_SIZE, 0, generate.z_dim)
        np.savez(
            os.path.join(staging, "reference_output.npz"),
            z=reference_z,
            images=generate(reference_z),
        )
        model_metrics = score(generate, run.flags, num_samples)
        card = build_card(
            export_card, run, model_metrics, integrity.file_checksums(staging), name, summary
        )
        write_json_atomically(os.path.join(staging, "model_card.json"), card)
        os.chmod(staging, 0o755)  # mkdtemp makes it private; a zoo folder is public
        replace_directory_atomically(staging, os.path.join(zoo_dir, name))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    registry.add_to_index(zoo_dir, name, card)
    rewrite_block(os.path.join(zoo_dir, "README.md"), "models", models_table(zoo_dir))
    return card


def main(argv):
    del argv
    if not _MODEL_DIR.value or not _NAME.value:
        sys.exit("give --model_dir and --name.")
    card = publish(
        _MODEL_DIR.value, _NAME.value, _ZOO_DIR.value, _NUM_SAMPLES.value, _SUMMARY.value
    )
    print({key: card["metrics"][key] for key in ("fcd", "kcd", "classifier_score")})


if __name__ == "__main__":
    app.run(main)
