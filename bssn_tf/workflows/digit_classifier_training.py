"""The recipe that trains the shipped digit classifier and writes its card.

Trains on the train split only; the test split is touched once, after
training, to measure the accuracy recorded in the card (no model selection on
it). The weights and the card are each written atomically, weights first, so a
crash never leaves a card that disagrees with its weights.
"""

import dataclasses
import os

import keras
import numpy as np
import tensorflow as tf

from bssn_tf import data
from bssn_tf.extractors import digit_classifier
from bssn_tf.io import write_file_atomically, write_json_atomically
from bssn_tf.io.checks import check_int
from bssn_tf.io.hashing import sha256_of
from bssn_tf.io.provenance import software_versions

# Small shifts and rotations, filled with the background value -1: they make the
# features depend less on exact centring, which generated digits do not share.
AUGMENTATION = {"translation_fraction": 0.1, "rotation_fraction_of_turn": 0.05}


@dataclasses.dataclass(frozen=True)
class DigitClassifierTrainingConfig:
    """How to train the classifier and where its weights and card go.

    `extra_test_datasets` have their test-split accuracy recorded too;
    `command` is recorded in the card as the command that made it.
    """

    dataset: str = "mnist5k"
    extra_test_datasets: tuple = ("digits",)
    epochs: int = 15
    batch_size: int = 64
    learning_rate: float = 1e-3
    seed: int = 0
    output: str = digit_classifier.DIGIT_CLASSIFIER_PATH
    card: str = digit_classifier.DIGIT_CLASSIFIER_CARD_PATH
    command: str = "python -m train.train_digit_classifier"

    def __post_init__(self):
        for name in ("epochs", "batch_size"):
            check_int(name, getattr(self, name), 1)
        if not self.learning_rate > 0:
            raise ValueError(
                f"learning_rate must be > 0; got learning_rate={self.learning_rate!r}."
            )
        object.__setattr__(self, "extra_test_datasets", tuple(self.extra_test_datasets))


def augmenter(seed):
    """The training-time augmentation (AUGMENTATION), seeded."""
    return keras.Sequential(
        [
            keras.layers.RandomTranslation(
                AUGMENTATION["translation_fraction"],
                AUGMENTATION["translation_fraction"],
                fill_mode="constant",
                fill_value=-1.0,
                seed=seed,
            ),
            keras.layers.RandomRotation(
                AUGMENTATION["rotation_fraction_of_turn"],
                fill_mode="constant",
                fill_value=-1.0,
                seed=seed + 1,
            ),
        ]
    )


def accuracy(model, images, labels):
    """Fraction of `images` whose arg-max logit is the label."""
    predictions = np.argmax(model.predict(images, batch_size=500, verbose=0), axis=1)
    return float(np.mean(predictions == labels))


def class_counts(labels):
    """`{"<label>": count}` of the labels present."""
    return {str(label): int(count) for label, count in zip(*np.unique(labels, return_counts=True))}


def architecture(model):
    """One `{name, class, output_shape, parameters}` entry per layer, for the card."""
    return [
        {
            "name": layer.name,
            "class": type(layer).__name__,
            "output_shape": list(layer.output.shape[1:]),
            "parameters": int(layer.count_params()),
        }
        for layer in model.layers
    ]


def save_inference_model_atomically(model, path):
    """Saves weights and architecture without optimizer state (a third of the size); its sha256."""
    inference_model = digit_classifier.build_digit_classifier()
    inference_model.set_weights(model.get_weights())
    write_file_atomically(path, inference_model.save, suffix=".keras")
    return sha256_of(path)


def train_digit_classifier(config):
    """Trains the classifier as `config` says, writes `config.output` then `config.card`.

    Returns:
      The card (a dict): training settings, per-dataset test accuracy, the
      weights' sha256 and the software versions.
    """
    keras.utils.set_random_seed(config.seed)
    train_images, train_labels = data.load_array(config.dataset, "train", with_labels=True)
    test_images, test_labels = data.load_array(config.dataset, "test", with_labels=True)

    model = digit_classifier.build_digit_classifier()
    model.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    augment = augmenter(config.seed)
    batches = (
        tf.data.Dataset.from_tensor_slices((train_images, train_labels))
        .shuffle(len(train_images), seed=config.seed)
        .batch(config.batch_size)
        .map(lambda x, y: (augment(x, training=True), y))
    )
    history = model.fit(batches, epochs=config.epochs, verbose=2)

    test_accuracy = {config.dataset: accuracy(model, test_images, test_labels)}
    test_counts = {config.dataset: class_counts(test_labels)}
    for name in config.extra_test_datasets:
        images, labels = data.load_array(name, "test", with_labels=True)
        test_accuracy[name] = accuracy(model, images, labels)
        test_counts[name] = class_counts(labels)

    sha256 = save_inference_model_atomically(model, config.output)
    card = {
        "name": "bssn_tf digit classifier",
        "purpose": "Feature extractor for FCD/KCD and classifier score of 28x28 "
        "grayscale digit GANs; not comparable with Inception FID/IS.",
        "input": "[n, 28, 28, 1] float32 in [-1, 1]",
        "feature_layer": {"name": digit_classifier.FEATURE_LAYER, "size": 128, "after": "ReLU"},
        "logits_layer": {"name": digit_classifier.LOGITS_LAYER, "size": 10},
        "architecture": architecture(model),
        "total_parameters": int(model.count_params()),
        "training": {
            "dataset": config.dataset,
            "split": "train",
            "num_images": int(len(train_images)),
            "images_per_class": class_counts(train_labels),
            "seed": config.seed,
            "epochs": config.epochs,
            "batch_size": config.batch_size,
            "optimizer": f"Adam(learning_rate={config.learning_rate})",
            "loss": "sparse categorical cross-entropy on logits",
            "augmentation": AUGMENTATION,
            "final_epoch_train_accuracy": float(history.history["accuracy"][-1]),
        },
        "test_accuracy": test_accuracy,
        "test_split": "test",
        "test_images_per_class": test_counts,
        "weights_file": os.path.basename(config.output),
        "weights_sha256": sha256,
        "software": software_versions(),
        "command": config.command,
    }
    write_json_atomically(config.card, card)
    return card
