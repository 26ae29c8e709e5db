"""How far the reshaped-kernel norm (popular SN) is from the convolution's true norm.

`ratio = ||conv||_op / ||reshape(W, (-1, c_out))||_2` at the layer's input
shape. A ratio above 1 means exact ("stricter") SN divides by more than SN
does, so each conv layer is shrunk further; over many layers that product
is what makes gradients vanish.
"""

import numpy as np
import tensorflow as tf

from bssn_tf.analysis.kernel_layers import kernel_layers
from bssn_tf.io.checks import check_int
from bssn_tf.layers import conv_operator
from bssn_tf.layers.kernel_layout import CONVOLUTIONS, TRANSPOSED_CONVOLUTIONS, fan_in_matrix
from bssn_tf.layers.power_iteration import estimate_spectral_norm

EPS = 1e-12


def exact_operator_norm(layer, input_shape, kernel, iterations=200, seed=0):
    """Largest singular value of the layer's convolution (bias excluded) at `input_shape`.

    Power iteration from a fixed random start; `iterations` steps converge
    to float32 precision on the sizes the models here use.
    """
    check_int("iterations", iterations, 1)
    conv_operator.check_exact_supported(layer, input_shape)
    apply, adjoint = conv_operator.linear_operator(layer, input_shape)
    kernel = tf.convert_to_tensor(kernel, tf.float32)
    # One traced power step, looped in Python: unrolling all steps in one
    # graph would make tracing cost grow with `iterations`.
    step = tf.function(
        lambda u: estimate_spectral_norm(
            lambda x: apply(kernel, x), lambda y: adjoint(kernel, y), u, 1, EPS
        )
    )
    u = tf.random.stateless_normal((1,) + tuple(input_shape[1:]), seed=[seed, 0])
    for _ in range(iterations):
        u, sigma = step(u)
    return float(sigma)


def operator_norm_ratios(model, iterations=200):
    """`{conv layer: {exact, reshaped, ratio}}` for every (transposed) convolution of `model`."""
    ratios = {}
    for entry in kernel_layers(model):
        if not isinstance(entry.layer, CONVOLUTIONS + TRANSPOSED_CONVOLUTIONS):
            continue
        kernel = entry.raw_kernel
        exact = exact_operator_norm(entry.layer, entry.input_shape(), kernel, iterations)
        matrix = np.asarray(fan_in_matrix(kernel, entry.layer), dtype=np.float64)
        reshaped = float(np.linalg.svd(matrix, compute_uv=False)[0])
        ratios[entry.name] = {"exact": exact, "reshaped": reshaped, "ratio": exact / reshaped}
    return ratios
