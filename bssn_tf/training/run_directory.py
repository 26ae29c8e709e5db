"""model_dir bookkeeping: refusing foreign checkpoints, and writing files atomically."""

import dataclasses
import json
import os

import tensorflow as tf

from bssn_tf.io import write_json_atomically
from bssn_tf.training.config import ConfigError

CONFIG_FILE = "config.json"
CHECKPOINT_DIR = "checkpoints"


def checkpoint_dir(model_dir):
    return os.path.join(model_dir, CHECKPOINT_DIR)


def claim_model_dir(config, write):
    """Ensures `model_dir` holds no checkpoint of other model flags; records ours.

    `config.json` keeps the model-defining fields (`TrainConfig.MODEL_FIELDS`);
    a re-run with the same values resumes, any difference is refused.
    """
    path = os.path.join(config.model_dir, CONFIG_FILE)
    has_checkpoint = tf.train.latest_checkpoint(checkpoint_dir(config.model_dir)) is not None
    wanted = config.model_fields()
    if os.path.exists(path):
        with open(path) as handle:
            stored = json.load(handle).get("model", {})
        # A field added after the run was made has its default there.
        defaults = {field.name: field.default for field in dataclasses.fields(config)}
        stored = {name: stored.get(name, defaults[name]) for name in wanted}
        differing = [
            f"{name}={stored[name]!r} (now {wanted[name]!r})"
            for name in wanted
            if stored[name] != wanted[name]
        ]
        if differing and has_checkpoint:
            raise ConfigError(
                f"model_dir={config.model_dir} holds a checkpoint made with other model "
                f"flags: {', '.join(differing)}; use a new model_dir or the same flags."
            )
    elif has_checkpoint:
        raise ConfigError(
            f"model_dir={config.model_dir} holds a checkpoint but no {CONFIG_FILE}, so its "
            "model flags are unknown; use a new model_dir."
        )
    if write:
        os.makedirs(config.model_dir, exist_ok=True)
        write_json_atomically(path, {"model": wanted, "run": config.as_dict()})
