"""Which spectral normalization a discriminator uses, as one name and one scale."""

from typing import NamedTuple, Optional

from bssn_tf.layers import SpectralNormalization
from bssn_tf.models.layer_walk import walk_layers


class NormSpec(NamedTuple):
    """What a norm name means: its wrapper `mode` (None: no wrapper) and whether `scale` applies."""

    mode: Optional[str]
    uses_scale: bool


# sn/bsn/exact are the unscaled methods, so they always use scale 1.0.
NORMS = {
    "none": NormSpec(None, False),
    "sn": NormSpec("sn", False),
    "ssn": NormSpec("sn", True),
    "bsn": NormSpec("bsn", False),
    "bssn": NormSpec("bsn", True),
    "exact": NormSpec("exact", False),
}


def check_norm(norm):
    """Raises ValueError naming `norm` unless it is a key of NORMS."""
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {sorted(NORMS)}; got norm={norm!r}.")


def norm_spec(norm):
    """The NormSpec of `norm`; ValueError naming it if unknown."""
    check_norm(norm)
    return NORMS[norm]


def used_scale(norm, scale):
    """`scale` if `norm` uses it (ssn, bssn), else None: the one rule for when a scale counts.

    Records and comparisons go through this: an sn run's --scale changes nothing it
    trains, so it is neither shown, nor compared on resume, nor grouped on.
    """
    return scale if norm_spec(norm).uses_scale else None


def effective_scale(norm, scale):
    """The scale a `norm` discriminator really multiplies by: `used_scale`, or 1.0 where none."""
    used = used_scale(norm, scale)
    return 1.0 if used is None else used


def normalized(layer, norm, scale):
    """`layer` wrapped as `norm` says (the layer itself for "none")."""
    mode = norm_spec(norm).mode
    if mode is None:
        return layer
    return SpectralNormalization(
        layer, mode=mode, scale=effective_scale(norm, scale), name=f"{layer.name}_{norm}"
    )


def spectral_layers(model):
    """The SpectralNormalization wrappers of `model`, in layer order (for sigma summaries)."""
    return [layer for layer in walk_layers(model) if isinstance(layer, SpectralNormalization)]
