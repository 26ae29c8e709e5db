"""bssn_tf.workflows.publish: a tiny finished run becomes a zoo model that verifies and reruns."""

import csv
import json
import os
import shutil

import numpy as np
import pytest
from tiny_runs import TINY

from bssn_tf import data, metrics, zoo
from bssn_tf.training import TrainConfig, train
from bssn_tf.workflows.publish import PublishConfig, publish
from bssn_tf.zoo import integrity

NUM_SAMPLES = 40


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    model_dir = str(tmp_path_factory.mktemp("run"))
    train(
        TrainConfig(
            model_dir=model_dir,
            **dict(TINY, steps=2, eval_every=1, eval_num_samples=20, eval_num_real=20),
            norm="bssn",
            scale=1.3,
        )
    )
    return model_dir


def test_published_model_verifies_scores_and_reproduces(finished_run, tmp_path, monkeypatch):
    zoo_dir = str(tmp_path / "zoo")
    card = publish(
        PublishConfig(finished_run, "tiny", zoo_dir, NUM_SAMPLES, "a test model", "final")
    )
    monkeypatch.setenv("BSSN_ZOO_DIR", zoo_dir)

    assert zoo.available() == ["tiny"]
    assert [entry for entry in os.listdir(zoo_dir) if entry.startswith(".")] == []
    model_dir = zoo.verify("tiny")
    assert card["files"] == integrity.file_manifest(model_dir)
    assert {"saved_model.pb", "samples.png", "reference_output.npz", "training_metrics.csv"} <= set(
        card["files"]
    )
    assert (card["norm"], card["scale"], card["z_dim"], card["steps"]) == ("bssn", 1.3, 8, 2)
    assert card["flags"]["width"] == 0.125 and card["hardware"]["cpu_count"] >= 1

    generator = zoo.load("tiny")
    with np.load(os.path.join(model_dir, "reference_output.npz")) as reference:
        np.testing.assert_array_equal(reference["z"], zoo.latents(8, seed=0, z_dim=8))
        np.testing.assert_allclose(generator(reference["z"]), reference["images"], atol=1e-6)

    # The card's metrics are what evaluate_generator gives the loaded model on all real images.
    real = data.load_array("mnist5k", "train")
    expected = metrics.evaluate_generator(
        generator, real, extractor="digits", num_samples=NUM_SAMPLES, seed=0, z_dim=8
    )
    for key in ("fcd", "kcd", "classifier_score"):
        assert card["metrics"][key] == pytest.approx(expected[key], rel=1e-6), key
    assert card["metrics"]["num_real"] == len(real)

    with open(os.path.join(zoo_dir, "README.md")) as handle:
        readme = handle.read()
    assert "| `tiny` | cnn | bssn | 1.3 | 2 | 2 |" in readme


def test_the_best_export_is_published_with_the_step_that_picked_it(finished_run, tmp_path):
    """The run evaluated at steps 1 and 2; best_export is whichever FCD was lower."""
    with open(os.path.join(finished_run, "metrics.csv")) as handle:
        rows = list(csv.DictReader(handle))
    best_row = min(rows, key=lambda row: float(row["fcd"]))
    card = publish(PublishConfig(finished_run, "tiny", str(tmp_path / "zoo"), NUM_SAMPLES))
    assert card["selected_by"]["step"] == int(best_row["step"]) == card["steps"]
    assert card["selected_by"]["value"] == pytest.approx(float(best_row["fcd"]), rel=1e-12)
    assert card["trained_steps"] == 2


def test_bad_names_are_refused():
    with pytest.raises(ValueError, match="name=.*'../evil'"):
        PublishConfig("run", "../evil")


def test_an_unfinished_run_is_refused(finished_run, tmp_path):
    copy = str(tmp_path / "run")
    shutil.copytree(finished_run, copy)
    config_path = os.path.join(copy, "config.json")
    with open(config_path) as handle:
        config = json.load(handle)
    config["run"]["steps"] = 5
    with open(config_path, "w") as handle:
        json.dump(config, handle)
    with pytest.raises(ValueError, match="stopped at step 2 of 5"):
        publish(PublishConfig(copy, "tiny", str(tmp_path / "zoo"), NUM_SAMPLES))
    assert not os.path.exists(tmp_path / "zoo" / "tiny")
