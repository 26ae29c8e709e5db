"""bssn_tf.workflows.digit_classifier_training: the recipe writes weights and a card that agree.

One epoch into a temporary folder; the shipped classifier is never touched.
"""

import hashlib
import json
import subprocess
import sys

import numpy as np
import pytest

from bssn_tf import data
from bssn_tf.extractors import digit_classifier
from bssn_tf.workflows import digit_classifier_training as training


def test_class_counts_by_hand():
    assert training.class_counts(np.array([3, 1, 3, 3, 0])) == {"0": 1, "1": 1, "3": 3}


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        (dict(epochs=0), "epochs=0"),
        (dict(batch_size=2.5), "batch_size=2.5"),
        (dict(learning_rate=-1.0), "learning_rate=-1.0"),
    ],
)
def test_bad_config_names_the_value(kwargs, needle):
    with pytest.raises(ValueError, match=needle):
        training.DigitClassifierTrainingConfig(**kwargs)


def test_one_epoch_writes_weights_and_a_card_that_agree(tmp_path):
    with open(digit_classifier.DIGIT_CLASSIFIER_CARD_PATH) as handle:
        shipped_card = json.load(handle)
    config = training.DigitClassifierTrainingConfig(
        epochs=1,
        extra_test_datasets=(),
        output=str(tmp_path / "classifier.keras"),
        card=str(tmp_path / "card.json"),
        command="test",
    )
    card = training.train_digit_classifier(config)
    with open(config.card) as handle:
        assert json.load(handle) == json.loads(json.dumps(card))
    # The same card layout as the shipped classifier's.
    assert set(card) == set(shipped_card)
    assert set(card["training"]) == set(shipped_card["training"])
    with open(config.output, "rb") as handle:
        assert hashlib.sha256(handle.read()).hexdigest() == card["weights_sha256"]
    # The recorded accuracy is the saved file's, recomputed independently here.
    images, labels = data.load_array("mnist5k", "test", with_labels=True)
    model = digit_classifier.load_digit_classifier(config.output)
    logits = model.predict(images, batch_size=500, verbose=0)
    assert card["test_accuracy"]["mnist5k"] == float(np.mean(np.argmax(logits, 1) == labels))
    assert card["test_accuracy"]["mnist5k"] > 0.8  # one epoch on 4,000 digits is far above 0.1
    assert sum(card["training"]["images_per_class"].values()) == card["training"]["num_images"]
    assert card["training"]["epochs"] == 1 and card["command"] == "test"


def test_the_script_refuses_bad_flags_in_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "train.train_digit_classifier", "--epochs=0",
         f"--output={tmp_path}/c.keras", f"--card={tmp_path}/c.json"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "train_digit_classifier: epochs must be an integer >= 1; got epochs=0." in result.stderr
    assert list(tmp_path.iterdir()) == []
