"""One measurement in its own process, so that its peak RSS is its own.

  python -m benchmarks.timed_run '{"variant": "tf_xla", "config": "cnn32", ...}'

Prints one JSON line: per-step seconds, peak RSS, thread settings and the
models' LayerSpecs. Variants: `tf_xla` / `tf` (our GANTrainer step with and
without jit_compile), `torch_sn` / `torch_bssn` (benchmarks.torch_reference),
`matmul` (a square float32 TF matmul: the practical FLOP/s limit).
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
VARIANTS = ("tf_xla", "tf", "torch_sn", "torch_bssn", "matmul")
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


def _measure_ours(request, jit_compile):
    tf = _tensorflow(request["threads"])
    import keras

    from benchmarks.flop_count import keras_layer_specs
    from bssn_tf.training import GANTrainer, TrainConfig
    from bssn_tf.training.inputs import DISCRIMINATOR_STREAM, GENERATOR_STREAM, latent_batches

    config = CONFIGS[request["config"]]
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
    trainer = GANTrainer.for_config(
        train_config, tf.distribute.get_strategy(), config["image_size"], config["channels"]
    )
    # Real images held in memory, fresh z every step: the step, not the data
    # pipeline, is what is timed (the same holds for the PyTorch side).
    shape = (BATCH_SIZE, config["image_size"], config["image_size"], config["channels"])
    real = tf.data.Dataset.from_tensors(tf.random.uniform(shape, -1.0, 1.0)).repeat()
    d_inputs = iter(
        tf.data.Dataset.zip(
            (real, latent_batches(0, DISCRIMINATOR_STREAM, BATCH_SIZE, Z_DIM, 0))
        ).prefetch(2)
    )
    g_inputs = iter(latent_batches(0, GENERATOR_STREAM, BATCH_SIZE, Z_DIM, 0).prefetch(2))
    step = lambda: trainer.train_step(d_inputs, g_inputs)["g_loss"].numpy()
    return {
        "seconds": time_steps(step, request["warmup"], request["repeats"]),
        "generator_specs": keras_layer_specs(trainer.generator),
        "discriminator_specs": keras_layer_specs(trainer.discriminator),
        "version": f"tensorflow {tf.__version__}, keras {keras.__version__}",
    }


def _measure_torch(request, norm):
    import torch

    torch.set_num_threads(request["threads"]["intra_op"])
    torch.set_num_interop_threads(request["threads"]["inter_op"])
    from benchmarks import torch_reference

    config = CONFIGS[request["config"]]
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
    real = torch.rand(shape) * 2 - 1
    specs = {
        "generator_specs": torch_reference.layer_specs(generator, torch.randn(BATCH_SIZE, Z_DIM)),
        "discriminator_specs": torch_reference.layer_specs(discriminator, real),
    }
    train_step = torch_reference.TorchGANStep(generator, discriminator, LEARNING_RATE, BETAS)
    step = lambda: train_step(real, torch.randn(BATCH_SIZE, Z_DIM), torch.randn(BATCH_SIZE, Z_DIM))
    return {
        "seconds": time_steps(step, request["warmup"], request["repeats"]),
        "version": f"torch {torch.__version__}",
        **specs,
    }


def _measure_matmul(request):
    tf = _tensorflow(request["threads"])
    size = request["matmul_size"]
    a = tf.random.normal((size, size))
    b = tf.random.normal((size, size))
    product = tf.function(lambda: tf.reduce_sum(tf.linalg.matmul(a, b)))
    seconds = time_steps(lambda: product().numpy(), request["warmup"], request["repeats"])
    return {"seconds": seconds, "flops": 2 * size**3, "version": f"tensorflow {tf.__version__}"}


def measure(request):
    variant = request["variant"]
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}; got variant={variant!r}.")
    if variant == "matmul":
        result = _measure_matmul(request)
    elif variant.startswith("tf"):
        result = _measure_ours(request, jit_compile=variant == "tf_xla")
    else:
        result = _measure_torch(request, norm=variant.removeprefix("torch_"))
    for key in ("generator_specs", "discriminator_specs"):
        if key in result:
            result[key] = [dataclasses.asdict(spec) for spec in result[key]]
    # Linux reports ru_maxrss in KiB.
    result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    print(json.dumps(measure(json.loads(sys.argv[1]))))
