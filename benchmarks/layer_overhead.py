"""Cost of the discriminator's normalization in a GAN step, as paired ratios to none.

Two families, both the reference CNN at 32x32x3, hinge loss, Adam, one D step
(D(real) advances u; D(fake) and the G step run inside the hold) and one G step:

- `keras`: the discriminator built from plain `keras.layers` (strided `Conv2D`),
  each conv and the final Dense wrapped by `bssn_tf.layers` directly, trained by a
  plain `tf.function` step written here: what a user of the layers alone runs.
- `ours`: `bssn_tf.models`' CNN as `train_gan` builds it (`GANTrainer.for_config`:
  its strided convs are `SpaceToDepthConv2D` under XLA), trained by `GANTrainer`.

Every step is compiled once, before any timing. Then each round times, for every
variant in turn, one step of `none` and one of the variant back to back, the
order alternating between rounds. The machine's load drifts (it shares its
cores with background runs), and a back-to-back pair sees nearly the same load,
so the per-pair ratio `variant / none` is what is compared: its median, IQR and
min-max over the pairs.

  python benchmarks/layer_overhead.py [--pairs=20] [--variants=sn,bssn]
      [--families=keras,ours] [--jit_compile] [--batch_size=64]
"""

import os
import statistics
import sys
import time

from absl import app, flags

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

MIN_PAIRS = 20
FAMILIES = ("keras", "ours")
# variant -> (mode of bssn_tf's wrapper or "keras_sn", scale). "keras_sn" is
# keras.layers.SpectralNormalization, which overwrites the kernel in place.
VARIANTS = {
    "sn": ("sn", 1.0),
    "bssn": ("bsn", 1.6),
    "exact": ("exact", 1.0),
    "keras_sn": ("keras_sn", 1.0),
}
IMAGE_SIZE = 32
CHANNELS = 3

_PAIRS = flags.DEFINE_integer(
    "pairs", MIN_PAIRS, f"Interleaved pairs per variant (>= {MIN_PAIRS})."
)
_VARIANTS = flags.DEFINE_list("variants", ["sn", "bssn"], f"Any of {sorted(VARIANTS)}.")
_FAMILIES = flags.DEFINE_list("families", list(FAMILIES), f"Any of {list(FAMILIES)}.")
_JIT = flags.DEFINE_boolean(
    "jit_compile",
    None,
    "Compile every step with XLA (unset: as train_gan picks for this machine, "
    "bssn_tf.training.jit_choice).",
)
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 64, "Batch size.")
_WARMUP = flags.DEFINE_integer("warmup", 2, "Untimed steps per variant after compiling.")


def _keras_discriminator(variant):
    """The reference D from plain keras.layers, wrapped as `variant` says."""
    import keras

    from bssn_tf.layers import SpectralNormalization
    from bssn_tf.models.cnn import DISCRIMINATOR_CONVS, LEAKY_SLOPE

    def wrap(layer):
        if variant == "none":
            return layer
        mode, scale = VARIANTS[variant]
        if mode == "keras_sn":
            return keras.layers.SpectralNormalization(layer)
        return SpectralNormalization(layer, mode=mode, scale=scale)

    init = dict(kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02))
    x = images = keras.Input((IMAGE_SIZE, IMAGE_SIZE, CHANNELS))
    for kernel, stride, filters in DISCRIMINATOR_CONVS:
        x = wrap(keras.layers.Conv2D(filters, kernel, stride, padding="same", **init))(x)
        x = keras.layers.LeakyReLU(LEAKY_SLOPE)(x)
    x = keras.layers.Flatten()(x)
    return keras.Model(images, wrap(keras.layers.Dense(1, **init))(x))


def _keras_family_step(variant, jit_compile, batch_size):
    """A plain hinge-loss GAN step on the plain-Keras D; returns a no-argument callable."""
    import keras
    import tensorflow as tf

    from bssn_tf import models
    from bssn_tf.layers import hold_power_iteration

    keras.utils.set_random_seed(0)
    generator = models.cnn_generator(IMAGE_SIZE, CHANNELS)
    discriminator = _keras_discriminator(variant)
    d_optimizer = keras.optimizers.Adam(2e-4, beta_1=0.5)
    g_optimizer = keras.optimizers.Adam(2e-4, beta_1=0.5)
    real = tf.random.uniform([batch_size, IMAGE_SIZE, IMAGE_SIZE, CHANNELS], -1, 1)
    z = tf.random.normal([batch_size, 128])

    @tf.function(jit_compile=jit_compile)
    def step(real, z):
        fake = generator(z, training=True)
        with tf.GradientTape() as tape:
            d_real = discriminator(real, training=True)
            with hold_power_iteration():
                d_fake = discriminator(fake, training=True)
            d_loss = tf.reduce_mean(tf.nn.relu(1 - d_real)) + tf.reduce_mean(tf.nn.relu(1 + d_fake))
        variables = discriminator.trainable_variables
        d_optimizer.apply(tape.gradient(d_loss, variables), variables)
        with hold_power_iteration(), tf.GradientTape() as tape:
            g_loss = -tf.reduce_mean(discriminator(generator(z, training=True), training=True))
        variables = generator.trainable_variables
        g_optimizer.apply(tape.gradient(g_loss, variables), variables)
        return d_loss + g_loss

    return lambda: step(real, z).numpy()


