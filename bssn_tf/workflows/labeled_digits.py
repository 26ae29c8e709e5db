"""Images with their class labels, for training and checking the digit classifier.

`bssn_tf.data.load_array` returns images only. Labels are read from the same
TFDS split in the same stored order (`shuffle_files=False`), so row i of both
arrays is the same example; the images still come from `load_array`, so they
get exactly the preprocessing the metrics see.
"""

import numpy as np
import tensorflow_datasets as tfds

from bssn_tf import data


def load_images_and_labels(name, split):
    """(float32 images [N, 28, 28, 1] in [-1, 1], int64 labels [N]) of a labelled split."""
    images = data.load_array(name, split)
    examples = tfds.builder(data.DATASETS[name].tfds_name).as_dataset(
        split=split, shuffle_files=False
    )
    labels = np.array(
        [label for label in examples.map(lambda example: example["label"]).as_numpy_iterator()]
    )
    if len(labels) != len(images):
        raise ValueError(f"{name}/{split}: {len(images)} images but {len(labels)} labels.")
    return images, labels.astype(np.int64)
