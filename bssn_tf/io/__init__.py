"""File helpers: atomic writes, image grids, generated markdown blocks, the untrusted-file error.

Every package that writes files (training, zoo, metrics, the scripts) takes
them from here, so a reader never sees a half-written file or folder. The
submodules `checks` (integer arguments), `hashing` (a file's sha256, hashed
downloads) and `provenance` (software versions, hardware) hold what every
package shares. Importing bssn_tf.io imports no TensorFlow.
"""

from bssn_tf.io.atomic_files import (
    replace_directory_atomically,
    write_bytes_atomically,
    write_file_atomically,
    write_json_atomically,
)
from bssn_tf.io.image_grid import image_grid, write_grid_png
from bssn_tf.io.markdown_block import replace_block, rewrite_block
from bssn_tf.io.untrusted import UntrustedFileError

__all__ = [
    "UntrustedFileError",
    "image_grid",
    "replace_block",
    "replace_directory_atomically",
    "rewrite_block",
    "write_bytes_atomically",
    "write_file_atomically",
    "write_grid_png",
    "write_json_atomically",
]
