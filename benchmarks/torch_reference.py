"""The reference GANs and their training step in PyTorch, for speed comparisons only.

Same layers, channel counts, TF-"SAME" output sizes, hinge loss and Adam as
`bssn_tf.models` and `bssn_tf.training.GANTrainer`; layer names match the
Keras ones so that per-layer parameter and FLOP counts can be compared.
Discriminator normalization is either PyTorch's own
`parametrizations.spectral_norm` ("sn") or `BidirectionalScaledSpectralNorm`
("bssn"), a parametrization doing the same work as our BSSN wrapper: one power
step on each of the two kernel reshapes per call, u advanced on D(real) only.
"""

import collections
import contextlib

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm

from benchmarks.flop_count import LayerSpec

# "none": the same model unnormalized, for timing the normalization apart (step_profile).
NORMS = ("sn", "bssn", "none")
# The architecture tables of bssn_tf.models.cnn and .resnet, restated because
# importing bssn_tf loads TensorFlow, whose memory and threads would then
# count against PyTorch. benchmarks.train_step asserts per-layer equality.
CNN_DISCRIMINATOR_CONVS = (
    (3, 1, 64),
    (4, 2, 64),
    (3, 1, 128),
    (4, 2, 128),
    (3, 1, 256),
    (4, 2, 256),
    (3, 1, 512),
)
CNN_GENERATOR_DECONV_CHANNELS = (256, 128, 64)
LEAKY_SLOPE = 0.1
RESNET_CONFIGS = {
    32: (256, (256, 256, 256), 128, ((128, True), (128, False), (128, False))),
}
RESNET_START_SIZE = 4
EPS = 1e-12
# Keras' defaults, so both frameworks run the same arithmetic.
BN_KWARGS = dict(eps=1e-3, momentum=0.01)
ADAM_EPS = 1e-7


class BidirectionalScaledSpectralNorm(nn.Module):
    """`W -> scale * W / ((sigma1 + sigma2) / 2)` (docs/DESIGN.md, "The method"), in torch layout.

    sigma1 is the norm of the kernel with output channels as rows, sigma2 with
    input channels as rows; row order does not change a singular value, so
    these are the TF reshapes' norms. Each forward runs one power step per
    reshape (3 mat-vecs, as the Keras wrapper does); `u` is stored only in
    training mode outside `held()`.
    """

    held = False

    def __init__(self, weight, scale, out_axis):
        super().__init__()
        self.scale = scale
        self.out_axis = out_axis
        self.in_axis = 1 - out_axis
        self.register_buffer("u1", F.normalize(torch.randn(weight.shape[out_axis]), dim=0))
        self.register_buffer("u2", F.normalize(torch.randn(weight.shape[self.in_axis]), dim=0))

    @staticmethod
    def _power_step(matrix, u):
        with torch.no_grad():
            v = F.normalize(u @ matrix, dim=0, eps=EPS)
            u_new = F.normalize(matrix @ v, dim=0, eps=EPS)
        return u_new, torch.dot(u_new, matrix @ v)

    def forward(self, weight):
        sigmas = []
        for axis, u in ((self.out_axis, self.u1), (self.in_axis, self.u2)):
            matrix = weight.movedim(axis, 0).reshape(weight.shape[axis], -1)
            u_new, sigma = self._power_step(matrix, u)
            if self.training and not BidirectionalScaledSpectralNorm.held:
                u.copy_(u_new)
            sigmas.append(sigma)
        return self.scale * weight / torch.clamp((sigmas[0] + sigmas[1]) / 2, min=EPS)


@contextlib.contextmanager
def held_power_iteration():
    """The torch twin of `bssn_tf.layers.hold_power_iteration` for BSSN."""
    BidirectionalScaledSpectralNorm.held = True
    try:
        yield
    finally:
        BidirectionalScaledSpectralNorm.held = False


def scaled_channels(base, width):
    return max(1, int(round(base * width)))


def _normalized(module, norm, scale=1.0):
    if norm == "none":
        return module
    if norm == "sn":
        return spectral_norm(module, eps=EPS)
    out_axis = 1 if isinstance(module, nn.ConvTranspose2d) else 0
    parametrize.register_parametrization(
        module, "weight", BidirectionalScaledSpectralNorm(module.weight, scale, out_axis)
    )
    return module


