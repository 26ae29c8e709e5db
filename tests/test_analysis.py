"""bssn_tf.analysis against closed forms, numpy SVDs and explicit operator matrices."""

import math

import keras
import numpy as np
import pytest

from bssn_tf import analysis
from bssn_tf.layers import SN, SpectralNormalization
from bssn_tf.models import cnn_discriminator


def linear_discriminator(weights, wrap=False):
    """D(x) = flatten(x) . w (+ 0 bias), on 2x2x1 images."""
    dense = keras.layers.Dense(1, bias_initializer="zeros", name="logit")
    inputs = keras.Input((2, 2, 1))
    outputs = (SN(dense) if wrap else dense)(keras.layers.Flatten()(inputs))
    model = keras.Model(inputs, outputs)
    dense.kernel.assign(np.asarray(weights, np.float32).reshape(4, 1))
    return model


IMAGES = np.array(
    [[1.0, -2.0, 0.5, 3.0], [0.0, 1.0, -1.0, 2.0], [2.0, 2.0, 1.0, -1.0]], np.float32
).reshape(3, 2, 2, 1)
WEIGHTS = np.array([0.3, -0.1, 0.2, 0.4])


def test_dense_gradient_of_mean_output_is_the_mean_input():
    norms = analysis.layer_gradient_norms(linear_discriminator(WEIGHTS), IMAGES, "mean_output")
    expected = np.linalg.norm(IMAGES.reshape(3, 4).mean(axis=0))
    assert norms == {"logit": pytest.approx(expected, rel=1e-5)}


def test_hinge_real_gradient_sums_only_the_examples_inside_the_margin():
    # relu(1 - D(x)) has slope -1 where D(x) < 1 and 0 elsewhere (the first image).
    flat = IMAGES.reshape(3, 4)
    active = flat @ WEIGHTS < 1
    assert active.tolist() == [False, True, True]
    norms = analysis.layer_gradient_norms(linear_discriminator(WEIGHTS), IMAGES, "hinge_real")
    assert norms["logit"] == pytest.approx(np.linalg.norm(flat[active].sum(0) / 3), rel=1e-5)


def test_sn_dense_gradient_is_projected_through_sigma():
    # D(x) = x.w/||w||: d/dw mean(D) = (I - w w^T/||w||^2) xbar / ||w||.
    # The layer is keyed by its inner name and the gradient is w.r.t. the raw kernel.
    norms = analysis.layer_gradient_norms(
        linear_discriminator(WEIGHTS, wrap=True), IMAGES, "mean_output"
    )
    unit = WEIGHTS / np.linalg.norm(WEIGHTS)
    mean_input = IMAGES.reshape(3, 4).mean(axis=0)
    gradient = (mean_input - unit * (unit @ mean_input)) / np.linalg.norm(WEIGHTS)
    assert norms == {"logit": pytest.approx(np.linalg.norm(gradient), rel=1e-4)}


def test_custom_objective_and_unknown_objective():
    model = linear_discriminator(WEIGHTS)
    norms = analysis.layer_gradient_norms(
        model, IMAGES, lambda logits: 2.0 * keras.ops.mean(logits)
    )
    assert norms["logit"] == pytest.approx(
        2 * np.linalg.norm(IMAGES.reshape(3, 4).mean(0)), rel=1e-5
    )
    with pytest.raises(ValueError, match="'wasserstein'"):
        analysis.layer_gradient_norms(model, IMAGES, "wasserstein")


def test_input_gradient_of_a_linear_d_is_its_weight_norm_for_every_example():
    stats = analysis.input_gradient_stats(linear_discriminator(WEIGHTS), IMAGES)
    expected = np.linalg.norm(WEIGHTS)
    assert stats == {key: pytest.approx(expected, rel=1e-5) for key in ("mean", "min", "max")}


def single_layer_model(layer, input_shape):
    inputs = keras.Input(input_shape)
    return keras.Model(inputs, layer(inputs))


@pytest.mark.parametrize("transposed", [False, True])
def test_weight_scale_of_an_all_equal_kernel_and_fans_of_both_layouts(transposed):
    # c_in=2 -> c_out=4 with a 3x3 kernel: fan_in = 18, fan_out = 36 in both layouts.
    make = keras.layers.Conv2DTranspose if transposed else keras.layers.Conv2D
    layer = make(4, 3, padding="same", name="conv")
    model = single_layer_model(layer, (5, 5, 2))
    layer.kernel.assign(np.full(layer.kernel.shape, 0.7, np.float32))
    scale = analysis.effective_weight_scales(model)["conv"]
    assert (scale["fan_in"], scale["fan_out"]) == (18, 36)
    assert scale["std"] == pytest.approx(0.0, abs=1e-7)
    assert scale["lecun"] == pytest.approx(1 / math.sqrt(18))
    assert scale["xavier"] == pytest.approx(math.sqrt(2 / 54))


def test_weight_scale_of_sn_rank_one_sign_kernel_is_one_over_sqrt_size():
    # W = a s t^T (as the (k*k*c_in, c_out) reshape) has sigma1 = a ||s|| ||t||,
    # so W / sigma1 has entries +-1/sqrt(18*4): mean 0, std 1/sqrt(72).
    signs_in = np.tile([1.0, -1.0], 9)
    signs_out = np.array([1.0, -1.0, -1.0, 1.0])
    kernel = (0.3 * np.outer(signs_in, signs_out)).reshape(3, 3, 2, 4)
    wrapper = SpectralNormalization(
        keras.layers.Conv2D(4, 3, padding="same", name="conv"), mode="sn", scale=1.5
    )
    model = single_layer_model(wrapper, (5, 5, 2))
    wrapper.layer.kernel.assign(kernel.astype(np.float32))
    scale = analysis.effective_weight_scales(model)["conv"]
    assert scale["std"] == pytest.approx(1.5 / math.sqrt(72), rel=1e-5)
    assert scale["std_over_lecun"] == pytest.approx(1.5 * math.sqrt(18) / math.sqrt(72), rel=1e-5)


