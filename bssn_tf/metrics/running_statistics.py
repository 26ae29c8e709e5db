"""FID statistics accumulated batch by batch, so any number of images fits in memory.

`fid_statistics` needs every activation at once: [n, d] float64 is 0.8 GB for
the 50k images of the Mimicry protocol and grows with n. This keeps only the
sums (d + d^2 floats). They are taken around the first batch's mean (the
shifted-data estimate), so the final subtraction loses no precision to the
large common offset that non-negative Inception features have; the result
equals `fid_statistics` of all activations to float64 rounding.
"""

import numpy as np

from bssn_tf.metrics.gaussian_statistics import require_statistics


class RunningStatistics:
    """`add` [k, d] activation batches, then `statistics()` gives (mu, sigma) of all of them."""

    def __init__(self, name="activations"):
        self.name = name
        self.count = 0
        self._shift = self._sum = self._outer = None

    def add(self, activations):
        batch = np.asarray(activations, dtype=np.float64)
        if batch.ndim != 2 or (self._shift is not None and batch.shape[1] != len(self._shift)):
            expected = "d" if self._shift is None else len(self._shift)
            raise ValueError(
                f"{self.name}: a batch must be [k, {expected}] activations; got shape "
                f"{batch.shape}."
            )
        if self._shift is None:
            self._shift = batch.mean(axis=0)
            self._sum = np.zeros_like(self._shift)
            self._outer = np.zeros((len(self._shift), len(self._shift)))
        centered = batch - self._shift
        self._sum += centered.sum(axis=0)
        self._outer += centered.T @ centered
        self.count += len(batch)

    def statistics(self):
        """(mu [d], sigma [d, d]) in float64; sigma is unbiased (n - 1), as in fid_statistics."""
        if self.count < 2:
            raise ValueError(f"{self.name}: statistics need at least 2 images; got {self.count}.")
        offset = self._sum / self.count
        sigma = (self._outer - self.count * np.outer(offset, offset)) / (self.count - 1)
        return require_statistics(self._shift + offset, sigma, self.name)
