"""bssn_tf.extractors.registry: one list of extractor names, one factory, used everywhere."""

import numpy as np
import pytest

from bssn_tf.extractors import FeatureExtractor, get_extractor
from bssn_tf.extractors.fid_weights import FID_WEIGHTS_ENV
from bssn_tf.extractors.keras_inception import INCEPTION_WEIGHTS_ENV
from bssn_tf.extractors.registry import EXTRACTOR_NAMES
from bssn_tf.training import ConfigError, TrainConfig
from bssn_tf.workflows.export_evaluation import EvaluationConfigError, ExportEvaluationConfig


def test_every_listed_name_is_accepted_by_training_and_evaluation(tmp_path):
    assert EXTRACTOR_NAMES == ("digits", "fid_inception", "inception")
    for name in EXTRACTOR_NAMES:
        TrainConfig(model_dir=str(tmp_path), eval_extractor=name)
        ExportEvaluationConfig(zoo="cnn_bssn", extractor=name)
    with pytest.raises(ConfigError, match=r"eval_extractor must be one of \['digits'"):
        TrainConfig(model_dir=str(tmp_path), eval_extractor="clip")
    with pytest.raises(EvaluationConfigError, match="digits|fid_inception|inception"):
        ExportEvaluationConfig(zoo="cnn_bssn", extractor="clip")


def test_a_feature_extractor_passes_through_and_an_unknown_name_is_refused():
    own = FeatureExtractor("own", lambda images: (images, images))
    assert get_extractor(own) is own
    with pytest.raises(ValueError, match=r"extractor must be one of \['digits', 'fid_inception'"):
        get_extractor("clip")


def test_the_digit_classifier_by_name():
    extractor = get_extractor("digits")
    features, logits = extractor.features_and_logits(np.zeros((2, 28, 28, 1), np.float32))
    assert extractor.name == "digits" and features.shape == (2, 128) and logits.shape == (2, 10)


@pytest.mark.parametrize(
    "name, variable", [("fid_inception", FID_WEIGHTS_ENV), ("inception", INCEPTION_WEIGHTS_ENV)]
)
def test_inceptions_by_name_read_their_weights_from_the_environment(name, variable, monkeypatch):
    monkeypatch.delenv(variable, raising=False)
    with pytest.raises(FileNotFoundError, match=variable):
        get_extractor(name)
