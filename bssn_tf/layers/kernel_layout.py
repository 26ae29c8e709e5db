"""Where each supported Keras layer keeps its kernel, and how it reshapes.

SN and BSN need the kernel as two matrices: `fan_in_matrix` with the output
channels as columns, shape `(prod(k) * c_in, c_out)`, and `fan_out_matrix`
with the input channels as columns, shape `(prod(k) * c_out, c_in)`.
Transposed convolutions store their kernel as `(k..., c_out, c_in)`, so their
channel axes are swapped back first.

The power iteration only needs the products `u @ M.T` and `v @ M`.
`fan_in_operator` and `fan_out_operator` compute them from the kernel as
stored, one matrix per kernel tap, so that no transposed copy of the kernel is
made, neither in the forward pass nor in its gradient.
"""

import keras
from keras import ops

CONVOLUTIONS = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)
TRANSPOSED_CONVOLUTIONS = (
    keras.layers.Conv1DTranspose,
    keras.layers.Conv2DTranspose,
    keras.layers.Conv3DTranspose,
)
MATRIX_LAYERS = (keras.layers.Dense, keras.layers.Embedding)
SUPPORTED_LAYERS = MATRIX_LAYERS + CONVOLUTIONS + TRANSPOSED_CONVOLUTIONS


def check_supported(layer):
    """Raises a ValueError naming the layer type unless it is supported."""
    if not isinstance(layer, SUPPORTED_LAYERS):
        names = ", ".join(cls.__name__ for cls in SUPPORTED_LAYERS)
        raise ValueError(
            f"Spectral normalization cannot wrap a {type(layer).__name__} "
            f"layer ({layer.name!r}); expected a layer with a kernel, one of: "
            f"{names}."
        )


def kernel_attribute(layer):
    """Name of the attribute that holds the raw kernel variable.

    Dense, Conv and Embedding expose `kernel`/`embeddings` as properties over a
    private variable; the wrapper swaps that variable for the normalized
    tensor during the call, so it needs the private name.
    """
    for name in ("_kernel", "_embeddings", "kernel"):
        if isinstance(layer.__dict__.get(name), keras.Variable):
            return name
    raise ValueError(
        f"Could not find the kernel variable of the built "
        f"{type(layer).__name__} layer {layer.name!r}."
    )


def _swap_channel_axes(kernel):
    axes = list(range(len(kernel.shape)))
    axes[-2], axes[-1] = axes[-1], axes[-2]
    return ops.transpose(kernel, axes)


def _output_channels_last(kernel, layer):
    if isinstance(layer, TRANSPOSED_CONVOLUTIONS):
        return _swap_channel_axes(kernel)
    return kernel


def channels(kernel_shape, layer):
    """`(c_in, c_out)` of a kernel shape, whatever the layer's layout."""
    if isinstance(layer, TRANSPOSED_CONVOLUTIONS):
        return kernel_shape[-1], kernel_shape[-2]
    return kernel_shape[-2], kernel_shape[-1]


def fan_in_matrix(kernel, layer):
    """The reference SN reshape, `(prod(k) * c_in, c_out)`."""
    kernel = _output_channels_last(kernel, layer)
    return ops.reshape(kernel, (-1, kernel.shape[-1]))


def fan_out_matrix(kernel, layer):
    """The BSN reshape, `(prod(k) * c_out, c_in)`."""
    kernel = _swap_channel_axes(_output_channels_last(kernel, layer))
    return ops.reshape(kernel, (-1, kernel.shape[-1]))


def _last_axis_operator(kernel):
    """`(apply, adjoint)` of `M = reshape(kernel, (-1, kernel.shape[-1]))`."""
    matrix = ops.reshape(kernel, (-1, kernel.shape[-1]))

    def apply(u):
        return ops.reshape(ops.matmul(matrix, ops.reshape(u, (-1, 1))), (1, -1))

    def adjoint(v):
        return ops.matmul(v, matrix)

    return apply, adjoint


def _second_last_axis_operator(kernel):
    """`(apply, adjoint)` of `M = reshape(swap_last_two(kernel), (-1, kernel.shape[-2]))`.

    Row `(t, j)` of M is column j of tap t, so `u @ M.T` is `u @ tap` per tap,
    and `v @ M` sums `tap @ v_t` over the taps.
    """
    rows, columns = kernel.shape[-2], kernel.shape[-1]
    taps = ops.reshape(kernel, (-1, rows, columns))

    def apply(u):
        return ops.reshape(ops.matmul(u, taps), (1, -1))

    def adjoint(v):
        per_tap = ops.matmul(taps, ops.reshape(v, (-1, columns, 1)))
        return ops.reshape(ops.sum(per_tap, axis=0), (1, rows))

    return apply, adjoint


def fan_in_operator(kernel, layer):
    """`(u -> u @ M.T, v -> v @ M)` for `M = fan_in_matrix(kernel, layer)`."""
    if isinstance(layer, TRANSPOSED_CONVOLUTIONS):
        return _second_last_axis_operator(kernel)
    return _last_axis_operator(kernel)


def fan_out_operator(kernel, layer):
    """`(u -> u @ M.T, v -> v @ M)` for `M = fan_out_matrix(kernel, layer)`."""
    if isinstance(layer, TRANSPOSED_CONVOLUTIONS):
        return _last_axis_operator(kernel)
    return _second_last_axis_operator(kernel)
