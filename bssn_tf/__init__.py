"""bssn_tf: SN and BSSN for Keras 3 layers, reference GANs and a model zoo.

Subpackages load on first use (PEP 562), so `import bssn_tf` imports neither
Keras nor TensorFlow and prints nothing; `bssn_tf.layers` and
`bssn_tf.spectralize` import them when first touched.
"""

import importlib

__version__ = "0.1.0"
__all__ = ["layers", "spectralize", "__version__"]


def __getattr__(name):
    if name == "spectralize":
        return importlib.import_module("bssn_tf.layers").spectralize
    if name == "layers":
        return importlib.import_module("bssn_tf.layers")
    raise AttributeError(f"module 'bssn_tf' has no attribute {name!r}")
