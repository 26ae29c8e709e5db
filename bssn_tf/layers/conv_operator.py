"""The convolution of a layer as a linear operator, with its adjoint.

Exact ("stricter") SN normalizes by the norm of this operator at the input
shape seen at build time, not by a reshaped kernel. The adjoint of a strided
convolution is the transposed convolution with the same kernel, strides and
padding, with `output_padding` chosen to land on the input shape. Dilation is
applied by spreading the kernel taps apart with zeros, since TensorFlow's CPU
transposed convolution rejects dilation rates above 1.
"""

from keras import ops

from bssn_tf.layers.kernel_layout import CONVOLUTIONS, TRANSPOSED_CONVOLUTIONS


def _dilate_kernel(kernel, dilation_rate):
    """Inserts `rate - 1` zeros between taps along each spatial axis."""
    for axis, rate in enumerate(dilation_rate):
        if rate == 1:
            continue
        taps = kernel.shape[axis]
        spread = ops.expand_dims(kernel, axis + 1)
        pad = [(0, 0)] * len(spread.shape)
        pad[axis + 1] = (0, rate - 1)
        spread = ops.pad(spread, pad)
        shape = list(kernel.shape)
        shape[axis] = taps * rate
        kernel = ops.reshape(spread, shape)
        kernel = ops.take(kernel, ops.arange((taps - 1) * rate + 1), axis=axis)
    return kernel


def _transpose_output_padding(layer, in_sizes, out_sizes):
    """Per-axis `output_padding` making `conv_transpose` return `out_sizes`."""
    paddings = []
    for in_size, out_size, k, stride, dilation in zip(
        in_sizes, out_sizes, layer.kernel_size, layer.strides, layer.dilation_rate
    ):
        effective_k = (k - 1) * dilation + 1
        pad = effective_k // 2 if layer.padding == "same" else 0
        paddings.append(out_size - ((in_size - 1) * stride + effective_k - 2 * pad))
    return tuple(paddings)


def _spatial(shape, data_format):
    return tuple(shape[1:-1]) if data_format == "channels_last" else tuple(shape[2:])


def check_exact_supported(layer, input_shape):
    """Raises a ValueError when exact mode cannot model this convolution."""
    if not isinstance(layer, CONVOLUTIONS + TRANSPOSED_CONVOLUTIONS):
        return
    if layer.padding not in ("same", "valid"):
        raise ValueError(
            f"mode='exact' supports padding 'same' or 'valid'; layer "
            f"{layer.name!r} has padding={layer.padding!r}."
        )
    if getattr(layer, "groups", 1) != 1:
        raise ValueError(
            f"mode='exact' supports groups=1; layer {layer.name!r} has groups={layer.groups}."
        )
    spatial = _spatial(input_shape, layer.data_format)
    if any(size is None for size in spatial):
        raise ValueError(
            f"mode='exact' needs the input's spatial shape at build time; "
            f"layer {layer.name!r} was built with input_shape={input_shape}."
        )


def check_input_shape(layer, build_shape, input_shape):
    """Raises a ValueError when a call's known sizes differ from the build-time ones.

    Exact SN's norm is that of the convolution at the build-time input shape; at
    another spatial size the operator, and its norm, are different.
    """
    mismatched = any(
        built is not None and given is not None and built != given
        for built, given in zip(build_shape[1:], input_shape[1:])
    )
    if mismatched or len(build_shape) != len(input_shape):
        raise ValueError(
            f"mode='exact' layer {layer.name!r} was built for spatial size "
            f"{_spatial(build_shape, layer.data_format)} (input shape {build_shape}) and "
            f"its norm holds for that size only; got spatial size "
            f"{_spatial(input_shape, layer.data_format)} (input shape {input_shape})."
        )


def linear_operator(layer, input_shape):
    """Returns `(apply, adjoint)` for the layer's convolution, bias excluded.

    `apply(kernel, x)` maps a `(1, *input_shape[1:])` tensor through the
    convolution and `adjoint(kernel, y)` maps back.
    """
    conv_args = dict(
        strides=list(layer.strides), padding=layer.padding, data_format=layer.data_format
    )
    rates = tuple(layer.dilation_rate)
    in_shape = (1,) + tuple(input_shape[1:])
    out_shape = layer.compute_output_shape(in_shape)
    in_sizes = _spatial(in_shape, layer.data_format)
    out_sizes = _spatial(out_shape, layer.data_format)

    if isinstance(layer, CONVOLUTIONS):
        back_padding = _transpose_output_padding(layer, out_sizes, in_sizes)

        def apply(kernel, x):
            return ops.conv(x, _dilate_kernel(kernel, rates), **conv_args)

        def adjoint(kernel, y):
            return ops.conv_transpose(
                y, _dilate_kernel(kernel, rates), output_padding=back_padding, **conv_args
            )

    else:
        forward_padding = _transpose_output_padding(layer, in_sizes, out_sizes)

        def apply(kernel, x):
            return ops.conv_transpose(
                x, _dilate_kernel(kernel, rates), output_padding=forward_padding, **conv_args
            )

        def adjoint(kernel, y):
            return ops.conv(y, _dilate_kernel(kernel, rates), **conv_args)

    return apply, adjoint
