"""Channel counts scaled by a width multiplier, so small CPU versions of each model exist."""


def scaled_channels(base, width):
    """`base * width` rounded, at least 1 (width 0.5 turns the CNN's 64 into 32)."""
    if isinstance(width, bool) or not isinstance(width, (int, float)) or not width > 0:
        raise ValueError(f"width must be a number > 0; got width={width!r}.")
    return max(1, int(round(base * width)))
