"""A classifier seen by the metrics: one pass gives features (FCD/KCD) and logits (score)."""

import dataclasses
from typing import Callable

import numpy as np

# Generators end in tanh; a little slack covers float rounding, not a [0, 1] or
# [0, 255] image, which is the mistake this check exists to catch.
_RANGE_TOLERANCE = 1e-3


def require_unit_range(images, name="images"):
    """Raises ValueError unless `images` lie in [-1, 1], the range every extractor expects."""
    low, high = float(np.min(images)), float(np.max(images))
    if not (np.isfinite(low) and np.isfinite(high)):
        raise ValueError(f"{name} contain NaN or Inf values.")
    if low < -1.0 - _RANGE_TOLERANCE or high > 1.0 + _RANGE_TOLERANCE:
        raise ValueError(
            f"{name} must lie in [-1, 1]; got values in [{low:.4g}, {high:.4g}]. "
            "Scale [0, 255] images with x / 127.5 - 1 and [0, 1] images with 2x - 1."
        )


def require_image_batch(images, name="images"):
    """Returns `images` as float32 [n, H, W, C] with C in {1, 3}, else ValueError."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(
            f"{name} must be [num_images, height, width, 1 or 3 channels]; got shape "
            f"{images.shape}."
        )
    require_unit_range(images, name)
    return images


@dataclasses.dataclass(frozen=True)
class FeatureExtractor:
    """`features_and_logits(images in [-1, 1]) -> (features [n, d], logits [n, k])`.

    `features` and `logits` are the single-output views to pass as `classifier_fn`
    to the TF-GAN style image-level metric functions. `provenance` is what a
    metrics record must state to make its numbers comparable (weights sha256,
    resize convention, ...).
    """

    name: str
    features_and_logits: Callable[[np.ndarray], tuple]
    provenance: dict = dataclasses.field(default_factory=dict, compare=False)

    def features(self, images):
        return self.features_and_logits(images)[0]

    def logits(self, images):
        return self.features_and_logits(images)[1]
