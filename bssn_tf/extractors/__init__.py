"""The networks whose features and logits the metrics measure, with their weight files.

- "digits": the shipped digit classifier (`digit_classifier`, weights in `assets/`).
- "fid_inception": pytorch-fid's FID Inception, the network of every published
  FID and IS (`fid_inception`), its weights file (`fid_weights`), read without
  torch (`torch_checkpoint`), and the two resize conventions (`inception_resize`).
- "inception": Keras' InceptionV3 (`keras_inception`), not comparable with
  published numbers.

Each is a FeatureExtractor (`feature_extractor`), named in one list
(`registry.EXTRACTOR_NAMES`) and made by one factory (`registry.get_extractor`).
The formulas that use them live in bssn_tf.metrics, which re-exports the
public names. Names load on first use (PEP 562): importing this package
imports no TensorFlow.
"""

from bssn_tf.io.lazy import lazy_names

_HOMES = {
    "EXTRACTOR_NAMES": "bssn_tf.extractors.registry",
    "FeatureExtractor": "bssn_tf.extractors.feature_extractor",
    "get_extractor": "bssn_tf.extractors.registry",
    "load_digit_classifier": "bssn_tf.extractors.digit_classifier",
    "make_digit_extractor": "bssn_tf.extractors.digit_classifier",
    "make_fid_inception_extractor": "bssn_tf.extractors.fid_extractor",
    "make_inception_extractor": "bssn_tf.extractors.keras_inception",
}
__getattr__, __all__ = lazy_names(__name__, _HOMES)
