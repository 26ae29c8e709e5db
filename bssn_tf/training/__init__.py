"""GAN training: config, losses, the paper's step schedule, checkpoints, export."""

from bssn_tf.training.checkpoints import NonFiniteLossError
from bssn_tf.training.config import MODEL_FIELDS, ConfigError, TrainConfig
from bssn_tf.training.gan_trainer import GANTrainer
from bssn_tf.training.loop import train
from bssn_tf.training.losses import LOSSES

__all__ = [
    "ConfigError",
    "GANTrainer",
    "LOSSES",
    "MODEL_FIELDS",
    "NonFiniteLossError",
    "TrainConfig",
    "train",
]
