"""Power iteration for the largest singular value of a linear map, and its hold.

One routine serves every mode: a reshaped kernel is the linear map
`u -> u @ M.T`, and exact mode's map is the convolution itself. Keeping a
single routine means SN, BSN and exact SN share the paper's formulas exactly.
"""

import contextlib
import sys
import threading
import weakref

from keras import ops


class _Hold:
    """One thread's open holds: their depth, and the threads alive at the first."""

    def __init__(self):
        self.depth = 0
        self.threads_before = weakref.WeakSet(threading.enumerate())


# Thread id -> its _Hold. A dict rather than a threading.local, because a
# replica thread must look up the hold of the thread that runs it.
_holds = {}
_holds_lock = threading.Lock()


@contextlib.contextmanager
def hold_power_iteration():
    """Holds every wrapper's `u` fixed in this thread, even in training-mode calls.

    The paper advances `u` once per discriminator step, on D(real) only. Wrap
    D(fake) and the generator step in this context to reproduce that schedule:

        d_real = disc(real, training=True)          # advances u
        with bssn_tf.layers.hold_power_iteration():
            d_fake = disc(fake, training=True)      # reads u, leaves it

    The hold belongs to the thread that enters it: a training call in another
    thread (say a serving thread beside a training thread) is not held. It
    also covers threads started during the hold that the holding thread waits
    for, which is how `tf.distribute.MirroredStrategy.run` runs its replicas.
    The flag is read when a call is traced, so it works inside
    `tf.function`/`jit_compile`; a function traced outside the hold keeps
    advancing `u` when later called inside it.
    """
    thread = threading.get_ident()
    with _holds_lock:
        if thread not in _holds:
            _holds[thread] = _Hold()
        hold = _holds[thread]
        hold.depth += 1
    try:
        yield
    finally:
        with _holds_lock:
            hold.depth -= 1
            if hold.depth == 0:
                del _holds[thread]


def _is_waiting_on(holder, thread):
    """True if thread id `holder` is stopped in a frame whose locals refer to `thread`.

    A thread that runs work in threads it started and waits for them (as
    MirroredStrategy does) keeps those thread objects in its locals.
    """
    frame = sys._current_frames().get(holder)
    while frame is not None:
        for value in list(frame.f_locals.values()):
            if value is thread:
                return True
            if isinstance(value, (list, tuple)) and any(item is thread for item in value):
                return True
        frame = frame.f_back
    return False


def power_iteration_held():
    """True inside `hold_power_iteration()` in this thread, or in the thread running this one."""
    current = threading.current_thread()
    with _holds_lock:
        if current.ident in _holds:
            return True
        parents = [holder for holder, hold in _holds.items() if current not in hold.threads_before]
    return any(_is_waiting_on(holder, current) for holder in parents)


def l2_normalize(x, eps):
    """`x / (||x||_2 + eps)` over all elements, as in the reference code."""
    return x / (ops.sqrt(ops.sum(ops.square(x))) + eps)


def estimate_spectral_norm(apply, adjoint, u, iterations, eps):
    """Runs `iterations` power steps from `u`; returns `(u_new, sigma)`.

    `apply(u)` is `u @ M.T` and `adjoint(v)` is `v @ M`. Then
    `sigma = v @ M @ u_new.T`, evaluated left to right as in the reference, with
    `u_new` and `v` held constant so that the gradient reaches the kernel only
    through `M`, as in the paper. `v @ M` is the last step's unnormalized
    `u_new`, so sigma costs no pass over the kernel beyond the power step's two.
    """
    u = ops.stop_gradient(u)
    for _ in range(iterations):
        v = ops.stop_gradient(l2_normalize(apply(u), eps))
        v_times_m = adjoint(v)
        u = ops.stop_gradient(l2_normalize(v_times_m, eps))
    sigma = ops.sum(v_times_m * u)
    return u, sigma


def finite_nonzero_or_previous(u_new, u_old):
    """`u_new` unless it has a non-finite entry or is all zeros; then `u_old`.

    A NaN or infinite kernel gives a NaN `u`, and a zero kernel a zero `u`;
    either, once stored, would stay forever (the power step maps it to itself)
    after the kernel recovers. A select, so it compiles under XLA and JAX.
    """
    usable = ops.logical_and(ops.all(ops.isfinite(u_new)), ops.any(ops.not_equal(u_new, 0.0)))
    return ops.where(usable, u_new, ops.convert_to_tensor(u_old))
