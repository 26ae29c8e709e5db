"""The per-step quantities the paper logs: sigmas, input-gradient norms, gradient norms."""

import tensorflow as tf

from bssn_tf.models import spectral_layers


def spectral_norm_estimates(discriminator):
    """`{"<wrapper>/sigma": ..., "<wrapper>/sigma1": ...}` from the stored `u`; no state changes."""
    return {
        f"{wrapper.name}/{key}": value
        for wrapper in spectral_layers(discriminator)
        for key, value in wrapper.spectral_norms().items()
    }


def input_gradient_norms(discriminator, images):
    """`||dD(x)/dx||_2` per example, shape [n].

    `images` may be `[images, labels]` for a conditional D; the gradient is the
    images'. The gradient of the batch sum equals each example's own gradient
    because the discriminators have no cross-example layers (no batch norm).
    """
    labels = None
    if isinstance(images, (list, tuple)):
        images, labels = images
    images = tf.convert_to_tensor(images, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(images)
        inputs = images if labels is None else [images, labels]
        total = tf.reduce_sum(tf.cast(discriminator(inputs, training=False), tf.float32))
    gradients = tape.gradient(total, images)
    return tf.sqrt(tf.reduce_sum(tf.square(gradients), axis=[1, 2, 3]))


def summarize(values, prefix):
    """`{prefix/mean, prefix/min, prefix/max}` of a vector."""
    return {
        f"{prefix}/mean": tf.reduce_mean(values),
        f"{prefix}/min": tf.reduce_min(values),
        f"{prefix}/max": tf.reduce_max(values),
    }


def layer_variable_groups(model):
    """`[(layer name, [indices into model.trainable_variables])]` for per-layer gradient norms."""
    index_of = {id(variable): index for index, variable in enumerate(model.trainable_variables)}
    return [
        (layer.name, [index_of[id(variable)] for variable in layer.trainable_weights])
        for layer in model.layers
        if layer.trainable_weights
    ]


def grouped_gradient_norms(gradients, groups):
    """One L2 norm per group, over all of the group's gradients; a float32 vector.

    Args:
      gradients: a list of gradient tensors (for example of a model's trainable variables).
      groups: `[(name, [indices into gradients])]`, e.g. from `layer_variable_groups`.
    """
    return tf.stack(
        [
            tf.sqrt(
                tf.add_n(
                    [
                        tf.reduce_sum(tf.square(tf.cast(gradients[index], tf.float32)))
                        for index in indices
                    ]
                )
            )
            for _, indices in groups
        ]
    )
