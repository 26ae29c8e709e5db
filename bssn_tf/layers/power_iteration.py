"""Power iteration for the largest singular value of a linear map.

One routine serves every mode: a reshaped kernel is the linear map
`u -> u @ M.T`, and exact mode's map is the convolution itself. Keeping a
single routine means SN, BSN and exact SN share the paper's formulas exactly.
"""

import contextlib

from keras import ops

_held_depth = 0


@contextlib.contextmanager
def hold_power_iteration():
    """Holds every wrapper's `u` fixed, even in training-mode calls.

    The paper advances `u` once per discriminator step, on D(real) only. Wrap
    D(fake) and the generator step in this context to reproduce that schedule:

        d_real = disc(real, training=True)          # advances u
        with bssn_tf.layers.hold_power_iteration():
            d_fake = disc(fake, training=True)      # reads u, leaves it

    The flag is read when a call is traced, so it also works inside
    `tf.function`/`jit_compile` and across `tf.distribute` replica threads.
    """
    global _held_depth
    _held_depth += 1
    try:
        yield
    finally:
        _held_depth -= 1


def power_iteration_held():
    """True inside `hold_power_iteration()`."""
    return _held_depth > 0


def l2_normalize(x, eps):
    """`x / (||x||_2 + eps)` over all elements, as in the reference code."""
    return x / (ops.sqrt(ops.sum(ops.square(x))) + eps)


def estimate_spectral_norm(apply, adjoint, u, iterations, eps):
    """Runs `iterations` power steps from `u`; returns `(u_new, sigma)`.

    `apply(u)` is `u @ M.T` and `adjoint(v)` is `v @ M`. Then
    `sigma = v @ M @ u_new.T`, with `u_new` and `v` held constant so that the
    gradient reaches the kernel only through `apply`, as in the paper.
    """
    u = ops.stop_gradient(u)
    for _ in range(iterations):
        v = ops.stop_gradient(l2_normalize(apply(u), eps))
        u = ops.stop_gradient(l2_normalize(adjoint(v), eps))
    sigma = ops.sum(v * apply(u))
    return u, sigma
