"""The FID Inception network, as pytorch-fid ports Google's 2015-12-05 Inception graph.

Every published FID and Inception Score (TTUR, TF-GAN, pytorch-fid, clean-fid,
the BSSN paper) comes from this network: `pool_3` features (2048-d) and 1008
logits. It is torchvision's Inception-v3 layout with the pytorch-fid changes
that make it match the TF graph: in the A, C and first E blocks the pooling
branch averages a 3x3 window WITHOUT counting the zero padding, in the last E
block (`Mixed_7c`) that branch is a 3x3 MAX pool, every conv has no bias and
is followed by BatchNorm (eps 1e-3) and ReLU, and the classifier has 1008
outputs and no auxiliary head. Keras' `InceptionV3` differs in weights, classes
and the last block, so its FIDs are not comparable with published ones.

Built from Keras 3 layers only, so it runs on the TensorFlow and JAX backends.
Layers are named after pytorch-fid's state-dict keys ("Mixed_5b.branch1x1" ->
"Mixed_5b__branch1x1_conv" / "_bn"), and `assign_state_dict` loads that file.
"""

import keras
import numpy as np

from bssn_tf.extractors.inception_resize import INCEPTION_IMAGE_SIZE

NUM_FEATURES = 2048
NUM_LOGITS = 1008
_BATCHNORM_EPSILON = 1e-3
_BATCHNORM_TENSORS = ("weight", "bias", "running_mean", "running_var")
# Saved by torch >= 0.4.1 and ignored here; pytorch-fid's file may or may not have them.
_OPTIONAL_BATCHNORM_TENSOR = "num_batches_tracked"


class _Builder:
    """Creates conv-bn-relu units and remembers them by their torch prefix."""

    def __init__(self):
        self.units = {}

    def conv(self, x, prefix, filters, kernel, strides=1, padding="valid"):
        """torch's BasicConv2d; `padding="same"` stands for torch's k//2 padding at stride 1."""
        layer_name = prefix.replace(".", "__")
        conv = keras.layers.Conv2D(
            filters,
            kernel,
            strides=strides,
            padding=padding,
            use_bias=False,
            name=layer_name + "_conv",
        )
        norm = keras.layers.BatchNormalization(epsilon=_BATCHNORM_EPSILON, name=layer_name + "_bn")
        self.units[prefix] = (conv, norm)
        return keras.layers.ReLU()(norm(conv(x)))


def _average_pool_excluding_padding(x):
    # Keras' "same" average pool divides by the number of real pixels in each
    # window on every backend, i.e. torch's count_include_pad=False.
    return keras.layers.AveragePooling2D(3, strides=1, padding="same")(x)


def _max_pool_3x3(x, strides):
    return keras.layers.MaxPooling2D(
        3, strides=strides, padding="valid" if strides == 2 else "same"
    )(x)


def _block_a(b, x, name, pool_features):
    branch1x1 = b.conv(x, f"{name}.branch1x1", 64, 1)
    branch5x5 = b.conv(x, f"{name}.branch5x5_1", 48, 1)
    branch5x5 = b.conv(branch5x5, f"{name}.branch5x5_2", 64, 5, padding="same")
    double = b.conv(x, f"{name}.branch3x3dbl_1", 64, 1)
    double = b.conv(double, f"{name}.branch3x3dbl_2", 96, 3, padding="same")
    double = b.conv(double, f"{name}.branch3x3dbl_3", 96, 3, padding="same")
    pool = b.conv(_average_pool_excluding_padding(x), f"{name}.branch_pool", pool_features, 1)
    return keras.layers.Concatenate()([branch1x1, branch5x5, double, pool])


def _block_b(b, x, name):
    branch3x3 = b.conv(x, f"{name}.branch3x3", 384, 3, strides=2)
    double = b.conv(x, f"{name}.branch3x3dbl_1", 64, 1)
    double = b.conv(double, f"{name}.branch3x3dbl_2", 96, 3, padding="same")
    double = b.conv(double, f"{name}.branch3x3dbl_3", 96, 3, strides=2)
    return keras.layers.Concatenate()([branch3x3, double, _max_pool_3x3(x, 2)])


def _block_c(b, x, name, channels_7x7):
    c7 = channels_7x7
    branch1x1 = b.conv(x, f"{name}.branch1x1", 192, 1)
    seven = b.conv(x, f"{name}.branch7x7_1", c7, 1)
    seven = b.conv(seven, f"{name}.branch7x7_2", c7, (1, 7), padding="same")
    seven = b.conv(seven, f"{name}.branch7x7_3", 192, (7, 1), padding="same")
    double = b.conv(x, f"{name}.branch7x7dbl_1", c7, 1)
    double = b.conv(double, f"{name}.branch7x7dbl_2", c7, (7, 1), padding="same")
    double = b.conv(double, f"{name}.branch7x7dbl_3", c7, (1, 7), padding="same")
    double = b.conv(double, f"{name}.branch7x7dbl_4", c7, (7, 1), padding="same")
    double = b.conv(double, f"{name}.branch7x7dbl_5", 192, (1, 7), padding="same")
    pool = b.conv(_average_pool_excluding_padding(x), f"{name}.branch_pool", 192, 1)
    return keras.layers.Concatenate()([branch1x1, seven, double, pool])


def _block_d(b, x, name):
    three = b.conv(x, f"{name}.branch3x3_1", 192, 1)
    three = b.conv(three, f"{name}.branch3x3_2", 320, 3, strides=2)
    seven = b.conv(x, f"{name}.branch7x7x3_1", 192, 1)
    seven = b.conv(seven, f"{name}.branch7x7x3_2", 192, (1, 7), padding="same")
    seven = b.conv(seven, f"{name}.branch7x7x3_3", 192, (7, 1), padding="same")
    seven = b.conv(seven, f"{name}.branch7x7x3_4", 192, 3, strides=2)
    return keras.layers.Concatenate()([three, seven, _max_pool_3x3(x, 2)])


