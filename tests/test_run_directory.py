"""Run directories: one run at a time, honest resume, failed starts that change nothing,
crash debris removed, and every failure of train_gan as one line."""

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from bssn_tf.training import ConfigError, TrainConfig, train
from bssn_tf.training import loop as training_loop
from bssn_tf.training.checkpoints import WALL_TIME_KEY, CheckpointError
from bssn_tf.training.run_directory import (
    RunDirectory,
    RunDirectoryBusyError,
    RunLock,
    check_model_dir,
    record_config,
    remove_debris,
)

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)
from tiny_runs import TINY_FLAGS, tiny_config  # noqa: E402

from train import train_gan  # noqa: E402

QUIET_ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")


@pytest.fixture(scope="module")
def trained_dir(tmp_path_factory):
    """A 2-step run (checkpoint ckpt-2, g_lr 1e-4) to copy; never changed itself."""
    model_dir = tmp_path_factory.mktemp("run") / "run"
    train(tiny_config(model_dir, steps=2))
    return model_dir


@pytest.fixture
def run_copy(trained_dir, tmp_path):
    model_dir = tmp_path / "run"
    shutil.copytree(trained_dir, model_dir)
    return model_dir


def run_main(*argv):
    """Runs train_gan.main with these flags in-process; returns its exit message."""
    train_gan.flags.FLAGS.unparse_flags()
    train_gan.flags.FLAGS(["train_gan", *TINY_FLAGS, *argv])
    try:
        with pytest.raises(SystemExit) as exit_info:
            train_gan.main(["train_gan"])
    finally:
        train_gan.flags.FLAGS.unparse_flags()
    message = str(exit_info.value.code)
    assert "\n" not in message and message.startswith("train_gan: error: ")
    return message


def read_card(model_dir, folder="export"):
    with open(os.path.join(model_dir, folder, "model_card.json")) as handle:
        return json.load(handle)


def checkpoint_values(path, prefix):
    """{key: value} of a checkpoint's entries under `prefix`."""
    reader = tf.train.load_checkpoint(str(path))
    return {
        name: reader.get_tensor(name)
        for name in reader.get_variable_to_shape_map()
        if name.startswith(prefix)
    }


# --- the layout ----------------------------------------------------------------


def test_run_directory_names_every_path_of_a_run(trained_dir):
    run = RunDirectory(trained_dir)
    assert sorted(os.listdir(trained_dir)) == sorted(
        os.path.basename(path)
        for path in (run.config, run.checkpoints, run.logs, run.samples, run.export, run.lock)
    )
    assert run.sample_grid(2) == os.path.join(run.samples, "step_0000002.png")
    assert os.path.isfile(run.sample_grid(2)) and os.path.isfile(run.config)
    assert run.export_card()["steps"] == 2 and run.export_card(best=True) is None
    assert run.eval_results == os.path.join(trained_dir, "eval_metrics.json")


def test_a_best_export_made_after_the_resumed_step_is_discarded(run_copy):
    run = RunDirectory(run_copy)
    shutil.copytree(run.export, run.best_export)  # its card says step 2
    run.discard_best_export_after(2)
    assert os.path.isdir(run.best_export)
    run.discard_best_export_after(1)
    assert not os.path.exists(run.best_export)


# --- one run per directory ---------------------------------------------------

HOLD_LOCK = (
    "import sys, time\n"
    "from bssn_tf.training.run_directory import RunLock\n"
    "with RunLock(sys.argv[1]):\n"
    "    print('locked', flush=True)\n"
    "    time.sleep(600)\n"
)


def test_second_run_on_a_held_directory_exits_at_once_naming_the_holder(tmp_path):
    model_dir = tmp_path / "run"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(model_dir)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env=QUIET_ENV,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        second = subprocess.run(
            [sys.executable, "-m", "train.train_gan", f"--model_dir={model_dir}", "--steps=2"]
            + TINY_FLAGS,
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=300,
            env=QUIET_ENV,
        )
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert second.returncode == 1
    assert second.stderr.strip() == (
        f"train_gan: error: model_dir={model_dir} is in use by another training run "
        f"(pid {holder.pid}); wait for it to end or use another model_dir."
    )
    assert sorted(os.listdir(model_dir)) == [RunDirectory.LOCK]  # the second run wrote nothing
    # The holder was killed without unlocking: its lock must not block the next run.
    with RunLock(str(model_dir)):
        with open(model_dir / RunDirectory.LOCK) as handle:
            assert handle.read().strip() == str(os.getpid())


