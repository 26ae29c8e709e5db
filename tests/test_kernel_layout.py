"""The kernel reshapes and the transpose-free operators against numpy.

Backend-agnostic (keras.ops only).
"""

import numpy as np
import pytest
from keras import layers, ops

from bssn_tf.layers import kernel_layout

CASES = [
    ("dense", lambda: layers.Dense(7), (None, 5)),
    ("embedding", lambda: layers.Embedding(11, 6), (None, 3)),
    ("conv1d", lambda: layers.Conv1D(6, 3), (None, 9, 4)),
    ("conv2d", lambda: layers.Conv2D(5, 3), (None, 6, 6, 3)),
    ("conv3d", lambda: layers.Conv3D(4, 2), (None, 4, 4, 4, 2)),
    ("conv1d_t", lambda: layers.Conv1DTranspose(6, 3), (None, 5, 4)),
    ("conv2d_t", lambda: layers.Conv2DTranspose(5, 4, strides=2), (None, 4, 4, 3)),
    ("conv3d_t", lambda: layers.Conv3DTranspose(4, 2), (None, 3, 3, 3, 2)),
]


def numpy_reshapes(kernel, transposed):
    """(k*c_in, c_out) and (k*c_out, c_in), written out independently of the module."""
    if transposed:
        kernel = np.swapaxes(kernel, -1, -2)
    return kernel.reshape(-1, kernel.shape[-1]), np.swapaxes(kernel, -1, -2).reshape(
        -1, kernel.shape[-2]
    )


@pytest.mark.parametrize("name,make,input_shape", CASES, ids=[c[0] for c in CASES])
def test_operators_are_products_with_the_reshaped_kernel(name, make, input_shape):
    layer = make()
    layer.build(input_shape)
    rng = np.random.default_rng(0)
    kernel = rng.normal(size=tuple(layer.weights[0].shape)).astype("float32")
    transposed = isinstance(layer, kernel_layout.TRANSPOSED_CONVOLUTIONS)
    fan_in, fan_out = numpy_reshapes(kernel.astype(np.float64), transposed)
    np.testing.assert_array_equal(
        ops.convert_to_numpy(kernel_layout.fan_in_matrix(kernel, layer)), fan_in
    )
    np.testing.assert_array_equal(
        ops.convert_to_numpy(kernel_layout.fan_out_matrix(kernel, layer)), fan_out
    )
    for operator, matrix in (
        (kernel_layout.fan_in_operator, fan_in),
        (kernel_layout.fan_out_operator, fan_out),
    ):
        apply, adjoint = operator(kernel, layer)
        u = rng.normal(size=(1, matrix.shape[1])).astype("float32")
        v = rng.normal(size=(1, matrix.shape[0])).astype("float32")
        # float32 sums of at most a few hundred terms against float64: a few ulps.
        np.testing.assert_allclose(
            ops.convert_to_numpy(apply(u)), u @ matrix.T, rtol=1e-4, atol=1e-4
        )
        np.testing.assert_allclose(
            ops.convert_to_numpy(adjoint(v)), v @ matrix, rtol=1e-4, atol=1e-4
        )
