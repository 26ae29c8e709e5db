"""Training library and train/train_gan.py: schedule, resume, NaN stop, strategies, export, CLI."""

import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from bssn_tf import data, models
from bssn_tf.training import (
    ConfigError,
    GANTrainer,
    NonFiniteLossError,
    TrainConfig,
    inputs,
    jit_choice,
    train,
)
from bssn_tf.training.checkpoints import WALL_TIME_KEY
from bssn_tf.training.strategies import make_strategy

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)
from tiny_runs import TINY_FLAGS, tiny_config  # noqa: E402

from train import train_gan  # noqa: E402


def make_trainer(config, strategy):
    keras.utils.set_random_seed(config.seed)
    trainer = GANTrainer.for_config(config, strategy, 28, 1)
    d_inputs = iter(
        strategy.experimental_distribute_dataset(
            inputs.discriminator_inputs(config, data.DATASETS[config.dataset], 28, 0)
        )
    )
    g_inputs = iter(strategy.experimental_distribute_dataset(inputs.generator_inputs(config, 0)))
    return trainer, lambda: trainer.train_step(d_inputs, g_inputs)


def l2n(x):
    return x / (np.linalg.norm(x) + 1e-12)


def power_step(u, matrix):
    return l2n(l2n(u @ matrix.T) @ matrix)


@pytest.mark.parametrize("norm", ["sn", "bsn"])
def test_u_advances_exactly_once_per_discriminator_step(tmp_path, norm):
    trainer, step = make_trainer(tiny_config(tmp_path, norm=norm), tf.distribute.get_strategy())
    wrappers = models.spectral_layers(trainer.discriminator)
    for _ in range(3):
        before = [(w.layer.kernel.numpy(), w.u.numpy(), getattr(w, "u2", None)) for w in wrappers]
        before = [(k, u, None if u2 is None else u2.numpy()) for k, u, u2 in before]
        step()
        for wrapper, (kernel, u, u2) in zip(wrappers, before):
            fan_in = kernel.reshape(-1, kernel.shape[-1])
            np.testing.assert_allclose(wrapper.u.numpy(), power_step(u, fan_in), atol=2e-5)
            assert u.size == 1 or not np.allclose(wrapper.u.numpy(), u)
            if norm == "bsn":
                fan_out = np.swapaxes(kernel, -1, -2).reshape(-1, kernel.shape[-2])
                np.testing.assert_allclose(wrapper.u2.numpy(), power_step(u2, fan_out), atol=2e-5)


# /proc/cpuinfo as the two measured machines show it (one core, flags shortened).
AMD_EPYC_AVX2 = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 7B12
flags\t\t: fpu vme de pse tsc msr sse sse2 ssse3 fma sse4_1 sse4_2 avx f16c avx2 bmi2 sha_ni
"""
INTEL_XEON_AVX512 = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Processor
flags\t\t: fpu vme sse sse2 fma avx avx2 avx512f avx512dq avx512bw avx512vl amx_tile amx_bf16
"""
ARM_NO_FLAGS_LINE = "processor\t: 0\nFeatures\t: fp asimd evtstrm aes crc32\n"


@pytest.fixture
def machine(monkeypatch):
    """`machine(cpuinfo, onednn=None)` makes jit_choice see that CPU and no GPU/TPU."""

    def use(cpuinfo, onednn=None):
        monkeypatch.setattr(jit_choice, "visible_accelerator", lambda: None)
        monkeypatch.setattr(jit_choice, "read_cpuinfo", lambda: cpuinfo)
        if onednn is None:
            monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
        else:
            monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", onednn)

    return use


def test_cpu_flags_are_read_from_cpuinfo_text():
    amd = jit_choice.cpu_flags(AMD_EPYC_AVX2)
    assert "avx2" in amd and "fma" in amd and "avx512f" not in amd
    assert {"avx512f", "amx_tile"} <= jit_choice.cpu_flags(INTEL_XEON_AVX512)
    for unreadable in (None, "", ARM_NO_FLAGS_LINE):
        assert jit_choice.cpu_flags(unreadable) is None
    assert jit_choice.read_cpuinfo(os.path.join(REPO_ROOT, "no_such_cpuinfo")) is None