def _same_pads(size, kernel, stride):
    """TF "SAME" padding of one axis as (before, after)."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class SameConv2d(nn.Module):
    """Conv2d with TF "SAME" padding for a known input size (padding first when uneven)."""

    def __init__(self, in_size, c_in, c_out, kernel, stride):
        super().__init__()
        before, after = _same_pads(in_size, kernel, stride)
        self.pad = None if before == after else (before, after, before, after)
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride, padding=before if before == after else 0)
        self.out_size = -(-in_size // stride)

    def forward(self, x):
        return self.conv(F.pad(x, self.pad) if self.pad else x)


def same_conv_transpose2d(c_in, c_out, kernel, stride):
    """ConvTranspose2d whose output is `stride * input`, like TF "SAME"."""
    padding, extra = divmod(kernel - stride, 2)
    if extra:
        raise ValueError(
            f"kernel - stride must be even for a SAME transposed conv; got "
            f"kernel={kernel}, stride={stride}."
        )
    return nn.ConvTranspose2d(c_in, c_out, kernel, stride, padding=padding)


class CNNGenerator(nn.Module):
    def __init__(self, image_size, channels, z_dim, width):
        super().__init__()
        # 28 px starts at 7 and needs only the first two doublings.
        self.start = 7 if image_size == 28 else image_size // 8
        self.top = scaled_channels(512, width)
        deconv_channels = CNN_GENERATOR_DECONV_CHANNELS[: 2 if image_size == 28 else 3]
        self.dense = nn.Linear(z_dim, self.start * self.start * self.top)
        self.dense_bn = nn.BatchNorm1d(self.start * self.start * self.top, **BN_KWARGS)
        blocks, c_in = [], self.top
        for index, base in enumerate(deconv_channels):
            c_out = scaled_channels(base, width)
            blocks.append((f"deconv{index}", same_conv_transpose2d(c_in, c_out, 4, 2)))
            blocks.append((f"deconv{index}_bn", nn.BatchNorm2d(c_out, **BN_KWARGS)))
            blocks.append((f"deconv{index}_relu", nn.ReLU()))
            c_in = c_out
        blocks.append(("to_image", same_conv_transpose2d(c_in, channels, 3, 1)))
        self.body = nn.Sequential(collections.OrderedDict(blocks))

    def forward(self, z):
        x = F.relu(self.dense_bn(self.dense(z)))
        return torch.tanh(self.body(x.view(-1, self.top, self.start, self.start)))


class CNNDiscriminator(nn.Module):
    def __init__(self, image_size, channels, norm, scale, width):
        super().__init__()
        layers, c_in, size = [], channels, image_size
        for index, (kernel, stride, base) in enumerate(CNN_DISCRIMINATOR_CONVS):
            conv = SameConv2d(size, c_in, scaled_channels(base, width), kernel, stride)
            _normalized(conv.conv, norm, scale)
            layers += [(f"conv{index}", conv), (f"conv{index}_lrelu", nn.LeakyReLU(LEAKY_SLOPE))]
            c_in, size = conv.conv.out_channels, conv.out_size
        self.body = nn.Sequential(collections.OrderedDict(layers))
        self.logit = _normalized(nn.Linear(c_in * size * size, 1), norm, scale)

    def forward(self, images):
        return self.logit(torch.flatten(self.body(images), 1))


class ResNetGeneratorBlock(nn.Module):
    def __init__(self, c_in, c_out):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(c_in, **BN_KWARGS)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(c_out, **BN_KWARGS)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.shortcut = nn.Conv2d(c_in, c_out, 1)

    def forward(self, x):
        h = F.interpolate(F.relu(self.bn1(x)), scale_factor=2, mode="nearest")
        h = self.conv2(F.relu(self.bn2(self.conv1(h))))
        return h + self.shortcut(F.interpolate(x, scale_factor=2, mode="nearest"))


class ResNetDiscriminatorBlock(nn.Module):
    """`optimized` is the first block: conv-ReLU-conv-pool, pool-then-1x1 shortcut."""

    def __init__(self, c_in, c_out, downsample, optimized, norm, scale):
        super().__init__()
        self.downsample, self.optimized = downsample, optimized
        self.conv1 = _normalized(nn.Conv2d(c_in, c_out, 3, padding=1), norm, scale)
        self.conv2 = _normalized(nn.Conv2d(c_out, c_out, 3, padding=1), norm, scale)
        self.shortcut = (
            _normalized(nn.Conv2d(c_in, c_out, 1), norm, scale)
            if downsample or c_in != c_out
            else None
        )

    def forward(self, x):
        h = x if self.optimized else F.relu(x)
        h = self.conv2(F.relu(self.conv1(h)))
        if self.downsample:
            h = F.avg_pool2d(h, 2)
        if self.optimized:
            return h + self.shortcut(F.avg_pool2d(x, 2))
        shortcut = x if self.shortcut is None else self.shortcut(x)
        return h + (F.avg_pool2d(shortcut, 2) if self.downsample else shortcut)


class ResNetGenerator(nn.Module):
    def __init__(self, image_size, channels, z_dim, width):
        super().__init__()
        start_channels, block_channels, _, _ = RESNET_CONFIGS[image_size]
        self.top = scaled_channels(start_channels, width)
        self.dense = nn.Linear(z_dim, RESNET_START_SIZE**2 * self.top)
        blocks, c_in = [], self.top
        for index, base in enumerate(block_channels):
            blocks.append(
                (f"block{index}", ResNetGeneratorBlock(c_in, scaled_channels(base, width)))
            )
            c_in = scaled_channels(base, width)
        self.blocks = nn.Sequential(collections.OrderedDict(blocks))
        self.final_bn = nn.BatchNorm2d(c_in, **BN_KWARGS)
        self.to_image = nn.Conv2d(c_in, channels, 3, padding=1)

    def forward(self, z):
        x = self.dense(z).view(-1, self.top, RESNET_START_SIZE, RESNET_START_SIZE)
        return torch.tanh(self.to_image(F.relu(self.final_bn(self.blocks(x)))))


class ResNetDiscriminator(nn.Module):
    def __init__(self, image_size, channels, norm, scale, width):
        super().__init__()
        _, _, first_channels, block_specs = RESNET_CONFIGS[image_size]
        c_in = scaled_channels(first_channels, width)
        blocks = [("block0", ResNetDiscriminatorBlock(channels, c_in, True, True, norm, scale))]
        for index, (base, downsample) in enumerate(block_specs, start=1):
            c_out = scaled_channels(base, width)
            blocks.append(
                (
                    f"block{index}",
                    ResNetDiscriminatorBlock(c_in, c_out, downsample, False, norm, scale),
                )
            )
            c_in = c_out
        self.blocks = nn.Sequential(collections.OrderedDict(blocks))
        self.logit = _normalized(nn.Linear(c_in, 1), norm, scale)

    def forward(self, images):
        return self.logit(F.relu(self.blocks(images)).sum(dim=(2, 3)))


ARCHS = {"cnn": (CNNGenerator, CNNDiscriminator), "resnet": (ResNetGenerator, ResNetDiscriminator)}


def build_models(arch, image_size, channels, z_dim, width, norm, scale):
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}; got norm={norm!r}.")
    generator_class, discriminator_class = ARCHS[arch]
    return (
        generator_class(image_size, channels, z_dim, width),
        discriminator_class(image_size, channels, norm, scale, width),
    )


def _keras_name(module_name):
    """`body.conv0` -> `conv0`; `blocks.block1.conv1` -> `block1_conv1`."""
    parts = [part for part in module_name.split(".") if part not in ("body", "blocks")]
    return "_".join(parts)


def layer_specs(model, example_input):
    """LayerSpecs (Keras layer names, NHWC-free spatial sizes) from one traced forward pass."""
    specs, hooks = [], []

    def record(name, module):
        def hook(_, inputs, output):
            common = dict(name=name, parameters=sum(p.numel() for p in module.parameters()))
            layer = module.conv if isinstance(module, SameConv2d) else module
            if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
                specs.append(LayerSpec(kind="batchnorm", **common))
            elif isinstance(module, nn.Linear):
                specs.append(
                    LayerSpec(
                        kind="dense",
                        in_channels=module.in_features,
                        out_channels=module.out_features,
                        **common,
                    )
                )
            else:
                transposed = isinstance(layer, nn.ConvTranspose2d)
                specs.append(
                    LayerSpec(
                        kind="deconv" if transposed else "conv",
                        in_channels=layer.in_channels,
                        out_channels=layer.out_channels,
                        kernel_size=tuple(layer.kernel_size),
                        in_spatial=tuple(inputs[0].shape[2:]),
                        out_spatial=tuple(output.shape[2:]),
                        **common,
                    )
                )

        return hook

    counted = (SameConv2d, nn.Linear, nn.Conv2d, nn.ConvTranspose2d, nn.BatchNorm1d, nn.BatchNorm2d)
    # A SameConv2d is counted as a whole, so that its input is the unpadded one.
    padded = {id(module.conv) for module in model.modules() if isinstance(module, SameConv2d)}
    for name, module in model.named_modules():
        if id(module) in padded:
            continue
        if isinstance(module, counted):
            hooks.append(module.register_forward_hook(record(_keras_name(name), module)))
        elif not isinstance(module, parametrize.ParametrizationList) and any(
            True for _ in module.parameters(recurse=False)
        ):
            raise ValueError(f"No FLOP rule for {type(module).__name__} module {name!r}.")
    try:
        with torch.no_grad(), held_power_iteration():
            model(example_input)
    finally:
        for hook in hooks:
            hook.remove()
    return specs


def hinge_d_loss(real_logits, fake_logits):
    return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()


class TorchGANStep:
    """One D step then one G step, as GANTrainer runs them (n_dis = 1)."""

    def __init__(self, generator, discriminator, lr, betas):
        self.generator, self.discriminator = generator.train(), discriminator.train()
        self.g_optimizer = torch.optim.Adam(generator.parameters(), lr, betas, eps=ADAM_EPS)
        self.d_optimizer = torch.optim.Adam(discriminator.parameters(), lr, betas, eps=ADAM_EPS)
        self.g_parameters = list(generator.parameters())

    def __call__(self, real, d_z, g_z):
        with torch.no_grad():
            fake = self.generator(d_z)
        self.d_optimizer.zero_grad(set_to_none=True)
        real_logits = self.discriminator(real)  # advances u
        with held_power_iteration():
            d_loss = hinge_d_loss(real_logits, self.discriminator(fake))
        d_loss.backward()
        self.d_optimizer.step()

        self.g_optimizer.zero_grad(set_to_none=True)
        with held_power_iteration():
            g_loss = -self.discriminator(self.generator(g_z)).mean()
        # Only G's gradients, as the Keras step takes: D's weight gradients are skipped.
        g_loss.backward(inputs=self.g_parameters)
        self.g_optimizer.step()
        return d_loss.item(), g_loss.item()
