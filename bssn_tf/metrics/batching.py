"""Runs a classifier over many images in fixed-size batches, so memory stays bounded."""

import numpy as np


def run_in_batches(classifier_fn, images, batch_size, on_batch_done=None):
    """Concatenates `classifier_fn(batch)` over `images` as a float64 numpy array.

    `on_batch_done(num_images_in_batch)` lets callers drive a progress bar.
    """
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be a positive integer; got {batch_size}.")
    images = np.asarray(images)
    outputs = []
    for start in range(0, len(images), int(batch_size)):
        batch = images[start : start + int(batch_size)]
        outputs.append(np.asarray(classifier_fn(batch), dtype=np.float64))
        if on_batch_done is not None:
            on_batch_done(len(batch))
    if not outputs:
        raise ValueError("images is empty; need at least one image.")
    return np.concatenate(outputs, axis=0)
