"""One timed training step (or matmul) in its own process, so that its peak RSS is its own.

  python -m benchmarks.timed_run '{"variant": "tf_xla", "config": "cnn32", ...}'
  python -m benchmarks.timed_run --serve '{"variant": "tf", "config": "cnn32", ...}'

The first form warms up, times `repeats` steps and prints one JSON line. The
second (used by benchmarks.train_step to interleave variants) warms up, prints
a JSON line with the facts (layer specs, versions, the default compile path
here), then for each line "N" read from stdin times N steps and prints their
seconds, its own CPU seconds and its peak RSS. Variants: `tf_xla` / `tf` (our
GANTrainer step with and without jit_compile), `tf_space_to_depth` (the step
without XLA, with the space-to-depth strided convs it used to have),
`torch_sn` / `torch_bssn`
(benchmarks.torch_reference), `matmul` (a square float32 TF matmul: the
practical FLOP/s limit).
"""

import dataclasses
import json
import os
import resource
import sys
import time

# Each variant is one GAN model set; the same names index both frameworks.
CONFIGS = {
    "cnn32": dict(arch="cnn", image_size=32, channels=3, width=1.0),
    "cnn28": dict(arch="cnn", image_size=28, channels=1, width=0.5),
    "resnet32": dict(arch="resnet", image_size=32, channels=3, width=1.0),
    # The image-folder input benchmark's step (benchmarks/folder_input.py).
    "cnn64": dict(arch="cnn", image_size=64, channels=3, width=1.0),
}
# Our step's variants: jit_compile, and space-to-depth strided convs in D (None:
# as GANTrainer.for_config picks, i.e. under XLA only).
OUR_VARIANTS = {
    "tf_xla": dict(jit_compile=True, space_to_depth=None),
    "tf": dict(jit_compile=False, space_to_depth=None),
    # The no-XLA step as it was before direct strided convs.
    "tf_space_to_depth": dict(jit_compile=False, space_to_depth=True),
}
VARIANTS = (*OUR_VARIANTS, "torch_sn", "torch_bssn", "matmul")
# docs/DESIGN.md, "The reference training protocol": hinge loss, Adam 1e-4 (0.5, 0.999),
# batch 64, z 128.
BATCH_SIZE = 64
Z_DIM = 128
LEARNING_RATE = 1e-4
BETAS = (0.5, 0.999)
BSSN_SCALE = 1.0


def time_steps(step, warmup, repeats):
    for _ in range(warmup):
        step()
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        seconds.append(time.perf_counter() - start)
    return seconds


def _tensorflow(threads):
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads["intra_op"])
    tf.config.threading.set_inter_op_parallelism_threads(threads["inter_op"])
    return tf


def our_trainer(config_name, jit_compile, space_to_depth=None):
    """GANTrainer for `CONFIGS[config_name]` with the reference step's settings (BSSN),
    as `GANTrainer.for_config` builds it; `space_to_depth` can override its choice
    of strided convs, for comparison."""
    import keras
    import tensorflow as tf

    from bssn_tf.models import build_discriminator, build_generator
    from bssn_tf.training import GANTrainer, TrainConfig

    config = CONFIGS[config_name]
    keras.utils.set_random_seed(0)
    train_config = TrainConfig(
        model_dir="unused",
        arch=config["arch"],
        image_size=config["image_size"],
        width=config["width"],
        z_dim=Z_DIM,
        norm="bssn",
        scale=BSSN_SCALE,
        loss="hinge",
        batch_size=BATCH_SIZE,
        n_dis=1,
        g_lr=LEARNING_RATE,
        d_lr=LEARNING_RATE,
        beta1=BETAS[0],
        beta2=BETAS[1],
        jit_compile=jit_compile,
    )
    if space_to_depth is None:
        space_to_depth = jit_compile
    model = (config["arch"], config["image_size"], config["channels"])
    return GANTrainer(
        train_config,
        tf.distribute.get_strategy(),
        lambda: build_generator(*model, Z_DIM, config["width"]),
        lambda: build_discriminator(
            *model, "bssn", BSSN_SCALE, config["width"], space_to_depth=space_to_depth
        ),
    )


def our_step(config_name, trainer):
    """`trainer`'s whole training step on an in-memory real batch and fresh z: the step,
    not the data pipeline, is what is timed (the PyTorch side does the same)."""
    import tensorflow as tf

    from bssn_tf.training.inputs import DISCRIMINATOR_STREAM, GENERATOR_STREAM, latent_batches

    config = CONFIGS[config_name]
    shape = (BATCH_SIZE, config["image_size"], config["image_size"], config["channels"])
    real = tf.data.Dataset.from_tensors(tf.random.uniform(shape, -1.0, 1.0)).repeat()
    d_inputs = iter(
        tf.data.Dataset.zip(
            (real, latent_batches(0, DISCRIMINATOR_STREAM, BATCH_SIZE, Z_DIM, 0))
        ).prefetch(2)
    )
    g_inputs = iter(latent_batches(0, GENERATOR_STREAM, BATCH_SIZE, Z_DIM, 0).prefetch(2))
    return lambda: trainer.train_step(d_inputs, g_inputs)["g_loss"].numpy()


