"""The spectral normalization wrapper: SN, SSN, BSN, BSSN and exact SN.

The wrapped layer's kernel stays the raw trainable parameter (a
reparametrization, as in the paper and PyTorch): each call computes
`scale * W / sigma(W)` and runs the layer with that tensor in place of `W`,
so the gradient flows through sigma. `keras.layers.SpectralNormalization`
instead overwrites the kernel in place, which is a different algorithm.
"""

import contextlib
import math
import numbers
import weakref

import keras
import numpy as np
from keras import ops

from bssn_tf.layers import conv_operator, kernel_layout
from bssn_tf.layers.power_iteration import (
    estimate_spectral_norm,
    finite_nonzero_or_previous,
    power_iteration_held,
)

MODES = ("sn", "bsn", "exact")


def _number(value, kind):
    """`value` as a Python `kind` (float or int), or None if it is not one.

    numpy scalars are accepted and converted: plain Python types keep
    `get_config()` JSON-serializable.
    """
    accepted = numbers.Integral if kind is int else numbers.Real
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, accepted):
        return None
    return kind(value)


def _checked_arguments(mode, scale, power_iterations, eps):
    """The arguments as plain Python values; raises ValueError naming a bad one."""
    if not isinstance(mode, str) or mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}; got mode={mode!r}.")
    checked_scale = _number(scale, float)
    if checked_scale is None or not (math.isfinite(checked_scale) and checked_scale > 0):
        raise ValueError(f"scale must be a finite number > 0; got scale={scale!r}.")
    checked_iterations = _number(power_iterations, int)
    if checked_iterations is None or checked_iterations < 1:
        raise ValueError(
            f"power_iterations must be an integer >= 1; got power_iterations={power_iterations!r}."
        )
    checked_eps = _number(eps, float)
    if checked_eps is None or not (math.isfinite(checked_eps) and checked_eps > 0):
        raise ValueError(f"eps must be a finite number > 0; got eps={eps!r}.")
    return str(mode), checked_scale, checked_iterations, checked_eps


# Inner layer -> weak reference to the wrapper around it, so that a layer is
# wrapped once only; a wrapper that was garbage-collected releases its layer.
_WRAPPER_OF = weakref.WeakKeyDictionary()


def _check_not_wrapped(layer):
    """Raises a ValueError if `layer` wraps a kernel layer or is already inside one of ours."""
    if isinstance(layer, keras.layers.Wrapper) and isinstance(
        layer.layer, kernel_layout.SUPPORTED_LAYERS
    ):
        raise ValueError(
            f"Layer {layer.name!r} is already a {type(layer).__name__} wrapper; "
            f"wrap the layer inside it once, not the wrapper."
        )
    wrapper = _WRAPPER_OF.get(layer)
    wrapper = wrapper() if wrapper is not None else None
    if wrapper is not None:
        raise ValueError(
            f"Layer {layer.name!r} is already wrapped by {wrapper.name!r}; "
            f"a layer can be spectrally normalized once only."
        )