def _block_e(b, x, name, max_pool):
    """pytorch-fid's FIDInceptionE_1 (average pool) or FIDInceptionE_2 (`max_pool`)."""
    branch1x1 = b.conv(x, f"{name}.branch1x1", 320, 1)
    three = b.conv(x, f"{name}.branch3x3_1", 384, 1)
    three = keras.layers.Concatenate()(
        [
            b.conv(three, f"{name}.branch3x3_2a", 384, (1, 3), padding="same"),
            b.conv(three, f"{name}.branch3x3_2b", 384, (3, 1), padding="same"),
        ]
    )
    double = b.conv(x, f"{name}.branch3x3dbl_1", 448, 1)
    double = b.conv(double, f"{name}.branch3x3dbl_2", 384, 3, padding="same")
    double = keras.layers.Concatenate()(
        [
            b.conv(double, f"{name}.branch3x3dbl_3a", 384, (1, 3), padding="same"),
            b.conv(double, f"{name}.branch3x3dbl_3b", 384, (3, 1), padding="same"),
        ]
    )
    pooled = _max_pool_3x3(x, 1) if max_pool else _average_pool_excluding_padding(x)
    pool = b.conv(pooled, f"{name}.branch_pool", 192, 1)
    return keras.layers.Concatenate()([branch1x1, three, double, pool])


class FidInceptionNetwork:
    """The Keras model ([n, 299, 299, 3] in [-1, 1] -> [pool_3, logits]) and its torch names."""

    def __init__(self):
        b = _Builder()
        inputs = keras.Input((INCEPTION_IMAGE_SIZE, INCEPTION_IMAGE_SIZE, 3), name="images")
        x = b.conv(inputs, "Conv2d_1a_3x3", 32, 3, strides=2)
        x = b.conv(x, "Conv2d_2a_3x3", 32, 3)
        x = b.conv(x, "Conv2d_2b_3x3", 64, 3, padding="same")
        x = _max_pool_3x3(x, 2)
        x = b.conv(x, "Conv2d_3b_1x1", 80, 1)
        x = b.conv(x, "Conv2d_4a_3x3", 192, 3)
        x = _max_pool_3x3(x, 2)
        x = _block_a(b, x, "Mixed_5b", 32)
        x = _block_a(b, x, "Mixed_5c", 64)
        x = _block_a(b, x, "Mixed_5d", 64)
        x = _block_b(b, x, "Mixed_6a")
        for name, channels_7x7 in (("Mixed_6b", 128), ("Mixed_6c", 160), ("Mixed_6d", 160)):
            x = _block_c(b, x, name, channels_7x7)
        x = _block_c(b, x, "Mixed_6e", 192)
        x = _block_d(b, x, "Mixed_7a")
        x = _block_e(b, x, "Mixed_7b", max_pool=False)
        x = _block_e(b, x, "Mixed_7c", max_pool=True)
        pool_3 = keras.layers.GlobalAveragePooling2D(name="pool_3")(x)
        self.fc = keras.layers.Dense(NUM_LOGITS, name="fc")
        self.units = b.units
        self.model = keras.Model(inputs, [pool_3, self.fc(pool_3)], name="fid_inception")

    def expected_shapes(self):
        """{torch state-dict key: shape} of every tensor the file must hold."""
        shapes = {}
        for prefix, (conv, _) in self.units.items():
            kh, kw, in_channels, out_channels = conv.kernel.shape
            shapes[f"{prefix}.conv.weight"] = (out_channels, in_channels, kh, kw)
            for tensor in _BATCHNORM_TENSORS:
                shapes[f"{prefix}.bn.{tensor}"] = (out_channels,)
        shapes["fc.weight"] = (NUM_LOGITS, NUM_FEATURES)
        shapes["fc.bias"] = (NUM_LOGITS,)
        return shapes

    def assign_state_dict(self, state_dict, source):
        """Loads pytorch-fid's state dict ({key: numpy array}); `source` names it in errors.

        Raises:
          ValueError: a tensor is missing, unexpected, or of the wrong shape; the
            message names `source` and the tensor.
        """
        expected = self.expected_shapes()
        optional = {f"{prefix}.bn.{_OPTIONAL_BATCHNORM_TENSOR}" for prefix in self.units}
        missing = sorted(set(expected) - set(state_dict))
        extra = sorted(set(state_dict) - set(expected) - optional)
        if missing or extra:
            parts = []
            if missing:
                parts.append(
                    f"missing tensors {missing[:5]}" + (" ..." if len(missing) > 5 else "")
                )
            if extra:
                parts.append(f"unexpected tensors {extra[:5]}" + (" ..." if len(extra) > 5 else ""))
            raise ValueError(
                f"{source}: not pytorch-fid's FID Inception state dict: {'; '.join(parts)}."
            )
        for key, shape in expected.items():
            if tuple(state_dict[key].shape) != tuple(shape):
                raise ValueError(
                    f"{source}: tensor {key} has shape {tuple(state_dict[key].shape)}; "
                    f"expected {tuple(shape)}."
                )
        tensor = lambda key: np.asarray(state_dict[key], dtype=np.float32)
        for prefix, (conv, norm) in self.units.items():
            conv.set_weights([tensor(f"{prefix}.conv.weight").transpose(2, 3, 1, 0)])
            norm.set_weights([tensor(f"{prefix}.bn.{name}") for name in _BATCHNORM_TENSORS])
        self.fc.set_weights([tensor("fc.weight").T, tensor("fc.bias")])
