"""What the scripts in train/ share on the command line: a quiet TensorFlow, a --help that
exits 0, and errors as one line.

TensorFlow writes INFO lines (oneDNN, CUDA stubs, CPU features) straight to
file descriptor 2 while it is being imported, before it reads any log level,
and later C++ lines (a Grappler "remapper failed", "failed call to cuInit")
that look like failures of a healthy run. Unless --tf_verbose is given,
`import_tensorflow` points fd 2 at a temporary file during the import (replayed
if the import fails) and sets TF_CPP_MIN_LOG_LEVEL=3 first (a value the user
set is kept). Level 3 hides C++ INFO, WARNING and ERROR lines; FATAL ones still
print, and errors that stop a run reach Python as exceptions, which the
scripts print as one line. TensorFlow's Python logger goes to ERROR (like the
C++ level), absl's (TFDS logs there) to WARNING. Scripts must therefore
import TensorFlow (or anything that imports it: keras, bssn_tf) only inside
main, after `import_tensorflow`.
"""

import logging
import os
import sys
import tempfile

from absl import app, flags
from absl import logging as absl_logging

TF_VERBOSE = flags.DEFINE_bool(
    "tf_verbose", False, "Show TensorFlow's own log lines (hidden by default)."
)
HELP_ARGUMENTS = ("-h", "-?", "-help", "--help", "--helpshort", "--helpfull", "--helpxml")


def run(main):
    """`absl.app.run(main)`, except that asking for help exits 0 (absl exits 1)."""
    app.run(main, flags_parser=_parse_flags)


def _parse_flags(argv):
    try:
        return app.parse_flags_with_usage(argv)
    except SystemExit as exit_request:
        if exit_request.code == 1 and any(arg in HELP_ARGUMENTS for arg in argv[1:]):
            sys.exit(0)
        raise


def import_tensorflow(verbose=None):
    """Imports TensorFlow and Keras, quietly unless `verbose` (default: --tf_verbose)."""
    if verbose is None:
        verbose = TF_VERBOSE.value
    if "tensorflow" not in sys.modules:
        if verbose:
            import keras  # noqa: F401
            import tensorflow  # noqa: F401
        else:
            os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
            _import_with_stderr_held()
    logging.getLogger("tensorflow").setLevel(logging.INFO if verbose else logging.ERROR)
    absl_logging.set_verbosity(absl_logging.INFO if verbose else absl_logging.WARNING)


def _import_with_stderr_held():
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            import keras  # noqa: F401
            import tensorflow  # noqa: F401
        except BaseException:
            os.dup2(saved, 2)
            held.seek(0)
            os.write(2, held.read())
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def one_line(error):
    """An error's message on one line; a TensorFlow error keeps its first line and its type."""
    if hasattr(error, "error_code") and hasattr(error, "message"):  # tf.errors.OpError
        first = (error.message.strip().splitlines() or [""])[0]
        return f"{type(error).__name__}: {first}"
    return " ".join(str(error).split())