@keras.saving.register_keras_serializable(package="bssn_tf")
class SpectralNormalization(keras.layers.Wrapper):
    """Normalizes a layer's kernel by its spectral norm, times `scale`.

    Args:
      layer: a Dense, Conv1D/2D/3D, Conv1D/2D/3DTranspose or Embedding layer.
      mode: "sn" divides by sigma1, the norm of the `(prod(k)*c_in, c_out)`
        reshape (the popular SN); "bsn" by `(sigma1 + sigma2) / 2`, adding the
        `(prod(k)*c_out, c_in)` reshape; "exact" by the norm of the
        convolution operator at the build-time input shape. For Dense and
        Embedding the kernel is the operator, so every mode is plain SN.
      scale: the constant `c` of SSN/BSSN; multiplies the normalized kernel,
        never the bias.
      power_iterations: power steps per call.
      eps: added to vector norms, and the floor of sigma, so that a zero
        kernel gives finite outputs.

    `u` advances only in training-mode calls outside `hold_power_iteration()`,
    and never to a non-finite or all-zero vector (the old `u` is kept then).
    Every call, training or not, runs the power step from the stored `u`
    (as the reference code does) to get sigma. In exact mode, calls must have
    the build-time input shape, since the operator's norm depends on it.
    A layer can be wrapped once only.
    """

    def __init__(self, layer, mode="sn", scale=1.0, power_iterations=1, eps=1e-12, **kwargs):
        mode, scale, power_iterations, eps = _checked_arguments(mode, scale, power_iterations, eps)
        _check_not_wrapped(layer)
        kernel_layout.check_supported(layer)
        kwargs.pop("autocast", None)
        kwargs["dtype"] = "float32"
        # A float32, non-autocasting wrapper reads the float32 kernel and keeps
        # the power iteration in float32 under mixed precision; the wrapped
        # layer keeps its own policy and autocasts its own computation.
        super().__init__(layer, autocast=False, **kwargs)
        self.mode = mode
        self.scale = scale
        self.power_iterations = power_iterations
        self.eps = eps
        _WRAPPER_OF[layer] = weakref.ref(self)

    def build(self, input_shape=None):
        super().build(input_shape)
        self._kernel_attribute = kernel_layout.kernel_attribute(self.layer)
        kernel_shape = self._raw_kernel.shape
        uses_operator = self.mode == "exact" and not isinstance(
            self.layer, kernel_layout.MATRIX_LAYERS
        )
        if uses_operator:
            conv_operator.check_exact_supported(self.layer, input_shape)
            self._apply, self._adjoint = conv_operator.linear_operator(self.layer, input_shape)
            self._operator_input_shape = tuple(input_shape)
            self.u = self._add_u("u", (1,) + tuple(input_shape[1:]))
        else:
            self._apply = None
            c_in, c_out = kernel_layout.channels(kernel_shape, self.layer)
            self.u = self._add_u("u", (1, c_out))
            if self.mode == "bsn":
                self.u2 = self._add_u("u2", (1, c_in))
        self.built = True

    def _add_u(self, name, shape):
        return self.add_weight(
            name=name,
            shape=shape,
            dtype="float32",
            initializer=keras.initializers.TruncatedNormal(stddev=1.0),
            trainable=False,
            autocast=False,
            aggregation="only_first_replica",
        )

    @property
    def _raw_kernel(self):
        return getattr(self.layer, self._kernel_attribute)

    def _sigmas(self, kernel):
        """Returns `({name: sigma}, [(u_variable, u_new)])` for this mode."""
        kernel = ops.cast(kernel, "float32")
        if self._apply is not None:
            u_new, sigma = estimate_spectral_norm(
                lambda x: self._apply(kernel, x),
                lambda y: self._adjoint(kernel, y),
                self.u,
                self.power_iterations,
                self.eps,
            )
            return {"sigma": sigma}, [(self.u, u_new)]
        operators = [(self.u, kernel_layout.fan_in_operator(kernel, self.layer))]
        if self.mode == "bsn":
            operators.append((self.u2, kernel_layout.fan_out_operator(kernel, self.layer)))
        sigmas, updates = [], []
        for u, (apply, adjoint) in operators:
            u_new, sigma = estimate_spectral_norm(
                apply, adjoint, u, self.power_iterations, self.eps
            )
            sigmas.append(sigma)
            updates.append((u, u_new))
        if self.mode != "bsn":
            return {"sigma": sigmas[0]}, updates
        return {
            "sigma": (sigmas[0] + sigmas[1]) / 2.0,
            "sigma1": sigmas[0],
            "sigma2": sigmas[1],
        }, updates

    def _normalize(self, kernel, sigma):
        # One pass over the kernel: the scalar factor is formed first.
        return ops.cast(kernel, "float32") * (self.scale / ops.maximum(sigma, self.eps))

    def normalized_kernel(self):
        """`scale * W / sigma` from the current state; changes no state."""
        kernel = self._raw_kernel
        sigmas, _ = self._sigmas(kernel)
        return self._normalize(kernel, sigmas["sigma"])

    def spectral_norms(self):
        """Current sigma estimates (`sigma`, and `sigma1`/`sigma2` for bsn)."""
        sigmas, _ = self._sigmas(self._raw_kernel)
        return sigmas

    @contextlib.contextmanager
    def _kernel_replaced_by(self, tensor):
        # object.__setattr__ bypasses Keras' variable tracking: the swap is
        # invisible to `layer.weights` and undone right after the call.
        original = self._raw_kernel
        object.__setattr__(self.layer, self._kernel_attribute, tensor)
        try:
            yield
        finally:
            object.__setattr__(self.layer, self._kernel_attribute, original)

    def call(self, inputs, training=None):
        if self._apply is not None:
            conv_operator.check_input_shape(
                self.layer, self._operator_input_shape, tuple(inputs.shape)
            )
        kernel = self._raw_kernel
        sigmas, updates = self._sigmas(kernel)
        if training and not power_iteration_held():
            for u, u_new in updates:
                u.assign(finite_nonzero_or_previous(u_new, u))
        normalized = ops.cast(self._normalize(kernel, sigmas["sigma"]), self.layer.compute_dtype)
        with self._kernel_replaced_by(normalized):
            return self.layer(inputs)

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            mode=self.mode,
            scale=self.scale,
            power_iterations=self.power_iterations,
            eps=self.eps,
        )
        return config


# Chosen by the rule in zoo/README.md ("Choosing BSSN's default scale"), written
# before its runs: c in (0.8, 1.0, 1.2), CNN on mnist5k trained 10,000 steps, seeds
# 3-5. Tune it for other data; it is only a default.
DEFAULT_BSSN_SCALE = 1.0


def SN(layer, **kwargs):
    """The popular spectral normalization (Miyato et al. 2018)."""
    return SpectralNormalization(layer, mode="sn", scale=1.0, **kwargs)


def SSN(layer, scale, **kwargs):
    """Scaled SN: `scale * W / sigma1`."""
    return SpectralNormalization(layer, mode="sn", scale=scale, **kwargs)


def BSN(layer, **kwargs):
    """Bidirectional SN: `W / ((sigma1 + sigma2) / 2)`."""
    return SpectralNormalization(layer, mode="bsn", scale=1.0, **kwargs)


def BSSN(layer, scale=DEFAULT_BSSN_SCALE, **kwargs):
    """Bidirectional scaled SN: `scale * W / ((sigma1 + sigma2) / 2)`."""
    return SpectralNormalization(layer, mode="bsn", scale=scale, **kwargs)


def ExactSN(layer, **kwargs):
    """The "stricter" SN: divides by the convolution operator's norm."""
    return SpectralNormalization(layer, mode="exact", scale=1.0, **kwargs)
