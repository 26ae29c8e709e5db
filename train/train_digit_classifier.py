"""Trains the digit classifier shipped in bssn_tf/extractors/assets/ and writes its card.

  python -m train.train_digit_classifier [--epochs=15 --seed=0]

Flags -> DigitClassifierTrainingConfig -> train_digit_classifier
(bssn_tf/workflows/digit_classifier_training.py, which describes the recipe).
"""

import sys

from absl import app, flags

from bssn_tf.extractors import digit_classifier
from bssn_tf.workflows.digit_classifier_training import (
    DigitClassifierTrainingConfig,
    train_digit_classifier,
)

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


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    try:
        config = DigitClassifierTrainingConfig(
            dataset=_DATASET.value,
            extra_test_datasets=tuple(_EXTRA_TEST_DATASETS.value),
            epochs=_EPOCHS.value,
            batch_size=_BATCH_SIZE.value,
            learning_rate=_LEARNING_RATE.value,
            seed=_SEED.value,
            output=_OUTPUT.value,
            card=_CARD.value,
            command=" ".join(["python -m train.train_digit_classifier"] + sys.argv[1:]),
        )
    except ValueError as error:
        sys.exit(f"train_digit_classifier: {error}")
    card = train_digit_classifier(config)
    print(f"test accuracy: {card['test_accuracy']}; weights sha256 {card['weights_sha256']}")


if __name__ == "__main__":
    app.run(main)
