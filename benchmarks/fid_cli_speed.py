"""Images/s of `python -m bssn_tf.fid` against `python -m pytorch_fid` on the same folder.

  python -m benchmarks.fid_cli_speed [--num_images=256] [--size=64] [--repeats=2] [--folder=DIR]

Both tools write the statistics of one folder (`--save_stats` / `--save-stats`)
end to end, as a user runs them: interpreter start, imports, network build,
weights load, decoding and the forward passes. They read the same weights
file: pytorch-fid's network with random weights (benchmarks.pytorch_fid_reference;
speed does not depend on the values), put into a private torch hub cache where
pytorch-fid finds it without downloading. Runs alternate (ours, pytorch-fid,
ours, ...) so background load falls on both alike. Prints the CPU model and
its vector flags, the load before and after, each tool's images/s (median and
min-max), their ratio, and how far apart the two statistics files are.
Needs the `test` extra (torch, pytorch-fid).
"""

import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
from absl import app, flags
from PIL import Image

from benchmarks import pytorch_fid_reference

_NUM_IMAGES = flags.DEFINE_integer("num_images", 256, "Images in the generated folder.")
_SIZE = flags.DEFINE_integer("size", 64, "Height and width of the generated images.")
_REPEATS = flags.DEFINE_integer("repeats", 2, "Timed runs of each tool.")
_FOLDER = flags.DEFINE_string("folder", None, "Use this folder instead of generated images.")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"
# `python -m pytorch_fid`, after the torchvision import workaround that
# benchmarks.pytorch_fid_reference applies (its docstring says why).
PYTORCH_FID_MAIN = (
    "from benchmarks import pytorch_fid_reference; from pytorch_fid import fid_score; "
    "fid_score.main()"
)
_VECTOR_FLAG_PREFIXES = ("sse4", "avx", "fma", "amx")


def cpu_description():
    """(model name, vector flags, logical CPUs) from /proc/cpuinfo."""
    model, flags_line = "unknown", ""
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            key, _, value = line.partition(":")
            if key.strip() == "model name" and model == "unknown":
                model = value.strip()
            elif key.strip() == "flags" and not flags_line:
                flags_line = value
    vector = sorted(flag for flag in flags_line.split() if flag.startswith(_VECTOR_FLAG_PREFIXES))
    return model, vector, os.cpu_count()


def write_folder(folder, count, size):
    """`count` smooth RGB PNGs of `size` px, seeded."""
    images = pytorch_fid_reference.smooth_images(np.random.default_rng(0), count, size)
    pixels = np.round((images.numpy().transpose(0, 2, 3, 1) + 1) * 127.5).astype(np.uint8)
    os.makedirs(folder, exist_ok=True)
    for index, image in enumerate(pixels):
        Image.fromarray(image).save(os.path.join(folder, f"{index:05d}.png"))


def timed(command, env):
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def max_relative_difference(ours_path, theirs_path):
    with np.load(ours_path) as ours, np.load(theirs_path) as theirs:
        return {
            key: float(np.max(np.abs(ours[key] - theirs[key])) / np.max(np.abs(theirs[key])))
            for key in ("mu", "sigma")
        }


def main(argv):
    del argv
    work = tempfile.mkdtemp(prefix="fid_cli_speed_")
    folder = _FOLDER.value or os.path.join(work, "images")
    if not _FOLDER.value:
        write_folder(folder, _NUM_IMAGES.value, _SIZE.value)
    from pytorch_fid import fid_score  # after pytorch_fid_reference's torchvision workaround

    path = pathlib.Path(folder)
    count = sum(len(list(path.glob(f"*.{ext}"))) for ext in fid_score.IMAGE_EXTENSIONS)
    hub = os.path.join(work, "torch", "hub", "checkpoints")
    os.makedirs(hub)
    weights = os.path.join(hub, WEIGHTS_FILE)
    inception = pytorch_fid_reference.random_fid_inception(np.random.default_rng(0))
    torch.save(inception.state_dict(), weights)
    env = {**os.environ, "TORCH_HOME": os.path.join(work, "torch"), "TF_CPP_MIN_LOG_LEVEL": "3"}

    def command(tool, out):
        if tool == "bssn_tf.fid":
            return [sys.executable, "-m", "bssn_tf.fid", "--save_stats", out, folder,
                    f"--fid_weights={weights}"]  # fmt: skip
        return [sys.executable, "-c", PYTORCH_FID_MAIN, "--device=cpu", "--save-stats", folder, out]

    load_before = os.getloadavg()
    seconds = {"bssn_tf.fid": [], "pytorch_fid": []}
    outputs = {}
    for repeat in range(_REPEATS.value):
        for tool in seconds:
            outputs[tool] = os.path.join(work, f"{tool}_{repeat}.npz")
            seconds[tool].append(timed(command(tool, outputs[tool]), env))
    load_after = os.getloadavg()
    rates = {tool: sorted(count / value for value in values) for tool, values in seconds.items()}
    medians = {tool: float(np.median(values)) for tool, values in rates.items()}
    model, vector_flags, cpus = cpu_description()
    result = {
        "cpu": model,
        "vector_flags": vector_flags,
        "logical_cpus": cpus,
        "load_before": [round(value, 2) for value in load_before],
        "load_after": [round(value, 2) for value in load_after],
        "images": count,
        "image_size": None if _FOLDER.value else _SIZE.value,
        "repeats": _REPEATS.value,
        **{
            f"{tool}_images_per_s": {
                "median": round(medians[tool], 3),
                "min": round(values[0], 3),
                "max": round(values[-1], 3),
            }
            for tool, values in rates.items()
        },
        "ratio_bssn_tf_to_pytorch_fid": round(medians["bssn_tf.fid"] / medians["pytorch_fid"], 3),
        "statistics_max_relative_difference": max_relative_difference(
            outputs["bssn_tf.fid"], outputs["pytorch_fid"]
        ),
    }
    print(f"CPU: {model} ({cpus} logical), vector flags: {' '.join(vector_flags)}")
    for tool, values in rates.items():
        print(
            f"{tool}: {medians[tool]:.3f} images/s median over {len(values)} runs "
            f"(min {values[0]:.3f}, max {values[-1]:.3f}) on {count} images"
        )
    print(f"ratio bssn_tf.fid / pytorch_fid: {result['ratio_bssn_tf_to_pytorch_fid']}")
    print(json.dumps(result))


if __name__ == "__main__":
    app.run(main)
