"""Where each supported Keras layer keeps its kernel, and how it reshapes.

SN and BSN need the kernel as two matrices: `fan_in_matrix` with the output
channels as columns, shape `(prod(k) * c_in, c_out)`, and `fan_out_matrix`
with the input channels as columns, shape `(prod(k) * c_out, c_in)`.
Transposed convolutions store their kernel as `(k..., c_out, c_in)`, so their
channel axes are swapped back first.
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
