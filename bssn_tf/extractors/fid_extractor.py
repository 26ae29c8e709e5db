"""The standard FID/IS feature extractor: pytorch-fid's Inception weights in Keras.

Combines the weights file (fid_weights), the torch-free reader
(torch_checkpoint), the network (fid_inception) and the resize convention
(inception_resize) into one FeatureExtractor named "fid_inception".
"""

import functools
import os

import keras
import numpy as np

from bssn_tf.extractors.feature_extractor import FeatureExtractor, require_image_batch
from bssn_tf.extractors.fid_inception import FidInceptionNetwork
from bssn_tf.extractors.fid_weights import resolve_fid_weights
from bssn_tf.extractors.inception_resize import (
    INCEPTION_IMAGE_SIZE,
    require_resize_mode,
    resize_images,
)
from bssn_tf.extractors.torch_checkpoint import load_torch_state_dict
from bssn_tf.io.hashing import sha256_of


@functools.lru_cache(maxsize=4)
def make_fid_inception_extractor(
    weights="env", resize="tf_legacy", batch_size=50, jit_compile=True
):
    """FeatureExtractor "fid_inception": pool_3 features [n, 2048] and logits [n, 1008].

    Args:
      weights: path of pytorch-fid's `pt_inception-2015-12-05-6726825d.pth`;
        "env" for $BSSN_FID_INCEPTION_WEIGHTS; "download" to fetch and verify
        it into a cache; None for random weights (shape checks only; its
        numbers mean nothing).
      resize: "tf_legacy" (TF-GAN and the BSSN paper's code) or "pytorch"
        (pytorch-fid); 299x299 images are never resized.
      batch_size: images per forward pass. Longer inputs run in batches of this
        size (the last one padded) so the compiled network sees one shape.
      jit_compile: run the network XLA-compiled. None: only on the JAX backend
        (which always compiles); on TensorFlow's CPU backend its oneDNN
        convolutions beat XLA's (benchmarks/RESULTS.md).

    Images are [n, H, W, 1 or 3] in [-1, 1]; grayscale is repeated to 3 channels.

    Raises:
      FileNotFoundError: no weights file; the message says where to get it.
      UnsafeCheckpointError / ValueError: the file is no torch state dict, names a
        disallowed pickle global, or lacks / adds / misshapes a tensor.
    """
    require_resize_mode(resize)
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be a positive integer; got {batch_size}.")
    path = resolve_fid_weights(weights)
    network = FidInceptionNetwork()
    if path is not None:
        network.assign_state_dict(load_torch_state_dict(path), path)
    if jit_compile is None:
        jit_compile = keras.backend.backend() == "jax"
    network.model.compile(jit_compile=bool(jit_compile))

    def run(batch):
        """[k, H, W, C] -> features, logits; resized per batch so memory stays bounded."""
        if batch.shape[-1] == 1:
            batch = np.repeat(batch, 3, axis=-1)
        batch = resize_images(batch, INCEPTION_IMAGE_SIZE, resize)
        features, logits = network.model.predict_on_batch(batch)
        return np.asarray(features), np.asarray(logits)

    def features_and_logits(images):
        images = require_image_batch(images)
        count = len(images)
        if count <= batch_size:
            return run(images)
        outputs = []
        for start in range(0, count, batch_size):
            batch = images[start : start + batch_size]
            padding = batch_size - len(batch)
            if padding:
                batch = np.concatenate([batch, np.zeros((padding,) + batch.shape[1:], batch.dtype)])
            outputs.append(run(batch))
        features, logits = (np.concatenate(parts)[:count] for parts in zip(*outputs))
        return features, logits

    provenance = {
        "extractor": "fid_inception",
        "weights": "random (shape checks only)" if path is None else os.path.basename(path),
        "weights_sha256": None if path is None else sha256_of(path),
        "resize": resize,
    }
    return FeatureExtractor("fid_inception", features_and_logits, provenance)
