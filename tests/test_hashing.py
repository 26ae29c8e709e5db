"""bssn_tf.io.hashing: the sha256 of a file, and downloads hashed as they arrive."""

import hashlib
import io

import pytest

from bssn_tf.io.hashing import BLOCK_BYTES, download_hashed, sha256_of

PAYLOAD = bytes(range(256)) * (BLOCK_BYTES // 256 + 3)  # more than one block


def test_sha256_of_a_file_read_in_blocks(tmp_path):
    path = tmp_path / "weights.bin"
    path.write_bytes(PAYLOAD)
    assert sha256_of(path) == hashlib.sha256(PAYLOAD).hexdigest()


def test_download_writes_what_came_and_returns_its_hash_and_size(tmp_path):
    source = tmp_path / "source.bin"
    source.write_bytes(PAYLOAD)
    received = io.BytesIO()
    digest, size = download_hashed(source.as_uri(), received)
    assert (digest, size) == (hashlib.sha256(PAYLOAD).hexdigest(), len(PAYLOAD))
    assert received.getvalue() == PAYLOAD


def test_download_past_its_limit_is_cut_off_with_the_callers_error(tmp_path):
    source = tmp_path / "source.bin"
    source.write_bytes(PAYLOAD)
    received = io.BytesIO()
    with pytest.raises(OverflowError, match="too large"):
        download_hashed(
            source.as_uri(), received, limit=1000, too_large=lambda: OverflowError("too large")
        )
    assert len(received.getvalue()) <= 1000  # never more than the limit written
    digest, size = download_hashed(source.as_uri(), io.BytesIO(), limit=len(PAYLOAD))
    assert size == len(PAYLOAD)


def test_an_unreadable_url_is_an_os_error(tmp_path):
    with pytest.raises(OSError):
        download_hashed((tmp_path / "absent.bin").as_uri(), io.BytesIO())