@pytest.mark.parametrize(
    "cpuinfo, onednn, expected, reason",
    [
        (AMD_EPYC_AVX2, None, True, "without avx512f"),
        (AMD_EPYC_AVX2, "0", True, "without avx512f"),
        (INTEL_XEON_AVX512, None, False, "oneDNN kernels"),
        (INTEL_XEON_AVX512, "1", False, "oneDNN kernels"),
        (INTEL_XEON_AVX512, "0", True, "TF_ENABLE_ONEDNN_OPTS"),
        (INTEL_XEON_AVX512, " False ", True, "TF_ENABLE_ONEDNN_OPTS"),
        (None, None, True, "flags unknown"),
        (ARM_NO_FLAGS_LINE, None, True, "flags unknown"),
    ],
)
def test_jit_compile_default_is_the_faster_path_for_the_cpu(
    tmp_path, machine, cpuinfo, onednn, expected, reason
):
    machine(cpuinfo, onednn)
    config = TrainConfig(model_dir=str(tmp_path))
    assert config.jit_compile is None and config.resolved_jit_compile is expected
    assert reason in config.jit_compile_choice[1]
    for strategy in ("mirrored", "multiworker"):  # XLA cannot compile them
        assert not TrainConfig(model_dir=str(tmp_path), strategy=strategy).resolved_jit_compile
    assert TrainConfig(model_dir=str(tmp_path), strategy="tpu").resolved_jit_compile
    for explicit in (True, False):  # the flag wins over the machine
        config = TrainConfig(model_dir=str(tmp_path), jit_compile=explicit)
        assert config.jit_compile_choice == (
            explicit,
            f"set by --{'' if explicit else 'no'}jit_compile",
        )


def test_jit_compile_default_is_on_with_an_accelerator(tmp_path, machine, monkeypatch):
    machine(INTEL_XEON_AVX512)
    monkeypatch.setattr(jit_choice, "visible_accelerator", lambda: "GPU")
    use_xla, reason = TrainConfig(model_dir=str(tmp_path)).jit_compile_choice
    assert use_xla and reason.startswith("GPU visible")
    config = TrainConfig(model_dir=str(tmp_path), strategy="mirrored")
    assert not config.resolved_jit_compile


def test_the_trainer_compiles_as_the_config_resolves(tmp_path, machine):
    with pytest.raises(ConfigError, match="jit_compile must be True, False or None"):
        TrainConfig(model_dir=str(tmp_path), jit_compile="yes")
    for cpuinfo, expected in ((AMD_EPYC_AVX2, True), (INTEL_XEON_AVX512, False)):
        machine(cpuinfo)
        trainer = GANTrainer.for_config(
            TrainConfig(model_dir=str(tmp_path), width=0.125), tf.distribute.get_strategy(), 28, 1
        )
        assert trainer._d_replica_step._jit_compile is expected
        assert trainer._g_replica_step._jit_compile is expected


def test_config_json_records_the_compile_choice_and_a_moved_run_resumes(tmp_path, machine):
    """The choice is the machine's, not the run's: another machine's choice is no reason
    to refuse a resume, and each start records its own."""
    model_dir = tmp_path / "run"
    machine(INTEL_XEON_AVX512)  # no XLA: the tiny runs stay fast
    train(tiny_config(model_dir, steps=2, jit_compile=None))
    record = json.loads((model_dir / "config.json").read_text())
    intel = TrainConfig(model_dir=str(model_dir)).jit_compile_choice
    assert record["compile"] == {"jit_compile": False, "reason": intel[1]}
    assert record["run"]["jit_compile"] is None and "compile" not in record["run"]
    assert "compile" not in record["model"]
    # The run as an AVX2 machine would have left it: XLA steps, the same checkpoint.
    machine(AMD_EPYC_AVX2)
    amd = TrainConfig(model_dir=str(model_dir)).jit_compile_choice
    record["compile"] = {"jit_compile": amd[0], "reason": amd[1]}
    (model_dir / "config.json").write_text(json.dumps(record))
    machine(INTEL_XEON_AVX512)
    assert train(tiny_config(model_dir, steps=4, jit_compile=None))["steps"] == 4
    resumed = json.loads((model_dir / "config.json").read_text())
    assert resumed["compile"] == {"jit_compile": False, "reason": intel[1]}
    assert resumed["history"] == [{"start_step": 2, "changed": {"steps": [2, 4]}}]
    # An explicit flag is recorded as such.
    train(tiny_config(model_dir, steps=4, jit_compile=False))
    explicit = json.loads((model_dir / "config.json").read_text())
    assert explicit["compile"] == {"jit_compile": False, "reason": "set by --nojit_compile"}