def _our_family_step(variant, jit_compile, batch_size):
    """One `GANTrainer.train_step` on `bssn_tf.models`' CNN; returns a no-argument callable."""
    import keras
    import tensorflow as tf

    from bssn_tf.training import GANTrainer, TrainConfig

    if variant == "keras_sn":
        raise ValueError("keras_sn is measured in the keras family only.")
    config = TrainConfig(
        model_dir="unused",
        dataset="cifar10",
        image_size=IMAGE_SIZE,
        batch_size=batch_size,
        jit_compile=jit_compile,
        norm=variant,
        scale=VARIANTS.get(variant, (None, 1.0))[1],
    )
    keras.utils.set_random_seed(0)
    trainer = GANTrainer.for_config(config, tf.distribute.get_strategy(), IMAGE_SIZE, CHANNELS)
    real = tf.random.uniform([batch_size, IMAGE_SIZE, IMAGE_SIZE, CHANNELS], -1, 1)
    z = tf.random.normal([batch_size, config.z_dim])
    d_inputs = iter(tf.data.Dataset.from_tensors((real, z)).repeat())
    g_inputs = iter(tf.data.Dataset.from_tensors(z).repeat())
    return lambda: trainer.train_step(d_inputs, g_inputs)["d_loss"].numpy()


def _seconds(step):
    start = time.perf_counter()
    step()
    return time.perf_counter() - start


def _quartiles(values):
    q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q3


def _check_flags():
    problems = []
    if _PAIRS.value < MIN_PAIRS:
        problems.append(f"--pairs must be >= {MIN_PAIRS}; got {_PAIRS.value}")
    unknown = [v for v in _VARIANTS.value if v not in VARIANTS]
    if unknown or not _VARIANTS.value:
        problems.append(f"--variants must be from {sorted(VARIANTS)}; got {_VARIANTS.value}")
    if not _FAMILIES.value or any(f not in FAMILIES for f in _FAMILIES.value):
        problems.append(f"--families must be from {list(FAMILIES)}; got {_FAMILIES.value}")
    if "ours" in _FAMILIES.value and "keras_sn" in _VARIANTS.value:
        problems.append("keras_sn is measured with --families=keras only")
    if problems:
        sys.exit("layer_overhead: " + "; ".join(problems) + ".")


def main(argv):
    del argv
    _check_flags()
    import tensorflow as tf

    from bssn_tf.training.jit_choice import fastest_jit_compile

    jit_compile = _JIT.value
    if jit_compile is None:
        jit_compile, _ = fastest_jit_compile("default")
    builders = {"keras": _keras_family_step, "ours": _our_family_step}
    steps = {}
    for family in _FAMILIES.value:
        for variant in ["none"] + _VARIANTS.value:
            step = builders[family](variant, jit_compile, _BATCH_SIZE.value)
            for _ in range(1 + _WARMUP.value):  # the first call compiles
                step()
            steps[family, variant] = step
            print(f"compiled {family}/{variant}", file=sys.stderr, flush=True)

    load_start = os.getloadavg()
    pairs = {key: [] for key in steps if key[1] != "none"}
    for round_index in range(_PAIRS.value):
        for family, variant in pairs:
            order = ("none", variant) if round_index % 2 == 0 else (variant, "none")
            seconds = {name: _seconds(steps[family, name]) for name in order}
            pairs[family, variant].append((seconds["none"], seconds[variant]))
    load_end = os.getloadavg()

    print(
        f"TF {tf.__version__}, jit_compile={jit_compile}, batch {_BATCH_SIZE.value}, "
        f"{IMAGE_SIZE}x{IMAGE_SIZE}x{CHANNELS}, {_PAIRS.value} interleaved pairs per variant, "
        f"load average (1 min) {load_start[0]:.2f} at start, {load_end[0]:.2f} at end"
    )
    print(
        f"{'family':<7} {'variant':<9} {'none s':>7} {'variant s':>9} "
        f"{'median ratio':>12} {'IQR':>13} {'min-max':>13}"
    )
    for (family, variant), times in pairs.items():
        ratios = [variant_s / none_s for none_s, variant_s in times]
        q1, q3 = _quartiles(ratios)
        none_s = statistics.median(t[0] for t in times)
        variant_s = statistics.median(t[1] for t in times)
        print(
            f"{family:<7} {variant:<9} {none_s:7.3f} {variant_s:9.3f} "
            f"{statistics.median(ratios):12.3f} {q1:6.3f}-{q3:6.3f} "
            f"{min(ratios):6.3f}-{max(ratios):6.3f}",
            flush=True,
        )


if __name__ == "__main__":
    app.run(main)