def test_lock_is_exclusive_between_open_files_of_one_process(tmp_path):
    with RunLock(str(tmp_path)):
        with pytest.raises(RunDirectoryBusyError, match=rf"\(pid {os.getpid()}\)"):
            with RunLock(str(tmp_path)):
                pass
    with RunLock(str(tmp_path)):  # released on exit
        pass


# --- honest resume -------------------------------------------------------------


def test_resume_trains_at_the_learning_rate_given_and_records_it(run_copy):
    """G at g_lr 1e-30 cannot move (an Adam step is about lr in size), D at 1e-4 must.

    Before the fix the checkpoint's g_lr 1e-4 was restored and used.
    """
    checkpoints = run_copy / "checkpoints"
    train(tiny_config(run_copy, steps=3, checkpoint_every=3, g_lr=1e-30))
    for prefix, moved in (("g_optimizer", False), ("d_optimizer", True)):
        before = checkpoint_values(checkpoints / "ckpt-2", prefix + "/_trainable_variables")
        after = checkpoint_values(checkpoints / "ckpt-3", prefix + "/_trainable_variables")
        assert before and before.keys() == after.keys()
        change = max(float(np.max(np.abs(after[name] - before[name]))) for name in before)
        # Adam moves each weight by about lr per step: 1e-4 for D, 1e-30 for G, which
        # float32 weights of size >= 1e-8 cannot even represent.
        assert (change > 1e-6) if moved else (change < 1e-25), (prefix, change)
    assert checkpoint_values(checkpoints / "ckpt-2", "g_optimizer/_learning_rate") == {
        "g_optimizer/_learning_rate/.ATTRIBUTES/VARIABLE_VALUE": np.float32(1e-4)
    }
    assert checkpoint_values(checkpoints / "ckpt-3", "g_optimizer/_learning_rate") == {
        "g_optimizer/_learning_rate/.ATTRIBUTES/VARIABLE_VALUE": np.float32(1e-30)
    }
    with open(run_copy / "config.json") as handle:
        record = json.load(handle)
    assert record["run"]["g_lr"] == 1e-30
    changes = [entry for entry in record["history"] if "g_lr" in entry["changed"]]
    assert changes == [{"start_step": 2, "changed": changes[0]["changed"]}]
    assert changes[0]["changed"]["g_lr"] == [1e-4, 1e-30]
    card = read_card(run_copy)
    assert card["flags"]["g_lr"] == 1e-30 and card["steps"] == 3
    assert card["flag_changes"][0]["start_step"] == 2
    assert card["flag_changes"][0]["changed"]["g_lr"] == [1e-4, 1e-30]


def test_wall_time_adds_up_over_resumes(tmp_path, monkeypatch):
    """With a clock that reads 0 at the start and 1000 s ever after, every start
    trains for exactly 1000 s: the second start's card must say 2000."""

    class Clock:
        def __init__(self):
            self.calls = 0

        def monotonic(self):
            self.calls += 1
            return 0.0 if self.calls == 1 else 1000.0

    model_dir = tmp_path / "run"
    for steps, expected in ((2, 1000.0), (4, 2000.0)):
        monkeypatch.setattr(training_loop, "time", Clock())
        result = train(tiny_config(model_dir, steps=steps))
        assert result["wall_time_s"] == expected
        assert read_card(model_dir)["wall_time_s"] == expected
        stored = checkpoint_values(
            tf.train.latest_checkpoint(str(model_dir / "checkpoints")), WALL_TIME_KEY
        )
        assert list(stored.values()) == [expected]


def test_card_flags_agree_with_its_steps_and_hold_no_paths(trained_dir):
    card = read_card(trained_dir)
    assert card["steps"] == card["flags"]["steps"] == 2
    assert "model_dir" not in card["flags"] and "data_dir" not in card["flags"]
    assert "flag_changes" not in card  # one start, no changes


