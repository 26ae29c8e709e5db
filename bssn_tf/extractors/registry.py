"""The feature extractors by name: one list, one factory.

Training (`--eval_extractor`), `train.evaluate` (`--extractor`) and the
metric functions (`extractor="digits"`) all name extractors from here, so the
names a config accepts are the names that can be built. The factories import
their network when called, so this list imports no TensorFlow.
"""

from bssn_tf.extractors.feature_extractor import FeatureExtractor


def _digits(weights, **_):
    from bssn_tf.extractors.digit_classifier import make_digit_extractor

    return make_digit_extractor() if weights is None else make_digit_extractor(weights)


def _fid_inception(weights, **options):
    from bssn_tf.extractors.fid_extractor import make_fid_inception_extractor

    return make_fid_inception_extractor("env" if weights is None else weights, **options)


def _keras_inception(weights, **_):
    from bssn_tf.extractors.keras_inception import make_inception_extractor

    return make_inception_extractor("env" if weights is None else weights)


# name -> factory(weights, **options); the order is the one --help lists.
_FACTORIES = {"digits": _digits, "fid_inception": _fid_inception, "inception": _keras_inception}
EXTRACTOR_NAMES = tuple(_FACTORIES)


def get_extractor(extractor, weights=None, **options):
    """`extractor` itself if it is a FeatureExtractor, else the one its name makes.

    Args:
      extractor: a FeatureExtractor, or one of EXTRACTOR_NAMES: "digits" (the
        shipped digit classifier), "fid_inception" (pytorch-fid's network, the
        standard FID/IS one) or "inception" (Keras' InceptionV3; not comparable).
      weights: the network's weights file; None: the shipped classifier, or
        $BSSN_FID_INCEPTION_WEIGHTS / $BSSN_INCEPTION_WEIGHTS for the Inceptions.
      **options: `resize`, `batch_size`, `jit_compile` of the FID Inception
        (make_fid_inception_extractor); the other extractors have none.

    Raises:
      ValueError: an unknown name. FileNotFoundError: no weights file.
    """
    if isinstance(extractor, FeatureExtractor):
        return extractor
    if extractor not in _FACTORIES:
        raise ValueError(
            f"extractor must be one of {list(EXTRACTOR_NAMES)} or a FeatureExtractor; "
            f"got {extractor!r}."
        )
    return _FACTORIES[extractor](weights, **options)
