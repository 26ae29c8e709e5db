"""The layers of a model that own a kernel, seen through any SN wrapper.

The analyses speak about "layer l's weight": for a wrapped layer that is the
raw trainable kernel inside the wrapper (the parameter the optimizer moves),
and the weight the forward pass uses is the wrapper's normalized kernel.
"""

import dataclasses
from typing import Optional

import keras

from bssn_tf.layers import SpectralNormalization
from bssn_tf.layers.kernel_layout import SUPPORTED_LAYERS, kernel_attribute
from bssn_tf.models.layer_walk import walk_layers


@dataclasses.dataclass(frozen=True)
class KernelLayer:
    """One kernel-owning layer: `layer` holds the kernel, `wrapper` normalizes it (or None).

    `name` is the inner layer's name, so the same architecture under
    different normalizations gives the same keys.
    """

    name: str
    layer: keras.layers.Layer
    wrapper: Optional[SpectralNormalization]

    @property
    def outer(self):
        """The layer that the model calls: the wrapper if there is one."""
        return self.wrapper if self.wrapper is not None else self.layer

    @property
    def raw_kernel(self):
        """The trainable kernel variable."""
        return getattr(self.layer, kernel_attribute(self.layer))

    def forward_kernel(self):
        """The kernel the forward pass uses: `scale * W / sigma` when wrapped, else W."""
        if self.wrapper is not None:
            return self.wrapper.normalized_kernel()
        return self.raw_kernel

    def input_shape(self):
        """The layer's input shape in the model graph; needs a functional/sequential model."""
        try:
            return tuple(self.outer.input.shape)
        except (AttributeError, ValueError) as error:
            raise ValueError(
                f"layer {self.name!r} has no known input shape; build the model as a "
                f"Functional or Sequential model with a keras.Input ({error})."
            ) from error


def kernel_layers(model):
    """The model's kernel layers in call order, recursing into nested models."""
    if not isinstance(model, keras.Model):
        raise ValueError(f"model must be a keras.Model; got {type(model).__name__}.")
    found = []
    for layer in walk_layers(model):
        if isinstance(layer, SpectralNormalization):
            found.append(KernelLayer(layer.layer.name, layer.layer, layer))
        elif isinstance(layer, SUPPORTED_LAYERS):
            found.append(KernelLayer(layer.name, layer, None))
    if not found:
        raise ValueError(f"model {model.name!r} has no Dense, Conv or Embedding layer to analyse.")
    return found
