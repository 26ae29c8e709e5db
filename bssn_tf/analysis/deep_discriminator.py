"""A deeper standard-CNN discriminator, to see how gradients scale with depth.

Each stride-1 conv3x3 of the SNGAN discriminator is repeated `repeats`
times (`repeats=1` is the reference layer list); depth grows while the
resolution schedule stays the paper's.
"""

import keras

from bssn_tf.models.cnn import DISCRIMINATOR_CONVS, LEAKY_SLOPE
from bssn_tf.models.initializers import reference_layer_kwargs
from bssn_tf.models.normalization import normalized
from bssn_tf.models.width import scaled_channels

INITIALIZERS = ("reference", "lecun")


def _layer_kwargs(init):
    if init == "reference":
        return reference_layer_kwargs()
    if init == "lecun":
        return {"kernel_initializer": keras.initializers.LecunNormal(), "bias_initializer": "zeros"}
    raise ValueError(f"init must be one of {INITIALIZERS}; got init={init!r}.")


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
    """images -> logits; `init="lecun"` gives unnormalized baselines a LeCun-normal start."""
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats must be an integer >= 1; got repeats={repeats!r}.")
    if seed is not None:
        keras.utils.set_random_seed(seed)
    kwargs = _layer_kwargs(init)
    images = keras.Input((image_size, image_size, channels), name="images")
    x = images
    index = 0
    for kernel, stride, base in DISCRIMINATOR_CONVS:
        for _ in range(repeats if stride == 1 else 1):
            conv = keras.layers.Conv2D(
                scaled_channels(base, width),
                kernel,
                stride,
                padding="same",
                name=f"conv{index}",
                **kwargs,
            )
            x = normalized(conv, norm, scale)(x)
            x = keras.layers.LeakyReLU(LEAKY_SLOPE, name=f"conv{index}_lrelu")(x)
            index += 1
    x = keras.layers.Flatten(name="flatten")(x)
    logits = normalized(keras.layers.Dense(1, name="logit", **kwargs), norm, scale)(x)
    return keras.Model(images, logits, name=name)
