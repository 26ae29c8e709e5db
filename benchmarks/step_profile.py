"""Where one training step's time goes, ours and PyTorch's, part by part.

  python -m benchmarks.step_profile [--config=cnn32] [--rounds=9] [--jit_compile=auto]

Method: each part of the step is timed alone, as its own compiled function
(ours: `tf.function` with the step's compile path; PyTorch: eager, as its step
runs), with everything else held fixed: the same models, batch and weights.
The whole step is timed in the same rounds, and the parts are run in a
rotating order so that background load falls on all alike. The parts:

- G forward: the D step's fake batch, G in training mode (BatchNorm statistics).
- D on real / D on fake: forward and backward of an unnormalized twin of D
  (same layers, plain kernels), to D's weights.
- normalization: the spectral normalization of every D kernel, its power
  step and its backward, as often as the step runs it: forward and backward
  for D(real) and for D(fake), forward only for the G step.
- G step: G forward, the twin D forward and both backward to G's weights.
- Adam on D and on G: each optimizer's update from fixed gradients.
- diagnostics: ours' per-layer gradient norms (PyTorch computes none).
- everything else: the whole step less the sum of the parts (the loss, data
  iteration, dispatch, the step counter).

Each framework runs in its own process, one after the other; the parent prints
a table and, with --write, replaces the profile section of benchmarks/RESULTS.md.
"""

import argparse
import datetime
import json
import os
import pathlib
import resource
import shlex
import statistics
import subprocess
import sys
import time

from benchmarks.timed_run import BATCH_SIZE, CONFIGS, Z_DIM, time_steps
from benchmarks.train_step import busy_cpu_seconds, machine_description

ROOT = pathlib.Path(__file__).resolve().parent.parent
PARTS = (
    "G forward (D step)",
    "D on real",
    "D on fake",
    "normalization",
    "G step (G and D forward, backward to G)",
    "Adam on D",
    "Adam on G",
    "diagnostics (gradient norms)",
)
# The block of benchmarks/RESULTS.md that --write replaces (bssn_tf.io.markdown_block).
BLOCK = "step-profile"


def _rounds(functions, whole, rounds, warmup):
    """Median seconds of each function and of `whole`, timed in rotating order."""
    names = list(functions) + ["whole step"]
    calls = dict(functions, **{"whole step": whole})
    for name in names:
        time_steps(calls[name], warmup, 0)
    seconds = {name: [] for name in names}
    for index in range(rounds):
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            seconds[name] += time_steps(calls[name], 0, 1)
    return {name: statistics.median(values) for name, values in seconds.items()}


