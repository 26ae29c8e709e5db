"""Layer wrapper tests against numpy SVDs and explicit operator matrices.

Backend-agnostic: CI runs this file under the TensorFlow and JAX backends.
"""

import gc
import json

import keras
import numpy as np
import pytest
from keras import layers, ops

from bssn_tf.layers import (
    BSN,
    BSSN,
    SN,
    SSN,
    ExactSN,
    SpectralNormalization,
    hold_power_iteration,
    spectralize,
)


def to_numpy(x):
    return np.asarray(ops.convert_to_numpy(x), dtype=np.float64)


def top_singular_value(matrix):
    return np.linalg.svd(matrix, compute_uv=False)[0]


def reshapes(kernel, transposed):
    """Numpy oracle of the two reshapes: (k*c_in, c_out) and (k*c_out, c_in)."""
    if transposed:
        kernel = np.swapaxes(kernel, -1, -2)
    fan_in = kernel.reshape(-1, kernel.shape[-1])
    fan_out = np.swapaxes(kernel, -1, -2).reshape(-1, kernel.shape[-2])
    return fan_in, fan_out


def run_training_calls(wrapper, x, n):
    """n training-mode calls, compiled once so that long loops stay fast."""
    if not wrapper.built:
        wrapper(x)
    if keras.backend.backend() == "jax":
        import jax

        @jax.jit
        def call(trainable, non_trainable):
            return wrapper.stateless_call(trainable, non_trainable, x, training=True)[1]

        trainable = [v.value for v in wrapper.trainable_variables]
        non_trainable = [v.value for v in wrapper.non_trainable_variables]
        for _ in range(n):
            non_trainable = call(trainable, non_trainable)
        for variable, value in zip(wrapper.non_trainable_variables, non_trainable):
            variable.assign(value)
        return
    if keras.backend.backend() != "tensorflow":  # torch: eager calls are fast enough
        for _ in range(n):
            wrapper(x, training=True)
        return
    import tensorflow as tf

    call = tf.function(lambda: wrapper(x, training=True))
    for _ in range(n):
        call()


LAYER_CASES = [
    ("dense", lambda: layers.Dense(7), (3, 5), False),
    ("conv1d", lambda: layers.Conv1D(6, 3, padding="same"), (2, 9, 4), False),
    ("conv2d", lambda: layers.Conv2D(6, 3, padding="same"), (2, 6, 6, 3), False),
    ("conv3d", lambda: layers.Conv3D(5, 2), (1, 4, 4, 4, 2), False),
    ("conv1d_t", lambda: layers.Conv1DTranspose(6, 3, strides=2), (2, 5, 4), True),
    (
        "conv2d_t",
        lambda: layers.Conv2DTranspose(5, 4, strides=2, padding="same"),
        (2, 4, 4, 3),
        True,
    ),
    ("conv3d_t", lambda: layers.Conv3DTranspose(4, 2), (1, 3, 3, 3, 2), True),
]


@pytest.mark.parametrize("name,make,shape,transposed", LAYER_CASES, ids=[c[0] for c in LAYER_CASES])
def test_bsn_sigmas_match_numpy_svd(name, make, shape, transposed):
    keras.utils.set_random_seed(0)
    wrapper = BSN(make())
    x = np.random.default_rng(0).normal(size=shape).astype("float32")
    run_training_calls(wrapper, x, 60)
    fan_in, fan_out = reshapes(to_numpy(wrapper.layer.kernel), transposed)
    norms = {k: float(to_numpy(v)) for k, v in wrapper.spectral_norms().items()}
    np.testing.assert_allclose(norms["sigma1"], top_singular_value(fan_in), rtol=1e-3)
    np.testing.assert_allclose(norms["sigma2"], top_singular_value(fan_out), rtol=1e-3)
    np.testing.assert_allclose(norms["sigma"], (norms["sigma1"] + norms["sigma2"]) / 2, rtol=1e-6)


