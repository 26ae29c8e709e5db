"""Datasets for GAN training, all read through TFDS as float32 images in [-1, 1].

A dataset is a registered name, an image folder (`folder:PATH`) or a prepared TFDS
image dataset (`tfds:NAME`); see bssn_tf.data.sources. Names load on first use
(PEP 562), so `python -m bssn_tf.data` can quiet TensorFlow before importing it;
loading the pipeline registers the offline TFDS builders `mnist5k` and `digits`.
"""

from bssn_tf.io.lazy import lazy_names

_HOMES = {
    "DATASETS": "bssn_tf.data.specs",
    "DatasetSpec": "bssn_tf.data.specs",
    "DatasetUnavailableError": "bssn_tf.data.errors",
    "TooFewImagesError": "bssn_tf.data.errors",
    "load_array": "bssn_tf.data.pipeline",
    "load_images": "bssn_tf.data.pipeline",
    "resolve_dataset": "bssn_tf.data.sources",
    "training_batches": "bssn_tf.data.pipeline",
}
__getattr__, __all__ = lazy_names(__name__, _HOMES)
