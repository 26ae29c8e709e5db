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


def build_generator(arch, image_size, channels, z_dim, width, num_classes=0):
    """`arch`'s generator; class-conditional (inputs `[z, labels]`) when num_classes > 0."""
    check_arch(arch)
    return ARCHS[arch][0](
        image_size=image_size, channels=channels, z_dim=z_dim, width=width, num_classes=num_classes
    )


def build_discriminator(
    arch, image_size, channels, norm, scale, width, num_classes=0, space_to_depth=True
):
    """`arch`'s discriminator; a projection discriminator (inputs `[images, labels]`) when
    num_classes > 0. `space_to_depth` picks how the CNN runs its strided convs (same
    variables and outputs either way; `cnn.cnn_discriminator`); the ResNet has none."""
    check_arch(arch)
    options = {"space_to_depth": space_to_depth} if arch == "cnn" else {}
    return ARCHS[arch][1](
        image_size=image_size,
        channels=channels,
        norm=norm,
        scale=scale,
        width=width,
        num_classes=num_classes,
        **options,
    )
