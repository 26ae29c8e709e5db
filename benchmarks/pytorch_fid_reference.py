"""pytorch-fid's own FID Inception with random weights: the oracle of tests and speed runs.

pytorch-fid's `fid_inception_v3()` downloads the published weights; this module
builds the same network the same way with weights=None instead, and gives its
BatchNorm layers realistic running statistics (with untouched ones most
activations vanish and a comparison proves little). Needs the `test` extra.
"""

import numpy as np
import torch


def _import_torchvision():
    """Imports torchvision with torch.library.register_fake stubbed out, then restores it.

    The registry's torchvision 0.28 wheel fails at import against torch 2.13's
    CPU build ("operator torchvision::nms does not exist") while it registers
    fake (meta) kernels for its compiled ops. pytorch-fid uses only
    torchvision's Python Inception classes, never those ops, so skipping the
    fake-kernel registration changes nothing that is compared.
    """
    original = torch.library.register_fake

    def skip_registration(op, func=None, *args, **kwargs):
        return func if func is not None else (lambda function: function)

    torch.library.register_fake = skip_registration
    try:
        import torchvision  # noqa: F401
    finally:
        torch.library.register_fake = original


_import_torchvision()

from pytorch_fid import inception as pytorch_fid_inception  # noqa: E402


def smooth_images(rng, count, size):
    """[count, 3, size, size] images in [-1, 1] with image-like spatial correlation."""
    coarse = torch.from_numpy(rng.uniform(-1, 1, (count, 3, 8, 8)).astype(np.float32))
    fine = torch.nn.functional.interpolate(coarse, size=(size, size), mode="bilinear")
    noise = torch.from_numpy(rng.normal(0, 0.1, (count, 3, size, size)).astype(np.float32))
    return torch.clamp(fine + noise, -1, 1)


def random_fid_inception(rng, statistics_batches=2):
    """fid_inception_v3()'s network, random weights, BatchNorm statistics of smooth images."""
    torch.manual_seed(0)
    fid = pytorch_fid_inception
    inception = fid._inception_v3(num_classes=1008, aux_logits=False, weights=None)
    inception.Mixed_5b = fid.FIDInceptionA(192, pool_features=32)
    inception.Mixed_5c = fid.FIDInceptionA(256, pool_features=64)
    inception.Mixed_5d = fid.FIDInceptionA(288, pool_features=64)
    inception.Mixed_6b = fid.FIDInceptionC(768, channels_7x7=128)
    inception.Mixed_6c = fid.FIDInceptionC(768, channels_7x7=160)
    inception.Mixed_6d = fid.FIDInceptionC(768, channels_7x7=160)
    inception.Mixed_6e = fid.FIDInceptionC(768, channels_7x7=192)
    inception.Mixed_7b = fid.FIDInceptionE_1(1280)
    inception.Mixed_7c = fid.FIDInceptionE_2(2048)
    norms = [m for m in inception.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    with torch.no_grad():
        for norm in norms:
            norm.weight.uniform_(0.5, 1.5)
            norm.bias.normal_(0.0, 0.2)
            # momentum=None: running stats become the cumulative average over the
            # batches below, i.e. the statistics of the data this network sees.
            norm.momentum = None
            norm.reset_running_stats()
        torch.nn.init.normal_(inception.fc.weight, 0.0, 0.05)
        inception.train()
        for _ in range(statistics_batches):
            inception(smooth_images(rng, 4, 299))
    return inception.eval()


def pytorch_fid_wrapper(state_dict):
    """pytorch-fid's InceptionV3([pool_3]) wrapper, its resize included, loading `state_dict`.

    Inputs are [-1, 1] (normalize_input=False), resized to 299 with F.interpolate.
    """
    original = pytorch_fid_inception.load_state_dict_from_url
    pytorch_fid_inception.load_state_dict_from_url = lambda *args, **kwargs: state_dict
    try:
        wrapper = pytorch_fid_inception.InceptionV3([3], resize_input=True, normalize_input=False)
    finally:
        pytorch_fid_inception.load_state_dict_from_url = original
    return wrapper.eval()
