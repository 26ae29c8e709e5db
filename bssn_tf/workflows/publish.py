"""Turns a finished training run into a zoo model: zoo/NAME/ plus its line in zoo/index.json.

The loader (bssn_tf.zoo) needs only TensorFlow and bssn_tf.io; publishing also
scores the model, so it needs the data, metrics and training packages and lives
on the top floor, with the other workflows.
"""

import dataclasses
import json
import os
import re
import shutil
import tempfile

import numpy as np
import tensorflow as tf

from bssn_tf import data, metrics
from bssn_tf.extractors.digit_classifier import DIGIT_CLASSIFIER_PATH
from bssn_tf.io import replace_directory_atomically, write_grid_png, write_json_atomically
from bssn_tf.io.markdown_block import rewrite_block
from bssn_tf.models.normalization import used_scale
from bssn_tf.training.run_directory import RunDirectory
from bssn_tf.training.run_records import read_run
from bssn_tf.zoo import generator, integrity, registry

GRID_SIZE = 64
REFERENCE_SIZE = 8
EXTRACTOR = "digits"
# Which export of a run becomes the zoo model.
CHECKPOINT_CHOICES = ("best", "final")
# Class-conditional models: samples per class row of samples.png, and generated images per
# class for class consistency and intra-class FCD.
CLASS_ROW_SIZE = 8
CONDITIONAL_PER_CLASS = 100


@dataclasses.dataclass(frozen=True)
class PublishConfig:
    """One run to publish.

    `checkpoint="best"` publishes model_dir/best_export, the generator of the
    run's lowest periodic FCD (picked by that FCD, which the card records under
    `selected_by`); "final" publishes model_dir/export, the last step. Either
    way the run must have finished.
    """

    model_dir: str
    name: str
    zoo_dir: str = "zoo"
    num_samples: int = 10000
    summary: str = ""
    checkpoint: str = "best"

    def __post_init__(self):
        if self.checkpoint not in CHECKPOINT_CHOICES:
            raise ValueError(
                f"checkpoint must be one of {list(CHECKPOINT_CHOICES)}; "
                f"got checkpoint={self.checkpoint!r}."
            )
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", self.name or ""):
            raise ValueError(
                "name must be a plain folder name (letters, digits, _ . -); "
                f"got name={self.name!r}."
            )


def score(generate, flags_used, num_samples):
    """Card metrics: `num_samples` generated images against every real training image.

    A class-conditional model gets uniform labels for these, and adds class
    consistency and intra-class FCD on CONDITIONAL_PER_CLASS images per class.
    """
    num_classes = flags_used.get("num_classes", 0)
    real = data.load_array(
        flags_used["dataset"],
        "train",
        image_size=flags_used["image_size"],
        with_labels=bool(num_classes),
    )
    results = metrics.evaluate_generator(
        generate.with_uniform_labels(seed=0),
        real[0] if num_classes else real,
        extractor=EXTRACTOR,
        num_samples=num_samples,
        seed=0,
        z_dim=flags_used["z_dim"],
        progress=True,
    )
    if num_classes:
        results.update(
            metrics.evaluate_conditional_generator(
                generate,
                *real,
                num_classes,
                extractor=EXTRACTOR,
                num_per_class=CONDITIONAL_PER_CLASS,
                seed=0,
                z_dim=flags_used["z_dim"],
            )
        )
    return dict(
        results,
        real_split="train",
        seed=0,
        extractor_file=os.path.relpath(
            DIGIT_CLASSIFIER_PATH, os.path.dirname(registry.PACKAGE_DIR)
        ).replace(os.sep, "/"),
    )


def build_card(export_card, run, model_metrics, checksums, config, trained_steps):
    flags_used = run.flags
    return dict(
        export_card,
        name=config.name,
        summary=config.summary,
        dataset=flags_used["dataset"],
        arch=flags_used["arch"],
        norm=flags_used["norm"],
        scale=used_scale(flags_used["norm"], flags_used["scale"]),
        trained_steps=trained_steps,
        metrics=model_metrics,
        reference_output={
            "file": "reference_output.npz",
            "z": f"bssn_tf.zoo.latents({REFERENCE_SIZE}, seed=0, z_dim)",
            **(
                {"labels": f"bssn_tf.zoo.reference_labels({REFERENCE_SIZE}, num_classes)"}
                if export_card.get("num_classes")
                else {}
            ),
        },
        files=checksums,
    )


