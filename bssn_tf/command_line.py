"""What every command-line entry point shares: a quiet TensorFlow import and one-line errors.

The library's own messages that quote another error quote it through `first_line`
and `one_line` too, so an error reads the same wherever it is shown.

TensorFlow writes INFO lines (oneDNN, CUDA stubs, CPU features) straight to
file descriptor 2 while it is being imported, before it reads any log level,
and later C++ lines (a Grappler "remapper failed", "failed call to cuInit")
that look like failures of a healthy run. Unless asked to be verbose,
`import_tensorflow` points fd 2 at a temporary file during the import (replayed
if the import fails) and sets TF_CPP_MIN_LOG_LEVEL=3 first (a value the user
set is kept). Level 3 hides C++ INFO, WARNING and ERROR lines; FATAL ones still
print, and errors that stop a command reach Python as exceptions, which the
commands print as one line. TensorFlow's Python logger goes to ERROR (like
the C++ level), absl's (TFDS logs there) to WARNING.

Only commands call this, before they import TensorFlow or anything that does
(keras, bssn_tf.layers, bssn_tf.zoo's loader): `import bssn_tf` in a user's
program changes no logger, environment variable or file descriptor.
"""

import argparse
import logging
import os
import sys
import tempfile


def import_tensorflow(verbose=False):
    """Imports TensorFlow and Keras, holding back their start-up lines unless `verbose`."""
    if "tensorflow" not in sys.modules:
        if verbose:
            import keras  # noqa: F401
            import tensorflow  # noqa: F401
        else:
            os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
            _import_with_stderr_held()
    from absl import logging as absl_logging

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


def _is_op_error(error):
    return hasattr(error, "error_code") and hasattr(error, "message")  # tf.errors.OpError


def first_line(error):
    """The first line of an error's message (a TensorFlow error's own message), else its type."""
    text = error.message if _is_op_error(error) else str(error)
    return (text.strip().splitlines() or [type(error).__name__])[0]


def one_line(error):
    """An error's message on one line; a TensorFlow error keeps its first line and its type."""
    if _is_op_error(error):
        return f"{type(error).__name__}: {first_line(error)}"
    return " ".join(str(error).split()) or type(error).__name__


class OneLineParser(argparse.ArgumentParser):
    """Usage errors as one line too (`--help` still prints the full help and exits 0)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def positive_int(text):
    """An argparse type: a positive integer, else a one-line usage error."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def run_command(args, errors=()):
    """Runs a parsed subcommand (`args.run(args)`) after a quiet TensorFlow import.

    Bad input (OSError, ValueError, TensorFlow's OpError, and `errors`) ends it
    with one line on stderr and status 1; `args.run` may return a status of its own.
    """
    import_tensorflow(verbose=args.tf_verbose)
    import tensorflow as tf

    try:
        return args.run(args) or 0
    except (OSError, ValueError, tf.errors.OpError, *errors) as error:
        print(f"error: {one_line(error)}", file=sys.stderr)
        return 1
