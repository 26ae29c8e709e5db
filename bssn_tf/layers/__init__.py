"""Spectral normalization wrappers for Keras layers (keras.ops only)."""

from bssn_tf.layers.power_iteration import hold_power_iteration
from bssn_tf.layers.spectral_normalization import (
    BSN,
    BSSN,
    DEFAULT_BSSN_SCALE,
    SN,
    SSN,
    ExactSN,
    SpectralNormalization,
)
from bssn_tf.layers.spectralize import spectralize

__all__ = [
    "BSN",
    "BSSN",
    "DEFAULT_BSSN_SCALE",
    "SN",
    "SSN",
    "ExactSN",
    "SpectralNormalization",
    "hold_power_iteration",
    "spectralize",
]
