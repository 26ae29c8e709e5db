"""bssn_tf.workflows.parallel_runs: runs in spawned processes equal the same runs in-process."""

import dataclasses
import json
import os

import numpy as np
import pytest
import tensorflow as tf
from tiny_runs import TINY as TINY_RUN

from bssn_tf.training import TrainConfig, inputs
from bssn_tf.training.checkpoints import WALL_TIME_KEY
from bssn_tf.workflows.parallel_runs import THREAD_VARIABLES, finished, train_all, usable_cores

TINY = dict(TINY_RUN, steps=2, sample_every=0, deterministic=True)


def tiny_configs(root, seeds=(0, 1), **overrides):
    return [
        TrainConfig(model_dir=str(root / f"seed{seed}"), seed=seed, **dict(TINY, **overrides))
        for seed in seeds
    ]


def checkpoint_values(model_dir):
    """Every variable of the run's latest checkpoint, by name."""
    reader = tf.train.load_checkpoint(os.path.join(model_dir, "checkpoints"))
    return {
        name: reader.get_tensor(name)
        for name in reader.get_variable_to_shape_map()
        if "OPTIMIZER_SLOT" not in name
        and not name.startswith("_CHECKPOINTABLE")
        and not name.startswith(WALL_TIME_KEY)  # time, not training state
    }


@pytest.mark.slow  # multi-process end to end
def test_parallel_runs_equal_in_process_runs(tmp_path):
    sequential = tiny_configs(tmp_path / "sequential")
    parallel = tiny_configs(tmp_path / "parallel")
    assert train_all(sequential, processes=1) == [None, None]
    environment = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    assert train_all(parallel, processes=2) == [None, None]
    assert {name: os.environ.get(name) for name in THREAD_VARIABLES} == environment
    for one, other in zip(sequential, parallel):
        mine, theirs = checkpoint_values(one.model_dir), checkpoint_values(other.model_dir)
        assert sorted(mine) == sorted(theirs) and len(mine) > 10
        for name in mine:
            # Thread counts differ (reduction order), and Adam's first steps are
            # +-lr wherever a gradient is near 0: allow 2 steps of 2 * lr.
            np.testing.assert_allclose(theirs[name], mine[name], atol=4 * one.g_lr, err_msg=name)
    # Different seeds really give different weights, so the check above can fail.
    first, second = (checkpoint_values(config.model_dir) for config in parallel)
    assert any(np.abs(first[name] - second[name]).max() > 1e-2 for name in first)
    with open(os.path.join(parallel[0].model_dir, "export", "model_card.json")) as handle:
        threads = json.load(handle)["hardware"]["intra_op_threads"]
    assert int(threads) == max(1, usable_cores() // 2)


def test_non_finite_loss_is_returned_per_run(tmp_path, monkeypatch):
    nan_batches = lambda seed, stream, batch_size, z_dim, start: tf.data.Dataset.from_tensors(
        tf.fill([batch_size, z_dim], float("nan"))
    ).repeat()
    monkeypatch.setattr(inputs, "latent_batches", nan_batches)
    errors = train_all(tiny_configs(tmp_path, seeds=(0,)), processes=1)
    assert len(errors) == 1 and "non-finite loss at step 1" in errors[0]


def test_finished_runs_are_not_trained_again(tmp_path):
    (config,) = tiny_configs(tmp_path, seeds=(0,))
    assert not finished(config)
    assert train_all([config]) == [None]
    assert finished(config)
    card = os.path.join(config.model_dir, "export", "model_card.json")
    stamp = os.stat(card).st_mtime_ns
    assert train_all([config], processes=2) == [None]
    assert os.stat(card).st_mtime_ns == stamp
    # Cards of older runs also recorded model_dir and data_dir in their flags.
    with open(card) as handle:
        record = json.load(handle)
    record["flags"].update(model_dir=config.model_dir, data_dir=None)
    with open(card, "w") as handle:
        json.dump(record, handle)
    assert finished(config)
    assert not finished(dataclasses.replace(config, steps=4))
    assert not finished(dataclasses.replace(config, g_lr=2e-4))


def test_processes_below_one_are_refused(tmp_path):
    with pytest.raises(ValueError, match="processes must be >= 1; got 0"):
        train_all(tiny_configs(tmp_path), processes=0)
