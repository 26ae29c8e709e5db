"""Deprecated home of the atomic file writers; they live in `bssn_tf.io` now."""

import warnings

from bssn_tf.io.atomic_files import (  # noqa: F401  (re-exported for old imports)
    replace_directory_atomically,
    write_bytes_atomically,
    write_json_atomically,
)

warnings.warn(
    "bssn_tf.metrics.atomic_files moved to bssn_tf.io; import from there.",
    DeprecationWarning,
    stacklevel=2,
)
