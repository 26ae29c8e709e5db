"""Wrapper behaviour that only the TensorFlow backend has: XLA, tf.distribute,
SavedModel export, and mixed precision inside a compiled model."""

import keras
import numpy as np
import pytest
from keras import layers

tf = pytest.importorskip("tensorflow")
if keras.backend.backend() != "tensorflow":
    pytest.skip("TensorFlow-backend tests", allow_module_level=True)

from bssn_tf.layers import BSSN, SN, ExactSN, hold_power_iteration  # noqa: E402


def small_discriminator(seed):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            BSSN(layers.Conv2D(4, 3, padding="same"), scale=1.2),
            layers.LeakyReLU(0.1),
            BSSN(layers.Conv2D(4, 4, strides=2, padding="same"), scale=1.2),
            layers.LeakyReLU(0.1),
            layers.Flatten(),
            BSSN(layers.Dense(1), scale=1.2),
        ]
    )


def state_of(model):
    return [v.numpy() for v in model.weights]


def make_step(model, optimizer, jit_compile):
    """A D step in the reference schedule: u advances on D(real) only."""

    @tf.function(jit_compile=jit_compile)
    def step(real, fake):
        with tf.GradientTape() as tape:
            d_real = model(real, training=True)
            with hold_power_iteration():
                d_fake = model(fake, training=True)
            loss = tf.reduce_mean(tf.nn.relu(1 - d_real)) + tf.reduce_mean(tf.nn.relu(1 + d_fake))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply(grads, model.trainable_variables)
        return loss

    return step


def batches():
    rng = np.random.default_rng(0)
    return [
        (
            rng.normal(size=(4, 8, 8, 1)).astype("float32"),
            rng.normal(size=(4, 8, 8, 1)).astype("float32"),
        )
        for _ in range(3)
    ]


def test_xla_step_matches_eager_step():
    results = []
    for jit in (False, True):
        model = small_discriminator(0)
        optimizer = keras.optimizers.Adam(1e-3)
        step = (
            make_step(model, optimizer, jit)
            if jit
            else make_step(model, optimizer, False).python_function
        )
        losses = [float(step(r, f)) for r, f in batches()]
        results.append((losses, state_of(model)))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-5)
    for eager, xla in zip(results[0][1], results[1][1]):
        np.testing.assert_allclose(eager, xla, rtol=1e-4, atol=1e-6)


def test_u_advances_once_per_step_with_hold_on_fake():
    model = small_discriminator(1)
    wrapper = model.layers[0]
    kernel = wrapper.layer.kernel.numpy().reshape(-1, 4)
    u = wrapper.u.numpy()
    step = make_step(model, keras.optimizers.SGD(0.0), jit_compile=True)
    real, fake = batches()[0]
    step(real, fake)
    v = u @ kernel.T
    v /= np.linalg.norm(v) + 1e-12
    expected = v @ kernel
    expected /= np.linalg.norm(expected) + 1e-12
    np.testing.assert_allclose(wrapper.u.numpy(), expected, rtol=1e-5, atol=1e-6)


def test_mirrored_strategy_u_identical_on_replicas_and_equal_to_single_device():
    devices = tf.config.list_logical_devices("CPU")
    assert len(devices) >= 2, "tests/conftest.py must split the CPU into 2 logical devices"
    real, fake = batches()[0]

    single = small_discriminator(2)
    optimizer = keras.optimizers.SGD(0.1)
    make_step(single, optimizer, False)(real, fake)

    strategy = tf.distribute.MirroredStrategy([d.name for d in devices[:2]])
    with strategy.scope():
        mirrored = small_discriminator(2)
        optimizer = keras.optimizers.SGD(0.1)
        optimizer.build(mirrored.trainable_variables)

    @tf.function
    def distributed_step(real, fake):
        def replica_step(real, fake):
            with tf.GradientTape() as tape:
                d_real = mirrored(real, training=True)
                with hold_power_iteration():
                    d_fake = mirrored(fake, training=True)
                per_example = tf.nn.relu(1 - d_real) + tf.nn.relu(1 + d_fake)
                loss = tf.reduce_sum(per_example) / 4.0
            grads = tape.gradient(loss, mirrored.trainable_variables)
            optimizer.apply(grads, mirrored.trainable_variables)

        strategy.run(replica_step, args=(real, fake))

    dataset = tf.data.Dataset.from_tensors((real, fake)).unbatch().batch(4)
    for r, f in strategy.experimental_distribute_dataset(dataset):
        distributed_step(r, f)

    for wrapper_single, wrapper_mirrored in zip(single.layers, mirrored.layers):
        for name in ("u", "u2"):
            if not hasattr(wrapper_single, name):
                continue
            replicas = (
                [v.numpy() for v in getattr(wrapper_mirrored, name).value.values]
                if hasattr(getattr(wrapper_mirrored, name).value, "values")
                else [getattr(wrapper_mirrored, name).numpy()]
            )
            assert len(replicas) == 2
            np.testing.assert_array_equal(replicas[0], replicas[1])
            np.testing.assert_allclose(
                replicas[0], getattr(wrapper_single, name).numpy(), rtol=1e-5, atol=1e-6
            )
    np.testing.assert_allclose(
        mirrored.layers[0].layer.kernel.numpy(),
        single.layers[0].layer.kernel.numpy(),
        rtol=1e-5,
        atol=1e-6,
    )


