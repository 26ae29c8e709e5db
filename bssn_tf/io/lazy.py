"""Package names that load on first use (PEP 562), so that importing a package is cheap.

`bssn_tf.data`, `bssn_tf.zoo` and `bssn_tf.extractors` list where each public
name lives; the module holding it (and TensorFlow with it) is imported only
when the name is first touched, so a command can quiet TensorFlow first.
"""

import importlib


def lazy_names(package, homes):
    """(`__getattr__`, `__all__`) of `package`, whose names live in `homes` ({name: module})."""

    def __getattr__(name):
        if name in homes:
            return getattr(importlib.import_module(homes[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__, sorted(homes)
