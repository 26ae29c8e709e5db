"""Pretrained generators by zoo name, local folder or pinned URL, verified and screened first.

from bssn_tf import zoo
generator = zoo.load("cnn_bssn")
images = generator(zoo.latents(16, seed=0, z_dim=generator.z_dim))

Before TensorFlow sees a model: its card is checked against a pin (the zoo
index for shipped names and their folders, the caller's `sha256` otherwise;
required for URLs), the folder must hold exactly the files the card lists
with matching sha256 and size, and its SavedModel must pass the screen
(bssn_tf.zoo.screening). TensorFlow then loads a private verified copy
(bssn_tf.zoo.integrity). An unpinned folder of your own is checked for
consistency with its card, but its card (metrics included) is taken as is.

Names load on first use (PEP 562), so `python -m bssn_tf.zoo` can quiet
TensorFlow's start-up lines before anything imports it.
"""

from bssn_tf.io.lazy import lazy_names

_HOMES = {
    "ForbiddenOpError": "bssn_tf.zoo.screening",
    "IntegrityError": "bssn_tf.zoo.integrity",
    "PinRequiredError": "bssn_tf.zoo.download",
    "UnknownModelError": "bssn_tf.zoo.registry",
    "ZooGenerator": "bssn_tf.zoo.generator",
    "available": "bssn_tf.zoo.registry",
    "card": "bssn_tf.zoo.loading",
    "latents": "bssn_tf.zoo.generator",
    "load": "bssn_tf.zoo.loading",
    "reference_labels": "bssn_tf.zoo.generator",
    "verify": "bssn_tf.zoo.loading",
}
__getattr__, __all__ = lazy_names(__name__, _HOMES)
