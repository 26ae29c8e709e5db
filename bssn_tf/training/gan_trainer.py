"""G and D, their optimizers, and the paper's training step under a `tf.distribute` strategy.

Power-iteration schedule (docs/DESIGN.md, "The u schedule"): every D step runs
D(real, training=True), which advances each `u` once, then D(fake) inside
`hold_power_iteration()`; the whole G step runs inside it too. So `u` advances
exactly once per D step. The hold is never open across a cross-replica sync
in a D step, which is where MirroredStrategy switches replica threads.

Class-conditional models (`config.num_classes` > 0) take `[z, labels]` and
`[images, labels]`: real images come with their dataset labels, and D judges
each generated image under the label G was given. The schedule is the same.
"""

import keras
import tensorflow as tf

from bssn_tf.layers import hold_power_iteration
from bssn_tf.models import build_discriminator, build_generator
from bssn_tf.training import diagnostics
from bssn_tf.training.losses import LOSSES
from bssn_tf.training.precision import dtype_policy, make_adam


class GANTrainer:
    """Owns the models and state that a checkpoint holds, and runs training steps."""

    def __init__(self, config, strategy, make_generator, make_discriminator):
        """`make_generator()`/`make_discriminator()` build the models, inside the
        strategy scope and the dtype policy; `for_config` passes the reference ones."""
        self.config = config
        self.strategy = strategy
        self.d_loss_fn, self.g_loss_fn = LOSSES[config.loss]
        with dtype_policy(config.mixed_precision), strategy.scope():
            self.generator = make_generator()
            self.discriminator = make_discriminator()
            # Optimizers must be created and built inside the scope: their slot
            # variables must be distributed like the models', or the first
            # distributed step fails.
            self.g_optimizer = make_adam(
                config.g_lr, config.beta1, config.beta2, config.mixed_precision, "g_adam"
            )
            self.d_optimizer = make_adam(
                config.d_lr, config.beta1, config.beta2, config.mixed_precision, "d_adam"
            )
            self.g_optimizer.build(self.generator.trainable_variables)
            self.d_optimizer.build(self.discriminator.trainable_variables)
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
            self.real_batches_consumed = tf.Variable(
                0, dtype=tf.int64, trainable=False, name="real_batches_consumed"
            )
        self.d_layer_groups = diagnostics.layer_variable_groups(self.discriminator)
        self.g_layer_groups = diagnostics.layer_variable_groups(self.generator)
        # No tensor-dependent Python control flow here, so autograph stays off;
        # it also mis-converts the wrappers' spectral_norms() loop.
        self._d_replica_step = tf.function(
            self._discriminator_update, jit_compile=config.resolved_jit_compile, autograph=False
        )
        self._g_replica_step = tf.function(
            self._generator_update, jit_compile=config.resolved_jit_compile, autograph=False
        )
        self.train_step = tf.function(self._train_step, autograph=False)
        self.diagnose = tf.function(self._diagnose, autograph=False)
        # `z`, or `(z, labels)` for a conditional generator.
        self.generate = tf.function(lambda z: self.generator(z, training=False), autograph=False)

    @classmethod
    def for_config(cls, config, strategy, image_size, channels):
        """The trainer of `config.arch` with `config.norm` in the discriminator."""
        return cls(
            config,
            strategy,
            lambda: build_generator(
                config.arch, image_size, channels, config.z_dim, config.width, config.num_classes
            ),
            lambda: build_discriminator(
                config.arch,
                image_size,
                channels,
                config.norm,
                config.scale,
                config.width,
                config.num_classes,
                # Space-to-depth strided convs pay off under XLA only.
                space_to_depth=config.resolved_jit_compile,
            ),
        )

    def checkpointables(self):
        """Everything a resumed run needs, by checkpoint key."""
        return {
            "generator": self.generator,
            "discriminator": self.discriminator,
            "g_optimizer": self.g_optimizer,
            "d_optimizer": self.d_optimizer,
            "step": self.step,
            "real_batches_consumed": self.real_batches_consumed,
        }

    def _scaled_loss(self, loss, optimizer):
        """The loss to differentiate: divided by the replica count (the optimizer sums
        replica gradients) and multiplied by the loss scale under mixed_float16."""
        scaled = loss / self.strategy.num_replicas_in_sync
        if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
            scaled = optimizer.scale_loss(scaled)
        return scaled

    def _apply_gradients(self, tape, scaled_loss, optimizer, variables):
        """Applies the gradients of `scaled_loss`; returns them as the plain loss's."""
        unscale = float(self.strategy.num_replicas_in_sync)
        if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
            unscale = unscale / optimizer.dynamic_scale
        gradients = tape.gradient(scaled_loss, variables)
        optimizer.apply(gradients, variables)
        return [gradient * tf.cast(unscale, gradient.dtype) for gradient in gradients]

    def _judged(self, images, generator_input):
        """D's input for images that G made from `generator_input`: with its labels, if any."""
        return [images, generator_input[1]] if self.config.num_classes else images

    def _discriminator_update(self, real, z):
        fake = self.generator(z, training=True)
        with tf.GradientTape() as tape:
            real_logits = self.discriminator(real, training=True)  # advances u
            with hold_power_iteration():
                fake_logits = self.discriminator(self._judged(fake, z), training=True)
            loss = self.d_loss_fn(real_logits, fake_logits)
            scaled_loss = self._scaled_loss(loss, self.d_optimizer)
        gradients = self._apply_gradients(
            tape, scaled_loss, self.d_optimizer, self.discriminator.trainable_variables
        )
        return loss, diagnostics.grouped_gradient_norms(gradients, self.d_layer_groups)

    def _generator_update(self, z):
        with hold_power_iteration(), tf.GradientTape() as tape:
            fake_logits = self.discriminator(
                self._judged(self.generator(z, training=True), z), training=True
            )
            loss = self.g_loss_fn(fake_logits)
            scaled_loss = self._scaled_loss(loss, self.g_optimizer)
        gradients = self._apply_gradients(
            tape, scaled_loss, self.g_optimizer, self.generator.trainable_variables
        )
        return loss, diagnostics.grouped_gradient_norms(gradients, self.g_layer_groups)

    def _mean_over_replicas(self, value):
        return self.strategy.reduce(tf.distribute.ReduceOp.MEAN, value, axis=None)

    def _train_step(self, discriminator_inputs, generator_inputs):
        """`n_dis` D steps then one G step; returns losses and per-layer gradient norms.

        Losses are global-batch means (the mean of equal-sized replica means);
        gradient norms are per-replica norms averaged over replicas (exact
        without distribution). The D values are those of the last D step.
        """
        for _ in range(self.config.n_dis):
            real, z = next(discriminator_inputs)
            d_loss, d_norms = self.strategy.run(self._d_replica_step, (real, z))
        z = next(generator_inputs)
        g_loss, g_norms = self.strategy.run(self._g_replica_step, (z,))
        self.step.assign_add(1)
        self.real_batches_consumed.assign_add(self.config.n_dis)
        return {
            "d_loss": self._mean_over_replicas(d_loss),
            "g_loss": self._mean_over_replicas(g_loss),
            "d_grad_norms": self._mean_over_replicas(d_norms),
            "g_grad_norms": self._mean_over_replicas(g_norms),
        }

    def _diagnose(self, real, z):
        """Sigmas and input-gradient norms on real and generated (inference-mode) batches.

        `real` and `z` are D's and G's inputs: with their labels for conditional models.
        """
        values = diagnostics.spectral_norm_estimates(self.discriminator)
        fake = self._judged(self.generator(z, training=False), z)
        for name, inputs in (("real", real), ("fake", fake)):
            values.update(
                diagnostics.summarize(
                    diagnostics.input_gradient_norms(self.discriminator, inputs),
                    f"input_grad_norm/{name}",
                )
            )
        return values
