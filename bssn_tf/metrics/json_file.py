"""Atomic JSON writes: a reader never sees a half-written metrics file or card."""
import json
import os
import tempfile


def write_json_atomically(path, record):
  """Writes `record` as indented JSON to a temporary file, then os.replace()s `path`."""
  directory = os.path.dirname(os.path.abspath(path))
  descriptor, temporary_path = tempfile.mkstemp(
      dir=directory, prefix=".tmp-", suffix=".json")
  try:
    with os.fdopen(descriptor, "w") as handle:
      json.dump(record, handle, indent=2, sort_keys=True, allow_nan=False)
      handle.write("\n")
    os.chmod(temporary_path, 0o644)  # mkstemp makes it private; readers expect a normal file
    os.replace(temporary_path, path)
  except BaseException:
    os.unlink(temporary_path)
    raise
