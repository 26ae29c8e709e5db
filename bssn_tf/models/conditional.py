"""The class-conditional pieces: conditional BatchNorm for G, the projection head for D.

Conditional BatchNorm (de Vries et al. 2017; SNGAN's conditional generators)
normalizes like BatchNorm but without its own scale and offset, then applies a
per-class gain and bias read from two embeddings, so every class gets its own
affine map while sharing all other weights. Gains start at 1 and biases at 0,
so an untrained conditional G matches the unconditional one.

The projection discriminator (Miyato and Koyama 2018) adds `<embed(y), h>` to
the unconditional logit `dense(h)`, `h` the feature vector D computes before
its final Dense. `embed` is a `[num_classes, feature_dim]` matrix, wrapped in
the same spectral normalization as the rest of D.
"""

import keras
from keras import ops

from bssn_tf.io.checks import check_int
from bssn_tf.models.normalization import normalized

LABELS_INPUT = "labels"


def check_num_classes(num_classes):
    """Raises ValueError naming `num_classes` unless it is an integer >= 0 (0: unconditional)."""
    check_int("num_classes", num_classes, 0)


def label_input():
    """The int32 `[n]` class-label input of a conditional model."""
    return keras.Input((), dtype="int32", name=LABELS_INPUT)


@keras.saving.register_keras_serializable(package="bssn_tf")
class ConditionalBatchNormalization(keras.layers.Layer):
    """`BN(x) * gain[y] + bias[y]`, BN without its own affine; called on `[x, labels]`.

    Args:
      num_classes: number of labels; `labels` are ints in `[0, num_classes)`.
      momentum, epsilon: those of the inner `keras.layers.BatchNormalization`.
    """

    def __init__(self, num_classes, momentum=0.99, epsilon=1e-3, **kwargs):
        super().__init__(**kwargs)
        check_num_classes(num_classes)
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1; got num_classes={num_classes!r}.")
        self.num_classes = num_classes
        self.momentum = momentum
        self.epsilon = epsilon
        self.batch_norm = keras.layers.BatchNormalization(
            momentum=momentum,
            epsilon=epsilon,
            center=False,
            scale=False,
            synchronized=True,
            name="batch_norm",
        )
        self.gain = None
        self.bias = None

    def build(self, input_shape):
        features_shape, _ = input_shape
        channels = features_shape[-1]
        self.batch_norm.build(features_shape)
        self.gain = keras.layers.Embedding(
            self.num_classes, channels, embeddings_initializer="ones", name="gain"
        )
        self.bias = keras.layers.Embedding(
            self.num_classes, channels, embeddings_initializer="zeros", name="bias"
        )
        self.gain.build((None,))
        self.bias.build((None,))
        self.built = True

    def call(self, inputs, training=None):
        features, labels = inputs
        normalized_features = self.batch_norm(features, training=training)
        # [n, C] -> [n, 1, ..., 1, C], so the same code serves Dense and conv features.
        broadcast_shape = (-1,) + (1,) * (len(features.shape) - 2) + (features.shape[-1],)
        gain = ops.reshape(self.gain(labels), broadcast_shape)
        bias = ops.reshape(self.bias(labels), broadcast_shape)
        return normalized_features * ops.cast(gain, normalized_features.dtype) + ops.cast(
            bias, normalized_features.dtype
        )

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        config = super().get_config()
        config.update(num_classes=self.num_classes, momentum=self.momentum, epsilon=self.epsilon)
        return config


def batch_norm(x, labels, num_classes, name):
    """Plain BatchNorm when `num_classes` is 0, else ConditionalBatchNormalization on `labels`."""
    if not num_classes:
        return keras.layers.BatchNormalization(synchronized=True, name=name)(x)
    return ConditionalBatchNormalization(num_classes, name=name)([x, labels])


def discriminator_logits(features, labels, num_classes, norm, scale, name="logit", **init):
    """`dense(h)`, plus `<embed(y), h>` when `num_classes` > 0; both wrapped as `norm` says.

    Args:
      features: D's feature vector `h`, shape `[n, feature_dim]`.
      labels: the int labels input (ignored when `num_classes` is 0).
      init: kernel/bias initializer kwargs of the Dense; the embedding takes the kernel's.

    Returns:
      float32 logits `[n, 1]`.
    """
    logits = normalized(keras.layers.Dense(1, name=name, **init), norm, scale)(features)
    if num_classes:
        embedding = keras.layers.Embedding(
            num_classes,
            features.shape[-1],
            embeddings_initializer=init.get("kernel_initializer", "glorot_uniform"),
            name="class_embedding",
        )
        embedded = normalized(embedding, norm, scale)(labels)
        projection = keras.layers.Dot(axes=1, name="projection")([embedded, features])
        logits = keras.layers.Add(name="logit_plus_projection")([logits, projection])
    return keras.layers.Activation("linear", dtype="float32", name="logit_float32")(logits)