def test_fewer_steps_than_the_checkpoint_is_refused(run_copy):
    message = run_main(f"--model_dir={run_copy}", "--steps=1")
    assert message == (
        f"train_gan: error: --steps=1 is below step 2 of the checkpoint in "
        f"model_dir={run_copy}; a run cannot go back. Pass --steps=2 to export it as it "
        "is, or more to train on."
    )


def started_run(model_dir, **flags):
    """A model_dir as a run of `flags` leaves it after its first checkpoint; returns the config."""
    config = TrainConfig(model_dir=str(model_dir), width=0.125, **flags)
    record_config(config, {}, start_step=0)
    tf.train.Checkpoint(step=tf.Variable(1)).save(str(model_dir / "checkpoints" / "ckpt"))
    return config


@pytest.mark.parametrize("norm", ["none", "sn", "bsn", "exact"])
def test_resume_with_another_scale_of_a_norm_that_ignores_it_is_allowed(tmp_path, norm):
    config = started_run(tmp_path, norm=norm, scale=1.6)
    check_model_dir(dataclasses.replace(config, scale=1.0))  # the same model: no refusal


@pytest.mark.parametrize("norm", ["ssn", "bssn"])
def test_resume_with_another_scale_of_a_scaled_norm_is_refused(tmp_path, norm):
    config = started_run(tmp_path, norm=norm, scale=1.6)
    with pytest.raises(ConfigError, match=r"scale=1\.6 \(now 1\.0\)"):
        check_model_dir(dataclasses.replace(config, scale=1.0))


# --- failed starts change nothing, and say so in one line ----------------------


def config_bytes(model_dir):
    return (model_dir / "config.json").read_bytes()


def test_other_mixed_precision_is_refused_before_config_json_changes(run_copy):
    before = config_bytes(run_copy)
    message = run_main(f"--model_dir={run_copy}", "--steps=4", "--mixed_precision=mixed_float16")
    assert "mixed_precision='none' (now 'mixed_float16')" in message
    assert config_bytes(run_copy) == before


def test_damaged_checkpoint_is_one_line_and_changes_nothing(run_copy):
    data_file = run_copy / "checkpoints" / "ckpt-2.data-00000-of-00001"
    payload = bytearray(data_file.read_bytes())
    middle = len(payload) // 2
    payload[middle : middle + 64] = bytes(64)  # zeros over float weights: the CRC no longer holds
    data_file.write_bytes(bytes(payload))
    before = config_bytes(run_copy)
    message = run_main(f"--model_dir={run_copy}", "--steps=4")
    assert message.startswith(
        f"train_gan: error: checkpoint {run_copy}/checkpoints/ckpt-2 cannot be restored "
        "(DataLossError: "
    )
    assert "Checksum does not match" in message and "function_node" not in message
    assert config_bytes(run_copy) == before
    assert not (run_copy / "checkpoints" / "ckpt-4.index").exists()


@pytest.mark.parametrize("content", [b'{"model": ', b"\xff\xfe", b"[1, 2]"])
def test_corrupted_config_json_is_one_line_and_kept(tmp_path, content):
    (tmp_path / "config.json").write_bytes(content)
    message = run_main(f"--model_dir={tmp_path}", "--steps=2")
    assert message.startswith(f"train_gan: error: --model_dir={tmp_path}: {tmp_path}/config.json ")
    assert "restore it or use a new model_dir" in message
    assert (tmp_path / "config.json").read_bytes() == content


def test_model_dir_that_is_a_file_or_under_one(tmp_path):
    a_file = tmp_path / "a_file"
    a_file.write_text("not a folder")
    assert run_main(f"--model_dir={a_file}", "--steps=2") == (
        f"train_gan: error: --model_dir={a_file} cannot be created: File exists."
    )
    assert run_main(f"--model_dir={a_file}/run", "--steps=2") == (
        f"train_gan: error: --model_dir={a_file}/run cannot be created: Not a directory."
    )


def test_tpu_strategy_without_a_tpu(tmp_path):
    message = run_main(f"--model_dir={tmp_path}", "--steps=2", "--strategy=tpu")
    assert message.startswith("train_gan: error: --strategy=tpu cannot start here: ")
    assert not os.listdir(tmp_path)


