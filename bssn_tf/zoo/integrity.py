"""Checksums for zoo model folders: nothing is loaded until every byte matches its card.

A model card lists `files`: {posix path relative to the folder: {"sha256": hex,
"size": bytes}} for every file in the folder except the card itself. The card
is trusted only as far as its pin (the sha256 of model_card.json from the zoo
index or the caller), and is refused unparsed above CARD_MAX_BYTES.

Whoever can write to a folder could swap a file between its check and
TensorFlow's read of it. So a folder is never loaded in place: `verified_copy`
copies the card and every listed file into a private temporary folder (mode
0700, which only this user can write), hashing each byte as it is copied and
reading no more than the card's size, and the caller screens and loads that
copy. Files are opened one path component at a time without following links,
so a link swapped in after the listing reaches nothing outside the folder.
"""

import contextlib
import errno
import hashlib
import json
import os
import re
import shutil
import stat
import tempfile

from bssn_tf.io import UntrustedFileError
from bssn_tf.io.checks import is_int
from bssn_tf.io.hashing import BLOCK_BYTES, sha256_of

CARD = "model_card.json"
# A card is a few KB of JSON; anything far larger is refused before it is read.
CARD_MAX_BYTES = 256 * 1024
# All of a model's files together: the shipped generators take a few MB, and a
# card's sizes decide what is downloaded and copied (to a temporary folder)
# before anything is hashed, so no card may ask for more than this.
MODEL_MAX_BYTES = 4 * 1024**3
_SHA256 = re.compile(r"[0-9a-f]{64}")


class IntegrityError(UntrustedFileError):
    """A model file is missing, altered, unlisted, oversized, or named outside its folder."""


def check_pin(sha256, what):
    """Returns `sha256` in lower case; ValueError unless it is 64 hex digits. `what` names it."""
    if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256.lower()):
        raise ValueError(
            f"{what}={sha256!r}: expected the 64 hex digits of a sha256 "
            f"(the hash of the model's {CARD})"
        )
    return sha256.lower()


def folder_files(directory):
    """Sorted posix relative paths of the files under `directory`, the card included.

    Raises IntegrityError on a symbolic link (file or folder) or anything that
    is not a regular file, so that nothing outside the folder can be read.
    """

    def fail(error):
        raise IntegrityError(f"{error.filename}: cannot list this model folder ({error.strerror})")

    relpaths = []
    for folder, dirnames, filenames in os.walk(directory, onerror=fail):
        for name in sorted(dirnames + filenames):
            path = os.path.join(folder, name)
            mode = os.lstat(path).st_mode
            if stat.S_ISLNK(mode):
                raise IntegrityError(
                    f"{path}: a symbolic link; a model folder holds only regular files "
                    "(a link could reach outside it)"
                )
            if name in filenames and not stat.S_ISREG(mode):
                raise IntegrityError(f"{path}: not a regular file")
            if name in filenames:
                relpaths.append(os.path.relpath(path, directory).replace(os.sep, "/"))
    return sorted(relpaths)


def file_manifest(directory):
    """{posix relative path: {"sha256", "size"}} for every file under `directory` but the card."""
    manifest = {}
    for relpath in folder_files(directory):
        if relpath != CARD:
            path = os.path.join(directory, *relpath.split("/"))
            manifest[relpath] = {"sha256": sha256_of(path), "size": os.path.getsize(path)}
    return manifest


def check_relpath(relpath, source):
    """Refuses a listed path that could reach outside the model folder, or that would put
    control characters (a newline, a terminal escape) into messages; `source` lists it."""
    parts = relpath.split("/") if isinstance(relpath, str) else []
    if (
        not parts
        or relpath.startswith("/")
        or "\\" in relpath
        or any(ord(character) < 32 or ord(character) == 127 for character in relpath)
        or any(part in ("", ".", "..") for part in parts)
    ):
        raise IntegrityError(
            f"{source}: unsafe file path {relpath!r}; expected a relative posix path inside "
            "the model folder (no leading '/', no '..', '.' or empty parts, no '\\', no "
            "control characters)"
        )


def _positive_int(value):
    return is_int(value) and value >= 1