@pytest.mark.parametrize("name,make,shape,transposed", LAYER_CASES, ids=[c[0] for c in LAYER_CASES])
def test_ssn_normalized_kernel_has_spectral_norm_scale(name, make, shape, transposed):
    keras.utils.set_random_seed(1)
    wrapper = SSN(make(), scale=1.7)
    x = np.random.default_rng(1).normal(size=shape).astype("float32")
    run_training_calls(wrapper, x, 60)
    fan_in, _ = reshapes(to_numpy(wrapper.normalized_kernel()), transposed)
    np.testing.assert_allclose(top_singular_value(fan_in), 1.7, rtol=1e-3)


def test_bssn_normalized_kernel_averages_both_reshapes_to_scale():
    keras.utils.set_random_seed(2)
    wrapper = BSSN(layers.Conv2D(8, 4, strides=2, padding="same"), scale=1.3)
    run_training_calls(wrapper, np.ones((1, 8, 8, 3), "float32"), 80)
    fan_in, fan_out = reshapes(to_numpy(wrapper.normalized_kernel()), False)
    mean_norm = (top_singular_value(fan_in) + top_singular_value(fan_out)) / 2
    np.testing.assert_allclose(mean_norm, 1.3, rtol=1e-3)


def test_forward_equals_layer_with_normalized_kernel():
    """The wrapped output is the layer's op on c*W/sigma, bias unscaled."""
    keras.utils.set_random_seed(3)
    conv = layers.Conv2D(4, 3, padding="same", bias_initializer="ones", activation="relu")
    wrapper = BSSN(conv, scale=2.0)
    x = np.random.default_rng(3).normal(size=(2, 5, 5, 3)).astype("float32")
    out = to_numpy(wrapper(x))
    kernel = wrapper.normalized_kernel()
    expected = np.maximum(to_numpy(ops.conv(x, kernel, padding="same")) + 1.0, 0.0)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_embedding_sn_matches_svd():
    keras.utils.set_random_seed(4)
    wrapper = SN(layers.Embedding(11, 6))
    ids = np.arange(11)[None, :]
    run_training_calls(wrapper, ids, 60)
    table = to_numpy(wrapper.layer.embeddings)
    np.testing.assert_allclose(
        float(to_numpy(wrapper.spectral_norms()["sigma"])), top_singular_value(table), rtol=1e-3
    )
    np.testing.assert_allclose(
        to_numpy(wrapper(ids))[0], to_numpy(wrapper.normalized_kernel()), rtol=1e-6
    )


def explicit_operator(layer, in_shape):
    """Columns are the layer's (bias-free, linear) output on each basis input."""
    size = int(np.prod(in_shape))
    basis = np.eye(size, dtype="float32").reshape((size,) + tuple(in_shape))
    return to_numpy(layer(basis)).reshape(size, -1).T


EXACT_CASES = [
    ("conv1d_valid", lambda: layers.Conv1D(3, 3, use_bias=False), (7, 2)),
    (
        "conv1d_s2_same",
        lambda: layers.Conv1D(3, 4, strides=2, padding="same", use_bias=False),
        (8, 2),
    ),
    ("conv2d_same", lambda: layers.Conv2D(3, 3, padding="same", use_bias=False), (5, 5, 2)),
    (
        "conv2d_s2_same_even",
        lambda: layers.Conv2D(3, 4, strides=2, padding="same", use_bias=False),
        (6, 6, 2),
    ),
    (
        "conv2d_s2_same_odd_input",
        lambda: layers.Conv2D(2, 3, strides=2, padding="same", use_bias=False),
        (5, 5, 2),
    ),
    ("conv2d_s2_valid", lambda: layers.Conv2D(3, 3, strides=2, use_bias=False), (7, 6, 2)),
    (
        "conv2d_dilated",
        lambda: layers.Conv2D(2, 3, dilation_rate=2, padding="same", use_bias=False),
        (6, 6, 2),
    ),
    (
        "conv2d_t_s2_same",
        lambda: layers.Conv2DTranspose(2, 4, strides=2, padding="same", use_bias=False),
        (3, 3, 3),
    ),
    (
        "conv2d_t_s2_valid",
        lambda: layers.Conv2DTranspose(2, 3, strides=2, use_bias=False),
        (3, 3, 2),
    ),
    (
        "conv1d_t_output_padding",
        lambda: layers.Conv1DTranspose(2, 3, strides=2, output_padding=1, use_bias=False),
        (4, 2),
    ),
]