def test_mirrored_on_two_devices_matches_default(tmp_path):
    config = tiny_config(tmp_path, strategy="mirrored")
    mirrored = make_strategy("mirrored")
    assert mirrored.num_replicas_in_sync == 2
    losses = {}
    for name, strategy in (("default", tf.distribute.get_strategy()), ("mirrored", mirrored)):
        _, step = make_trainer(config, strategy)
        losses[name] = [
            [float(out["d_loss"]), float(out["g_loss"])] for out in (step() for _ in range(2))
        ]
    np.testing.assert_allclose(losses["mirrored"], losses["default"], rtol=1e-4, atol=1e-5)


@pytest.fixture(scope="module")
def trained_dir(tmp_path_factory):
    """A 2-step run with a checkpoint, samples and an export."""
    model_dir = tmp_path_factory.mktemp("run")
    result = train(tiny_config(model_dir, steps=2))
    assert result["steps"] == 2
    return model_dir


def test_export_reloads_with_serving_signature_and_card(trained_dir):
    export_dir = os.path.join(trained_dir, "export")
    serving = tf.saved_model.load(export_dir).signatures["serving_default"]
    images = serving(z=tf.random.normal([5, 8]))["images"].numpy()
    assert images.shape == (5, 28, 28, 1) and images.dtype == np.float32
    assert np.all(np.abs(images) <= 1.0)
    with open(os.path.join(export_dir, "model_card.json")) as handle:
        card = json.load(handle)
    assert card["steps"] == 2 and card["z_dim"] == 8
    assert card["flags"]["norm"] == "bssn" and card["flags"]["width"] == 0.125
    assert "tensorflow" in card["software"]
    assert os.path.exists(os.path.join(trained_dir, "samples", "step_0000002.png"))


def test_non_finite_loss_stops_and_keeps_last_good_checkpoint(trained_dir, tmp_path, monkeypatch):
    model_dir = tmp_path / "run"
    shutil.copytree(trained_dir, model_dir)
    nan_batches = lambda seed, stream, batch_size, z_dim, start: tf.data.Dataset.from_tensors(
        tf.fill([batch_size, z_dim], float("nan"))
    ).repeat()
    monkeypatch.setattr(inputs, "latent_batches", nan_batches)
    with pytest.raises(
        NonFiniteLossError,
        match=r"non-finite loss at step 3.*ckpt-2\. A re-run with a smaller g_lr or d_lr "
        r"trains at the new rate from it\.$",
    ):
        train(tiny_config(model_dir, steps=4))
    checkpoints = model_dir / "checkpoints"
    assert tf.train.latest_checkpoint(str(checkpoints)).endswith("ckpt-2")
    assert not list(checkpoints.glob("ckpt-3*"))
    restored = GANTrainer.for_config(tiny_config(model_dir), tf.distribute.get_strategy(), 28, 1)
    wall_time = tf.Variable(0.0, dtype=tf.float64)
    tf.train.Checkpoint(**restored.checkpointables(), **{WALL_TIME_KEY: wall_time}).restore(
        str(checkpoints / "ckpt-2")
    ).assert_consumed()
    assert int(restored.step.numpy()) == 2
    assert all(np.isfinite(v.numpy()).all() for v in restored.discriminator.variables)


RESUME_SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    from bssn_tf.training import TrainConfig, train
    from bssn_tf.training.checkpoints import WALL_TIME_KEY
    import tensorflow as tf

    def config(model_dir, steps):
        return TrainConfig(model_dir=model_dir, steps=steps, width=0.125, batch_size=8, z_dim=8,
                           checkpoint_every=3, sample_every=0, log_every=3, deterministic=True)

    straight, interrupted = sys.argv[1], sys.argv[2]
    train(config(straight, 6))
    train(config(interrupted, 3))
    train(config(interrupted, 6))
    weights = []
    for model_dir in (straight, interrupted):
        reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(model_dir + "/checkpoints"))
        names = sorted(reader.get_variable_to_shape_map())
        # The wall time differs between the two runs; every other value must not.
        weights.append({name: reader.get_tensor(name) for name in names
                        if "OBJECT_GRAPH" not in name and WALL_TIME_KEY not in name})
    assert weights[0].keys() == weights[1].keys()
    print(max(float(np.max(np.abs(np.asarray(weights[0][n], np.float64) - weights[1][n])))
              for n in weights[0] if np.asarray(weights[0][n]).dtype != object))
