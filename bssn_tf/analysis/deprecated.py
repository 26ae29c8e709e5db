"""Old public names, kept working with a DeprecationWarning until the next release."""

import warnings

import keras

from bssn_tf.models.cnn import cnn_discriminator


def deep_cnn_discriminator(
    repeats,
    norm="sn",
    scale=1.0,
    width=1.0,
    image_size=28,
    channels=1,
    init="reference",
    seed=None,
    name="deep_discriminator",
):
    """Deprecated: use `bssn_tf.models.cnn_discriminator(..., conv3x3_repeats=repeats, init=init)`.

    Seeding belongs to the caller: call `keras.utils.set_random_seed` before
    building. `seed` still seeds globally here, as it did, for old callers.
    """
    warnings.warn(
        "bssn_tf.analysis.deep_cnn_discriminator is deprecated; use "
        "bssn_tf.models.cnn_discriminator(image_size, channels, norm, scale, width, "
        "conv3x3_repeats=repeats, init=init) and seed with keras.utils.set_random_seed.",
        DeprecationWarning,
        stacklevel=2,
    )
    if seed is not None:
        keras.utils.set_random_seed(seed)
    return cnn_discriminator(
        image_size,
        channels,
        norm,
        scale,
        width,
        name=name,
        conv3x3_repeats=repeats,
        init=init,
    )
