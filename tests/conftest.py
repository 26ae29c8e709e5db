"""Splits the CPU into two logical devices before TensorFlow starts.

MirroredStrategy tests need two replicas; the split must happen before any
TensorFlow op runs, so it lives here rather than in a test.
"""

import os

import keras

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

if keras.backend.backend() == "tensorflow":
    import tensorflow as tf

    _cpus = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(
        _cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2
    )
