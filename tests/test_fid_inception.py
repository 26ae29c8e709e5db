"""The FID Inception extractor equals pytorch-fid's network, read through our torch-free reader.

The oracle is pytorch-fid itself (in the `test` extra): its FID Inception
is built with random weights, given realistic BatchNorm statistics, saved with
torch.save, loaded by bssn_tf, and both networks run on the same images.
"""

import collections
import os
import pickle
import zipfile

import numpy as np
import pytest
import torch  # noqa: E402  (the test extra installs torch and pytorch-fid)

# Imports torchvision with its fake-kernel registration stubbed out; the module
# says why (the registry's torchvision wheel does not import against torch 2.13).
from benchmarks import pytorch_fid_reference as reference_network  # noqa: E402
from bssn_tf.extractors import fid_extractor, fid_inception  # noqa: E402
from bssn_tf.extractors.torch_checkpoint import (  # noqa: E402
    UnsafeCheckpointError,
    load_torch_state_dict,
)
from bssn_tf.metrics import (  # noqa: E402
    fid_statistics,
    frechet_classifier_distance_from_activations,
    frechet_distance_from_statistics,
)

# A correct float32 port differs from PyTorch by ~1e-4 of the largest value
# (different summation orders in 94 conv layers); a wrong pooling choice in one
# block gives 0.3-1.8 and the legacy resize where pytorch's is due 0.03-0.2, so
# 1e-3 of the largest reference value separates a correct port from each.
_RELATIVE_TOLERANCE = 1e-3


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """(pytorch-fid's InceptionV3 wrapper, its fc, the saved .pth path), random weights."""
    inception = reference_network.random_fid_inception(np.random.default_rng(0))
    path = str(tmp_path_factory.mktemp("fid") / "random_fid_inception.pth")
    torch.save(inception.state_dict(), path)
    wrapper = reference_network.pytorch_fid_wrapper(inception.state_dict())
    return wrapper, inception.fc, path


def _torch_features_and_logits(reference, images_nchw):
    wrapper, fc, _ = reference
    with torch.no_grad():
        pool_3 = wrapper(images_nchw)[0].flatten(1)
        return pool_3.numpy(), fc(pool_3).numpy()


def _max_relative_difference(ours, theirs):
    return float(np.max(np.abs(ours - theirs)) / np.max(np.abs(theirs)))


@pytest.mark.slow  # three Inception networks built, about a minute on a loaded 2-core machine
@pytest.mark.parametrize("size", [299, 32])
def test_features_and_logits_match_pytorch_fid(reference, size):
    images = reference_network.smooth_images(np.random.default_rng(size), 3, size)
    torch_features, torch_logits = _torch_features_and_logits(reference, images)
    ours = fid_extractor.make_fid_inception_extractor(
        weights=reference[2], resize="pytorch", jit_compile=False
    )
    features, logits = ours.features_and_logits(images.numpy().transpose(0, 2, 3, 1))
    assert features.shape == (3, 2048) and logits.shape == (3, 1008)
    # Realistic statistics: most pool_3 features are alive, so the check is not vacuous.
    assert np.mean(torch_features > 1e-3) > 0.5
    assert _max_relative_difference(features, torch_features) <= _RELATIVE_TOLERANCE
    assert _max_relative_difference(logits, torch_logits) <= _RELATIVE_TOLERANCE
    if size != 299:
        # The same images through the legacy resize are measurably different:
        # the tolerance above would catch the wrong convention.
        legacy = fid_extractor.make_fid_inception_extractor(
            weights=reference[2], resize="tf_legacy", jit_compile=False
        )
        legacy_features, _ = legacy.features_and_logits(images.numpy().transpose(0, 2, 3, 1))
        assert _max_relative_difference(legacy_features, torch_features) > 10 * _RELATIVE_TOLERANCE


def test_legacy_file_layout_and_missing_batch_counters(reference, tmp_path):
    """The pre-zip torch.save layout (the published file's era) reads the same tensors."""
    state = load_torch_state_dict(reference[2])
    assert any(key.endswith("num_batches_tracked") for key in state)
    stripped = collections.OrderedDict(
        (key, torch.from_numpy(np.array(value)))
        for key, value in state.items()
        if not key.endswith("num_batches_tracked")
    )
    legacy_path = str(tmp_path / "legacy.pth")
    torch.save(stripped, legacy_path, _use_new_zipfile_serialization=False)
    legacy = load_torch_state_dict(legacy_path)
    assert sorted(legacy) == sorted(stripped)
    for key, value in stripped.items():
        np.testing.assert_array_equal(legacy[key], value.numpy())
    network = fid_inception.FidInceptionNetwork()
    network.assign_state_dict(legacy, legacy_path)  # no num_batches_tracked: accepted


class _Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_refuses_pickles_that_name_other_globals(tmp_path):
    path = str(tmp_path / "evil.pth")
    torch.save({"weight": torch.zeros(2), "payload": _Exploit()}, path)
    with pytest.raises(UnsafeCheckpointError, match=r"evil\.pth.*global (posix|nt)\.system"):
        load_torch_state_dict(path)
    plain = tmp_path / "plain.pth"
    plain.write_bytes(pickle.dumps({"weight": [1.0, 2.0]}))
    with pytest.raises(UnsafeCheckpointError, match="plain.pth.*not a torch"):
        load_torch_state_dict(str(plain))
    not_torch_zip = tmp_path / "archive.pth"
    with zipfile.ZipFile(not_torch_zip, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(UnsafeCheckpointError, match="archive.pth.*data.pkl"):
        load_torch_state_dict(str(not_torch_zip))


@pytest.mark.parametrize("num_samples, num_features", [(400, 64), (50, 128)])
def test_frechet_distance_from_statistics_matches_pytorch_fid(num_samples, num_features):
    """Against pytorch-fid's calculate_frechet_distance (scipy sqrtm), full and low rank."""
    from pytorch_fid import fid_score

    rng = np.random.default_rng(num_features)
    mixing = rng.normal(size=(num_features, num_features)) / np.sqrt(num_features)
    real = rng.normal(size=(num_samples, num_features)) @ mixing
    generated = 0.8 * rng.normal(size=(num_samples, num_features)) @ mixing + 0.1
    mu1, sigma1 = fid_statistics(real)
    mu2, sigma2 = fid_statistics(generated)
    # Our statistics are pytorch-fid's: np.mean and np.cov(rowvar=False).
    np.testing.assert_allclose(sigma1, np.cov(real, rowvar=False), rtol=1e-12, atol=1e-14)
    expected = fid_score.calculate_frechet_distance(mu1, sigma1, mu2, sigma2)
    ours = frechet_distance_from_statistics(mu1, sigma1, mu2, sigma2)
    assert ours == pytest.approx(expected, rel=1e-6)
    assert frechet_classifier_distance_from_activations(real, generated) == pytest.approx(
        expected, rel=1e-6
    )
