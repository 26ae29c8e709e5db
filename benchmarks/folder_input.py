"""Does an image folder's input pipeline keep up with training? Images/s against the step's.

  python -m benchmarks.folder_input [--num_images=10000] [--size=64] [--repeats=7]

Builds a folder of `num_images` JPEGs (96x80, so every one is cropped and
resized) in a temporary folder, then measures, in one run:
- preparation: decoding, cropping and resizing every file once (first run only);
- the cached input: `bssn_tf.data.training_batches` over the prepared folder,
  images/s over 50 batches of 64, `repeats` times;
- the reference CNN step at 64 px (batch 64, XLA as by default), through
  benchmarks.timed_run in its own process, interleaved with the input repeats.
Prints the CPU model and vector flags, the load, each figure's median and
spread, and the ratio of input images/s to the step's images/s (above 1: the
input keeps up).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

BATCH = 64
BATCHES = 50


def cpu_description():
    model, flags = "unknown", set()
    with open("/proc/cpuinfo") as handle:
        for line in handle:
            if line.startswith("model name") and model == "unknown":
                model = line.split(":", 1)[1].strip()
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
    vector = sorted(flag for flag in flags if flag.startswith(("avx", "amx", "fma")))
    return f"{model}; {os.cpu_count()} cores; {' '.join(vector)}"


def write_folder(root, count):
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    rows, columns = np.mgrid[0:96, 0:80]
    for index in range(count):
        base = rng.integers(0, 256, 3)
        image = (base + rows[..., None] + columns[..., None] * 2) % 256
        Image.fromarray(image.astype(np.uint8)).save(os.path.join(root, f"{index:05d}.jpg"))


def input_images_per_second(spec):
    from bssn_tf import data

    batches = iter(data.training_batches(spec, BATCH, seed=0))
    next(batches)  # pipeline start-up is not throughput
    start = time.perf_counter()
    for _ in range(BATCHES):
        next(batches)
    return BATCHES * BATCH / (time.perf_counter() - start)


def step_images_per_second():
    request = {
        "variant": "tf_xla",
        "config": "cnn64",
        "warmup": 2,
        "repeats": 3,
        "threads": {"intra_op": 0, "inter_op": 0},
    }
    output = subprocess.run(
        [sys.executable, "-m", "benchmarks.timed_run", json.dumps(request)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    seconds = json.loads(output.strip().splitlines()[-1])["seconds"]
    return BATCH / statistics.median(seconds)


def spread(values):
    ordered = sorted(values)
    return f"median {statistics.median(ordered):.0f} (min {ordered[0]:.0f}, max {ordered[-1]:.0f})"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num_images", type=int, default=10_000)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from bssn_tf import data

    print(f"machine: {cpu_description()}")
    print(f"load before: {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as scratch:
        folder = os.path.join(scratch, "images")
        os.makedirs(folder)
        write_folder(folder, args.num_images)
        start = time.perf_counter()
        spec = data.resolve_dataset(
            f"folder:{folder}", image_size=args.size, data_dir=os.path.join(scratch, "tfds")
        )
        preparation = args.num_images / (time.perf_counter() - start)
        inputs, steps = [], []
        for _ in range(args.repeats):
            inputs.append(input_images_per_second(spec))
            steps.append(step_images_per_second())
    print(f"preparation (once): {preparation:.0f} images/s for {args.num_images} images")
    print(f"cached input: {spread(inputs)} images/s")
    print(f"cnn{args.size} step (XLA): {spread(steps)} images/s")
    ratios = [one / other for one, other in zip(inputs, steps)]
    print(f"input / step: median {statistics.median(ratios):.1f}x (min {min(ratios):.1f}x)")
    print(f"load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
