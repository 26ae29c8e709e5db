"""Atomic writes: a reader never sees a half-written metrics file, card, image or model folder."""

import json
import os
import shutil
import tempfile


def write_file_atomically(path, write, suffix=""):
    """Calls `write(temporary_path)` beside `path`, then os.replace()s `path` with the result.

    For writers that need a file name (Keras' `model.save`, say); the file gets
    mode 0644 and `suffix`, which some writers use to pick the format.
    """
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    descriptor, temporary_path = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=suffix)
    os.close(descriptor)
    try:
        write(temporary_path)
        os.chmod(temporary_path, 0o644)  # mkstemp makes it private; readers expect a normal file
        os.replace(temporary_path, path)
    except BaseException:
        if os.path.exists(temporary_path):
            os.unlink(temporary_path)
        raise


def write_bytes_atomically(path, payload):
    """Writes `payload` to a temporary file in the same folder, then os.replace()s `path`."""

    def write(temporary_path):
        with open(temporary_path, "wb") as handle:
            handle.write(payload)

    write_file_atomically(path, write)


def write_json_atomically(path, record):
    """Writes `record` as indented JSON (no NaN allowed) atomically."""
    text = json.dumps(record, indent=2, sort_keys=True, allow_nan=False) + "\n"
    write_bytes_atomically(path, text.encode("utf-8"))


def replace_directory_atomically(staging, final):
    """Moves the finished folder `staging` to `final`, replacing any older `final`.

    Both must be on one filesystem. A reader sees the old folder or the new one,
    never a mix; only the brief gap between the two renames shows none.
    """
    if not os.path.lexists(final):  # a dangling link at `final` is replaced like a folder
        os.replace(staging, final)
        return
    retired = tempfile.mkdtemp(dir=os.path.dirname(os.path.abspath(final)), prefix=".retired-")
    os.replace(final, os.path.join(retired, os.path.basename(final)))
    os.replace(staging, final)
    shutil.rmtree(retired)
