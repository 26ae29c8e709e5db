"""Checksums for zoo model folders: nothing is loaded until every byte matches its card.

A model card lists `files`: {posix path relative to the folder: sha256 hex} for
every file in the folder except the card itself, so a tampered, truncated or
missing file is caught before TensorFlow parses it.
"""

import hashlib
import json
import os
import pathlib

CARD = "model_card.json"


class IntegrityError(ValueError):
    """A model file is missing, altered, or named outside its folder."""


def sha256_of(path):
    """Hex sha256 of a file, read in blocks so large variables files stay out of memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_checksums(directory):
    """{posix relative path: sha256} for every file under `directory` but the card, sorted."""
    root = pathlib.Path(directory)
    relpaths = sorted(
        path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file()
    )
    return {relpath: sha256_of(root / relpath) for relpath in relpaths if relpath != CARD}


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
    """Raises IntegrityError naming the first listed file that is missing or differs."""
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


def parse_card(payload, source, expected_sha256=None):
    """Card bytes -> card dict, with its own hash and its `files` paths checked.

    `source` (a path or URL) names the card in errors. The listed files are
    not read here; the caller verifies them once they are on disk.
    """
    if expected_sha256 is not None:
        actual = hashlib.sha256(payload).hexdigest()
        if actual != expected_sha256:
            raise IntegrityError(
                f"{source}: sha256 {actual} does not match {expected_sha256} "
                "from the zoo index (the card was altered)"
            )
    try:
        card = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise IntegrityError(f"{source}: not a JSON model card ({error})") from error
    if not isinstance(card, dict) or not isinstance(card.get("files"), dict):
        raise IntegrityError(f"{source}: has no 'files' checksums, so its model cannot be verified")
    for relpath in card["files"]:
        check_relpath(relpath, source)
    return card


def read_card(directory, expected_sha256=None):
    """Returns the card of a model folder after verifying it and every file it lists."""
    path = os.path.join(directory, CARD)
    try:
        with open(path, "rb") as handle:
            payload = handle.read()
    except FileNotFoundError as error:
        raise IntegrityError(f"{path}: missing; every zoo model folder has a card") from error
    card = parse_card(payload, path, expected_sha256)
    verify_files(directory, card["files"])
    return card
