"""Tiny training configs shared by the training tests: seconds per run on 2 CPU cores."""

from bssn_tf.training import TrainConfig

# XLA off: compiling every tiny trainer would dominate the suite's time; the
# default (XLA on) is checked by test_jit_compile_default_is_on_where_xla_works.
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
