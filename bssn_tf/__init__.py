"""bssn_tf: SN and BSSN for Keras 3 layers, reference GANs and a model zoo."""

from bssn_tf import layers
from bssn_tf.layers import spectralize

__version__ = "0.1.0"
__all__ = ["layers", "spectralize", "__version__"]