def _profile_ours(config_name, jit_compile, rounds, warmup):
    import tensorflow as tf

    from benchmarks.timed_run import our_step, our_trainer
    from bssn_tf.models import build_discriminator, spectral_layers
    from bssn_tf.training import diagnostics
    from bssn_tf.training.jit_choice import fastest_jit_compile

    if jit_compile is None:
        jit_compile, _ = fastest_jit_compile("default")
    config = CONFIGS[config_name]
    trainer = our_trainer(config_name, jit_compile)
    generator, discriminator = trainer.generator, trainer.discriminator
    twin = build_discriminator(
        config["arch"],
        config["image_size"],
        config["channels"],
        "none",
        1.0,
        config["width"],
        space_to_depth=jit_compile,  # as the trainer's D
    )
    compiled = lambda f: tf.function(f, jit_compile=jit_compile, autograph=False)
    shape = (BATCH_SIZE, config["image_size"], config["image_size"], config["channels"])
    real = tf.random.uniform(shape, -1.0, 1.0)
    z = tf.random.normal((BATCH_SIZE, Z_DIM))
    fake = generator(z, training=True)

    def d_part(images):
        def run():
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.nn.relu(1.0 - twin(images, training=True)))
            gradients = tape.gradient(loss, twin.trainable_variables)
            return tf.add_n([tf.reduce_sum(g[..., :1]) for g in gradients])

        return compiled(run)

    wrappers = spectral_layers(discriminator)
    cotangents = [tf.random.normal(w._raw_kernel.shape) for w in wrappers]

    def normalization():
        total = 0.0
        for _ in range(2):  # D(real) and D(fake)
            with tf.GradientTape() as tape:
                kernels = [w.normalized_kernel() for w in wrappers]
                product = tf.add_n([tf.reduce_sum(k * c) for k, c in zip(kernels, cotangents)])
            gradients = tape.gradient(product, [w._raw_kernel for w in wrappers])
            total += tf.add_n([tf.reduce_sum(g[..., :1]) for g in gradients])
        held = [w.normalized_kernel() for w in wrappers]  # the G step's
        return total + tf.add_n([tf.reduce_sum(k[..., :1]) for k in held])

    def g_step():
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(twin(generator(z, training=True), training=True))
        gradients = tape.gradient(loss, generator.trainable_variables)
        return tf.add_n([tf.reduce_sum(g[..., :1]) for g in gradients])

    def fixed_gradients(variables):
        return [tf.random.normal(v.shape, stddev=1e-3) for v in variables]

    d_gradients = fixed_gradients(discriminator.trainable_variables)
    g_gradients = fixed_gradients(generator.trainable_variables)

    def adam(optimizer, gradients, variables):
        def run():
            optimizer.apply(gradients, variables)
            return optimizer.iterations

        return compiled(run)

    def norms():
        d = diagnostics.grouped_gradient_norms(d_gradients, trainer.d_layer_groups)
        g = diagnostics.grouped_gradient_norms(g_gradients, trainer.g_layer_groups)
        return tf.reduce_sum(d) + tf.reduce_sum(g)

    parts = {"G forward (D step)": compiled(lambda: generator(z, training=True)[:1, :1, :1])}
    parts["D on real"], parts["D on fake"] = d_part(real), d_part(fake)
    parts.update(
        {
            "normalization": compiled(normalization),
            "G step (G and D forward, backward to G)": compiled(g_step),
            "Adam on D": adam(trainer.d_optimizer, d_gradients, discriminator.trainable_variables),
            "Adam on G": adam(trainer.g_optimizer, g_gradients, generator.trainable_variables),
            "diagnostics (gradient norms)": compiled(norms),
        }
    )
    functions = {name: (lambda f=f: f().numpy()) for name, f in parts.items()}
    medians = _rounds(functions, our_step(config_name, trainer), rounds, warmup)
    label = f"ours, jit_compile={jit_compile}"
    return {"label": label, "medians": medians}


def _profile_torch(config_name, rounds, warmup):
    import torch

    from benchmarks.timed_run import BETAS, LEARNING_RATE, torch_models, torch_step
    from benchmarks.torch_reference import ADAM_EPS

    generator, discriminator, real = torch_models(config_name, "sn")
    _, twin, _ = torch_models(config_name, "none")
    generator.train(), discriminator.train(), twin.train()
    z = torch.randn(BATCH_SIZE, Z_DIM)
    with torch.no_grad():
        fake = generator(z)
    g_parameters = list(generator.parameters())

    def d_part(images):
        def run():
            twin.zero_grad(set_to_none=True)
            torch.relu(1.0 - twin(images)).mean().backward()

        return run

    normalized = [m for m in discriminator.modules() if hasattr(m, "parametrizations")]
    cotangents = [torch.randn_like(m.weight) for m in normalized]

    def normalization():
        for _ in range(2):  # D(real), D(fake): forward and backward
            total = sum((m.weight * c).sum() for m, c in zip(normalized, cotangents))
            total.backward()
        for m in normalized:  # the G step's forward
            m.weight  # noqa: B018 (computing the parametrization is the work)

    def g_step():
        generator.zero_grad(set_to_none=True)
        (-twin(generator(z)).mean()).backward(inputs=g_parameters)

    def adam(model):
        optimizer = torch.optim.Adam(model.parameters(), LEARNING_RATE, BETAS, eps=ADAM_EPS)
        for parameter in model.parameters():
            parameter.grad = torch.randn_like(parameter) * 1e-3

        return optimizer.step

    def g_forward():
        with torch.no_grad():
            generator(z)

    functions = {
        "G forward (D step)": g_forward,
        "D on real": d_part(real),
        "D on fake": d_part(fake),
        "normalization": normalization,
        "G step (G and D forward, backward to G)": g_step,
        "Adam on D": adam(discriminator),
        "Adam on G": adam(generator),
    }
    medians = _rounds(functions, torch_step(generator, discriminator, real), rounds, warmup)
    return {"label": "PyTorch, parametrizations.spectral_norm", "medians": medians}