def test_disk_full_during_a_checkpoint_keeps_the_previous_one(run_copy, monkeypatch):
    """A save that dies mid-write, as on a full disk: it leaves its temporary folder,
    then TensorFlow raises ResourceExhaustedError."""
    real_save = tf.train.CheckpointManager.save

    def save_on_a_full_disk(manager, checkpoint_number=None, **kwargs):
        if checkpoint_number == 4:
            partial = os.path.join(manager.directory, "ckpt-4_temp")
            os.makedirs(partial)
            with open(os.path.join(partial, "part-00000-of-00001.data-00000-of-00001"), "wb"):
                pass
            raise tf.errors.ResourceExhaustedError(None, None, "No space left on device")
        return real_save(manager, checkpoint_number=checkpoint_number, **kwargs)

    monkeypatch.setattr(tf.train.CheckpointManager, "save", save_on_a_full_disk)
    checkpoints = run_copy / "checkpoints"
    with pytest.raises(CheckpointError) as error:
        train(tiny_config(run_copy, steps=4))
    assert str(error.value) == (
        f"checkpoint of step 4 could not be written to {checkpoints} (ResourceExhaustedError: "
        f"No space left on device). The last good checkpoint is {checkpoints}/ckpt-2. It is "
        "intact; free space and re-run the same command to resume from it."
    )
    assert tf.train.latest_checkpoint(str(checkpoints)) == f"{checkpoints}/ckpt-2"
    assert (checkpoints / "ckpt-4_temp").is_dir()
    monkeypatch.undo()
    result = train(tiny_config(run_copy, steps=4))  # resumes from the intact ckpt-2
    assert result["start_step"] == 2 and result["steps"] == 4
    assert not (checkpoints / "ckpt-4_temp").exists()
    assert tf.train.latest_checkpoint(str(checkpoints)) == f"{checkpoints}/ckpt-4"


def test_os_error_during_training_is_one_line_naming_the_file(run_copy, monkeypatch):
    def full_disk(path, images, columns=None):
        raise OSError(28, "No space left on device", path)

    monkeypatch.setattr(training_loop, "write_grid_png", full_disk)
    message = run_main(f"--model_dir={run_copy}", "--steps=4")
    assert message == (
        "train_gan: error: [Errno 28] No space left on device: "
        f"'{run_copy}/samples/step_0000004.png'"
    )


# --- crash debris ----------------------------------------------------------------


