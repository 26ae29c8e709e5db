"""Per-layer time of the reference CNN's convolutions: TF with XLA, TF plain, PyTorch.

  python -m benchmarks.conv_layers [--repeats=15]

Each framework runs in its own process (2 intra-op threads), one layer at a
time at batch 64: the forward pass, then forward plus backward (gradients of
a fixed random read-out of the output, for the input and the kernel). The
discriminator's strided layers are also timed as SpaceToDepthConv2D, with and
without XLA. Prints a markdown table in ms; benchmarks/RESULTS.md quotes it. It shows
which layers make a whole step (benchmarks.train_step) slower than PyTorch's.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

from benchmarks.timed_run import time_steps

BATCH = 64
THREADS = 2
# name, transposed, c_in, c_out, kernel, stride, input side: cnn32 at width 1.
LAYERS = (
    ("conv0", False, 3, 64, 3, 1, 32),
    ("conv1", False, 64, 64, 4, 2, 32),
    ("conv2", False, 64, 128, 3, 1, 16),
    ("conv3", False, 128, 128, 4, 2, 16),
    ("conv4", False, 128, 256, 3, 1, 8),
    ("conv5", False, 256, 256, 4, 2, 8),
    ("conv6", False, 256, 512, 3, 1, 4),
    ("deconv0", True, 512, 256, 4, 2, 4),
    ("deconv1", True, 256, 128, 4, 2, 8),
    ("deconv2", True, 128, 64, 4, 2, 16),
)
VARIANTS = ("xla", "xla_space_to_depth", "plain", "plain_space_to_depth", "torch")


def median_ms(run, repeats):
    return statistics.median(time_steps(run, warmup=3, repeats=repeats)) * 1e3


def measure_tensorflow(variant, repeats):
    import keras
    import tensorflow as tf

    from bssn_tf.models.space_to_depth_conv import SpaceToDepthConv2D

    tf.config.threading.set_intra_op_parallelism_threads(THREADS)
    tf.config.threading.set_inter_op_parallelism_threads(THREADS)
    jit = variant.startswith("xla")
    space_to_depth = variant.endswith("space_to_depth")
    rows = {}
    for name, transposed, c_in, c_out, kernel, stride, side in LAYERS:
        if space_to_depth and (transposed or stride == 1):
            continue
        layer_class = (
            keras.layers.Conv2DTranspose
            if transposed
            else SpaceToDepthConv2D
            if space_to_depth
            else keras.layers.Conv2D
        )
        layer = layer_class(c_out, kernel, stride, padding="same")
        x = tf.random.normal((BATCH, side, side, c_in))
        readout = tf.random.normal(layer.compute_output_shape(x.shape))
        layer.build(x.shape)

        @tf.function(jit_compile=jit)
        def forward(layer=layer, x=x):
            return layer(x)

        @tf.function(jit_compile=jit)
        def forward_backward(layer=layer, x=x, readout=readout):
            with tf.GradientTape() as tape:
                tape.watch(x)
                loss = tf.reduce_sum(layer(x) * readout)
            return tape.gradient(loss, [x, layer.kernel])

        rows[name] = (
            median_ms(lambda: forward().numpy(), repeats),
            median_ms(lambda: [g.numpy() for g in forward_backward()], repeats),
        )
    return rows


def measure_torch(repeats):
    import torch

    torch.set_num_threads(THREADS)
    torch.set_num_interop_threads(THREADS)
    rows = {}
    for name, transposed, c_in, c_out, kernel, stride, side in LAYERS:
        padding = 1 if stride == 2 else kernel // 2
        layer = (torch.nn.ConvTranspose2d if transposed else torch.nn.Conv2d)(
            c_in, c_out, kernel, stride, padding=padding
        )
        x = torch.randn(BATCH, c_in, side, side, requires_grad=True)
        readout = torch.randn(layer(x).shape)

        def forward_backward(layer=layer, x=x, readout=readout):
            x.grad = None
            layer.zero_grad()
            (layer(x) * readout).sum().backward()

        with torch.no_grad():
            forward = median_ms(lambda layer=layer, x=x: layer(x), repeats)
        rows[name] = (forward, median_ms(forward_backward, repeats))
    return rows


def table(results):
    variants = list(results)
    header = "| layer | " + " | ".join(f"{v} fwd | {v} fwd+bwd" for v in variants) + " |"
    lines = [header, "|---|" + "---:|" * (2 * len(variants))]
    for name, *_ in LAYERS:
        cells = []
        for variant in variants:
            forward, both = results[variant].get(name, (None, None))
            cells += [
                "-" if forward is None else f"{forward:.1f}",
                "-" if both is None else f"{both:.1f}",
            ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument(
        "--variants", default=",".join(VARIANTS), help=f"comma-separated, from {VARIANTS}"
    )
    parser.add_argument("--variant", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    variants = args.variants.split(",")
    if set(variants) - set(VARIANTS):
        parser.error(f"--variants: unknown {sorted(set(variants) - set(VARIANTS))}.")
    if args.repeats < 1:
        parser.error(f"--repeats must be >= 1; got {args.repeats}.")
    if args.variant:  # one framework, in a process of its own
        rows = (
            measure_torch(args.repeats)
            if args.variant == "torch"
            else measure_tensorflow(args.variant, args.repeats)
        )
        print(json.dumps(rows))
        return
    results = {}
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    for variant in variants:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "benchmarks.conv_layers",
                f"--variant={variant}",
                f"--repeats={args.repeats}",
            ],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode:
            sys.exit(f"{variant} failed:\n{done.stderr[-3000:]}")
        results[variant] = json.loads(done.stdout.strip().splitlines()[-1])
    print(
        f"Times in ms, batch {BATCH}, {THREADS} threads, median of {args.repeats}; "
        f"load average at the end: {os.getloadavg()[0]:.2f}.\n"
    )
    print(table(results))


if __name__ == "__main__":
    main()