def _worker(args):
    threads = args.threads
    if args.framework == "ours":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
        jit = {"auto": None, "true": True, "false": False}[args.jit_compile]
        result = _profile_ours(args.config, jit, args.rounds, args.warmup)
    else:
        import torch

        torch.set_num_threads(threads)
        torch.set_num_interop_threads(threads)
        result = _profile_torch(args.config, args.rounds, args.warmup)
    print(json.dumps(result))


def _children_cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run_worker(framework, args):
    """One framework's profile in its own process; adds `other_cpu_cores`: the CPU
    that other processes used meanwhile (the machine's busy time less the worker's)."""
    started, busy, own = time.monotonic(), busy_cpu_seconds(), _children_cpu_seconds()
    command = [sys.executable, "-m", "benchmarks.step_profile", f"--worker={framework}"]
    command += [
        f"--config={args.config}",
        f"--rounds={args.rounds}",
        f"--warmup={args.warmup}",
        f"--threads={args.threads}",
        f"--jit_compile={args.jit_compile}",
    ]
    done = subprocess.run(
        command,
        cwd=ROOT,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise RuntimeError(f"step_profile {framework} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    other = (busy_cpu_seconds() - busy) - (_children_cpu_seconds() - own)
    result["other_cpu_cores"] = max(0.0, other) / (time.monotonic() - started)
    return result


def table(results):
    """Markdown rows: each part's median ms per framework, the sum, the whole step."""
    header = "| part | " + " | ".join(r["label"] for r in results) + " |"
    lines = [header, "|---|" + "---:|" * len(results)]
    for part in PARTS:
        cells = [r["medians"].get(part) for r in results]
        if any(cell is not None for cell in cells):
            shown = ["-" if cell is None else f"{cell * 1000:.0f}" for cell in cells]
            lines.append(f"| {part} | " + " | ".join(shown) + " |")
    sums = [sum(v for k, v in r["medians"].items() if k != "whole step") for r in results]
    wholes = [r["medians"]["whole step"] for r in results]
    lines.append(
        "| everything else (whole less the parts) | "
        + " | ".join(f"{(w - s) * 1000:.0f}" for w, s in zip(wholes, sums))
        + " |"
    )
    lines.append("| **sum of the parts** | " + " | ".join(f"{s * 1000:.0f}" for s in sums) + " |")
    lines.append(
        "| **whole step, measured** | " + " | ".join(f"{w * 1000:.0f}" for w in wholes) + " |"
    )
    lines.append(
        "| sum of the parts / whole step | "
        + " | ".join(f"{s / w:.2f}" for w, s in zip(wholes, sums))
        + " |"
    )
    return lines


def section(args, command, started, results):
    loads = os.getloadavg()
    versions = {"see the training-step benchmark above for the versions"}
    return "\n".join(
        [
            f"### Whole-step profile, {args.config} (`benchmarks/step_profile.py`)",
            "",
            f"Written on {started:%Y-%m-%d %H:%M} UTC by `{command}`.",
            f"{machine_description(versions)[0]}. Threads: {args.threads} per framework. "
            f"Median ms of {args.rounds} rounds. CPU used by other processes while each "
            "profile ran, in cores: "
            + ", ".join(f"{r['label']} {r['other_cpu_cores']:.2f}" for r in results)
            + f" (of {os.cpu_count()}); load average at the end {loads[0]:.2f}.",
            "",
            *table(results),
        ]
    )


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="cnn32", choices=sorted(CONFIGS))
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--jit_compile", default="auto", choices=("auto", "true", "false"))
    parser.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    parser.add_argument("--output", default=str(ROOT / "benchmarks" / "RESULTS.md"))
    parser.add_argument("--worker", choices=("ours", "torch"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        args.framework = args.worker
        _worker(args)
        return
    command = "python -m benchmarks.step_profile " + shlex.join(argv)
    started = datetime.datetime.now(datetime.timezone.utc)
    results = [_run_worker(framework, args) for framework in ("ours", "torch")]
    text = section(args, command, started, results)
    print(text)
    if args.write:
        from bssn_tf.io.markdown_block import rewrite_block

        rewrite_block(args.output, BLOCK, text)


if __name__ == "__main__":
    main()
