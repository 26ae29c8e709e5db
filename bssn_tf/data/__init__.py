"""Datasets for GAN training, all read through TFDS as float32 images in [-1, 1].

Importing this package registers the offline TFDS builders `mnist5k` and `digits`.
"""

from bssn_tf.data.errors import DatasetUnavailableError
from bssn_tf.data.pipeline import load_array, load_images, training_batches
from bssn_tf.data.specs import DATASETS, DatasetSpec

__all__ = [
    "DATASETS",
    "DatasetSpec",
    "DatasetUnavailableError",
    "load_array",
    "load_images",
    "training_batches",
]
