"""bssn_tf.workflows.stepping: the callback sees every step, and a non-finite loss stops the run."""

import math

import pytest
import tensorflow as tf

from bssn_tf.training import TrainConfig
from bssn_tf.workflows import stepping


class ScriptedTrainer:
    """Stands in for a GANTrainer: train_step returns the next scripted losses."""

    config = TrainConfig(model_dir="unused")

    def __init__(self, losses):
        self.losses = list(losses)
        self.calls = 0
        self.step = tf.Variable(0, dtype=tf.int64)

    def train_step(self, d_iterator, g_iterator):
        assert (d_iterator, g_iterator) == ("d", "g")
        d_loss, g_loss = self.losses[self.calls]
        self.calls += 1
        self.step.assign_add(1)
        return {"d_loss": d_loss, "g_loss": g_loss}


@pytest.fixture(autouse=True)
def fake_iterators(monkeypatch):
    fake = lambda trainer, spec, image_size: ("d", "g")
    monkeypatch.setattr(stepping.inputs, "input_iterators", fake)


def test_callback_runs_before_each_step_and_after_the_last():
    trainer = ScriptedTrainer([(1.0, 2.0), (0.5, 1.5), (0.25, 1.25)])
    seen = []
    history = stepping.run_steps(trainer, 3, 28, lambda step: seen.append((step, trainer.calls)))
    # Before step k, k steps have run; the last call comes after all 3.
    assert seen == [(0, 0), (1, 1), (2, 2), (3, 3)]
    assert history == {"d_loss": [1.0, 0.5, 0.25], "g_loss": [2.0, 1.5, 1.25], "diverged_at": None}


def test_a_non_finite_loss_stops_at_that_step():
    trainer = ScriptedTrainer([(1.0, 2.0), (math.nan, 1.0), (0.5, 0.5)])
    seen = []
    history = stepping.run_steps(trainer, 3, 28, seen.append)
    assert trainer.calls == 2 and seen == [0, 1]
    assert history == {"d_loss": [1.0, None], "g_loss": [2.0, 1.0], "diverged_at": 2}
