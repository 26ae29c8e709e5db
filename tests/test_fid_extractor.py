"""bssn_tf.extractors.fid_extractor without torch: the state dict it loads is checked, and
random weights give the right shapes, input checks and batching (test_fid_inception.py
compares real numbers with pytorch-fid's)."""

import numpy as np
import pytest

from bssn_tf.extractors.fid_inception import FidInceptionNetwork
from bssn_tf.metrics import make_fid_inception_extractor


@pytest.fixture(scope="module")
def network():
    return FidInceptionNetwork()


def test_state_dict_with_missing_extra_or_misshapen_tensors_is_refused(network):
    state = {key: np.zeros(shape, np.float32) for key, shape in network.expected_shapes().items()}
    assert len(state) == 94 * 5 + 2  # 94 conv-bn units (torchvision's Inception-v3) and the fc
    missing = dict(state)
    del missing["Mixed_7c.branch_pool.bn.running_var"]
    with pytest.raises(ValueError, match=r"w\.pth.*missing tensors \['Mixed_7c\.branch_pool"):
        network.assign_state_dict(missing, "w.pth")
    extra = dict(state, **{"AuxLogits.fc.weight": np.zeros((1000, 768))})
    with pytest.raises(ValueError, match=r"w\.pth.*unexpected tensors \['AuxLogits\.fc\.weight"):
        network.assign_state_dict(extra, "w.pth")
    misshapen = dict(state, **{"fc.weight": np.zeros((1000, 2048))})
    with pytest.raises(ValueError, match=r"w\.pth: tensor fc\.weight has shape \(1000, 2048\)"):
        network.assign_state_dict(misshapen, "w.pth")


def test_random_weight_extractor_shapes_and_input_checks():
    extractor = make_fid_inception_extractor(weights=None, jit_compile=False)
    assert extractor.name == "fid_inception" and extractor.provenance["resize"] == "tf_legacy"
    gray = np.random.default_rng(4).uniform(-1, 1, (2, 28, 28, 1)).astype(np.float32)
    features, logits = extractor.features_and_logits(gray)
    assert features.shape == (2, 2048) and logits.shape == (2, 1008)
    # Grayscale is the 3-channel image with equal channels.
    np.testing.assert_allclose(
        extractor.features(np.repeat(gray, 3, axis=-1)), features, rtol=1e-5, atol=1e-6
    )
    with pytest.raises(ValueError, match=r"must lie in \[-1, 1\]"):
        extractor.features(gray * 255)
    with pytest.raises(ValueError, match="1 or 3 channels"):
        extractor.features(np.zeros((2, 28, 28, 4), np.float32))


def test_batches_longer_than_batch_size_are_split_and_padded():
    extractor = make_fid_inception_extractor(weights=None, batch_size=2, jit_compile=False)
    images = np.random.default_rng(5).uniform(-1, 1, (3, 16, 16, 3)).astype(np.float32)
    together = extractor.features(images)  # batches of 2, the last padded with a zero image
    one_by_one = np.concatenate([extractor.features(images[i : i + 1]) for i in range(3)])
    np.testing.assert_allclose(together, one_by_one, rtol=1e-4, atol=1e-5)  # batch-size rounding
