"""A zoo SavedModel as a plain function from latents to numpy images."""

import os

import numpy as np
import tensorflow as tf

BATCH_SIZE = 500


def latents(num, seed, z_dim):
    """The zoo's latent convention: standard normal float32 [num, z_dim] from numpy's PCG64.

    reference_output.npz holds each model's images for latents(8, seed=0, z_dim)
    (with reference_labels(8, num_classes) for conditional models).
    """
    return np.random.default_rng(seed).standard_normal((num, z_dim)).astype(np.float32)


def reference_labels(num, num_classes):
    """The labels of a conditional model's reference output: 0, 1, ... cycling through the
    classes; None for an unconditional model (num_classes 0)."""
    return np.arange(num, dtype=np.int32) % num_classes if num_classes else None


def checked_labels(labels, count, num_classes):
    """`labels` as int32 [count], or ValueError naming what is wrong.

    A conditional model (`num_classes` > 0) needs one int label in
    [0, num_classes) per latent; an unconditional one (0) takes none.
    """
    if not num_classes:
        if labels is not None:
            raise ValueError("this model is unconditional; it takes no labels")
        return None
    if labels is None:
        raise ValueError(
            f"this model is class-conditional; pass labels, {count} ints in [0, {num_classes})"
        )
    array = np.asarray(labels)
    if array.shape != (count,) or not (array.size == 0 or np.issubdtype(array.dtype, np.integer)):
        raise ValueError(
            f"labels must be {count} ints in [0, {num_classes}) (one per latent); got "
            f"dtype {array.dtype} and shape {list(array.shape)}"
        )
    outside = array[(array < 0) | (array >= num_classes)]
    if outside.size:
        raise ValueError(f"label {outside[0]} is outside [0, {num_classes}) for this model")
    return array.astype(np.int32)


class ZooGenerator:
    """Calls a loaded generator SavedModel's `serving_default` signature batch by batch.

    Build it through bssn_tf.zoo.load, which verifies every file before loading.
    Class-conditional models (card `num_classes` > 0) take a label per latent.
    """

    def __init__(self, saved_model, card, directory, source=None):
        self._saved_model = saved_model  # the signature's variables live as long as this
        self._serve = saved_model.signatures["serving_default"]
        self.card = card
        self.z_dim = int(card["z_dim"])
        self.num_classes = int(card.get("num_classes", 0))
        self.directory = directory
        self.source = directory if source is None else source

    def __repr__(self):
        name = self.card.get("name") or os.path.basename(os.path.normpath(self.directory))
        return (
            f"ZooGenerator(name={name!r}, z_dim={self.z_dim}, "
            f"image_shape={self.card.get('image_shape')}, source={str(self.source)!r})"
        )

    def __call__(self, z, labels=None):
        """z: numpy array or tensor [N, z_dim] (and for conditional models labels, N ints in
        [0, num_classes)) -> float32 numpy images [N, H, W, C] in [-1, 1]."""
        z = np.asarray(z, dtype=np.float32)
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"z has shape {list(z.shape)}; this model expects [N, {self.z_dim}]")
        labels = checked_labels(labels, len(z), self.num_classes)
        batches = []
        for start in range(0, max(len(z), 1), BATCH_SIZE):
            inputs = {"z": tf.constant(z[start : start + BATCH_SIZE])}
            if labels is not None:
                inputs["labels"] = tf.constant(labels[start : start + BATCH_SIZE])
            batches.append(self._serve(**inputs)["images"].numpy())
        return np.concatenate(batches)

    def sample(self, num, seed=0, labels=None):
        """Images for latents(num, seed, z_dim), with `labels` for conditional models."""
        return self(latents(num, seed, self.z_dim), labels)

    def class_rows(self, per_class, seed=0):
        """A conditional model's images for latents(per_class, seed, z_dim) under every
        label: `[num_classes * per_class, H, W, C]`, class by class (one grid row each)."""
        if not self.num_classes:
            raise ValueError("this model is unconditional; it has no classes to show")
        z = latents(per_class, seed, self.z_dim)
        return self(
            np.tile(z, (self.num_classes, 1)), np.repeat(np.arange(self.num_classes), per_class)
        )

    def with_uniform_labels(self, seed=0):
        """`z -> images` for label-free metrics: a conditional model gets labels drawn
        uniformly from numpy's default_rng(seed), one stream over all calls; an
        unconditional model is called as it is."""
        if not self.num_classes:
            return self
        rng = np.random.default_rng(seed)
        return lambda z: self(z, rng.integers(0, self.num_classes, len(z)))