def models_table(zoo_dir):
    """The zoo README's table of models, from index.json and each card."""
    lines = [
        "| name | arch | D norm | scale | published step | trained steps | training wall time "
        "| FCD | KCD | classifier score | samples |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name in sorted(registry.read_index(zoo_dir)["models"]):
        with open(os.path.join(zoo_dir, name, integrity.CARD)) as handle:
            card = json.load(handle)
        found = card["metrics"]
        lines.append(
            f"| `{name}` | {card['arch']} | {card['norm']} | {card['scale'] or '-'} "
            f"| {card['steps']} | {card.get('trained_steps', card['steps'])} "
            f"| {card['wall_time_s'] / 60:.1f} min | {found['fcd']:.2f} "
            f"| {found['kcd']:.3f} | {found['classifier_score']:.2f} "
            f"| [grid]({name}/samples.png) |"
        )
    return "\n".join(lines)


def _read_export_card(run, best):
    card = run.export_card(best)
    if card is None:
        path = os.path.join(run.best_export if best else run.export, integrity.CARD)
        raise FileNotFoundError(f"{path} is missing; is {run.path} a finished training run?")
    return card


def publish(config):
    """Publishes the run `config` names into config.zoo_dir; returns the new card.

    The folder is built beside zoo/NAME and renamed into place, so a reader
    never sees half of it; then index.json and the "models" table of the zoo
    README are rewritten.

    Raises:
      ValueError: the run has not finished, or the config is bad.
      FileNotFoundError: the run has no export of the kind asked for.
    """
    run, directory = read_run(config.model_dir), RunDirectory(config.model_dir)
    final_card = _read_export_card(directory, best=False)
    if final_card["steps"] != run.flags["steps"]:
        raise ValueError(
            f"{config.model_dir} stopped at step {final_card['steps']} of "
            f"{run.flags['steps']}; only finished runs are published."
        )
    best = config.checkpoint == "best"
    export_dir = directory.best_export if best else directory.export
    export_card = _read_export_card(directory, best)
    export_card.pop("files", None)  # recomputed below, with the zoo's extra files
    os.makedirs(config.zoo_dir, exist_ok=True)
    staging = tempfile.mkdtemp(dir=config.zoo_dir, prefix=f".{config.name}-")
    try:
        shutil.copytree(export_dir, staging, dirs_exist_ok=True)
        os.remove(os.path.join(staging, integrity.CARD))
        shutil.copy(directory.metrics, os.path.join(staging, "training_metrics.csv"))
        generate = generator.ZooGenerator(tf.saved_model.load(staging), export_card, staging)
        grid_path = os.path.join(staging, "samples.png")
        if generate.num_classes:
            write_grid_png(grid_path, generate.class_rows(CLASS_ROW_SIZE), CLASS_ROW_SIZE)
        else:
            write_grid_png(grid_path, generate.sample(GRID_SIZE, seed=0))
        reference_z = generator.latents(REFERENCE_SIZE, 0, generate.z_dim)
        reference_labels = generator.reference_labels(REFERENCE_SIZE, generate.num_classes)
        labels_entry = {} if reference_labels is None else {"labels": reference_labels}
        np.savez(
            os.path.join(staging, "reference_output.npz"),
            z=reference_z,
            images=generate(reference_z, reference_labels),
            **labels_entry,
        )
        model_metrics = score(generate, run.flags, config.num_samples)
        card = build_card(
            export_card,
            run,
            model_metrics,
            integrity.file_manifest(staging),
            config,
            trained_steps=final_card["steps"],
        )
        write_json_atomically(os.path.join(staging, integrity.CARD), card)
        os.chmod(staging, 0o755)  # mkdtemp makes it private; a zoo folder is public
        replace_directory_atomically(staging, os.path.join(config.zoo_dir, config.name))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    registry.add_to_index(config.zoo_dir, config.name, card)
    rewrite_block(os.path.join(config.zoo_dir, "README.md"), "models", models_table(config.zoo_dir))
    return card