def _check_file_entry(relpath, entry, source):
    check_relpath(relpath, source)
    if relpath == CARD:
        raise IntegrityError(f"{source}: lists itself in 'files'; a card cannot hash itself")
    digest = entry.get("sha256") if isinstance(entry, dict) else None
    size = entry.get("size") if isinstance(entry, dict) else None
    if not isinstance(digest, str) or not _SHA256.fullmatch(digest) or not is_int(size) or size < 0:
        raise IntegrityError(
            f"{source}: 'files' gives {relpath!r} the entry {entry!r}; expected "
            '{"sha256": 64 lower-case hex digits, "size": bytes as an integer >= 0}'
        )


def check_card_fields(card, source):
    """Refuses a card whose fields the loader uses are absent or malformed; `source` names it."""
    if not isinstance(card, dict):
        raise IntegrityError(f"{source}: expected a JSON object, got {type(card).__name__}")
    files = card.get("files")
    if not isinstance(files, dict) or not files:
        raise IntegrityError(
            f"{source}: 'files' is {files!r}; expected a non-empty object "
            '{relative path: {"sha256": ..., "size": ...}}, so that its model can be verified'
        )
    for relpath, entry in files.items():
        _check_file_entry(relpath, entry, source)
    total = sum(entry["size"] for entry in files.values())
    if total > MODEL_MAX_BYTES:
        raise IntegrityError(
            f"{source}: lists {total} bytes of files; a zoo model may hold at most "
            f"{MODEL_MAX_BYTES} (bssn_tf.zoo.integrity.MODEL_MAX_BYTES)"
        )
    if not _positive_int(card.get("z_dim")):
        raise IntegrityError(
            f"{source}: z_dim is {card.get('z_dim')!r}; expected a positive integer"
        )
    shape = card.get("image_shape")
    if not (isinstance(shape, list) and len(shape) == 3 and all(map(_positive_int, shape))):
        raise IntegrityError(
            f"{source}: image_shape is {shape!r}; expected [height, width, channels] "
            "as positive integers"
        )
    num_classes = card.get("num_classes", 0)
    if not (is_int(num_classes) and num_classes >= 0):
        raise IntegrityError(
            f"{source}: num_classes is {num_classes!r}; expected an integer >= 0 (0: unconditional)"
        )
    if not isinstance(card.get("name", ""), str):
        raise IntegrityError(f"{source}: name is {card['name']!r}; expected a string")


def parse_card(payload, source, expected_sha256=None, pinned_by="the zoo index"):
    """Card bytes -> card dict, with its size, its pin (if any) and its fields checked.

    `source` (a path or URL) names the card in errors, `pinned_by` the pin's
    origin. The listed files are not read here.
    """
    if len(payload) > CARD_MAX_BYTES:
        raise IntegrityError(
            f"{source}: {len(payload)} bytes or more; a model card is at most {CARD_MAX_BYTES}"
        )
    if expected_sha256 is not None:
        actual = hashlib.sha256(payload).hexdigest()
        if actual != expected_sha256:
            raise IntegrityError(
                f"{source}: sha256 {actual} does not match {expected_sha256} "
                f"from {pinned_by} (the card was altered, or this is another model)"
            )
    try:
        card = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise IntegrityError(f"{source}: not a JSON model card ({error})") from None
    except RecursionError:
        raise IntegrityError(f"{source}: not a model card (JSON nested too deeply)") from None
    check_card_fields(card, source)
    return card


def _open_beneath(directory_fd, relpath, display):
    """A read-only fd of `relpath` under an open folder, never following a link on the way."""
    parts = relpath.split("/")
    fd = os.dup(directory_fd)
    try:
        for part in parts[:-1]:
            inner = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = inner
        # O_NONBLOCK: opening a FIFO planted in the folder must not wait for a writer.
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK
        inner = os.open(parts[-1], flags, dir_fd=fd)
    except OSError as error:
        if error.errno == errno.ENOENT:
            raise IntegrityError(f"{display}: listed in {CARD} but missing") from None
        raise IntegrityError(
            f"{display}: cannot be opened as a regular file inside the model folder "
            f"({error.strerror}; links are refused)"
        ) from None
    finally:
        os.close(fd)
    if not stat.S_ISREG(os.fstat(inner).st_mode):
        os.close(inner)
        raise IntegrityError(f"{display}: not a regular file")
    return inner