def torch_models(config_name, norm):
    """The PyTorch reference G and D for `CONFIGS[config_name]`, and a real batch (NCHW)."""
    import torch

    from benchmarks import torch_reference

    config = CONFIGS[config_name]
    torch.manual_seed(0)
    generator, discriminator = torch_reference.build_models(
        config["arch"],
        config["image_size"],
        config["channels"],
        Z_DIM,
        config["width"],
        norm,
        BSSN_SCALE,
    )
    shape = (BATCH_SIZE, config["channels"], config["image_size"], config["image_size"])
    return generator, discriminator, torch.rand(shape) * 2 - 1


def torch_step(generator, discriminator, real):
    """The PyTorch reference's whole training step, with fresh z each call."""
    import torch

    from benchmarks import torch_reference

    train_step = torch_reference.TorchGANStep(generator, discriminator, LEARNING_RATE, BETAS)
    return lambda: train_step(real, torch.randn(BATCH_SIZE, Z_DIM), torch.randn(BATCH_SIZE, Z_DIM))


def _torch_threads(threads):
    import torch

    torch.set_num_threads(threads["intra_op"])
    torch.set_num_interop_threads(threads["inter_op"])
    return torch


def _prepare_ours(request):
    tf = _tensorflow(request["threads"])
    import keras

    from benchmarks.flop_count import keras_layer_specs
    from bssn_tf.training.jit_choice import fastest_jit_compile

    trainer = our_trainer(request["config"], **OUR_VARIANTS[request["variant"]])
    default_jit, reason = fastest_jit_compile("default")
    return our_step(request["config"], trainer), {
        "generator_specs": keras_layer_specs(trainer.generator),
        "discriminator_specs": keras_layer_specs(trainer.discriminator),
        "version": f"tensorflow {tf.__version__}, keras {keras.__version__}",
        "default_jit_compile": default_jit,
        "default_reason": reason,
    }


def _prepare_torch(request):
    torch = _torch_threads(request["threads"])
    from benchmarks import torch_reference

    norm = request["variant"].removeprefix("torch_")
    generator, discriminator, real = torch_models(request["config"], norm)
    return torch_step(generator, discriminator, real), {
        "generator_specs": torch_reference.layer_specs(generator, torch.randn(BATCH_SIZE, Z_DIM)),
        "discriminator_specs": torch_reference.layer_specs(discriminator, real),
        "version": f"torch {torch.__version__}",
    }


def _prepare_matmul(request):
    tf = _tensorflow(request["threads"])
    size = request["matmul_size"]
    a = tf.random.normal((size, size))
    b = tf.random.normal((size, size))
    product = tf.function(lambda: tf.reduce_sum(tf.linalg.matmul(a, b)))
    return lambda: product().numpy(), {
        "flops": 2 * size**3,
        "version": f"tensorflow {tf.__version__}",
    }


def prepare(request):
    """(a function running one step, the facts about it as JSON-ready values)."""
    variant = request["variant"]
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}; got variant={variant!r}.")
    if variant == "matmul":
        step, facts = _prepare_matmul(request)
    elif variant in OUR_VARIANTS:
        step, facts = _prepare_ours(request)
    else:
        step, facts = _prepare_torch(request)
    for key in ("generator_specs", "discriminator_specs"):
        if key in facts:
            facts[key] = [dataclasses.asdict(spec) for spec in facts[key]]
    return step, facts


def peak_rss_mib():
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(request):
    step, facts = prepare(request)
    seconds = time_steps(step, request["warmup"], request["repeats"])
    return dict(facts, seconds=seconds, peak_rss_mib=peak_rss_mib())


def serve(request):
    """Warm up, print the facts, then time N steps for each line "N" on stdin."""
    step, facts = prepare(request)
    time_steps(step, request["warmup"], 0)
    print(json.dumps(facts), flush=True)
    for line in sys.stdin:
        cpu_start = time.process_time()
        seconds = time_steps(step, 0, int(line))
        cpu_seconds = time.process_time() - cpu_start
        result = {"seconds": seconds, "cpu_seconds": cpu_seconds, "peak_rss_mib": peak_rss_mib()}
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if sys.argv[1] == "--serve":
        serve(json.loads(sys.argv[2]))
    else:
        print(json.dumps(measure(json.loads(sys.argv[1]))))
