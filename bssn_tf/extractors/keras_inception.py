"""Inception-v3 feature extractor: pool_3 (2048-d) features and ImageNet logits.

Built from `keras.applications.InceptionV3`, because TF-GAN's graph and TF Hub
cannot be fetched here. Differences from TF-GAN's `classifier_fn`: Keras' model
has 1000 logits (TF-GAN's 2015 graph has 1008), so scores are close to, not
identical with, published ones. Images in [-1, 1] (already Inception's input
scale) are resized to 299x299 by inception_resize's "tf_legacy" convention,
TF-GAN's `preprocess_image` resize (`tf.compat.v1.image.resize_bilinear`,
align_corners=False, no half-pixel centres). Grayscale images are repeated to 3
channels.
"""

import functools
import os

import keras
import numpy as np
import tensorflow as tf

from bssn_tf.extractors.feature_extractor import FeatureExtractor, require_image_batch
from bssn_tf.extractors.inception_resize import INCEPTION_IMAGE_SIZE, resize_images

INCEPTION_WEIGHTS_ENV = "BSSN_INCEPTION_WEIGHTS"
INCEPTION_WEIGHTS_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels.h5"
POOL3_LAYER = "avg_pool"


def _missing_weights_message(reason):
    return (
        f"{reason} Inception-v3 weights cannot be downloaded on this machine. On a "
        'connected machine run `python -c "import keras; '
        "keras.applications.InceptionV3(weights='imagenet')\"`, which stores "
        f"~/.keras/models/{INCEPTION_WEIGHTS_FILE} (92 MB, the with-top ImageNet "
        "weights), copy that file here, then pass its path as "
        f"make_inception_extractor(weights=PATH) or set {INCEPTION_WEIGHTS_ENV}=PATH."
    )


def resolve_inception_weights(weights):
    """'env' -> the path in $BSSN_INCEPTION_WEIGHTS; a path -> itself; None -> None."""
    if weights is None:
        return None
    if weights == "env":
        weights = os.environ.get(INCEPTION_WEIGHTS_ENV)
        if not weights:
            raise FileNotFoundError(
                _missing_weights_message(
                    f"No Inception weights given and ${INCEPTION_WEIGHTS_ENV} is not set."
                )
            )
    if not os.path.isfile(weights):
        raise FileNotFoundError(
            _missing_weights_message(f"Inception weights file {weights!r} does not exist.")
        )
    return weights


def to_inception_input(images):
    """[n, H, W, 1 or 3] in [-1, 1] -> [n, 299, 299, 3] float32 ("tf_legacy" resize)."""
    images = require_image_batch(images)
    if images.shape[-1] == 1:
        images = np.repeat(images, 3, axis=-1)
    return resize_images(images, INCEPTION_IMAGE_SIZE, "tf_legacy")


@functools.lru_cache(maxsize=2)
def make_inception_extractor(weights="env"):
    """FeatureExtractor 'inception': pool_3 features [n, 2048] and logits [n, 1000].

    `weights`: a path to the Keras with-top `.h5` file, "env" to read it from
    $BSSN_INCEPTION_WEIGHTS, or None for random weights (shape checks only).
    """
    network = keras.applications.InceptionV3(
        include_top=True, weights=resolve_inception_weights(weights), classifier_activation=None
    )
    two_heads = keras.Model(network.inputs, [network.get_layer(POOL3_LAYER).output, network.output])
    run = tf.function(lambda x: two_heads(x, training=False), reduce_retracing=True)

    def features_and_logits(images):
        features, logits = run(tf.constant(to_inception_input(images)))
        return features.numpy(), logits.numpy()

    # Other weights, 1000 classes and another last block than the FID Inception.
    provenance = {"comparable": "not comparable with published FID/IS (Keras ImageNet weights)"}
    return FeatureExtractor("inception", features_and_logits, provenance)
