"""bssn_tf.metrics.gaussian_statistics: FID statistics files in pytorch-fid's and TTUR's format."""

import numpy as np
import pytest

from bssn_tf.metrics import fid_statistics, load_fid_statistics, save_fid_statistics


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
