"""The power step against numpy, its u guard, and the per-thread hold.

Backend-agnostic (keras.ops only). The thread tests order their steps with
threading.Event, so each interleaving is the same on every run.
"""

import threading

import keras
import numpy as np
from keras import layers, ops

from bssn_tf.layers import SN, hold_power_iteration
from bssn_tf.layers.power_iteration import (
    estimate_spectral_norm,
    finite_nonzero_or_previous,
    power_iteration_held,
)

EPS = 1e-12
WAIT_S = 60  # generous: only reached if a thread is stuck, which fails the test


def to_numpy(x):
    return np.asarray(ops.convert_to_numpy(x), dtype=np.float64)


def numpy_power_step(u, matrix):
    """The reference formulas: v = l2n(u M^T), u' = l2n(v M), sigma = v M u'^T."""
    v = u @ matrix.T
    v /= np.linalg.norm(v) + EPS
    u_new = v @ matrix
    u_new /= np.linalg.norm(u_new) + EPS
    return u_new, (v @ matrix @ u_new.T).item()


def test_estimate_spectral_norm_is_the_reference_power_step():
    rng = np.random.default_rng(0)
    matrix = rng.normal(size=(6, 4)).astype("float32")
    u = rng.normal(size=(1, 4)).astype("float32")
    expected_u, expected_sigma = u.astype(np.float64), None
    for _ in range(3):
        expected_u, expected_sigma = numpy_power_step(expected_u, matrix.astype(np.float64))
    operator = ops.convert_to_tensor(matrix)
    u_new, sigma = estimate_spectral_norm(
        lambda x: ops.matmul(x, ops.transpose(operator)),
        lambda y: ops.matmul(y, operator),
        ops.convert_to_tensor(u),
        3,
        EPS,
    )
    # float32 against float64 on a 6x4 matrix: agreement to a few float32 ulps.
    np.testing.assert_allclose(to_numpy(u_new), expected_u, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(float(to_numpy(sigma)), expected_sigma, rtol=1e-5)


def test_u_guard_keeps_the_previous_u_for_nan_inf_and_zero():
    old = np.array([[0.6, 0.8]], "float32")
    new = np.array([[1.0, 0.0]], "float32")
    np.testing.assert_array_equal(to_numpy(finite_nonzero_or_previous(new, old)), new)
    for bad in ([[np.nan, 0.5]], [[np.inf, 0.5]], [[0.0, 0.0]]):
        bad = np.array(bad, "float32")
        np.testing.assert_array_equal(to_numpy(finite_nonzero_or_previous(bad, old)), old)


def make_wrapper(seed):
    keras.utils.set_random_seed(seed)
    wrapper = SN(layers.Dense(5))
    x = np.ones((1, 4), "float32")
    wrapper(x)
    return wrapper, x


def run_in_thread(target):
    """Starts `target` in a thread; returns it and a join function that re-raises its error."""
    errors = []

    def body():
        try:
            target()
        except BaseException as error:  # handed to the main thread by join()
            errors.append(error)

    thread = threading.Thread(target=body)
    thread.start()

    def join():
        thread.join(WAIT_S)
        assert not thread.is_alive(), "thread did not finish"
        if errors:
            raise errors[0]

    return thread, join


def test_hold_in_another_thread_does_not_hold_this_threads_training_call():
    wrapper, x = make_wrapper(20)
    kernel = to_numpy(wrapper.layer.kernel)
    holding, main_called = threading.Event(), threading.Event()
    seen_in_holder = {}

    def holder():
        with hold_power_iteration():
            holding.set()
            assert main_called.wait(WAIT_S)
            before = to_numpy(wrapper.u)
            wrapper(x, training=True)
            seen_in_holder["held"] = power_iteration_held()
            seen_in_holder["u_kept"] = np.array_equal(to_numpy(wrapper.u), before)

    _, join = run_in_thread(holder)
    assert holding.wait(WAIT_S)
    u0 = to_numpy(wrapper.u)
    assert not power_iteration_held()
    wrapper(x, training=True)  # while the other thread holds
    u_after_main = to_numpy(wrapper.u)
    main_called.set()
    join()
    expected, _ = numpy_power_step(u0, kernel)
    np.testing.assert_allclose(u_after_main, expected, rtol=1e-5, atol=1e-6)
    assert seen_in_holder == {"held": True, "u_kept": True}


def test_hold_here_does_not_hold_a_thread_started_before_it():
    wrapper, x = make_wrapper(21)
    kernel = to_numpy(wrapper.layer.kernel)
    go, trained = threading.Event(), threading.Event()
    seen = {}

    def trainer():
        assert go.wait(WAIT_S)
        seen["u0"] = to_numpy(wrapper.u)
        seen["held"] = power_iteration_held()
        wrapper(x, training=True)
        seen["u1"] = to_numpy(wrapper.u)
        trained.set()

    # This frame refers to the trainer's thread while it holds, as a parent
    # would; the trainer is still not held, because it started before the hold.
    trainer_thread, join = run_in_thread(trainer)
    with hold_power_iteration():
        go.set()
        assert trained.wait(WAIT_S)
        assert power_iteration_held()
    join()
    assert not trainer_thread.is_alive()
    assert seen["held"] is False
    expected, _ = numpy_power_step(seen["u0"], kernel)
    np.testing.assert_allclose(seen["u1"], expected, rtol=1e-5, atol=1e-6)


def test_hold_covers_a_thread_it_starts_and_waits_for():
    """The MirroredStrategy pattern: replicas run in threads the holder starts and joins."""
    wrapper, x = make_wrapper(22)
    u0 = to_numpy(wrapper.u)
    seen = {}

    def replica():
        seen["held"] = power_iteration_held()
        wrapper(x, training=True)

    with hold_power_iteration():
        run_in_thread(replica)[1]()
    assert seen["held"] is True
    np.testing.assert_array_equal(to_numpy(wrapper.u), u0)
    run_in_thread(replica)[1]()  # no hold now: the same call advances u
    assert seen["held"] is False
    assert not np.allclose(to_numpy(wrapper.u), u0)


def test_nested_holds_and_an_exception_leave_no_hold_behind():
    assert not power_iteration_held()
    try:
        with hold_power_iteration():
            with hold_power_iteration():
                assert power_iteration_held()
            assert power_iteration_held()
            raise RuntimeError("inside the hold")
    except RuntimeError:
        pass
    assert not power_iteration_held()
