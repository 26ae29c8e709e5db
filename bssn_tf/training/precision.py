"""Mixed-precision policies for the models a run builds."""

import contextlib

import keras


@contextlib.contextmanager
def dtype_policy(name):
    """Builds layers under policy `name` ("none" is float32), then restores the global one."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32" if name == "none" else name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def make_adam(learning_rate, beta1, beta2, mixed_precision, name):
    """Adam, wrapped in a LossScaleOptimizer under mixed_float16 (bfloat16 needs none)."""
    optimizer = keras.optimizers.Adam(learning_rate, beta_1=beta1, beta_2=beta2, name=name)
    if mixed_precision == "mixed_float16":
        return keras.optimizers.LossScaleOptimizer(optimizer, name=f"{name}_loss_scale")
    return optimizer
