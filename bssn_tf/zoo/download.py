"""Fetches a pinned model folder from a URL into a local cache, verified, with one atomic rename.

A URL's own card cannot vouch for itself, so every URL (http, https and
file) needs a pin: the sha256 of its model_card.json, which lists the sha256
of every other file. The card is checked against the pin first, then each
file against the card as it arrives, in a staging folder inside the cache
root that is renamed to its final name only when complete. The cache is
content-addressed: `<cache root>/<pin>`, reused only while its card still
hashes to the pin and its files to the card.
"""

import hashlib
import os
import shutil
import tempfile
import urllib.parse
import urllib.request

from bssn_tf.io import replace_directory_atomically
from bssn_tf.zoo.integrity import CARD, IntegrityError, check_pin, parse_card, read_card

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


def _download_into(base, staging, sha256):
    """Downloads the card, checks it against the pin, then every file it lists against it."""
    card_url = urllib.parse.urljoin(base, CARD)
    card_path = os.path.join(staging, CARD)
    _download(card_url, card_path)
    with open(card_path, "rb") as handle:
        card = parse_card(handle.read(), card_url, sha256, pinned_by="the caller's sha256")
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
    if os.path.isdir(final):
        try:
            read_card(final, sha256, pinned_by="the caller's sha256")
            return final
        except IntegrityError:
            pass  # a damaged or foreign copy is replaced below, in one rename
    os.makedirs(root, exist_ok=True)
    staging = tempfile.mkdtemp(dir=root, prefix=".staging-")
    try:
        _download_into(base, staging, sha256)
        replace_directory_atomically(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final
