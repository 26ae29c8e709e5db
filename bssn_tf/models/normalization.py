"""Which spectral normalization a discriminator uses, as one name and one scale."""

import keras

from bssn_tf.layers import SpectralNormalization

# norm name -> (wrapper mode, whether `scale` applies). sn/bsn/exact are the
# unscaled methods, so they always use scale 1.0.
NORMS = {
    "none": (None, False),
    "sn": ("sn", False),
    "ssn": ("sn", True),
    "bsn": ("bsn", False),
    "bssn": ("bsn", True),
    "exact": ("exact", False),
}


def check_norm(norm):
    """Raises ValueError naming `norm` unless it is a key of NORMS."""
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {sorted(NORMS)}; got norm={norm!r}.")


def normalized(layer, norm, scale):
    """`layer` wrapped as `norm` says (the layer itself for "none")."""
    check_norm(norm)
    mode, scaled = NORMS[norm]
    if mode is None:
        return layer
    return SpectralNormalization(
        layer, mode=mode, scale=scale if scaled else 1.0, name=f"{layer.name}_{norm}"
    )


def spectral_layers(model):
    """The SpectralNormalization wrappers of `model`, in layer order (for sigma summaries)."""
    found = []
    for layer in model.layers:
        if isinstance(layer, SpectralNormalization):
            found.append(layer)
        elif isinstance(layer, keras.Model):
            found.extend(spectral_layers(layer))
    return found
