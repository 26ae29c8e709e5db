"""Fetches a pinned model folder from a URL into a local cache, verified, with one atomic rename.

A URL's own card cannot vouch for itself, so every URL (http, https and
file) needs a pin: the sha256 of its model_card.json, which lists the sha256
of every other file. The card is checked against the pin first, then each
file against the card as it arrives, in a staging folder inside the cache
root that is renamed to its final name only when complete. No download is
read past its declared size (a card past CARD_MAX_BYTES). A cache entry that
is a link or not a folder is replaced, never followed. The cache is
content-addressed: `<cache root>/<pin>`, reused only while its card still
hashes to the pin and its files to the card.
"""

import os
import shutil
import stat
import tempfile
import urllib.parse

from bssn_tf.io import replace_directory_atomically
from bssn_tf.io.hashing import download_hashed
from bssn_tf.zoo.integrity import (
    CARD,
    CARD_MAX_BYTES,
    IntegrityError,
    check_pin,
    parse_card,
    read_card,
)

CACHE_ENV = "BSSN_ZOO_CACHE"
SCHEMES = ("http", "https", "file")
TIMEOUT_S = 60


class DownloadError(OSError):
    """A model file could not be fetched; the message names its URL."""


class PinRequiredError(IntegrityError):
    """A URL given without the sha256 of its model card."""


def require_pin(url, sha256):
    """Returns the normalised pin of `url`; PinRequiredError says how to pin when it is None."""
    if sha256 is None:
        raise PinRequiredError(
            f"{url}: refusing an unpinned model URL; a SavedModel is a program, and a card "
            f"from the same server cannot vouch for it. Pin it with the sha256 of its {CARD} "
            "(from the publisher, or `sha256sum model_card.json` on a copy you trust): "
            "zoo.load(url, sha256=...) or `python -m bssn_tf.zoo ... --sha256 HEX`"
        )
    return check_pin(sha256, "sha256")


def cache_root(cache_dir=None):
    """`cache_dir`, else $BSSN_ZOO_CACHE, else ~/.cache/bssn_tf/zoo."""
    return (
        cache_dir
        or os.environ.get(CACHE_ENV)
        or os.path.join(os.path.expanduser("~"), ".cache", "bssn_tf", "zoo")
    )


def is_url(source):
    return urllib.parse.urlsplit(str(source)).scheme in SCHEMES


def _download(url, path, limit, what):
    """Streams at most `limit` bytes of `url` into `path`; returns (sha256, size) of what came.

    A server that sends more is cut off at the limit, so a file can never fill
    the disk or memory beyond what its card declared.
    """
    too_large = lambda: IntegrityError(f"{url}: larger than {limit} bytes, {what}")
    try:
        with open(path, "xb") as handle:
            return download_hashed(url, handle, limit, too_large, timeout=TIMEOUT_S)
    except OSError as error:  # URLError, HTTPError and timeouts are all OSErrors
        raise DownloadError(f"could not download {url}: {error}") from error


def _download_into(base, staging, sha256):
    """Downloads the card, checks it against the pin, then every file it lists against it."""
    card_url = urllib.parse.urljoin(base, CARD)
    card_path = os.path.join(staging, CARD)
    _download(card_url, card_path, CARD_MAX_BYTES, "the most a model card may be")
    with open(card_path, "rb") as handle:
        card = parse_card(handle.read(), card_url, sha256, pinned_by="the caller's sha256")
    for relpath, entry in sorted(card["files"].items()):
        file_url = urllib.parse.urljoin(base, urllib.parse.quote(relpath))
        path = os.path.join(staging, *relpath.split("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        actual, size = _download(file_url, path, entry["size"], f"the size its {CARD} lists")
        if size != entry["size"] or actual != entry["sha256"]:
            raise IntegrityError(
                f"{file_url}: {size} bytes with sha256 {actual}; {CARD} lists {entry['size']} "
                f"bytes with sha256 {entry['sha256']} (the file was altered or truncated)"
            )


def _usable_cache_entry(final, sha256):
    """Whether `final` is a real folder (not a link) that still verifies against the pin."""
    try:
        if not stat.S_ISDIR(os.lstat(final).st_mode):
            return False  # a link, a file, or a dangling link: replaced, never followed
    except FileNotFoundError:
        return False
    try:
        read_card(final, sha256, pinned_by="the caller's sha256")
    except IntegrityError:
        return False  # a damaged or foreign copy is replaced, in one rename
    return True


def fetch(url, sha256=None, cache_dir=None):
    """Returns the local folder holding the verified model at `url` (http, https or file).

    Args:
      url: the model folder's URL (its files are `url/<relative path>`).
      sha256: hex sha256 of the model's model_card.json; required.
      cache_dir: cache root (default: $BSSN_ZOO_CACHE, else ~/.cache/bssn_tf/zoo).

    Returns:
      `<cache root>/<sha256>`. A cached copy is reused only if its card hashes
      to `sha256` and its files match the card; otherwise it is downloaded
      again and replaced in one rename.

    Raises:
      PinRequiredError: no sha256. ValueError: not a URL, or a malformed pin.
      IntegrityError: the card or a file does not match. DownloadError: a failed download.
    """
    if not is_url(url):
        raise ValueError(f"{url!r} is not a model URL: expected one of the schemes {SCHEMES}")
    sha256 = require_pin(url, sha256)
    base = url.rstrip("/") + "/"
    root = cache_root(cache_dir)
    final = os.path.join(root, sha256)
    if _usable_cache_entry(final, sha256):
        return final
    os.makedirs(root, exist_ok=True)
    staging = tempfile.mkdtemp(dir=root, prefix=".staging-")
    try:
        _download_into(base, staging, sha256)
        replace_directory_atomically(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final
