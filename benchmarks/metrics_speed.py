"""Seconds taken by the evaluation, and FID Inception throughput against pytorch-fid.

  python -m benchmarks.metrics_speed [--num_samples=10000] [--fid_repeats=5] [--threads=2]
      [--skip_digits] [--skip_fid]

1. evaluate_generator with the shipped digit classifier: 10k generated images
   (from a cheap fixed random generator, so the time is the metric's) vs the
   mnist5k train split, feature extraction included.
2. frechet_classifier_distance_from_activations on random 2048-d features,
   10k vs 5k: the paper's FID protocol without the Inception forward passes.
3. Images/s of the FID Inception (batch 50, 299 px, random weights: speed does
   not depend on them): ours with XLA, ours without, and pytorch-fid's network
   (with the test extra installed). Each runs in its own worker process, so its peak
   RSS is its own; the parent interleaves their timed batches, so background
   load hits all three alike, and reports median and min-max of the repeats.
"""

import importlib.util
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np
from absl import app, flags

from bssn_tf import data
from bssn_tf.extractors import digit_classifier
from bssn_tf.metrics.evaluate import evaluate_generator
from bssn_tf.metrics.frechet import frechet_classifier_distance_from_activations

_NUM_SAMPLES = flags.DEFINE_integer("num_samples", 10000, "Generated images.")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 500, "Images per forward pass.")
_FID_REPEATS = flags.DEFINE_integer("fid_repeats", 5, "Timed batches per FID network.")
_THREADS = flags.DEFINE_integer("threads", os.cpu_count(), "Threads of every FID network.")
_WORKER = flags.DEFINE_enum(
    "worker", None, ["ours_xla", "ours", "pytorch_fid"], "Internal: run one FID worker."
)
_SKIP_DIGITS = flags.DEFINE_bool("skip_digits", False, "Only run the FID throughput part.")
_SKIP_FID = flags.DEFINE_bool("skip_fid", False, "Skip the FID throughput part.")
_FID_BATCH = 50
_FID_SIZE = 299


def _seconds(function):
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def _fid_network(variant, threads):
    """A function running one [50, 299, 299, 3] batch through `variant`'s network."""
    images = np.random.default_rng(0).uniform(-1, 1, (_FID_BATCH, _FID_SIZE, _FID_SIZE, 3))
    images = images.astype(np.float32)
    if variant == "pytorch_fid":
        import torch

        from benchmarks import pytorch_fid_reference

        torch.set_num_threads(threads)
        inception = pytorch_fid_reference.random_fid_inception(np.random.default_rng(0), 1)
        wrapper = pytorch_fid_reference.pytorch_fid_wrapper(inception.state_dict())
        batch = torch.from_numpy(images.transpose(0, 3, 1, 2).copy())

        def run():
            with torch.no_grad():
                wrapper(batch)

        return run
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    from bssn_tf.metrics import make_fid_inception_extractor

    extractor = make_fid_inception_extractor(
        weights=None, resize="pytorch", batch_size=_FID_BATCH, jit_compile=variant == "ours_xla"
    )
    return lambda: extractor.features_and_logits(images)


def _fid_worker(variant, threads):
    """Warms up, then times one batch per line read from stdin; prints seconds per line."""
    run = _fid_network(variant, threads)
    run()
    run()
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() != "go":
            break
        start = time.perf_counter()
        run()
        print(time.perf_counter() - start, flush=True)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"peak_rss_mib": round(peak_mib)}), flush=True)


def _fid_throughput(repeats, threads):
    """{variant: images/s median, min, max, peak RSS}, timed batches interleaved."""
    variants = ["ours_xla", "ours"]
    if importlib.util.find_spec("pytorch_fid") is not None:  # the test extra
        variants.append("pytorch_fid")
    workers = {}
    for variant in variants:
        workers[variant] = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.metrics_speed", f"--worker={variant}",
             f"--threads={threads}"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        if workers[variant].stdout.readline().strip() != "ready":
            raise RuntimeError(f"the {variant} worker failed to start.")
    seconds = {variant: [] for variant in workers}
    for _ in range(repeats):
        for variant, worker in workers.items():
            worker.stdin.write("go\n")
            worker.stdin.flush()
            seconds[variant].append(float(worker.stdout.readline()))
    results = {}
    for variant, worker in workers.items():
        worker.stdin.write("stop\n")
        worker.stdin.flush()
        peak = json.loads(worker.stdout.readline())["peak_rss_mib"]
        worker.wait()
        rates = sorted(_FID_BATCH / value for value in seconds[variant])
        results[variant] = {
            "images_per_s_median": round(float(np.median(rates)), 2),
            "images_per_s_min": round(rates[0], 2),
            "images_per_s_max": round(rates[-1], 2),
            "peak_rss_mib": peak,
        }
    if "pytorch_fid" not in results:
        return results
    reference = results["pytorch_fid"]["images_per_s_median"]
    for variant in ("ours_xla", "ours"):
        results[variant]["ratio_to_pytorch_fid"] = round(
            results[variant]["images_per_s_median"] / reference, 3
        )
    return results


def main(argv):
    del argv
    if _WORKER.value:
        _fid_worker(_WORKER.value, _THREADS.value)
        return
    if not _SKIP_FID.value:
        fid = {
            "fid_inception_batch": _FID_BATCH,
            "threads": _THREADS.value,
            "repeats": _FID_REPEATS.value,
            **_fid_throughput(_FID_REPEATS.value, _THREADS.value),
        }
        print(json.dumps(fid), flush=True)
    if _SKIP_DIGITS.value:
        return
    real = data.load_array("mnist5k", "train")
    projection = np.random.default_rng(0).standard_normal((16, 28 * 28)).astype(np.float32)
    sample_fn = lambda z: np.tanh(z @ projection).reshape(-1, 28, 28, 1)
    digit_classifier.make_digit_extractor()  # loading the model is not the metric
    evaluate_seconds, metrics = _seconds(
        lambda: evaluate_generator(
            sample_fn, real, num_samples=_NUM_SAMPLES.value, batch_size=_BATCH_SIZE.value, z_dim=16
        )
    )

    rng = np.random.default_rng(1)
    generated = rng.standard_normal((10000, 2048))
    reference = rng.standard_normal((5000, 2048))
    fid_seconds, _ = _seconds(
        lambda: frechet_classifier_distance_from_activations(reference, generated)
    )
    print(
        json.dumps(
            {
                "evaluate_generator_digits_seconds": round(evaluate_seconds, 2),
                "evaluate_generator_num_samples": _NUM_SAMPLES.value,
                "evaluate_generator_num_real": len(real),
                "fid_math_2048d_10k_vs_5k_seconds": round(fid_seconds, 2),
                "fcd_of_random_generator": round(metrics["fcd"], 2),
            }
        )
    )


if __name__ == "__main__":
    app.run(main)
