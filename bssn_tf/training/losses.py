"""GAN losses on discriminator logits: `(d_loss(real, fake), g_loss(fake))`."""

from keras import ops


def hinge_d_loss(real_logits, fake_logits):
    """`mean(relu(1 - D(x))) + mean(relu(1 + D(G(z))))`, the paper's D loss."""
    return ops.mean(ops.relu(1.0 - real_logits)) + ops.mean(ops.relu(1.0 + fake_logits))


def hinge_g_loss(fake_logits):
    """`-mean(D(G(z)))`."""
    return -ops.mean(fake_logits)


def non_saturating_d_loss(real_logits, fake_logits):
    """`softplus(-D(x)) + softplus(D(G(z)))`: cross-entropy with logits, real = 1."""
    return ops.mean(ops.softplus(-real_logits)) + ops.mean(ops.softplus(fake_logits))


def non_saturating_g_loss(fake_logits):
    """`softplus(-D(G(z)))`: the generator maximises log D(G(z))."""
    return ops.mean(ops.softplus(-fake_logits))


LOSSES = {
    "hinge": (hinge_d_loss, hinge_g_loss),
    "ns": (non_saturating_d_loss, non_saturating_g_loss),
}
