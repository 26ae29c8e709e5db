"""Gradient norms of a discriminator: per layer w.r.t. the raw kernels, and w.r.t. the input.

The paper's exploding/vanishing arguments bound `||dL/dW_l||` through the
norms of the other layers; these functions measure it directly.
"""

import tensorflow as tf

from bssn_tf.analysis.kernel_layers import kernel_layers
from bssn_tf.training import diagnostics

# Scalar objectives of the logits D(x). "hinge_real"/"hinge_fake" are the two
# halves of the paper's hinge D loss, for a batch of real or generated images.
OBJECTIVES = {
    "mean_output": lambda logits: tf.reduce_mean(logits),
    "hinge_real": lambda logits: tf.reduce_mean(tf.nn.relu(1.0 - logits)),
    "hinge_fake": lambda logits: tf.reduce_mean(tf.nn.relu(1.0 + logits)),
}


def _objective_fn(objective):
    if callable(objective):
        return objective
    if objective not in OBJECTIVES:
        raise ValueError(
            f"objective must be one of {sorted(OBJECTIVES)} or a callable; got {objective!r}."
        )
    return OBJECTIVES[objective]


def layer_gradient_norms(discriminator, images, objective="hinge_real"):
    """`{layer name: ||d objective(D(images)) / dW_l||_2}` over the kernel layers.

    W_l is the raw trainable kernel (inside any SN wrapper, so the gradient
    includes the path through sigma). D runs with `training=False`, so no
    power-iteration state changes.
    """
    entries = kernel_layers(discriminator)
    kernels = [entry.raw_kernel for entry in entries]
    images = tf.convert_to_tensor(images, tf.float32)
    with tf.GradientTape() as tape:
        logits = tf.cast(discriminator(images, training=False), tf.float32)
        value = _objective_fn(objective)(logits)
    gradients = [
        tf.zeros_like(kernel) if gradient is None else gradient
        for kernel, gradient in zip(kernels, tape.gradient(value, kernels))
    ]
    groups = [(entry.name, [index]) for index, entry in enumerate(entries)]
    norms = diagnostics.grouped_gradient_norms(gradients, groups).numpy()
    return {entry.name: float(norm) for entry, norm in zip(entries, norms)}


def input_gradient_stats(discriminator, images):
    """Mean / min / max over the batch of `||dD(x)/dx||_2` (the training diagnostic's values)."""
    norms = diagnostics.input_gradient_norms(discriminator, images)
    return {
        key.split("/")[-1]: float(value)
        for key, value in diagnostics.summarize(norms, "input_grad_norm").items()
    }
