"""Fetches a model folder from a URL into a local cache, verified, with one atomic rename.

Files land in a staging folder inside the cache root and are checked against
the card's sha256 list before the folder is renamed to its final name, so the
final path only ever holds a complete, verified model.
"""

import hashlib
import os
import shutil
import tempfile
import urllib.parse
import urllib.request

from bssn_tf.io import replace_directory_atomically
from bssn_tf.zoo.integrity import CARD, IntegrityError, parse_card, read_card

CACHE_ENV = "BSSN_ZOO_CACHE"
SCHEMES = ("http", "https", "file")
TIMEOUT_S = 60


class DownloadError(OSError):
    """A model file could not be fetched; the message names its URL."""


def cache_root(cache_dir=None):
    """`cache_dir`, else $BSSN_ZOO_CACHE, else ~/.cache/bssn_tf/zoo."""
    return (
        cache_dir
        or os.environ.get(CACHE_ENV)
        or os.path.join(os.path.expanduser("~"), ".cache", "bssn_tf", "zoo")
    )


def is_url(source):
    return urllib.parse.urlsplit(str(source)).scheme in SCHEMES


def _download(url, path):
    """Streams `url` into `path` and returns the sha256 of what arrived."""
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response, open(path, "wb") as handle:
            for block in iter(lambda: response.read(1 << 20), b""):
                digest.update(block)
                handle.write(block)
    except OSError as error:  # URLError, HTTPError and timeouts are all OSErrors
        raise DownloadError(f"could not download {url}: {error}") from error
    return digest.hexdigest()


def _download_into(base, staging):
    """Downloads the card, then every file it lists, checking each hash as it arrives."""
    card_url = urllib.parse.urljoin(base, CARD)
    card_path = os.path.join(staging, CARD)
    _download(card_url, card_path)
    with open(card_path, "rb") as handle:
        card = parse_card(handle.read(), card_url)
    for relpath, expected in sorted(card["files"].items()):
        file_url = urllib.parse.urljoin(base, urllib.parse.quote(relpath))
        path = os.path.join(staging, *relpath.split("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        actual = _download(file_url, path)
        if actual != expected:
            raise IntegrityError(
                f"{file_url}: sha256 {actual} does not match {expected} from {CARD} "
                "(the file was altered or truncated)"
            )


def fetch(url, cache_dir=None):
    """Returns the local folder holding the verified model at `url` (http, https or file).

    The folder is `<cache root>/<sha256(url)[:16]>`. A cached copy is re-verified
    and reused; one that fails verification is downloaded again and replaced.
    """
    if not is_url(url):
        raise ValueError(f"{url!r} is not a model URL: expected one of the schemes {SCHEMES}")
    base = url.rstrip("/") + "/"
    root = cache_root(cache_dir)
    final = os.path.join(root, hashlib.sha256(url.encode("utf-8")).hexdigest()[:16])
    if os.path.isdir(final):
        try:
            read_card(final)
            return final
        except IntegrityError:
            pass  # a damaged copy is replaced below, in one rename
    os.makedirs(root, exist_ok=True)
    staging = tempfile.mkdtemp(dir=root, prefix=".staging-")
    try:
        _download_into(base, staging)
        replace_directory_atomically(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final
