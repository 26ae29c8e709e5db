"""Checksums for zoo model folders: nothing is loaded until every byte matches its card.

A model card lists `files`: {posix path relative to the folder: sha256 hex} for
every file in the folder except the card itself. A folder must hold exactly
those files, as regular files (no symbolic links, which could reach outside
it), so a tampered, truncated, missing or smuggled-in file is caught before
TensorFlow parses anything. The card itself is trusted only as far as its
pin: the sha256 of model_card.json given by the zoo index or by the caller.
"""

import hashlib
import json
import os
import re
import stat

CARD = "model_card.json"
_SHA256 = re.compile(r"[0-9a-f]{64}")


class IntegrityError(ValueError):
    """A model file is missing, altered, unlisted, or named outside its folder."""


def sha256_of(path):
    """Hex sha256 of a file, read in blocks so large variables files stay out of memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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
        raise error

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


def file_checksums(directory):
    """{posix relative path: sha256} for every file under `directory` but the card, sorted."""
    return {
        relpath: sha256_of(os.path.join(directory, *relpath.split("/")))
        for relpath in folder_files(directory)
        if relpath != CARD
    }


def check_relpath(relpath, source):
    """Refuses a listed path that could reach outside the model folder; `source` lists it."""
    parts = relpath.split("/") if isinstance(relpath, str) else []
    if (
        not parts
        or relpath.startswith("/")
        or "\\" in relpath
        or any(part in ("", ".", "..") for part in parts)
    ):
        raise IntegrityError(
            f"{source}: unsafe file path {relpath!r}; expected a relative posix path inside "
            "the model folder (no leading '/', no '..', '.' or empty parts, no '\\')"
        )


def verify_files(directory, checksums):
    """Raises IntegrityError unless `directory` holds exactly the listed files, each matching.

    Unlisted files and links are refused before any file is read.
    """
    for relpath in folder_files(directory):
        if relpath != CARD and relpath not in checksums:
            raise IntegrityError(
                f"{os.path.join(directory, *relpath.split('/'))}: not listed in {CARD}; "
                "a model folder holds exactly the files its card lists"
            )
    for relpath, expected in sorted(checksums.items()):
        check_relpath(relpath, directory)
        path = os.path.join(directory, *relpath.split("/"))
        if not os.path.isfile(path):
            raise IntegrityError(f"{path}: listed in {CARD} but missing")
        actual = sha256_of(path)
        if actual != expected:
            raise IntegrityError(
                f"{path}: sha256 {actual} does not match {expected} from {CARD} "
                "(the file was altered or truncated)"
            )


def _positive_int(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def check_card_fields(card, source):
    """Refuses a card whose fields the loader uses are absent or malformed; `source` names it."""
    if not isinstance(card, dict):
        raise IntegrityError(f"{source}: expected a JSON object, got {type(card).__name__}")
    files = card.get("files")
    if not isinstance(files, dict) or not files:
        raise IntegrityError(
            f"{source}: 'files' is {files!r}; expected a non-empty object "
            "{relative path: sha256}, so that its model can be verified"
        )
    for relpath, digest in files.items():
        check_relpath(relpath, source)
        if relpath == CARD:
            raise IntegrityError(f"{source}: lists itself in 'files'; a card cannot hash itself")
        if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
            raise IntegrityError(
                f"{source}: 'files' gives {relpath!r} the hash {digest!r}; "
                "expected 64 lower-case hex digits"
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
    if not (num_classes == 0 or _positive_int(num_classes)):
        raise IntegrityError(
            f"{source}: num_classes is {num_classes!r}; expected an integer >= 0 (0: unconditional)"
        )
    if not isinstance(card.get("name", ""), str):
        raise IntegrityError(f"{source}: name is {card['name']!r}; expected a string")


def parse_card(payload, source, expected_sha256=None, pinned_by="the zoo index"):
    """Card bytes -> card dict, with its pin (if any) and its fields checked.

    `source` (a path or URL) names the card in errors, `pinned_by` the pin's
    origin. The listed files are not read here; the caller verifies them once
    they are on disk.
    """
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
        raise IntegrityError(f"{source}: not a JSON model card ({error})") from error
    check_card_fields(card, source)
    return card


def read_card(directory, expected_sha256=None, pinned_by="the zoo index"):
    """Returns the card of a model folder after verifying it and every file it lists."""
    path = os.path.join(directory, CARD)
    if not os.path.isdir(directory):
        raise IntegrityError(f"{directory}: not a model folder")
    folder_files(directory)  # refuses links, the card's included, before anything is read
    try:
        with open(path, "rb") as handle:
            payload = handle.read()
    except FileNotFoundError as error:
        raise IntegrityError(f"{path}: missing; every zoo model folder has a card") from error
    card = parse_card(payload, path, expected_sha256, pinned_by)
    verify_files(directory, card["files"])
    return card
