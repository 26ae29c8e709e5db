"""A zoo SavedModel as a plain function from latents to numpy images."""

import os

import numpy as np
import tensorflow as tf

BATCH_SIZE = 500


def latents(num, seed, z_dim):
    """The zoo's latent convention: standard normal float32 [num, z_dim] from numpy's PCG64.

    reference_output.npz holds each model's images for latents(8, seed=0, z_dim).
    """
    return np.random.default_rng(seed).standard_normal((num, z_dim)).astype(np.float32)


class ZooGenerator:
    """Calls a loaded generator SavedModel's `serving_default` signature batch by batch.

    Build it through bssn_tf.zoo.load, which verifies every file before loading.
    """

    def __init__(self, saved_model, card, directory, source=None):
        self._saved_model = saved_model  # the signature's variables live as long as this
        self._serve = saved_model.signatures["serving_default"]
        self.card = card
        self.z_dim = int(card["z_dim"])
        self.directory = directory
        self.source = directory if source is None else source

    def __repr__(self):
        name = self.card.get("name") or os.path.basename(os.path.normpath(self.directory))
        return (
            f"ZooGenerator(name={name!r}, z_dim={self.z_dim}, "
            f"image_shape={self.card.get('image_shape')}, source={str(self.source)!r})"
        )

    def __call__(self, z):
        """z: numpy array or tensor [N, z_dim] -> float32 numpy images [N, H, W, C] in [-1, 1]."""
        z = np.asarray(z, dtype=np.float32)
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"z has shape {list(z.shape)}; this model expects [N, {self.z_dim}]")
        batches = [
            self._serve(z=tf.constant(z[start : start + BATCH_SIZE]))["images"].numpy()
            for start in range(0, max(len(z), 1), BATCH_SIZE)
        ]
        return np.concatenate(batches)

    def sample(self, num, seed=0):
        """Images for latents(num, seed, z_dim)."""
        return self(latents(num, seed, self.z_dim))
