"""`python -m train.evaluate` end to end on a tiny generator SavedModel exported here."""

import hashlib
import json
import os
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from bssn_tf.zoo.integrity import file_manifest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
Z_DIM = 8


def export_tiny_generator(directory, z_dim=Z_DIM):
    """A Dense+tanh generator with the export contract: serving_default(z) -> images."""
    keras.utils.set_random_seed(0)
    network = keras.Sequential(
        [
            keras.Input((z_dim,)),
            keras.layers.Dense(28 * 28, activation="tanh"),
            keras.layers.Reshape((28, 28, 1)),
        ]
    )

    class Generator(tf.Module):
        def __init__(self):
            super().__init__()
            self.network = network

        @tf.function(input_signature=[tf.TensorSpec([None, z_dim], tf.float32, name="z")])
        def serve(self, z):
            return {"images": self.network(z, training=False)}

    module = Generator()
    tf.saved_model.save(module, str(directory), signatures={"serving_default": module.serve})
    card = {"z_dim": z_dim, "image_shape": [28, 28, 1], "files": file_manifest(directory)}
    with open(os.path.join(directory, "model_card.json"), "w") as handle:
        json.dump(card, handle)
    return directory


def run_cli(*flags, env=None):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "train.evaluate", *flags],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_cli_prints_one_json_line_and_writes_eval_metrics(tmp_path):
    export_tiny_generator(tmp_path / "export")
    result = run_cli(
        f"--model_dir={tmp_path}",
        "--num_samples=40",
        "--num_real=60",
        "--batch_size=16",
        "--seed=3",
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1
    printed = json.loads(lines[0])
    with open(tmp_path / "eval_metrics.json") as handle:
        assert json.load(handle) == printed
    assert printed["num_samples"] == 40 and printed["num_real"] == 60
    assert printed["extractor"] == "digits" and printed["dataset"] == "mnist5k"
    for key in ("fcd", "kcd", "classifier_score", "classifier_score_std"):
        assert np.isfinite(printed[key]), key
    assert printed["fcd"] > 0 and 1.0 <= printed["classifier_score"] <= 10.0


@pytest.mark.parametrize(
    "flags,named",
    [
        ([], "model_dir, saved_model, zoo"),
        (["--zoo=no_such_generator"], "no_such_generator"),
        (["--saved_model=/nonexistent", "--zoo=x"], "exactly one"),
        (["--saved_model=/nonexistent"], "saved_model=/nonexistent"),
        (["--saved_model=/tmp", "--extractor=vgg"], "extractor=vgg"),
        (["--saved_model=/tmp", "--num_samples=1"], "num_samples=1"),
    ],
)
def test_bad_flags_give_one_line_error_naming_the_flag(flags, named):
    result = run_cli(*flags)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("evaluate:")]
    assert len(error_lines) == 1 and named in error_lines[0], result.stderr


def copy_of_shipped_zoo(destination, name="cnn_sn"):
    """A zoo root holding one shipped model and its index entry, to use with BSSN_ZOO_DIR."""
    zoo_dir = os.path.join(REPO_ROOT, "zoo")
    shutil.copytree(os.path.join(zoo_dir, name), destination / name)
    with open(os.path.join(zoo_dir, "index.json")) as handle:
        index = json.load(handle)
    index["models"] = {name: index["models"][name]}
    (destination / "index.json").write_text(json.dumps(index))
    return destination


