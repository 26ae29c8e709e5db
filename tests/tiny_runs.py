"""Tiny training configs shared by the training tests: seconds per run on 2 CPU cores."""

from bssn_tf.training import TrainConfig

# XLA off: compiling every tiny trainer would dominate the suite's time; the
# default (the faster path for the machine, XLA or not) is checked by the
# test_jit_compile_default_* tests in test_training.py.
TINY = dict(
    width=0.125,
    batch_size=8,
    z_dim=8,
    log_every=2,
    sample_every=2,
    checkpoint_every=2,
    jit_compile=False,
)
# The same settings as train_gan flags.
TINY_FLAGS = [
    "--width=0.125",
    "--batch_size=8",
    "--z_dim=8",
    "--log_every=2",
    "--sample_every=2",
    "--checkpoint_every=2",
    "--nojit_compile",
]


def tiny_config(model_dir, **overrides):
    return TrainConfig(model_dir=str(model_dir), **dict(TINY, **overrides))
