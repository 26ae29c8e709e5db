"""Matplotlib figures written as PNG atomically, for the scripts that report results."""

import io

import matplotlib

matplotlib.use("Agg")  # before pyplot anywhere: figures go to files only

from bssn_tf.io import write_bytes_atomically  # noqa: E402


def save_figure(figure, path):
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    write_bytes_atomically(path, buffer.getvalue())