""")


@pytest.mark.slow  # multi-process end to end
def test_resume_is_exact_with_op_determinism(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", RESUME_SCRIPT, str(tmp_path / "a"), str(tmp_path / "b")],
        capture_output=True,
        text=True,
        timeout=400,
        cwd=REPO_ROOT,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert float(result.stdout.strip().splitlines()[-1]) == 0.0


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


@pytest.mark.slow  # multi-process end to end
def test_multiworker_on_two_local_workers(tmp_path):
    workers = [f"127.0.0.1:{port}" for port in free_ports(2)]
    processes = []
    for index in range(2):
        tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        processes.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "train.train_gan",
                    "--strategy=multiworker",
                    "--steps=2",
                    "--width=0.125",
                    "--batch_size=8",
                    "--z_dim=8",
                    "--log_every=1",
                    "--checkpoint_every=2",
                    "--sample_every=0",
                    f"--model_dir={tmp_path}",
                ],
                cwd=REPO_ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=dict(os.environ, TF_CONFIG=json.dumps(tf_config), TF_CPP_MIN_LOG_LEVEL="3"),
            )
        )
    try:
        outputs = [process.communicate(timeout=300) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    for process, (_, stderr) in zip(processes, outputs):
        assert process.returncode == 0, stderr[-3000:]
    assert tf.train.latest_checkpoint(str(tmp_path / "checkpoints")).endswith("ckpt-2")
    assert os.path.isdir(tmp_path / "export")
    assert not [name for name in os.listdir(tmp_path) if name.endswith("_checkpoints")]


def run_main(*argv):
    """Runs train_gan.main with these flags in-process; returns its exit message."""
    train_gan.flags.FLAGS.unparse_flags()
    train_gan.flags.FLAGS(["train_gan", *argv])
    try:
        with pytest.raises(SystemExit) as exit_info:
            train_gan.main(["train_gan"])
    finally:
        train_gan.flags.FLAGS.unparse_flags()
    return str(exit_info.value.code)


@pytest.mark.parametrize(
    "flag,value",
    [
        ("dataset", "cifar11"),
        ("arch", "vgg"),
        ("norm", "bsnn"),
        ("g_lr", "0"),
        ("d_lr", "-0.5"),
        ("steps", "0"),
        ("batch_size", "-8"),
        ("image_size", "30"),
        ("eval_extractor", "vgg"),
        ("num_classes", "7"),
    ],
)
def test_bad_flag_is_one_line_naming_it(tmp_path, flag, value):
    message = run_main(f"--model_dir={tmp_path}", f"--{flag}={value}")
    assert "\n" not in message and message.startswith(f"train_gan: error: --{flag}")
    assert value in message


def test_batch_not_divisible_by_replicas(tmp_path):
    message = run_main(f"--model_dir={tmp_path}", "--strategy=mirrored", "--batch_size=7")
    assert "\n" not in message and message.startswith("train_gan: error: --batch_size=7")


def test_model_dir_with_other_model_flags_is_refused(trained_dir):
    message = run_main(f"--model_dir={trained_dir}", "--width=0.25", "--batch_size=8", "--z_dim=8")
    assert "\n" not in message and message.startswith("train_gan: error: --model_dir=")
    assert "width=0.125 (now 0.25)" in message


def test_cli_error_has_no_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "train.train_gan", f"--model_dir={tmp_path}", "--norm=bsnn"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("train_gan: error: --norm")


def test_more_real_images_than_the_split_holds_is_one_line_naming_the_flag(tmp_path):
    # mnist5k's train split holds 4,000 images; the evaluator is built before config.json.
    result = subprocess.run(
        [sys.executable, "-m", "train.train_gan", f"--model_dir={tmp_path}", *TINY_FLAGS]
        + ["--steps=1", "--eval_every=1", "--eval_num_real=4001"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "train_gan: error: --eval_num_real=4001 is more than the 4000 images of the train "
        "split of dataset=mnist5k; pass 4000 or fewer."
    )
    assert not (tmp_path / "config.json").exists()


def test_a_batch_larger_than_the_image_folder_is_refused_before_anything_is_written(tmp_path):
    from PIL import Image

    folder = tmp_path / "images"
    folder.mkdir()
    for index in range(5):
        pixels = np.random.default_rng(index).integers(0, 256, (32, 32, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"{index}.png")
    config = tiny_config(
        tmp_path / "run", dataset=f"folder:{folder}", image_size=28, data_dir=str(tmp_path / "d")
    )
    with pytest.raises(ConfigError, match=r"^batch_size=8 is more than the 5 images of "):
        train(config)
    assert not (tmp_path / "run" / "config.json").exists()
