"""Builds a generator/discriminator pair by architecture name."""

from bssn_tf.models import cnn, resnet

ARCHS = {
    "cnn": (cnn.cnn_generator, cnn.cnn_discriminator),
    "resnet": (resnet.resnet_generator, resnet.resnet_discriminator),
}

IMAGE_SIZES = {"cnn": cnn.IMAGE_SIZES, "resnet": tuple(sorted(resnet.CONFIGS))}


def check_arch(arch):
    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {sorted(ARCHS)}; got arch={arch!r}.")


def build_generator(arch, image_size, channels, z_dim, width):
    check_arch(arch)
    return ARCHS[arch][0](image_size=image_size, channels=channels, z_dim=z_dim, width=width)


def build_discriminator(arch, image_size, channels, norm, scale, width):
    check_arch(arch)
    return ARCHS[arch][1](
        image_size=image_size, channels=channels, norm=norm, scale=scale, width=width
    )