@pytest.mark.parametrize("name,make,in_shape", EXACT_CASES, ids=[c[0] for c in EXACT_CASES])
def test_exact_sigma_matches_explicit_operator_svd(name, make, in_shape):
    keras.utils.set_random_seed(5)
    wrapper = ExactSN(make())
    wrapper.build((None,) + in_shape)
    zeros = np.zeros((1,) + in_shape, "float32")
    run_training_calls(wrapper, zeros, 300)
    matrix = explicit_operator(wrapper.layer, in_shape)
    np.testing.assert_allclose(
        float(to_numpy(wrapper.spectral_norms()["sigma"])), top_singular_value(matrix), rtol=1e-3
    )


@pytest.mark.parametrize("name,make,in_shape", EXACT_CASES, ids=[c[0] for c in EXACT_CASES])
def test_exact_adjoint_is_the_transpose_of_the_operator(name, make, in_shape):
    keras.utils.set_random_seed(6)
    wrapper = ExactSN(make())
    wrapper.build((None,) + in_shape)
    matrix = explicit_operator(wrapper.layer, in_shape)
    rng = np.random.default_rng(6)
    out_shape = tuple(wrapper.layer.compute_output_shape((1,) + in_shape))
    y = rng.normal(size=out_shape).astype("float32")
    adjoint_y = to_numpy(wrapper._adjoint(wrapper.layer.kernel, y)).ravel()
    np.testing.assert_allclose(adjoint_y, matrix.T @ y.ravel(), rtol=1e-4, atol=1e-5)


def test_exact_norm_depends_on_input_size_and_differs_from_reshape():
    keras.utils.set_random_seed(7)
    conv = layers.Conv2D(4, 3, padding="same", use_bias=False)
    conv.build((None, 4, 4, 3))
    norms = []
    for size in (2, 4, 16):
        wrapper = ExactSN(layers.Conv2D(4, 3, padding="same", use_bias=False))
        wrapper.build((None, size, size, 3))
        wrapper.layer.kernel.assign(conv.kernel)
        run_training_calls(wrapper, np.zeros((1, size, size, 3), "float32"), 200)
        norms.append(float(to_numpy(wrapper.spectral_norms()["sigma"])))
    reshape_norm = top_singular_value(to_numpy(conv.kernel).reshape(-1, 4))
    assert norms[0] < norms[1] < norms[2]
    assert norms[2] > reshape_norm * 1.2


def test_u_advances_only_in_training_and_not_when_held():
    keras.utils.set_random_seed(8)
    wrapper = BSN(layers.Dense(4))
    x = np.ones((2, 3), "float32")
    wrapper(x)
    start = [to_numpy(wrapper.u), to_numpy(wrapper.u2)]
    wrapper(x, training=False)
    wrapper.normalized_kernel()
    wrapper.spectral_norms()
    with hold_power_iteration():
        wrapper(x, training=True)
    np.testing.assert_array_equal(to_numpy(wrapper.u), start[0])
    np.testing.assert_array_equal(to_numpy(wrapper.u2), start[1])
    wrapper(x, training=True)
    assert not np.allclose(to_numpy(wrapper.u), start[0])
    assert not np.allclose(to_numpy(wrapper.u2), start[1])


def test_one_training_call_is_one_power_step_from_numpy():
    keras.utils.set_random_seed(9)
    wrapper = SN(layers.Dense(5))
    x = np.ones((1, 4), "float32")
    wrapper(x)
    u0 = to_numpy(wrapper.u)
    w = to_numpy(wrapper.layer.kernel)
    wrapper(x, training=True)
    v = u0 @ w.T
    v /= np.linalg.norm(v) + 1e-12
    u1 = v @ w
    u1 /= np.linalg.norm(u1) + 1e-12
    np.testing.assert_allclose(to_numpy(wrapper.u), u1, rtol=1e-5, atol=1e-6)