def test_crash_debris_is_removed_and_nothing_else(tmp_path):
    model_dir = tmp_path
    checkpoints = model_dir / "checkpoints"
    manager = tf.train.CheckpointManager(
        tf.train.Checkpoint(v=tf.Variable(1.0)), str(checkpoints), max_to_keep=3
    )
    manager.save(checkpoint_number=2)
    kept = sorted(os.listdir(checkpoints))
    debris = [
        model_dir / ".export-abc123",
        model_dir / ".retired-xyz" / "export",
        model_dir / ".tmp-9f8e.json",
        model_dir / "samples" / ".tmp-1.png",
        checkpoints / "ckpt-4_temp" / "part-00000-of-00001.index",
        checkpoints / "ckpt-4.index",  # written, but the failed save never listed it
        checkpoints / "ckpt-4.data-00000-of-00001",
    ]
    for path in debris:
        if path.suffix or path.name.startswith("ckpt-4."):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"partial")
        else:
            path.mkdir(parents=True)
    for name in ("export", "metrics.csv", "config.json", "samples/step_0000002.png"):
        (model_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (model_dir / name).write_text("keep")
    removed = remove_debris(str(model_dir))
    assert sorted(removed) == sorted(
        str(path)
        for path in (
            model_dir / ".export-abc123",
            model_dir / ".retired-xyz",
            model_dir / ".tmp-9f8e.json",
            model_dir / "samples" / ".tmp-1.png",
            checkpoints / "ckpt-4_temp",
            checkpoints / "ckpt-4.index",
            checkpoints / "ckpt-4.data-00000-of-00001",
        )
    )
    assert sorted(os.listdir(checkpoints)) == kept
    assert sorted(os.listdir(model_dir)) == [
        "checkpoints",
        "config.json",
        "export",
        "metrics.csv",
        "samples",
    ]
    assert os.listdir(model_dir / "samples") == ["step_0000002.png"]


# --- real read-only and full filesystems (a private tmpfs mount) ---------------


def can_mount_tmpfs(tmp_path):
    probe = tmp_path / "probe"
    probe.mkdir()
    try:
        result = subprocess.run(
            ["unshare", "-m", "sh", "-c", f"mount -t tmpfs -o size=64k none {probe}"],
            capture_output=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def in_private_tmpfs(tmp_path, setup, command):
    """Runs `setup` then `command` (shell) with a tmpfs mounted at tmp_path/mnt in a
    private mount namespace; returns command's CompletedProcess (after setup)."""
    mount_point = tmp_path / "mnt"
    mount_point.mkdir()
    script = f"set -e\n{setup}\nset +e\n{command}\n"
    return subprocess.run(
        ["unshare", "-m", "sh", "-c", script],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=400,
        env=QUIET_ENV,
    )


@pytest.mark.slow
def test_read_only_filesystem_and_full_disk_are_one_line(trained_dir, tmp_path):
    if not can_mount_tmpfs(tmp_path):
        pytest.skip("needs `unshare -m` and tmpfs mounts (root or user namespaces)")
    mnt = tmp_path / "mnt"
    train_gan_cmd = f"{sys.executable} -m train.train_gan {' '.join(TINY_FLAGS)}"
    read_only = in_private_tmpfs(
        tmp_path,
        f"mount -t tmpfs -o size=4m none {mnt}\ncp -r {trained_dir} {mnt}/run\n"
        f"mount -o remount,ro {mnt}",
        f"{train_gan_cmd} --model_dir={mnt}/run --steps=4",
    )
    assert read_only.returncode == 1, read_only.stderr[-2000:]
    assert read_only.stderr.strip() == (
        f"train_gan: error: --model_dir={mnt}/run is not writable: cannot open "
        f"{mnt}/run/.lock for writing (Read-only file system)."
    )

    # Room for the copied run (exports left out) and the small files of steps 3
    # and 4, not for a second checkpoint: its ~100 kB data file fills the disk.
    mnt.rmdir()
    used_kib = sum(
        -(-os.path.getsize(os.path.join(folder, name)) // 4096) * 4
        for folder, _, names in os.walk(trained_dir)
        if "export" not in folder
        for name in names
    )
    kept = tmp_path / "kept_checkpoints"
    full = in_private_tmpfs(
        tmp_path,
        f"mount -t tmpfs -o size={used_kib + 64}k none {mnt}\nmkdir {mnt}/run\n"
        f"cd {trained_dir} && cp -r checkpoints samples logs config.json {mnt}/run/ && cd -",
        f"{train_gan_cmd} --model_dir={mnt}/run --steps=4; status=$?\n"
        f"cp -r {mnt}/run/checkpoints {kept}\nexit $status",
    )
    assert full.returncode == 1, full.stderr[-2000:]
    *progress, message = full.stderr.strip().splitlines()
    assert all(line.startswith("step ") for line in progress), progress
    assert "ResourceExhaustedError" in message and "No space left on device" in message
    assert message.startswith(
        f"train_gan: error: checkpoint of step 4 could not be written to {mnt}/run/checkpoints"
    ), message
    assert message.endswith(
        f"The last good checkpoint is {mnt}/run/checkpoints/ckpt-2. It is intact; free "
        "space and re-run the same command to resume from it."
    )
    assert tf.train.get_checkpoint_state(str(kept)).model_checkpoint_path.endswith("ckpt-2")
    expected = checkpoint_values(trained_dir / "checkpoints" / "ckpt-2", "generator/")
    intact = checkpoint_values(kept / "ckpt-2", "generator/")
    assert expected and intact.keys() == expected.keys()
    for name, value in expected.items():
        np.testing.assert_array_equal(intact[name], value)


def test_every_start_refusal_happens_before_any_training_step(run_copy):
    """Refused starts return at once: no step, sample or log file is added."""
    before = sorted(str(path.relative_to(run_copy)) for path in run_copy.rglob("*"))
    with pytest.raises(ConfigError):
        train(tiny_config(run_copy, steps=1))
    after = sorted(str(path.relative_to(run_copy)) for path in run_copy.rglob("*"))
    assert after == before
