"""A strided "same" Conv2D computed as space-to-depth plus a stride-1 "valid" conv.

When the kernel size is a multiple of the stride s, a strided convolution
equals regrouping every s x s pixel block into channels and convolving with the
kernel's taps regrouped the same way (k/s x k/s taps, s*s*c_in channels). The
variables, FLOPs and outputs are those of `keras.layers.Conv2D`; only the
computation differs. XLA on CPU runs stride-1 convolutions and their gradients
faster than strided ones: in benchmarks/RESULTS.md the backward pass of the
discriminator's 4x4 stride-2 layers was its slowest part.
"""

import keras
from keras import ops


def _same_padding(size, kernel, stride):
    """(before, after) padding of a "same" convolution along one axis."""
    out = -(-size // stride)
    total = (out - 1) * stride + kernel - size
    return total // 2, total - total // 2


@keras.saving.register_keras_serializable(package="bssn_tf")
class SpaceToDepthConv2D(keras.layers.Conv2D):
    """`keras.layers.Conv2D(filters, k, s, padding="same")` for k a multiple of s > 1."""

    def __init__(self, filters, kernel_size, strides, **kwargs):
        super().__init__(filters, kernel_size, strides, **kwargs)
        stride, (rows, cols) = self.strides[0], self.kernel_size
        if (
            self.strides[1] != stride
            or stride < 2
            or rows % stride
            or cols % stride
            or self.padding != "same"
            or self.data_format != "channels_last"
            or self.dilation_rate != (1, 1)
            or self.groups != 1
        ):
            raise ValueError(
                f"SpaceToDepthConv2D needs equal strides > 1 that divide the kernel size, "
                f"padding='same', channels_last, no dilation and groups=1; got "
                f"kernel_size={self.kernel_size}, strides={self.strides}, "
                f"padding={self.padding!r}, data_format={self.data_format!r}, "
                f"dilation_rate={self.dilation_rate}, groups={self.groups}."
            )

    def convolution_op(self, inputs, kernel):
        stride, (rows, cols) = self.strides[0], self.kernel_size
        _, height, width, channels = inputs.shape
        if height is None or width is None:
            raise ValueError(
                f"SpaceToDepthConv2D {self.name!r} needs a known height and "
                f"width; got input shape {tuple(inputs.shape)}."
            )
        (top, bottom), (left, right) = (
            _same_padding(height, rows, stride),
            _same_padding(width, cols, stride),
        )
        x = ops.pad(inputs, [[0, 0], [top, bottom], [left, right], [0, 0]])
        blocks_h, blocks_w = (height + top + bottom) // stride, (width + left + right) // stride
        x = ops.reshape(x, (-1, blocks_h, stride, blocks_w, stride, channels))
        x = ops.reshape(
            ops.transpose(x, (0, 1, 3, 2, 4, 5)),
            (-1, blocks_h, blocks_w, stride * stride * channels),
        )
        taps = ops.reshape(
            kernel, (rows // stride, stride, cols // stride, stride, channels, self.filters)
        )
        taps = ops.reshape(
            ops.transpose(taps, (0, 2, 1, 3, 4, 5)),
            (rows // stride, cols // stride, stride * stride * channels, self.filters),
        )
        return ops.conv(x, taps, strides=1, padding="valid")
