"""What the scripts in train/ share on the command line: the --tf_verbose flag, a --help
that exits 0, a quiet TensorFlow and errors as one line (bssn_tf.command_line).

Scripts must import TensorFlow (or anything that imports it: keras,
bssn_tf.layers) only inside main, after `import_tensorflow`.
"""

import sys

from absl import app, flags

from bssn_tf import command_line
from bssn_tf.command_line import one_line  # noqa: F401  (the scripts' one-line errors)

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
    command_line.import_tensorflow(TF_VERBOSE.value if verbose is None else verbose)
