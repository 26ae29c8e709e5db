"""The FID pieces that need no torch: resize conventions, statistics files, weights files."""

import hashlib
import os
import pathlib

import numpy as np
import pytest
import tensorflow as tf

from bssn_tf.extractors import fid_weights
from bssn_tf.extractors.fid_inception import FidInceptionNetwork
from bssn_tf.extractors.inception_resize import resize_images
from bssn_tf.io import UntrustedFileError
from bssn_tf.metrics import (
    fid_statistics,
    load_fid_statistics,
    make_fid_inception_extractor,
    save_fid_statistics,
)


def _bilinear_by_loops(image, out_h, out_w, source_of):
    """Explicit per-pixel bilinear resize of one [H, W] plane; `source_of(dst, in, out)`."""
    in_h, in_w = image.shape
    result = np.zeros((out_h, out_w))
    for i in range(out_h):
        y = source_of(i, in_h, out_h)
        y0 = min(int(np.floor(y)), in_h - 1)
        y1, wy = min(y0 + 1, in_h - 1), y - y0
        for j in range(out_w):
            x = source_of(j, in_w, out_w)
            x0 = min(int(np.floor(x)), in_w - 1)
            x1, wx = min(x0 + 1, in_w - 1), x - x0
            top = (1 - wx) * image[y0, x0] + wx * image[y0, x1]
            bottom = (1 - wx) * image[y1, x0] + wx * image[y1, x1]
            result[i, j] = (1 - wy) * top + wy * bottom
    return result


_LEGACY_SOURCE = lambda dst, size_in, size_out: dst * size_in / size_out
_PYTORCH_SOURCE = lambda dst, size_in, size_out: max((dst + 0.5) * size_in / size_out - 0.5, 0.0)


@pytest.mark.parametrize(
    "mode, source_of", [("tf_legacy", _LEGACY_SOURCE), ("pytorch", _PYTORCH_SOURCE)]
)
@pytest.mark.parametrize("in_shape, size", [((5, 7), 11), ((9, 6), 4)])
def test_resize_follows_its_formula(mode, source_of, in_shape, size):
    image = np.random.default_rng(0).uniform(-1, 1, (1, *in_shape, 1)).astype(np.float32)
    expected = _bilinear_by_loops(image[0, :, :, 0].astype(np.float64), size, size, source_of)
    ours = resize_images(image, size, mode)[0, :, :, 0]
    np.testing.assert_allclose(ours, expected, atol=1e-6)  # float32 rounding of [-1, 1] values


def test_legacy_resize_is_tensorflows_and_differs_from_pytorchs():
    images = np.random.default_rng(1).uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)
    tensorflow_legacy = tf.raw_ops.ResizeBilinear(
        images=images, size=(299, 299), align_corners=False, half_pixel_centers=False
    ).numpy()
    np.testing.assert_allclose(
        resize_images(images, 299, "tf_legacy"), tensorflow_legacy, atol=1e-5
    )
    difference = np.abs(resize_images(images, 299, "pytorch") - tensorflow_legacy)
    assert difference.max() > 0.1  # half a source pixel apart: the conventions disagree


@pytest.mark.parametrize("mode", ["tf_legacy", "pytorch"])
def test_299_images_pass_through_unchanged(mode):
    images = np.random.default_rng(2).uniform(-1, 1, (1, 299, 299, 3)).astype(np.float32)
    np.testing.assert_array_equal(resize_images(images, 299, mode), images)
    with pytest.raises(ValueError, match="resize must be one of.*'clean'"):
        resize_images(images, 299, "clean")