def test_reparametrization_keeps_raw_kernel_and_state_variables():
    wrapper = BSSN(layers.Conv2D(3, 3), scale=1.5)
    x = np.random.default_rng(10).normal(size=(1, 5, 5, 2)).astype("float32")
    wrapper(x)
    raw = to_numpy(wrapper.layer.kernel)
    wrapper(x, training=True)
    np.testing.assert_array_equal(to_numpy(wrapper.layer.kernel), raw)
    assert {id(v) for v in wrapper.trainable_weights} == {
        id(wrapper.layer.kernel),
        id(wrapper.layer.bias),
    }
    assert {id(v) for v in wrapper.non_trainable_weights} == {id(wrapper.u), id(wrapper.u2)}
    assert wrapper.u.shape == (1, 3) and wrapper.u2.shape == (1, 2)


def test_zero_kernel_gives_finite_outputs():
    for mode in ("sn", "bsn", "exact"):
        wrapper = SpectralNormalization(layers.Conv2D(2, 3, kernel_initializer="zeros"), mode=mode)
        out = to_numpy(wrapper(np.ones((1, 4, 4, 1), "float32"), training=True))
        assert np.all(np.isfinite(out)), mode
        assert np.all(np.isfinite(to_numpy(wrapper.normalized_kernel()))), mode


@pytest.mark.parametrize(
    "kwargs,needle",
    [
        (dict(mode="spectral"), "mode='spectral'"),
        (dict(scale=0.0), "scale=0.0"),
        (dict(scale=-1.0), "scale=-1.0"),
        (dict(scale=float("nan")), "scale=nan"),
        (dict(scale=float("inf")), "scale=inf"),
        (dict(power_iterations=0), "power_iterations=0"),
        (dict(power_iterations=1.5), "power_iterations=1.5"),
        (dict(eps=0.0), "eps=0.0"),
        (dict(eps=-1e-3), "eps=-0.001"),
        (dict(scale=np.float32("nan")), "scale=np.float32(nan)"),
        (dict(scale=np.True_), "scale=np.True_"),
        (dict(power_iterations=np.float64(2.0)), "power_iterations=np.float64(2.0)"),
        (dict(mode=np.int64(1)), "mode=np.int64(1)"),
    ],
)
def test_invalid_arguments_raise_value_error_naming_the_value(kwargs, needle):
    with pytest.raises(ValueError) as info:
        SpectralNormalization(layers.Dense(2), **kwargs)
    assert needle in str(info.value)


def test_layer_without_kernel_is_refused_by_type():
    with pytest.raises(ValueError, match="ReLU"):
        SN(layers.ReLU())
    with pytest.raises(ValueError, match="DepthwiseConv2D"):
        SN(layers.DepthwiseConv2D(3))


def test_exact_mode_needs_known_spatial_shape():
    wrapper = ExactSN(layers.Conv2D(2, 3))
    with pytest.raises(ValueError, match="spatial shape"):
        wrapper.build((None, None, None, 3))


def test_spectralize_wraps_supported_layers_and_keeps_weights():
    keras.utils.set_random_seed(11)
    inputs = keras.Input((8, 8, 1))
    h = layers.Conv2D(4, 3, padding="same")(inputs)
    h = layers.LeakyReLU(0.1)(h)
    h = layers.Flatten()(h)
    outputs = layers.Dense(1)(h)
    model = keras.Model(inputs, outputs)
    wrapped = spectralize(model, mode="bsn", scale=1.4)
    kinds = [type(layer).__name__ for layer in wrapped.layers]
    assert kinds == [
        "InputLayer",
        "SpectralNormalization",
        "LeakyReLU",
        "Flatten",
        "SpectralNormalization",
    ]
    conv_wrapper, dense_wrapper = wrapped.layers[1], wrapped.layers[4]
    assert conv_wrapper.mode == "bsn" and conv_wrapper.scale == 1.4
    np.testing.assert_array_equal(
        to_numpy(conv_wrapper.layer.kernel), to_numpy(model.layers[1].kernel)
    )
    x = np.random.default_rng(11).normal(size=(2, 8, 8, 1)).astype("float32")
    h = to_numpy(ops.conv(x, conv_wrapper.normalized_kernel(), padding="same")) + to_numpy(
        conv_wrapper.layer.bias
    )
    h = np.where(h > 0, h, 0.1 * h).reshape(2, -1)
    expected = h @ to_numpy(dense_wrapper.normalized_kernel()) + to_numpy(dense_wrapper.layer.bias)
    np.testing.assert_allclose(to_numpy(wrapped(x)), expected, rtol=1e-4, atol=1e-5)


