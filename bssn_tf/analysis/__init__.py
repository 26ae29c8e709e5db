"""Numbers behind the paper's gradient claims, for any Keras discriminator.

Every function takes a built model (and a batch where one is needed) and
returns plain Python dicts keyed by layer name, so that scripts can plot them
and write them to JSON without touching TensorFlow objects.

`bssn_tf.analysis.convergence` (FCD curves across runs) and
`bssn_tf.analysis.plots` (the figures; needs matplotlib) are imported on their
own, so that this package stays light. The jobs that train runs and measure
them (the claims, the zoo study) are bssn_tf.workflows.
"""

from bssn_tf.analysis.gradient_norms import OBJECTIVES, input_gradient_stats, layer_gradient_norms
from bssn_tf.analysis.kernel_layers import KernelLayer, kernel_layers
from bssn_tf.analysis.operator_norm_ratio import operator_norm_ratios
from bssn_tf.analysis.weight_scale import effective_weight_scales

__all__ = [
    "KernelLayer",
    "OBJECTIVES",
    "effective_weight_scales",
    "input_gradient_stats",
    "kernel_layers",
    "layer_gradient_norms",
    "operator_norm_ratios",
]
