"""The shipped digit classifier: the feature extractor for 28x28 grayscale digits.

Inception-v3 features say little about MNIST-like digits and its weights cannot
be downloaded here, so digit GANs are scored with this small CNN, trained by
`bssn_tf/workflows/digit_classifier_training.py` on the `mnist5k` train split. Its card
(`assets/digit_classifier_card.json`) records the training data, hold-out
accuracy and the weights' sha256. Numbers from it are comparable only with
numbers from the same weights, never with Inception FID/IS.
"""

import functools
import os

import keras
import tensorflow as tf

from bssn_tf.extractors.feature_extractor import FeatureExtractor, require_image_batch

_ASSETS = os.path.join(os.path.dirname(__file__), "assets")
DIGIT_CLASSIFIER_PATH = os.path.join(_ASSETS, "digit_classifier.keras")
DIGIT_CLASSIFIER_CARD_PATH = os.path.join(_ASSETS, "digit_classifier_card.json")
DIGIT_IMAGE_SIZE = 28
NUM_DIGIT_CLASSES = 10
FEATURE_LAYER = "features"
LOGITS_LAYER = "logits"


def build_digit_classifier():
    """Untrained CNN: [n, 28, 28, 1] in [-1, 1] -> 10 logits; 128-d layer 'features'."""
    inputs = keras.Input((DIGIT_IMAGE_SIZE, DIGIT_IMAGE_SIZE, 1), name="images")
    x = keras.layers.Conv2D(32, 3, activation="relu", name="conv1")(inputs)
    x = keras.layers.MaxPooling2D(name="pool1")(x)
    x = keras.layers.Conv2D(64, 3, activation="relu", name="conv2")(x)
    x = keras.layers.MaxPooling2D(name="pool2")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(128, activation="relu", name=FEATURE_LAYER)(x)
    x = keras.layers.Dropout(0.5, name="dropout")(x)
    logits = keras.layers.Dense(NUM_DIGIT_CLASSES, name=LOGITS_LAYER)(x)
    return keras.Model(inputs, logits, name="digit_classifier")


def to_digit_classifier_input(images):
    """[n, H, W, 1 or 3] in [-1, 1] -> [n, 28, 28, 1].

    RGB becomes grayscale with tf.image.rgb_to_grayscale (ITU-R 601 luma weights,
    which sum to 1, so the range stays [-1, 1]); other sizes are resized to 28x28
    with tf.image.resize bilinear (half-pixel centres, no antialiasing).
    """
    images = require_image_batch(images)
    if images.shape[-1] == 3:
        images = tf.image.rgb_to_grayscale(images).numpy()
    if images.shape[1:3] != (DIGIT_IMAGE_SIZE, DIGIT_IMAGE_SIZE):
        images = tf.image.resize(
            images, (DIGIT_IMAGE_SIZE, DIGIT_IMAGE_SIZE), method="bilinear"
        ).numpy()
    return images


def load_digit_classifier(path=DIGIT_CLASSIFIER_PATH):
    """The trained Keras classifier (logits output) from a `.keras` file."""
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"No digit classifier at {path}; train one with "
            "`python -m train.train_digit_classifier`."
        )
    return keras.saving.load_model(path, compile=False)


@functools.lru_cache(maxsize=4)
def make_digit_extractor(path=DIGIT_CLASSIFIER_PATH):
    """FeatureExtractor 'digits': 128-d 'features' layer and 10 logits, cached per path."""
    classifier = load_digit_classifier(path)
    two_heads = keras.Model(
        classifier.inputs, [classifier.get_layer(FEATURE_LAYER).output, classifier.output]
    )
    run = tf.function(lambda x: two_heads(x, training=False), reduce_retracing=True)

    def features_and_logits(images):
        features, logits = run(tf.constant(to_digit_classifier_input(images)))
        return features.numpy(), logits.numpy()

    return FeatureExtractor("digits", features_and_logits)
