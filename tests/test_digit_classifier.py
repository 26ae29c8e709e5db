"""The shipped digit classifier: its card's claims, recomputed from the shipped file."""

import hashlib
import json

import numpy as np
import pytest

from bssn_tf import data
from bssn_tf.extractors import digit_classifier
from bssn_tf.metrics.evaluate import evaluate_generator
from bssn_tf.metrics.frechet import frechet_classifier_distance_from_activations


@pytest.fixture(scope="module")
def card():
    with open(digit_classifier.DIGIT_CLASSIFIER_CARD_PATH) as handle:
        return json.load(handle)


@pytest.fixture(scope="module")
def extractor():
    return digit_classifier.make_digit_extractor()


def test_weights_file_matches_card_sha256_and_is_small(card):
    with open(digit_classifier.DIGIT_CLASSIFIER_PATH, "rb") as handle:
        contents = handle.read()
    assert hashlib.sha256(contents).hexdigest() == card["weights_sha256"]
    assert len(contents) < 2 * 1024 * 1024


def test_holdout_accuracy_matches_card(card, extractor):
    images, labels = data.load_array("mnist5k", "test", with_labels=True)
    predictions = np.argmax(extractor.logits(images), axis=1)
    accuracy = float(np.mean(predictions == labels))
    print(f"mnist5k test accuracy {accuracy:.4f} (card {card['test_accuracy']['mnist5k']:.4f})")
    assert len(images) == 1000
    assert accuracy == pytest.approx(card["test_accuracy"]["mnist5k"], abs=1e-3)
    assert accuracy >= 0.95


def test_extractor_shapes_and_rgb_or_resized_input(extractor):
    rng = np.random.default_rng(0)
    features, logits = extractor.features_and_logits(
        rng.uniform(-1, 1, (3, 32, 32, 3)).astype(np.float32)
    )
    assert features.shape == (3, 128) and logits.shape == (3, 10)


def test_wrong_value_range_is_rejected(extractor):
    with pytest.raises(ValueError, match=r"\[-1, 1\].*255"):
        extractor.features(np.full((2, 28, 28, 1), 255.0, np.float32))


def test_fcd_scale_real_halves_small_noise_large(extractor):
    real = data.load_array("mnist5k", "train")
    half = len(real) // 2
    features = extractor.features(real)
    noise = np.random.default_rng(0).uniform(-1, 1, real[:half].shape).astype(np.float32)
    real_vs_real = frechet_classifier_distance_from_activations(features[:half], features[half:])
    noise_vs_real = frechet_classifier_distance_from_activations(
        extractor.features(noise), features[half:]
    )
    print(
        f"digit FCD: real half vs real half {real_vs_real:.3f}; "
        f"uniform noise vs real {noise_vs_real:.1f}"
    )
    assert real_vs_real < 0.05 * noise_vs_real


def test_evaluate_generator_on_real_images_scores_like_real_data(extractor):
    real = data.load_array("mnist5k", "train")
    replay = lambda z: real[np.abs((z[:, 0] * 1e6).astype(np.int64)) % 2000]
    results = evaluate_generator(replay, real[2000:2500], num_samples=200, batch_size=64, z_dim=4)
    assert results["extractor"] == "digits" and results["num_samples"] == 200
    # FCD is biased upwards at 200 vs 500 samples, but far below noise's ~385.
    assert results["classifier_score"] > 5.0 and results["fcd"] < 20.0
    assert results["kcd_std"] is None  # 200 vs 500 samples fit in one KID block
