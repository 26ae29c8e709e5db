"""The effective weight scale of each layer next to the classic initialisation scales.

The paper reads SN as an implicit initialisation: the popular SN leaves each
layer's weights with a spread close to LeCun's `1/sqrt(fan_in)`, BSN close
to Xavier's `sqrt(2/(fan_in+fan_out))`. Comparing the std of the kernel the
forward pass uses with both shows which regime a model is in.
"""

import math

import numpy as np

from bssn_tf.analysis.kernel_layers import kernel_layers
from bssn_tf.layers.kernel_layout import channels


def fans(kernel_shape, layer):
    """`(fan_in, fan_out)` = `(prod(k) * c_in, prod(k) * c_out)`, for any kernel layout."""
    c_in, c_out = channels(kernel_shape, layer)
    taps = math.prod(kernel_shape[:-2])
    return taps * c_in, taps * c_out


def effective_weight_scales(model):
    """`{layer: {std, lecun, xavier, std_over_lecun, std_over_xavier, fan_in, fan_out}}`.

    `std` is the population std of the normalized kernel for wrapped layers
    (`scale * W / sigma` from the stored `u`), of the raw kernel otherwise.
    """
    scales = {}
    for entry in kernel_layers(model):
        kernel = np.asarray(entry.forward_kernel(), dtype=np.float64)
        fan_in, fan_out = fans(kernel.shape, entry.layer)
        std = float(np.std(kernel))
        lecun = 1.0 / math.sqrt(fan_in)
        xavier = math.sqrt(2.0 / (fan_in + fan_out))
        scales[entry.name] = {
            "std": std,
            "lecun": lecun,
            "xavier": xavier,
            "std_over_lecun": std / lecun,
            "std_over_xavier": std / xavier,
            "fan_in": fan_in,
            "fan_out": fan_out,
        }
    return scales