def test_spectralize_refuses_subclassed_models():
    class Custom(keras.Model):
        def call(self, x):
            return x

    with pytest.raises(ValueError, match="Custom"):
        spectralize(Custom())


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_keeps_u_float32_and_matches_float32(policy):
    keras.utils.set_random_seed(12)
    x = np.random.default_rng(12).normal(size=(2, 6, 6, 3)).astype("float32")
    reference = BSSN(layers.Conv2D(4, 3, padding="same"), scale=1.2)
    reference(x)
    try:
        keras.config.set_dtype_policy(policy)
        mixed = BSSN(layers.Conv2D(4, 3, padding="same"), scale=1.2)
        mixed(x)
        mixed.set_weights(reference.get_weights())
        out = mixed(x, training=True)
    finally:
        keras.config.set_dtype_policy("float32")
    expected = reference(x, training=True)
    assert keras.backend.standardize_dtype(out.dtype) == policy.split("_")[1]
    assert mixed.u.dtype == "float32" and mixed.u2.dtype == "float32"
    assert mixed.layer.kernel.dtype == "float32"
    np.testing.assert_allclose(to_numpy(mixed.u), to_numpy(reference.u), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(to_numpy(out), to_numpy(expected), rtol=0.05, atol=0.05)


def test_keras_file_round_trip_gives_identical_outputs(tmp_path):
    keras.utils.set_random_seed(13)
    model = keras.Sequential(
        [
            keras.Input((6, 6, 2)),
            BSSN(layers.Conv2D(3, 3, strides=2, padding="same"), scale=1.3),
            ExactSN(layers.Conv2D(3, 3, padding="same")),
            layers.Flatten(),
            SN(layers.Dense(1)),
        ]
    )
    x = np.random.default_rng(13).normal(size=(2, 6, 6, 2)).astype("float32")
    model(x, training=True)
    path = tmp_path / "d.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(to_numpy(loaded(x)), to_numpy(model(x)))
    assert loaded.layers[0].mode == "bsn" and loaded.layers[0].scale == 1.3
    np.testing.assert_array_equal(to_numpy(loaded.layers[0].u2), to_numpy(model.layers[0].u2))


def gradient_wrt_kernel(wrapper, weights):
    """d sum(weights * normalized_kernel()) / d kernel, on any of the three backends."""
    kernel = wrapper.layer.kernel
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = ops.sum(weights * wrapper.normalized_kernel())
        return tape.gradient(loss, kernel)
    if keras.backend.backend() == "torch":
        import torch

        loss = ops.sum(ops.convert_to_tensor(weights) * wrapper.normalized_kernel())
        return torch.autograd.grad(loss, kernel.value)[0]
    import jax

    def loss(value):
        with keras.StatelessScope(state_mapping=[(kernel, value)]):
            return ops.sum(weights * wrapper.normalized_kernel())

    return jax.grad(loss)(kernel.value)


def numpy_sigma_and_gradient(matrix, u):
    """One power step from u; returns sigma and d sigma / d matrix = v^T u'."""
    v = u @ matrix.T
    v /= np.linalg.norm(v) + 1e-12
    u_new = v @ matrix
    u_new /= np.linalg.norm(u_new) + 1e-12
    return (v @ matrix @ u_new.T).item(), v.T @ u_new


@pytest.mark.parametrize("mode", ["sn", "bsn"])
def test_kernel_gradient_matches_numpy_derivative_of_scaled_normalization(mode):
    keras.utils.set_random_seed(14)
    wrapper = SpectralNormalization(layers.Conv2D(4, 3), mode=mode, scale=1.6)
    wrapper.build((None, 5, 5, 3))
    weights = np.random.default_rng(14).normal(size=(3, 3, 3, 4)).astype("float32")
    kernel = to_numpy(wrapper.layer.kernel)
    sigma1, dsigma1 = numpy_sigma_and_gradient(kernel.reshape(-1, 4), to_numpy(wrapper.u))
    dsigma = dsigma1.reshape(kernel.shape)
    sigma = sigma1
    if mode == "bsn":
        swapped = kernel.transpose(0, 1, 3, 2)
        sigma2, dsigma2 = numpy_sigma_and_gradient(swapped.reshape(-1, 3), to_numpy(wrapper.u2))
        sigma = (sigma1 + sigma2) / 2
        dsigma = (dsigma + dsigma2.reshape(swapped.shape).transpose(0, 1, 3, 2)) / 2
    # L = c * sum(G * W) / sigma  =>  dL/dW = c * G / sigma - c * sum(G * W) / sigma^2 * dsigma/dW
    expected = 1.6 * weights / sigma - 1.6 * np.sum(weights * kernel) / sigma**2 * dsigma
    actual = to_numpy(gradient_wrt_kernel(wrapper, weights))
    np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-6)
    # Through sigma: the result differs from the no-gradient-through-sigma one.
    assert not np.allclose(actual, 1.6 * weights / sigma, rtol=1e-3)


