"""The training loop's duties: when each runs, and a real SIGTERM mid-run."""

import fcntl
import os
import signal
import subprocess
import sys

import pytest
import tensorflow as tf
from tiny_runs import TINY_FLAGS

from bssn_tf.training.duties import Duty, LossHistory, finite_or_none, run_loop

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class FakeTrainer:
    """Steps a counter; its losses come from a list (NaN included)."""

    def __init__(self, losses):
        self.step = tf.Variable(0, dtype=tf.int64)
        self._losses = losses

    def train_step(self, *iterators):
        loss = self._losses[int(self.step.numpy())]
        self.step.assign_add(1)
        return {"d_loss": loss, "g_loss": -loss}


class Recorder(Duty):
    def __init__(self, every):
        super().__init__(every)
        self.steps = []

    def run(self, step, outputs):
        self.steps.append(step)


def test_each_duty_runs_at_its_interval_and_at_the_last_step():
    every_three, never = Recorder(3), Recorder(0)
    run_loop(FakeTrainer([1.0] * 10), (), 10, [every_three, never])
    assert every_three.steps == [3, 6, 9, 10] and never.steps == []


def test_the_loop_resumes_from_the_trainers_step():
    trainer, recorder = FakeTrainer([1.0] * 10), Recorder(1)
    trainer.step.assign(7)
    run_loop(trainer, (), 10, [recorder])
    assert recorder.steps == [8, 9, 10]


def test_finite_or_none():
    nan, inf = float("nan"), float("inf")
    assert [finite_or_none(v) for v in (1, -2.5, inf, -inf, nan)] == [1.0, -2.5, None, None, None]


def test_loss_history_stops_at_the_first_non_finite_loss():
    seen = []
    history = LossHistory(seen.append)
    run_loop(FakeTrainer([1.0, 0.5, float("nan"), 2.0]), (), 4, [history])
    assert history.history == {
        "d_loss": [1.0, 0.5, None],
        "g_loss": [-1.0, -0.5, None],
        "diverged_at": 3,
    }
    assert seen == [1, 2]  # called after each finite step, not after the diverged one


@pytest.mark.slow  # a real training process, stopped by a real signal
def test_sigterm_checkpoints_the_current_step_releases_the_lock_and_says_how_to_resume(
    tmp_path,
):
    model_dir = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "train.train_gan",
        f"--model_dir={model_dir}",
        "--steps=100000",
        *[flag for flag in TINY_FLAGS if not flag.startswith("--checkpoint_every")],
        "--checkpoint_every=100000",
        "--log_every=1",
    ]
    process = subprocess.Popen(
        command,
        cwd=REPO_ROOT,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    # Wait for a few steps, so that the signal arrives mid-run.
    for line in process.stderr:
        if line.startswith("step 3/"):
            break
    process.send_signal(signal.SIGTERM)
    rest = process.stderr.read()
    assert process.wait(timeout=300) == 128 + signal.SIGTERM, rest[-2000:]
    [message] = [line for line in rest.splitlines() if line.startswith("train_gan: stopped")]
    step = int(message.split("at step ")[1].split(";")[0])
    assert step >= 3
    assert message.endswith("Re-run the same command to resume.")
    assert tf.train.latest_checkpoint(str(model_dir / "checkpoints")).endswith(f"ckpt-{step}")
    with open(model_dir / ".lock", "a") as lock:  # nobody holds it any more
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    # The checkpoint is where the run resumes.
    resumed = subprocess.run(
        [*command[:4], f"--steps={step + 2}", *command[5:]],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"(resumed at step {step})" in resumed.stdout
