"""Seconds taken by the evaluation: the full digit pipeline and the FID math alone.

  python benchmarks/metrics_speed.py [--num_samples=10000]

1. evaluate_generator with the shipped digit classifier: 10k generated images
   (from a cheap fixed random generator, so the time is the metric's) vs the
   mnist5k train split, feature extraction included.
2. frechet_classifier_distance_from_activations on random 2048-d features,
   10k vs 5k: the paper's FID protocol without the Inception forward passes.
"""

import json
import time

import numpy as np
from absl import app, flags

from bssn_tf import data
from bssn_tf.metrics import digit_classifier
from bssn_tf.metrics.evaluate import evaluate_generator
from bssn_tf.metrics.frechet import frechet_classifier_distance_from_activations

_NUM_SAMPLES = flags.DEFINE_integer("num_samples", 10000, "Generated images.")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 500, "Images per forward pass.")


def _seconds(function):
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def main(argv):
    del argv
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