def test_one_by_one_conv_exact_norm_equals_reshaped_norm():
    layer = keras.layers.Conv2D(5, 1, padding="same", name="conv")
    model = single_layer_model(layer, (4, 4, 3))
    ratio = analysis.operator_norm_ratios(model, iterations=300)["conv"]
    kernel = layer.kernel.numpy().reshape(3, 5)
    assert ratio["reshaped"] == pytest.approx(np.linalg.svd(kernel, compute_uv=False)[0], rel=1e-6)
    assert ratio["ratio"] == pytest.approx(1.0, rel=1e-4)


def numpy_same_conv_matrix(kernel, height, width):
    """The explicit matrix of a stride-1 SAME 3x3 convolution (rows: outputs, columns: inputs)."""
    kh, kw, c_in, c_out = kernel.shape
    matrix = np.zeros((height * width * c_out, height * width * c_in))
    for i in range(height):
        for j in range(width):
            for di in range(kh):
                for dj in range(kw):
                    y, x = i + di - kh // 2, j + dj - kw // 2
                    if 0 <= y < height and 0 <= x < width:
                        for o in range(c_out):
                            row = (i * width + j) * c_out + o
                            columns = (y * width + x) * c_in + np.arange(c_in)
                            matrix[row, columns] += kernel[di, dj, :, o]
    return matrix


def test_conv_ratio_matches_explicit_operator_svd():
    # Power iteration converges like (sigma2/sigma1)^(2k); small conv operators often
    # have nearly equal top singular values (a random kernel failed 1 run in a few),
    # so the kernel is a fixed draw with a clear gap.
    layer = keras.layers.Conv2D(3, 3, padding="same", name="conv")
    wrapper = SN(layer)
    model = single_layer_model(wrapper, (5, 4, 2))
    kernel = 0.3 * np.random.default_rng(5).standard_normal((3, 3, 2, 3))
    layer.kernel.assign(kernel.astype(np.float32))
    kernel = layer.kernel.numpy().astype(np.float64)
    singular_values = np.linalg.svd(numpy_same_conv_matrix(kernel, 5, 4), compute_uv=False)
    assert singular_values[1] / singular_values[0] < 0.95  # the gap 500 iterations need
    exact = singular_values[0]
    reshaped = np.linalg.svd(kernel.reshape(-1, 3), compute_uv=False)[0]
    ratio = analysis.operator_norm_ratios(model, iterations=500)["conv"]
    assert ratio["exact"] == pytest.approx(exact, rel=1e-4)
    assert ratio["ratio"] == pytest.approx(exact / reshaped, rel=1e-4)
    assert ratio["ratio"] > 1.0


def test_strided_conv_ratio_matches_operator_built_from_basis_images():
    layer = keras.layers.Conv2D(3, 4, strides=2, padding="same", use_bias=False, name="conv")
    model = single_layer_model(layer, (6, 6, 2))
    layer.kernel.assign(0.3 * np.random.default_rng(3).standard_normal((4, 4, 2, 3)))
    basis = np.eye(6 * 6 * 2, dtype=np.float32).reshape(-1, 6, 6, 2)
    matrix = np.asarray(layer(basis), np.float64).reshape(len(basis), -1)
    singular_values = np.linalg.svd(matrix, compute_uv=False)
    assert singular_values[1] / singular_values[0] < 0.95  # a fixed draw with a clear gap
    exact = singular_values[0]
    ratio = analysis.operator_norm_ratios(model, iterations=500)["conv"]
    assert ratio["exact"] == pytest.approx(exact, rel=1e-4)


def test_deeper_cnn_discriminator_depth_and_names():
    reference = analysis.kernel_layers(cnn_discriminator(28, 1, norm="sn", width=0.125))
    deep = cnn_discriminator(28, 1, norm="sn", width=0.125, conv3x3_repeats=1)
    shapes = [tuple(entry.raw_kernel.shape) for entry in analysis.kernel_layers(deep)]
    assert shapes == [tuple(entry.raw_kernel.shape) for entry in reference]
    deeper = analysis.kernel_layers(
        cnn_discriminator(28, 1, norm="none", width=0.125, conv3x3_repeats=3, init="lecun")
    )
    # 4 stride-1 conv3x3 (x3 each), 3 stride-2 conv4x4, one Dense.
    assert len(deeper) == 4 * 3 + 3 + 1
    assert [entry.wrapper for entry in deeper] == [None] * len(deeper)
    assert deeper[0].name == "conv0" and deeper[-1].name == "logit"


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        (dict(conv3x3_repeats=0), "conv3x3_repeats=0"),
        (dict(conv3x3_repeats=1, init="xavier"), "init='xavier'"),
        (dict(conv3x3_repeats=1, norm="wn"), "norm='wn'"),
    ],
)
def test_deeper_cnn_discriminator_bad_arguments(kwargs, needle):
    with pytest.raises(ValueError, match=needle):
        cnn_discriminator(28, 1, **kwargs)


def test_model_without_kernels_and_bad_iterations_are_refused():
    inputs = keras.Input((3,))
    with pytest.raises(ValueError, match="no Dense, Conv or Embedding"):
        analysis.kernel_layers(keras.Model(inputs, keras.layers.ReLU()(inputs)))
    model = single_layer_model(keras.layers.Conv2D(2, 3, name="conv"), (4, 4, 1))
    with pytest.raises(ValueError, match="iterations=0"):
        analysis.operator_norm_ratios(model, iterations=0)
