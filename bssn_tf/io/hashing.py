"""The sha256 of a file, and downloads hashed as they arrive: one home for each.

Zoo folders, their cards, FID weights and statistics files are all named by
their sha256 in records and checked against it; both read in blocks, so large
files never sit in memory.
"""

import hashlib
import urllib.request

BLOCK_BYTES = 1 << 20


def sha256_of(path):
    """Hex sha256 of the file at `path`, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(BLOCK_BYTES), b""):
            digest.update(block)
    return digest.hexdigest()


def download_hashed(url, handle, limit=None, too_large=None, timeout=None):
    """Streams `url` into the open binary file `handle`; returns (hex sha256, size).

    With `limit`, no more than `limit` bytes are accepted: a server that sends
    more is cut off and `too_large()` (an exception) is raised, so a download
    never fills the disk beyond what its source declared. Errors of the
    connection are OSErrors (URLError, HTTPError and timeouts are); the caller
    decides what they mean.
    """
    digest, size = hashlib.sha256(), 0
    with urllib.request.urlopen(url, timeout=timeout) as response:
        while True:
            wanted = BLOCK_BYTES if limit is None else min(BLOCK_BYTES, limit + 1 - size)
            block = response.read(wanted)
            if not block:
                break
            size += len(block)
            if limit is not None and size > limit:
                raise too_large()
            digest.update(block)
            handle.write(block)
    return digest.hexdigest(), size
