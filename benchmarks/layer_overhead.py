"""Time of one full GAN training step per discriminator normalization, as a ratio to none.

The reference CNN (docs/DESIGN.md, "The reference training protocol") at
32x32x3, batch 64, hinge loss, n_dis 1, run by
`bssn_tf.training.GANTrainer` (so the step is the library's own: D step with
the power-iteration hold, then G step). Variants: no normalization,
`keras.layers.SpectralNormalization` (which overwrites the kernel in place and
advances u on every training call), and bssn_tf's sn, bssn and exact modes.
Every variant is timed with and without jit_compile in the same process.

  python benchmarks/layer_overhead.py [--repeats=10] [--warmup=3]
"""

import os
import statistics
import time

from absl import app, flags

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

_REPEATS = flags.DEFINE_integer("repeats", 10, "Timed steps per variant (median is reported).")
_WARMUP = flags.DEFINE_integer("warmup", 3, "Untimed steps per variant (tracing, XLA compile).")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 64, "Batch size.")

IMAGE_SIZE = 32
CHANNELS = 3
VARIANTS = ("none", "keras_sn", "sn", "bssn", "exact")


def _make_discriminator(variant):
    import keras

    from bssn_tf import models

    if variant != "keras_sn":
        return lambda: models.cnn_discriminator(IMAGE_SIZE, CHANNELS, norm=variant, scale=1.0)

    def keras_sn_discriminator():
        bare = models.cnn_discriminator(IMAGE_SIZE, CHANNELS, norm="none")

        def wrap(layer):
            clone = layer.__class__.from_config(layer.get_config())
            if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
                return keras.layers.SpectralNormalization(clone)
            return clone

        return keras.models.clone_model(bare, clone_function=wrap)

    return keras_sn_discriminator


def _step_seconds(variant, jit_compile):
    import keras
    import tensorflow as tf

    from bssn_tf import models
    from bssn_tf.training import GANTrainer, TrainConfig

    config = TrainConfig(
        model_dir="unused", dataset="cifar10", batch_size=_BATCH_SIZE.value, jit_compile=jit_compile
    )
    strategy = tf.distribute.get_strategy()
    keras.utils.set_random_seed(0)
    trainer = GANTrainer(
        config,
        strategy,
        lambda: models.cnn_generator(IMAGE_SIZE, CHANNELS, config.z_dim),
        _make_discriminator(variant),
    )
    real = tf.random.uniform([config.batch_size, IMAGE_SIZE, IMAGE_SIZE, CHANNELS], -1, 1)
    z = tf.random.normal([config.batch_size, config.z_dim])
    d_inputs = iter(tf.data.Dataset.from_tensors((real, z)).repeat())
    g_inputs = iter(tf.data.Dataset.from_tensors(z).repeat())
    for _ in range(_WARMUP.value):
        trainer.train_step(d_inputs, g_inputs)["d_loss"].numpy()
    times = []
    for _ in range(_REPEATS.value):
        start = time.perf_counter()
        trainer.train_step(d_inputs, g_inputs)["d_loss"].numpy()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv):
    del argv
    import tensorflow as tf

    print(
        f"TF {tf.__version__}, batch {_BATCH_SIZE.value}, {IMAGE_SIZE}x{IMAGE_SIZE}x{CHANNELS}, "
        f"median of {_REPEATS.value} steps after {_WARMUP.value} warm-up steps"
    )
    print(f"{'variant':<10} {'jit':<5} {'s/step':>8} {'vs none':>8}")
    for jit_compile in (False, True):
        baseline = None
        for variant in VARIANTS:
            seconds = _step_seconds(variant, jit_compile)
            baseline = baseline or seconds
            print(
                f"{variant:<10} {str(jit_compile):<5} {seconds:8.3f} {seconds / baseline:8.2f}",
                flush=True,
            )


if __name__ == "__main__":
    app.run(main)
