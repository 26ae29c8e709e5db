"""Reference GAN architectures: the SNGAN standard CNN and ResNet, with any normalization."""

from bssn_tf.models.architectures import ARCHS, build_discriminator, build_generator
from bssn_tf.models.cnn import cnn_discriminator, cnn_generator
from bssn_tf.models.conditional import ConditionalBatchNormalization
from bssn_tf.models.layer_walk import walk_layers
from bssn_tf.models.normalization import (
    NORMS,
    NormSpec,
    effective_scale,
    norm_spec,
    normalized,
    spectral_layers,
    used_scale,
)
from bssn_tf.models.resnet import GlobalSumPooling2D, resnet_discriminator, resnet_generator

__all__ = [
    "ARCHS",
    "ConditionalBatchNormalization",
    "NORMS",
    "NormSpec",
    "GlobalSumPooling2D",
    "build_discriminator",
    "build_generator",
    "cnn_discriminator",
    "cnn_generator",
    "effective_scale",
    "norm_spec",
    "normalized",
    "resnet_discriminator",
    "resnet_generator",
    "spectral_layers",
    "used_scale",
    "walk_layers",
]
