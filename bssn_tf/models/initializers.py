"""The reference code's weight initialisation, shared by every architecture."""

import keras


def reference_layer_kwargs():
    """Truncated normal kernels (stddev 0.02) and zero biases, as in the paper's TF1 code."""
    return {
        "kernel_initializer": keras.initializers.TruncatedNormal(stddev=0.02),
        "bias_initializer": "zeros",
    }
