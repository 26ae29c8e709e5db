"""The reference code's weight initialisation, shared by every architecture."""

import keras


def reference_layer_kwargs():
    """Truncated normal kernels (stddev 0.02) and zero biases, as in the paper's TF1 code."""
    return {
        "kernel_initializer": keras.initializers.TruncatedNormal(stddev=0.02),
        "bias_initializer": "zeros",
    }


# "lecun" gives unnormalized baselines the LeCun-normal start that SN is said to mimic.
INITIALIZERS = ("reference", "lecun")


def layer_kwargs(init):
    """Kernel and bias initializers by name: "reference" (the paper's) or "lecun"."""
    if init == "reference":
        return reference_layer_kwargs()
    if init == "lecun":
        return {"kernel_initializer": keras.initializers.LecunNormal(), "bias_initializer": "zeros"}
    raise ValueError(f"init must be one of {INITIALIZERS}; got init={init!r}.")