def read_bounded(fd, limit, display, what):
    """At most `limit` bytes from `fd`; IntegrityError when there are more."""
    chunks, total = [], 0
    while True:
        block = os.read(fd, min(BLOCK_BYTES, limit + 1 - total))
        if not block:
            return b"".join(chunks)
        chunks.append(block)
        total += len(block)
        if total > limit:
            raise IntegrityError(f"{display}: larger than {limit} bytes, {what}")


def _copy_listed_file(directory_fd, relpath, entry, directory, copy_root):
    """Copies one listed file into the private copy, checking its size and sha256 on the way."""
    display = os.path.join(directory, *relpath.split("/"))
    fd = _open_beneath(directory_fd, relpath, display)
    target = os.path.join(copy_root, *relpath.split("/"))
    os.makedirs(os.path.dirname(target), mode=0o700, exist_ok=True)
    digest, copied = hashlib.sha256(), 0
    try:
        with open(target, "xb") as out:
            while True:
                block = os.read(fd, min(BLOCK_BYTES, entry["size"] + 1 - copied))
                if not block:
                    break
                copied += len(block)
                if copied > entry["size"]:
                    raise IntegrityError(
                        f"{display}: larger than the {entry['size']} bytes its card lists"
                    )
                digest.update(block)
                out.write(block)
    finally:
        os.close(fd)
    if copied != entry["size"]:
        raise IntegrityError(
            f"{display}: {copied} bytes; its card lists {entry['size']} (the file was truncated)"
        )
    if digest.hexdigest() != entry["sha256"]:
        raise IntegrityError(
            f"{display}: sha256 {digest.hexdigest()} does not match {entry['sha256']} "
            f"from {CARD} (the file was altered)"
        )


def _open_folder(directory):
    try:
        return os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        raise IntegrityError(f"{directory}: not a model folder") from None


@contextlib.contextmanager
def verified_copy(directory, expected_sha256=None, pinned_by="the zoo index"):
    """Yields (private copy, card) of a model folder once every byte of the copy is verified.

    The folder must hold exactly the card and the files it lists, as regular
    files. The copy lives in a new 0700 temporary folder and is removed on
    exit; load from the copy, never from `directory`.
    """
    directory_fd = _open_folder(directory)
    try:
        listed = folder_files(directory)  # refuses links and special files before any read
        card_path = os.path.join(directory, CARD)
        if CARD not in listed:
            raise IntegrityError(f"{card_path}: missing; every zoo model folder has a card")
        card_fd = _open_beneath(directory_fd, CARD, card_path)
        try:
            payload = read_bounded(card_fd, CARD_MAX_BYTES, card_path, "the most a card may be")
        finally:
            os.close(card_fd)
        card = parse_card(payload, card_path, expected_sha256, pinned_by)
        for relpath in listed:
            if relpath != CARD and relpath not in card["files"]:
                raise IntegrityError(
                    f"{os.path.join(directory, *relpath.split('/'))}: not listed in {CARD}; "
                    "a model folder holds exactly the files its card lists"
                )
        copy_root = tempfile.mkdtemp(prefix="bssn_tf-verified-")
        try:
            with open(os.path.join(copy_root, CARD), "xb") as out:
                out.write(payload)
            for relpath, entry in sorted(card["files"].items()):
                _copy_listed_file(directory_fd, relpath, entry, directory, copy_root)
        except BaseException:
            shutil.rmtree(copy_root, ignore_errors=True)
            raise
    finally:
        os.close(directory_fd)
    try:
        yield copy_root, card
    finally:
        shutil.rmtree(copy_root, ignore_errors=True)


def read_card(directory, expected_sha256=None, pinned_by="the zoo index"):
    """Returns the card of a model folder after verifying it and every file it lists."""
    with verified_copy(directory, expected_sha256, pinned_by) as (_, card):
        return card
