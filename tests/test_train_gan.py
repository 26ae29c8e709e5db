"""train/train_gan.py: its flags are TrainConfig's fields, with the same defaults and choices."""

import dataclasses
import os
import re
import sys

from absl import flags

from bssn_tf.extractors.registry import EXTRACTOR_NAMES
from bssn_tf.layers import DEFAULT_BSSN_SCALE
from bssn_tf.models.architectures import ARCHS
from bssn_tf.models.normalization import NORMS
from bssn_tf.training import LOSSES, TrainConfig
from bssn_tf.training.config import MIXED_PRECISION, RESOLVED_FIELDS, STRATEGIES

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from train import train_gan  # noqa: E402

FIELDS = {
    field.name: field.default
    for field in dataclasses.fields(TrainConfig)
    if field.name not in RESOLVED_FIELDS
}
SCRIPT_FLAGS = {flag.name: flag for flag in flags.FLAGS.get_flags_for_module(train_gan.__name__)}


def test_every_field_is_a_flag_and_every_flag_a_field():
    assert sorted(SCRIPT_FLAGS) == sorted(FIELDS)


def test_every_flag_default_is_the_fields_default():
    differing = {
        name: (flag.default, FIELDS[name])
        for name, flag in SCRIPT_FLAGS.items()
        if name not in ("model_dir", "scale") and flag.default != FIELDS[name]
    }
    assert differing == {}
    # model_dir has no default; --scale unset leaves TrainConfig's.
    assert SCRIPT_FLAGS["model_dir"].default is None and FIELDS["model_dir"] is dataclasses.MISSING
    assert SCRIPT_FLAGS["scale"].default is None and FIELDS["scale"] == DEFAULT_BSSN_SCALE


def test_the_help_names_every_choice():
    for name, choices in (
        ("arch", ARCHS),
        ("norm", NORMS),
        ("loss", LOSSES),
        ("strategy", STRATEGIES),
        ("mixed_precision", MIXED_PRECISION),
        ("eval_extractor", EXTRACTOR_NAMES),
    ):
        words = set(re.findall(r"[a-z0-9_]+", SCRIPT_FLAGS[name].help))
        assert set(choices) <= words, name


def test_flags_make_the_config_they_name(tmp_path):
    flags.FLAGS.unparse_flags()
    flags.FLAGS(["train_gan", f"--model_dir={tmp_path}", "--norm=sn", "--steps=7"])
    try:
        config = train_gan.config_from_flags()
    finally:
        flags.FLAGS.unparse_flags()
    assert config == TrainConfig(model_dir=str(tmp_path), norm="sn", steps=7)