def test_spectralize_reaches_nested_models_and_skips_wrapped_layers():
    keras.utils.set_random_seed(15)
    inner = keras.Sequential([keras.Input((4,)), layers.Dense(3), layers.ReLU()])
    inputs = keras.Input((4,))
    outputs = SN(layers.Dense(1))(inner(inputs))
    model = keras.Model(inputs, outputs)
    model(np.ones((1, 4), "float32"), training=True)
    wrapped = spectralize(model, mode="bsn", scale=1.1)
    nested = wrapped.layers[1]
    assert isinstance(nested.layers[0], SpectralNormalization) and nested.layers[0].mode == "bsn"
    np.testing.assert_array_equal(
        to_numpy(nested.layers[0].layer.kernel), to_numpy(inner.layers[0].kernel)
    )
    kept = wrapped.layers[2]
    assert kept.mode == "sn" and kept.scale == 1.0
    np.testing.assert_array_equal(to_numpy(kept.u), to_numpy(model.layers[2].u))
    x = np.random.default_rng(15).normal(size=(3, 4)).astype("float32")
    h = np.maximum(
        x @ to_numpy(nested.layers[0].normalized_kernel()) + to_numpy(nested.layers[0].layer.bias),
        0,
    )
    expected = h @ to_numpy(kept.normalized_kernel()) + to_numpy(kept.layer.bias)
    np.testing.assert_allclose(to_numpy(wrapped(x)), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("make", [lambda: layers.Dense(5), lambda: layers.Embedding(9, 4)])
def test_exact_mode_on_matrix_layers_is_plain_sn(make):
    keras.utils.set_random_seed(16)
    wrapper = ExactSN(make())
    x = (
        np.arange(9)[None, :]
        if isinstance(wrapper.layer, layers.Embedding)
        else np.ones((2, 3), "float32")
    )
    run_training_calls(wrapper, x, 60)
    kernel = to_numpy(
        wrapper.layer.embeddings
        if isinstance(wrapper.layer, layers.Embedding)
        else wrapper.layer.kernel
    )
    assert set(wrapper.spectral_norms()) == {"sigma"}
    np.testing.assert_allclose(
        float(to_numpy(wrapper.spectral_norms()["sigma"])), top_singular_value(kernel), rtol=1e-3
    )


def test_numpy_scalar_arguments_act_as_python_numbers_and_serialize():
    keras.utils.set_random_seed(17)
    x = np.random.default_rng(17).normal(size=(2, 4)).astype("float32")
    numpy_args = SpectralNormalization(
        layers.Dense(3),
        mode=np.str_("bsn"),
        scale=np.float32(2.0),
        power_iterations=np.int64(2),
        eps=np.float64(1e-12),
    )
    python_args = SpectralNormalization(layers.Dense(3), mode="bsn", scale=2.0, power_iterations=2)
    numpy_args(x)
    python_args(x)
    python_args.set_weights(numpy_args.get_weights())
    np.testing.assert_array_equal(
        to_numpy(numpy_args(x, training=True)), to_numpy(python_args(x, training=True))
    )
    config = numpy_args.get_config()
    assert [type(config[k]) for k in ("mode", "scale", "power_iterations", "eps")] == [
        str,
        float,
        int,
        float,
    ]
    restored = SpectralNormalization.from_config(json.loads(json.dumps(config)))
    assert (restored.mode, restored.scale, restored.power_iterations) == ("bsn", 2.0, 2)


def test_exact_mode_refuses_a_call_at_another_spatial_size():
    keras.utils.set_random_seed(18)
    wrapper = ExactSN(layers.Conv2D(2, 3, padding="same", use_bias=False))
    wrapper(np.zeros((1, 8, 8, 1), "float32"))
    with pytest.raises(ValueError) as info:
        wrapper(np.zeros((1, 16, 16, 1), "float32"))
    assert "(8, 8)" in str(info.value) and "(16, 16)" in str(info.value)
    # Another batch size at the build size is the same operator, so it is accepted.
    assert tuple(wrapper(np.ones((3, 8, 8, 1), "float32")).shape) == (3, 8, 8, 2)
    # The reshape norm does not depend on the input size: SN takes any size.
    reshape_sn = SN(layers.Conv2D(2, 3, padding="same"))
    reshape_sn(np.zeros((1, 8, 8, 1), "float32"))
    assert tuple(reshape_sn(np.zeros((1, 16, 16, 1), "float32")).shape) == (1, 16, 16, 2)


def power_step_matrices(wrapper, in_shape):
    """The numpy matrices whose power step each stored u follows, by u name."""
    if wrapper.mode == "exact":
        return {"u": explicit_operator(wrapper.layer, in_shape)}
    fan_in, fan_out = reshapes(to_numpy(wrapper.layer.kernel), False)
    return {"u": fan_in, "u2": fan_out} if wrapper.mode == "bsn" else {"u": fan_in}


@pytest.mark.parametrize("bad", [np.nan, np.inf, 0.0], ids=["nan", "inf", "zero"])
@pytest.mark.parametrize("mode", ["sn", "bsn", "exact"])
def test_a_bad_kernel_never_reaches_u_and_training_recovers(mode, bad):
    keras.utils.set_random_seed(19)
    in_shape = (5, 5, 2)
    wrapper = SpectralNormalization(layers.Conv2D(3, 3, padding="same", use_bias=False), mode=mode)
    x = np.random.default_rng(19).normal(size=(1,) + in_shape).astype("float32")
    run_training_calls(wrapper, x, 1)
    good = to_numpy(wrapper.layer.kernel).astype("float32")
    names = sorted(power_step_matrices(wrapper, in_shape))
    before = {name: to_numpy(getattr(wrapper, name)) for name in names}
    wrapper.layer.kernel.assign(np.full_like(good, bad))
    run_training_calls(wrapper, x, 2)
    for name in names:
        np.testing.assert_array_equal(to_numpy(getattr(wrapper, name)), before[name])
    wrapper.layer.kernel.assign(good)
    run_training_calls(wrapper, x, 1)
    # One compiled training call from the kept u is the reference power step.
    for name, matrix in power_step_matrices(wrapper, in_shape).items():
        u = before[name].reshape(1, -1)
        v = u @ matrix.T
        v /= np.linalg.norm(v) + 1e-12
        expected = v @ matrix
        expected /= np.linalg.norm(expected) + 1e-12
        np.testing.assert_allclose(
            to_numpy(getattr(wrapper, name)).reshape(1, -1), expected, rtol=1e-4, atol=1e-5
        )


def test_a_layer_is_wrapped_once_only():
    inner = layers.Dense(3, name="inner")
    outer = SN(inner, name="outer")
    with pytest.raises(ValueError, match="'inner' is already wrapped by 'outer'"):
        BSSN(inner)
    with pytest.raises(ValueError, match="'outer' is already a SpectralNormalization wrapper"):
        SN(outer)
    keras_wrapper = keras.layers.SpectralNormalization(layers.Dense(2), name="keras_sn")
    with pytest.raises(ValueError, match="'keras_sn' is already a SpectralNormalization wrapper"):
        SN(keras_wrapper)
    # The refusal lasts as long as the wrapper: once it is gone the layer is free.
    del outer
    gc.collect()
    assert SN(inner).layer is inner
