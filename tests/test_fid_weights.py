"""bssn_tf.extractors.fid_weights: where the FID weights come from, and their sha256 checks."""

import hashlib
import os
import pathlib

import pytest

from bssn_tf.extractors import fid_weights
from bssn_tf.io import UntrustedFileError
from bssn_tf.metrics import make_fid_inception_extractor


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
