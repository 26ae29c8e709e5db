"""Where the FID Inception weights come from: a file, $BSSN_FID_INCEPTION_WEIGHTS, or a download.

The standard weights are pytorch-fid's `pt_inception-2015-12-05-6726825d.pth`,
a state dict converted from Google's 2015-12-05 Inception graph and published
on pytorch-fid's GitHub release page "fid_weights". Without network access the
file must be brought in and named by path or by the environment variable.

A download is verified before it is used, and written atomically. The full
sha256 of the published file is not recorded here; like torch hub, its name
carries the first hex digits of its sha256 (`6726825d`), so a download is
checked against that prefix unless the caller gives the full sha256.
"""

import os
import re
import urllib.request

from bssn_tf.io import UntrustedFileError, write_file_atomically
from bssn_tf.io.hashing import download_hashed, sha256_of

FID_WEIGHTS_ENV = "BSSN_FID_INCEPTION_WEIGHTS"
FID_CACHE_ENV = "BSSN_FID_CACHE"
FID_WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"
FID_WEIGHTS_URL = (
    "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/" + FID_WEIGHTS_FILE
)
_HASH_PREFIX_IN_NAME = re.compile(r"-([0-9a-f]{8,64})\.[A-Za-z]+$")


def _missing_weights_message(reason):
    return (
        f"{reason} The FID Inception weights are pytorch-fid's {FID_WEIGHTS_FILE} "
        f"(95 MB), published at {FID_WEIGHTS_URL} (pytorch-fid's GitHub release "
        f"'fid_weights'). Copy that file here and pass weights=PATH (CLI: "
        f"--fid_weights=PATH) or set ${FID_WEIGHTS_ENV}=PATH; with network access, "
        'weights="download" fetches and verifies it.'
    )


def _expected_hash(url, sha256):
    """The full sha256 the caller gave, else the hex prefix in the file name."""
    if sha256 is not None:
        if not re.fullmatch(r"[0-9a-f]{64}", str(sha256)):
            raise ValueError(f"sha256 must be 64 lowercase hex digits; got {sha256!r}.")
        return sha256
    match = _HASH_PREFIX_IN_NAME.search(url)
    if not match:
        raise ValueError(
            f"cannot verify {url}: its file name carries no sha256 prefix; pass sha256=."
        )
    return match.group(1)


def _require_hash(path, actual, expected, origin):
    if not actual.startswith(expected):
        raise UntrustedFileError(
            f"{path} (from {origin}) has sha256 {actual}; expected "
            f"{'one starting with ' if len(expected) < 64 else ''}{expected}. "
            "The file is corrupt or not the published one; it was not used."
        )


def default_cache_dir():
    return os.environ.get(FID_CACHE_ENV) or os.path.join(
        os.path.expanduser("~"), ".cache", "bssn_tf", "fid"
    )


def download_fid_weights(url=FID_WEIGHTS_URL, cache_dir=None, sha256=None):
    """Path of the verified weights file in `cache_dir`, fetching `url` if it is absent.

    Args:
      url: any URL urllib opens (https://, file://).
      cache_dir: folder of the cached file; default $BSSN_FID_CACHE or ~/.cache/bssn_tf/fid.
      sha256: the file's full sha256; default: the hex prefix in the file name.

    Raises:
      ValueError: the cached or downloaded file fails the sha256 check (a
        download that fails it is deleted, never left in the cache).
      OSError: the URL cannot be read.
    """
    expected = _expected_hash(url, sha256)
    cache_dir = cache_dir or default_cache_dir()
    path = os.path.join(cache_dir, os.path.basename(urllib.request.url2pathname(url)))
    if os.path.isfile(path):
        _require_hash(path, sha256_of(path), expected, "the cache")
        return path

    def fetch(temporary_path):
        with open(temporary_path, "wb") as handle:
            actual, _ = download_hashed(url, handle)
        _require_hash(path, actual, expected, url)

    write_file_atomically(path, fetch)
    return path


def resolve_fid_weights(weights):
    """A verified local path for `weights` (a path, "env" or "download"), or None for None.

    Raises:
      FileNotFoundError: the file (or $BSSN_FID_INCEPTION_WEIGHTS) is missing;
        the message says where the published file comes from and how to point at it.
      UntrustedFileError: a file named like the published one whose sha256 does not
        start with the hex digits in its name.
    """
    if weights is None:
        return None
    if weights == "download":
        return download_fid_weights()
    if weights == "env":
        weights = os.environ.get(FID_WEIGHTS_ENV)
        if not weights:
            raise FileNotFoundError(
                _missing_weights_message(f"No weights given and ${FID_WEIGHTS_ENV} is not set.")
            )
    weights = os.fspath(weights)
    if not os.path.isfile(weights):
        raise FileNotFoundError(
            _missing_weights_message(f"FID Inception weights file {weights!r} does not exist.")
        )
    # A file named like the published one (hash prefix in the name) must carry that hash;
    # a file of other weights (a test's, say) is used as given and reported by its sha256.
    match = _HASH_PREFIX_IN_NAME.search(os.path.basename(weights))
    if match:
        _require_hash(weights, sha256_of(weights), match.group(1), "its file name")
    return weights