def test_saved_model_export_round_trip_gives_matching_outputs(tmp_path):
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            BSSN(layers.Conv2D(4, 3, padding="same"), scale=1.2),
            ExactSN(layers.Conv2D(4, 4, strides=2, padding="same")),
            layers.Flatten(),
            SN(layers.Dense(1)),
        ]
    )
    x = np.random.default_rng(3).normal(size=(2, 8, 8, 1)).astype("float32")
    model(x, training=True)
    path = str(tmp_path / "exported")
    model.export(path, format="tf_saved_model", verbose=False)
    reloaded = tf.saved_model.load(path)
    # The SavedModel's graph and the eager call may split the convolutions'
    # sums differently over threads: outputs near 0.3-0.5 then differ by an
    # ulp or two (1.2e-7 was seen), hence the tolerance rather than equality.
    np.testing.assert_allclose(reloaded.serve(x).numpy(), model(x).numpy(), rtol=1e-6, atol=1e-6)
    before = model.layers[0].u.numpy()
    reloaded.serve(x)
    np.testing.assert_array_equal(model.layers[0].u.numpy(), before)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_model_under_xla_keeps_float32_state(policy):
    reference = small_discriminator(4)
    real, fake = batches()[0]
    make_step(reference, keras.optimizers.SGD(0.0), True)(real, fake)
    try:
        keras.config.set_dtype_policy(policy)
        mixed = small_discriminator(4)
    finally:
        keras.config.set_dtype_policy("float32")
    step = make_step(mixed, keras.optimizers.SGD(0.0), True)
    step(real, fake)
    out = mixed(real)
    assert keras.backend.standardize_dtype(out.dtype) == policy.split("_")[1]
    for wrapper_ref, wrapper_mixed in zip(reference.layers, mixed.layers):
        if hasattr(wrapper_ref, "u"):
            assert wrapper_mixed.u.dtype == "float32"
            np.testing.assert_allclose(
                wrapper_mixed.u.numpy(), wrapper_ref.u.numpy(), rtol=1e-5, atol=1e-6
            )


def replica_values(variable):
    """The per-replica values of a mirrored variable (one value without a strategy)."""
    values = getattr(variable.value, "values", None)
    return [v.numpy() for v in values] if values is not None else [variable.numpy()]


@pytest.mark.parametrize("in_function", [False, True], ids=["eager", "tf_function"])
def test_hold_entered_in_the_main_thread_holds_mirrored_replica_threads(in_function):
    devices = tf.config.list_logical_devices("CPU")
    assert len(devices) >= 2, "tests/conftest.py must split the CPU into 2 logical devices"
    strategy = tf.distribute.MirroredStrategy([d.name for d in devices[:2]])
    with strategy.scope():
        model = small_discriminator(5)
    real, _ = batches()[0]
    dataset = tf.data.Dataset.from_tensors(real).unbatch().batch(4)
    (batch,) = list(strategy.experimental_distribute_dataset(dataset))

    def make_run():
        run = lambda x: strategy.run(lambda x: model(x, training=True), args=(x,))
        # A fresh tf.function per use: the hold is read when a call is traced.
        return tf.function(run) if in_function else run

    wrappers = [layer for layer in model.layers if hasattr(layer, "u")]
    start = [replica_values(w.u) for w in wrappers]
    with hold_power_iteration():
        make_run()(batch)
    for wrapper, values in zip(wrappers, start):
        for replica, value in zip(replica_values(wrapper.u), values):
            np.testing.assert_array_equal(replica, value)
    make_run()(batch)
    for wrapper, values in zip(wrappers, start):
        replicas = replica_values(wrapper.u)
        assert len(replicas) == 2
        np.testing.assert_array_equal(replicas[0], replicas[1])
        assert not np.allclose(replicas[0], values[0])


def test_nan_kernel_under_xla_leaves_u_and_u2_unchanged():
    keras.utils.set_random_seed(6)
    wrapper = BSSN(layers.Conv2D(4, 3, padding="same"), scale=1.2)
    x = batches()[0][0]
    wrapper(x)
    good = wrapper.layer.kernel.numpy()
    before = [wrapper.u.numpy(), wrapper.u2.numpy()]
    call = tf.function(lambda: wrapper(x, training=True), jit_compile=True)
    wrapper.layer.kernel.assign(np.full_like(good, np.nan))
    call()
    np.testing.assert_array_equal(wrapper.u.numpy(), before[0])
    np.testing.assert_array_equal(wrapper.u2.numpy(), before[1])
    wrapper.layer.kernel.assign(good)
    call()
    matrix = good.reshape(-1, 4)
    v = before[0] @ matrix.T
    v /= np.linalg.norm(v) + 1e-12
    expected = v @ matrix
    expected /= np.linalg.norm(expected) + 1e-12
    # float32 XLA against numpy on a 9x4 matrix: a few ulps.
    np.testing.assert_allclose(wrapper.u.numpy(), expected, rtol=1e-5, atol=1e-6)