def test_statistics_round_trip_in_the_published_format(tmp_path):
    activations = np.random.default_rng(3).normal(size=(50, 6))
    mu, sigma = fid_statistics(activations)
    np.testing.assert_allclose(mu, activations.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(sigma, np.cov(activations, rowvar=False), rtol=1e-12)
    path = tmp_path / "stats.npz"
    save_fid_statistics(path, mu, sigma)
    with np.load(path) as archive:  # what pytorch-fid and TTUR read
        assert sorted(archive.files) == ["mu", "sigma"]
        assert archive["mu"].dtype == np.float64 and archive["sigma"].dtype == np.float64
    loaded_mu, loaded_sigma = load_fid_statistics(path)
    np.testing.assert_array_equal(loaded_mu, mu)
    np.testing.assert_array_equal(loaded_sigma, sigma)
    # A TTUR-style file written with float32 values still loads (as float64).
    published = tmp_path / "published.npz"
    np.savez(published, mu=mu.astype(np.float32), sigma=sigma.astype(np.float32))
    assert load_fid_statistics(published)[1].dtype == np.float64


def test_statistics_files_with_wrong_keys_or_shapes_are_refused(tmp_path):
    wrong_key = tmp_path / "wrong_key.npz"
    np.savez(wrong_key, mean=np.zeros(3), sigma=np.eye(3))
    with pytest.raises(ValueError, match=r"wrong_key\.npz.*key 'mu' is missing"):
        load_fid_statistics(wrong_key)
    wrong_shape = tmp_path / "wrong_shape.npz"
    np.savez(wrong_shape, mu=np.zeros(3), sigma=np.eye(4))
    with pytest.raises(ValueError, match=r"wrong_shape\.npz: sigma must be \[d, d\]"):
        load_fid_statistics(wrong_shape)
    with pytest.raises(FileNotFoundError, match="absent.npz"):
        load_fid_statistics(tmp_path / "absent.npz")
    with pytest.raises(ValueError, match="mu must be a 1-D"):
        save_fid_statistics(tmp_path / "bad.npz", np.zeros((2, 2)), np.eye(2))
    assert not (tmp_path / "bad.npz").exists()


def test_missing_weights_say_where_the_file_comes_from(monkeypatch, tmp_path):
    monkeypatch.delenv(fid_weights.FID_WEIGHTS_ENV, raising=False)
    with pytest.raises(
        FileNotFoundError, match="BSSN_FID_INCEPTION_WEIGHTS is not set.*fid_weights"
    ):
        fid_weights.resolve_fid_weights("env")
    missing = str(tmp_path / "pt_inception.pth")
    with pytest.raises(FileNotFoundError, match=r"pt_inception\.pth' does not exist.*weights=PATH"):
        make_fid_inception_extractor(weights=missing)


def test_download_verifies_the_sha256_prefix_in_the_name(tmp_path):
    payload = b"stand-in for the published weights"
    digest = hashlib.sha256(payload).hexdigest()
    source = tmp_path / "source"
    source.mkdir()
    good = source / f"weights-{digest[:8]}.pth"
    good.write_bytes(payload)
    cache = tmp_path / "cache"
    path = fid_weights.download_fid_weights(good.as_uri(), cache_dir=str(cache))
    assert pathlib.Path(path).read_bytes() == payload and os.path.dirname(path) == str(cache)
    # Served from the cache (re-verified) once the source is gone.
    good.unlink()
    assert fid_weights.download_fid_weights(good.as_uri(), cache_dir=str(cache)) == path
    # A file whose content does not match its name is refused and not cached.
    bad = source / "weights-0123abcd.pth"
    bad.write_bytes(payload)
    with pytest.raises(ValueError, match="sha256.*expected one starting with 0123abcd"):
        fid_weights.download_fid_weights(bad.as_uri(), cache_dir=str(cache))
    assert sorted(os.listdir(cache)) == [good.name]
    # A caller-given full sha256 is checked in full.
    plain = source / "weights.pth"
    plain.write_bytes(payload)
    assert os.path.isfile(
        fid_weights.download_fid_weights(plain.as_uri(), cache_dir=str(cache), sha256=digest)
    )
    with pytest.raises(ValueError, match="carries no sha256 prefix"):
        fid_weights.download_fid_weights(plain.as_uri(), cache_dir=str(tmp_path / "other"))


def test_a_local_file_named_like_the_published_one_must_carry_its_hash(tmp_path):
    payload = b"not the published weights"
    impostor = tmp_path / fid_weights.FID_WEIGHTS_FILE  # ...-6726825d.pth
    impostor.write_bytes(payload)
    with pytest.raises(UntrustedFileError) as raised:
        fid_weights.resolve_fid_weights(str(impostor))
    message = str(raised.value)
    assert message.startswith(f"{impostor} (from its file name) has sha256 ")
    assert "expected one starting with 6726825d" in message and "\n" not in message
    # A file of other weights, named without a hash, is used as given.
    own = tmp_path / "my_weights.pth"
    own.write_bytes(payload)
    assert fid_weights.resolve_fid_weights(str(own)) == str(own)
    # So is a correctly named one.
    honest = tmp_path / f"weights-{hashlib.sha256(payload).hexdigest()[:8]}.pth"
    honest.write_bytes(payload)
    assert fid_weights.resolve_fid_weights(str(honest)) == str(honest)


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


def test_score_samples_beyond_the_fid_samples_and_real_statistics():
    """The paper's shape of protocol (IS on more draws than FID), shrunk, with the digit network."""
    from bssn_tf.extractors.digit_classifier import make_digit_extractor
    from bssn_tf.metrics import evaluate_generator, frechet_distance_from_statistics
    from bssn_tf.metrics.classifier_score import classifier_score_from_logits

    rng = np.random.default_rng(6)
    real = rng.uniform(-1, 1, (30, 28, 28, 1)).astype(np.float32)
    projection = rng.normal(size=(4, 28 * 28)).astype(np.float32)
    sample_fn = lambda z: np.tanh(z @ projection).reshape(-1, 28, 28, 1)
    results = evaluate_generator(
        sample_fn, real, num_samples=20, num_score_samples=50, batch_size=16, z_dim=4,
        score_classes=5, splits=5,
    )  # fmt: skip
    # Oracle: the same z draws, featurized directly.
    z = np.random.default_rng(0).standard_normal((50, 4)).astype(np.float32)
    extractor = make_digit_extractor()
    features, logits = extractor.features_and_logits(sample_fn(z))
    expected_fcd = frechet_distance_from_statistics(
        *fid_statistics(extractor.features(real)), *fid_statistics(features[:20])
    )
    assert results["fcd"] == pytest.approx(expected_fcd, rel=1e-6)  # float32 features
    expected_score, _ = classifier_score_from_logits(logits[:, :5], splits=5)
    assert results["classifier_score"] == pytest.approx(expected_score, rel=1e-6)
    assert (results["num_samples"], results["num_score_samples"], results["score_classes"]) == (
        20, 50, 5,
    )  # fmt: skip
    from_statistics = evaluate_generator(
        sample_fn, None, real_statistics=fid_statistics(extractor.features(real)),
        num_samples=20, batch_size=16, z_dim=4,
    )  # fmt: skip
    assert from_statistics["fcd"] == pytest.approx(expected_fcd, rel=1e-6)
    assert from_statistics["kcd"] is None
    with pytest.raises(ValueError, match="real statistics have 3 features but the digits"):
        evaluate_generator(
            sample_fn, None, real_statistics=(np.zeros(3), np.eye(3)), num_samples=20, z_dim=4
        )
