"""TFDS builder `digits`: scikit-learn's 1,797 8x8 handwritten digits.

Source: `sklearn.datasets.load_digits()`, values 0..16, stored as
uint8 `round(v * 255 / 16)` so that 16 maps to 255 like any 8-bit image.
Splits (see `embedded.stratified_holdout`): within each class, occurrences with
k % 5 == 4 form `test` (355 images), the rest `train` (1,442), about 80/20.
"""

import numpy as np
import tensorflow_datasets as tfds

from bssn_tf.data.embedded import EmbeddedImageBuilder, as_uint8_images
from bssn_tf.data.errors import import_extra

SOURCE_MAX_VALUE = 16


class Digits(EmbeddedImageBuilder):
    """Tiny real digit images that build without network access."""

    name = "digits"
    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "sklearn.datasets.load_digits(); stratified 80/20 split."}
    IMAGE_SHAPE = (8, 8, 1)
    DESCRIPTION = (
        "1,797 8x8 digits from sklearn.datasets.load_digits(), scaled 0..16 -> 0..255 "
        "by round(v * 255 / 16). Per class, occurrence k goes to 'test' iff k % 5 == 4."
    )

    def _source_arrays(self):
        sklearn_datasets = import_extra("sklearn.datasets", "scikit-learn", needed_by=self.name)
        digits = sklearn_datasets.load_digits()
        scaled = np.round(digits.images * (255 / SOURCE_MAX_VALUE))
        return as_uint8_images(
            scaled, self.IMAGE_SHAPE, "sklearn.datasets.load_digits()"
        ), digits.target