def test_zoo_models_are_scored_through_the_verifying_loader(tmp_path):
    zoo_root = copy_of_shipped_zoo(tmp_path / "zoo")
    output = tmp_path / "scores.json"
    env = {"BSSN_ZOO_DIR": str(zoo_root)}
    flags = ("--zoo=cnn_sn", "--num_samples=40", "--num_real=60", f"--output={output}")
    result = run_cli(*flags, env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(output.read_text())["model"]["zoo"] == "cnn_sn"

    variables = zoo_root / "cnn_sn" / "variables" / "variables.data-00000-of-00001"
    payload = bytearray(variables.read_bytes())
    payload[len(payload) // 2] ^= 0xFF  # one flipped byte in the weights
    variables.write_bytes(bytes(payload))
    result = run_cli(*flags, env=env)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "variables.data-00000-of-00001: sha256" in result.stderr


def test_real_statistics_are_saved_in_the_published_format_and_reused(tmp_path):
    export_tiny_generator(tmp_path / "export")
    stats = tmp_path / "real.npz"
    common = (f"--model_dir={tmp_path}", "--num_samples=40", "--batch_size=16")
    saved = run_cli(*common, "--num_real=60", f"--save_real_stats={stats}")
    assert saved.returncode == 0, saved.stderr
    first = json.loads(saved.stdout)
    with np.load(stats) as archive:
        assert sorted(archive.files) == ["mu", "sigma"] and archive["mu"].dtype == np.float64
    reused = run_cli(*common, f"--real_stats={stats}", f"--output={tmp_path / 'again.json'}")
    assert reused.returncode == 0, reused.stderr
    second = json.loads(reused.stdout)
    # Same generated images, same real statistics: the same FCD; KCD needs real images.
    assert second["fcd"] == pytest.approx(first["fcd"], rel=1e-9)
    assert second["kcd"] is None and second["num_real"] is None
    assert second["protocol"] == "custom" and second["real_stats"] == str(stats)
    assert len(second["real_stats_sha256"]) == 64 and second["seed"] == 0


@pytest.mark.parametrize(
    "flags,named",
    [
        (["--protocol=tables"], "protocol=tables"),
        (["--resize=clean"], "resize=clean"),
        (["--real_stats=/no/such.npz"], "/no/such.npz"),
        (["--protocol=paper", "--dataset=mnist5k", "--real_split=test"], "5000"),
    ],
)
def test_bad_protocol_flags_give_one_line_errors(tmp_path, flags, named):
    export_tiny_generator(tmp_path / "export")
    result = run_cli(f"--model_dir={tmp_path}", *flags)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("evaluate:")]
    assert len(error_lines) == 1 and named in error_lines[0], result.stderr


@pytest.mark.slow  # builds pytorch-fid's network and runs ours on 299 px images
def test_fid_inception_results_record_the_weights_resize_and_protocol(tmp_path):
    import torch

    from benchmarks import pytorch_fid_reference

    weights = tmp_path / "random_fid_inception.pth"
    network = pytorch_fid_reference.random_fid_inception(np.random.default_rng(0), 1)
    torch.save(network.state_dict(), weights)
    export_tiny_generator(tmp_path / "export")
    result = run_cli(
        f"--model_dir={tmp_path}",
        "--extractor=fid_inception",
        f"--fid_weights={weights}",
        "--resize=pytorch",
        "--num_samples=20",
        "--num_real=20",
        "--batch_size=10",
    )
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed["extractor"] == "fid_inception" and printed["resize"] == "pytorch"
    assert printed["weights_sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert printed["protocol"] == "custom" and printed["score_classes"] == 1000
    assert (printed["num_samples"], printed["num_real"], printed["seed"]) == (20, 20, 0)
    assert np.isfinite(printed["fcd"]) and printed["fcd"] > 0


def test_every_flag_is_a_config_field_with_the_fields_default():
    """The script builds its config from the flags named like its fields (own process:
    its flags would meet train_gan's here)."""
    script = (
        "import dataclasses\n"
        "from absl import flags\n"
        "from train import evaluate\n"
        "from bssn_tf.workflows.export_evaluation import ExportEvaluationConfig\n"
        "found = {f.name: f.default for f in flags.FLAGS.get_flags_for_module(evaluate.__name__)}\n"
        "fields = {f.name: f.default for f in dataclasses.fields(ExportEvaluationConfig)}\n"
        "assert found == fields, sorted(set(found.items()) ^ set(fields.items()))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
