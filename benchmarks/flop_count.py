"""Analytic FLOPs of a GAN training step, from a framework-neutral list of layers.

Both the Keras models and the PyTorch reference are described as `LayerSpec`s,
so one counter serves both and equal counts mean the same work.

Forward FLOPs per example (one multiply-add = 2 FLOPs):
  conv    2 * prod(out_spatial) * prod(kernel) * c_in * c_out
  deconv  2 * prod(in_spatial)  * prod(kernel) * c_in * c_out  (each input pixel
          scatters a kernel-sized patch)
  dense   2 * c_in * c_out
Batch norm, activations, pooling, the loss, the optimizer and the power
iteration are not counted: together they are ~1% of the conv work here.
"""

import dataclasses
import math

KINDS = ("dense", "conv", "deconv", "batchnorm")


@dataclasses.dataclass(frozen=True)
class LayerSpec:
    """One layer with trainable parameters; spatial shapes are per example."""

    name: str
    kind: str
    parameters: int
    in_channels: int = 0
    out_channels: int = 0
    kernel_size: tuple = ()
    in_spatial: tuple = ()
    out_spatial: tuple = ()

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}; got kind={self.kind!r}.")


def forward_flops(spec):
    """FLOPs of one example through `spec` (0 for batch norm, which is not counted)."""
    if spec.kind == "batchnorm":
        return 0
    positions = math.prod(spec.in_spatial if spec.kind == "deconv" else spec.out_spatial)
    return 2 * positions * math.prod(spec.kernel_size) * spec.in_channels * spec.out_channels


def model_forward_flops(specs, batch_size):
    return batch_size * sum(forward_flops(spec) for spec in specs)


def gan_step_flops(generator_specs, discriminator_specs, batch_size):
    """FLOPs of one D step plus one G step, with backward = 2x forward per trained net.

    D step: G(z) forward only, then D on real and on fake, forward and backward
      (input and weight gradients): G + 3 * 2D.
    G step: G forward and backward (3G); D forward and input-gradient backward
      only, as D's weights are not updated (2D).
    Total: 4 G + 8 D, with G and D the forward FLOPs of one batch.
    """
    g = model_forward_flops(generator_specs, batch_size)
    d = model_forward_flops(discriminator_specs, batch_size)
    return 4 * g + 8 * d


def _spatial(shape):
    return tuple(int(size) for size in shape[1:-1])


def _trainable_count(layer):
    return sum(math.prod(weight.shape) for weight in layer.trainable_weights)


def keras_layer_specs(model):
    """The LayerSpecs of a functional channels-last Keras model, in layer order.

    A SpectralNormalization wrapper is described by its inner layer (its `u`
    vectors are not trainable). Any other layer with trainable weights raises,
    so that nothing is silently left out of the count.
    """
    import keras  # here, so that the PyTorch process never loads TensorFlow

    specs = []
    for node_layer in model.layers:
        if not node_layer.trainable_weights:
            continue
        layer = getattr(node_layer, "layer", node_layer)
        common = dict(name=layer.name, parameters=_trainable_count(node_layer))
        if isinstance(layer, keras.layers.BatchNormalization):
            specs.append(LayerSpec(kind="batchnorm", **common))
            continue
        if isinstance(layer, keras.layers.Dense):
            specs.append(
                LayerSpec(
                    kind="dense",
                    in_channels=layer.kernel.shape[0],
                    out_channels=layer.kernel.shape[1],
                    **common,
                )
            )
        elif isinstance(layer, (keras.layers.Conv2D, keras.layers.Conv2DTranspose)):
            transposed = isinstance(layer, keras.layers.Conv2DTranspose)
            c_in, c_out = layer.kernel.shape[-2:][::-1] if transposed else layer.kernel.shape[-2:]
            specs.append(
                LayerSpec(
                    kind="deconv" if transposed else "conv",
                    in_channels=c_in,
                    out_channels=c_out,
                    kernel_size=tuple(layer.kernel_size),
                    in_spatial=_spatial(node_layer.input.shape),
                    out_spatial=_spatial(node_layer.output.shape),
                    **common,
                )
            )
        else:
            raise ValueError(f"No FLOP rule for {type(layer).__name__} layer {layer.name!r}.")
    return specs
