"""Errors raised when data cannot be obtained, with messages that say how to fix it."""

import importlib


class DatasetUnavailableError(RuntimeError):
    """A dataset is not prepared in the TFDS data_dir and cannot be built here.

    Raised instead of TFDS's own failure (an AssertionError or minutes of network
    retries) so that the user sees one message naming the dataset, the folder that
    was searched and the ways to obtain the data.
    """


class TooFewImagesError(ValueError):
    """A split holds fewer images than were asked for; `available` says how many it has."""

    def __init__(self, message, available):
        super().__init__(message)
        self.available = available


def import_extra(module: str, pip_name: str, needed_by: str):
    """Imports an optional dependency of the `data` extra, or says how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(
            f"Dataset {needed_by!r} is built from the optional package {pip_name!r}, "
            f"which is not installed. Install it with `pip install {pip_name}` "
            "or `pip install 'bssn_tf[data]'`."
        ) from None
