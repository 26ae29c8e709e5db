"""Trains the digit classifier shipped in bssn_tf/metrics/assets/ and writes its card.

  python -m train.train_digit_classifier [--epochs=15 --seed=0]

Trains on the mnist5k train split only; the test split is touched once, after
training, to measure the accuracy recorded in the card (no model selection on
it). The weights and the card are each written to a temporary file and then
os.replace()d, so a crash never leaves a card that disagrees with its weights.
"""

import hashlib
import os
import platform
import sys

import keras
import numpy as np
import tensorflow as tf
from absl import app, flags

from bssn_tf.io import write_file_atomically, write_json_atomically
from bssn_tf.metrics import digit_classifier
from bssn_tf.metrics.labeled_digits import load_images_and_labels

_DATASET = flags.DEFINE_string("dataset", "mnist5k", "Labelled training dataset.")
_EXTRA_TEST_DATASETS = flags.DEFINE_list(
    "extra_test_datasets",
    ["digits"],
    "Datasets whose test-split accuracy is also recorded in the card.",
)
_EPOCHS = flags.DEFINE_integer("epochs", 15, "Training epochs.")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 64, "Training batch size.")
_LEARNING_RATE = flags.DEFINE_float("learning_rate", 1e-3, "Adam learning rate.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of initialisation, shuffling and augmentation.")
_OUTPUT = flags.DEFINE_string(
    "output", digit_classifier.DIGIT_CLASSIFIER_PATH, "Where to write the .keras file."
)
_CARD = flags.DEFINE_string(
    "card", digit_classifier.DIGIT_CLASSIFIER_CARD_PATH, "Where to write the JSON card."
)

# Small shifts and rotations, filled with the background value -1: they make the
# features depend less on exact centring, which generated digits do not share.
_AUGMENTATION = {"translation_fraction": 0.1, "rotation_fraction_of_turn": 0.05}


def _augmenter(seed):
    return keras.Sequential(
        [
            keras.layers.RandomTranslation(
                _AUGMENTATION["translation_fraction"],
                _AUGMENTATION["translation_fraction"],
                fill_mode="constant",
                fill_value=-1.0,
                seed=seed,
            ),
            keras.layers.RandomRotation(
                _AUGMENTATION["rotation_fraction_of_turn"],
                fill_mode="constant",
                fill_value=-1.0,
                seed=seed + 1,
            ),
        ]
    )


def _accuracy(model, images, labels):
    predictions = np.argmax(model.predict(images, batch_size=500, verbose=0), axis=1)
    return float(np.mean(predictions == labels))


def _class_counts(labels):
    return {str(label): int(count) for label, count in zip(*np.unique(labels, return_counts=True))}


def _architecture(model):
    return [
        {
            "name": layer.name,
            "class": type(layer).__name__,
            "output_shape": list(layer.output.shape[1:]),
            "parameters": int(layer.count_params()),
        }
        for layer in model.layers
    ]


def _save_inference_model_atomically(model, path):
    """Saves weights and architecture without optimizer state (a third of the size)."""
    inference_model = digit_classifier.build_digit_classifier()
    inference_model.set_weights(model.get_weights())
    write_file_atomically(path, inference_model.save, suffix=".keras")
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def main(argv):
    del argv
    keras.utils.set_random_seed(_SEED.value)
    train_images, train_labels = load_images_and_labels(_DATASET.value, "train")
    test_images, test_labels = load_images_and_labels(_DATASET.value, "test")

    model = digit_classifier.build_digit_classifier()
    model.compile(
        optimizer=keras.optimizers.Adam(_LEARNING_RATE.value),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    augment = _augmenter(_SEED.value)
    batches = (
        tf.data.Dataset.from_tensor_slices((train_images, train_labels))
        .shuffle(len(train_images), seed=_SEED.value)
        .batch(_BATCH_SIZE.value)
        .map(lambda x, y: (augment(x, training=True), y))
    )
    history = model.fit(batches, epochs=_EPOCHS.value, verbose=2)

    test_accuracy = {_DATASET.value: _accuracy(model, test_images, test_labels)}
    test_counts = {_DATASET.value: _class_counts(test_labels)}
    for name in _EXTRA_TEST_DATASETS.value:
        images, labels = load_images_and_labels(name, "test")
        test_accuracy[name] = _accuracy(model, images, labels)
        test_counts[name] = _class_counts(labels)

    sha256 = _save_inference_model_atomically(model, _OUTPUT.value)
    card = {
        "name": "bssn_tf digit classifier",
        "purpose": "Feature extractor for FCD/KCD and classifier score of 28x28 "
        "grayscale digit GANs; not comparable with Inception FID/IS.",
        "input": "[n, 28, 28, 1] float32 in [-1, 1]",
        "feature_layer": {"name": digit_classifier.FEATURE_LAYER, "size": 128, "after": "ReLU"},
        "logits_layer": {"name": digit_classifier.LOGITS_LAYER, "size": 10},
        "architecture": _architecture(model),
        "total_parameters": int(model.count_params()),
        "training": {
            "dataset": _DATASET.value,
            "split": "train",
            "num_images": int(len(train_images)),
            "images_per_class": _class_counts(train_labels),
            "seed": _SEED.value,
            "epochs": _EPOCHS.value,
            "batch_size": _BATCH_SIZE.value,
            "optimizer": f"Adam(learning_rate={_LEARNING_RATE.value})",
            "loss": "sparse categorical cross-entropy on logits",
            "augmentation": _AUGMENTATION,
            "final_epoch_train_accuracy": float(history.history["accuracy"][-1]),
        },
        "test_accuracy": test_accuracy,
        "test_split": "test",
        "test_images_per_class": test_counts,
        "weights_file": os.path.basename(_OUTPUT.value),
        "weights_sha256": sha256,
        "software": {
            "python": platform.python_version(),
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "numpy": np.__version__,
        },
        "command": " ".join(["python -m train.train_digit_classifier"] + sys.argv[1:]),
    }
    write_json_atomically(_CARD.value, card)
    print(f"test accuracy: {test_accuracy}; weights sha256 {sha256}")


if __name__ == "__main__":
    app.run(main)
