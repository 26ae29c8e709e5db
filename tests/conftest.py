"""Splits the CPU into two logical devices before TensorFlow starts.

MirroredStrategy tests need two replicas; the split must happen before any
TensorFlow op runs, so it lives here rather than in a test.

The whole suite runs in one process, so every test also gets its own range
of collective keys: two MirroredStrategy objects over the same devices
otherwise start at the same keys, and the runtime's cached collective of an
earlier test (its shapes) meets the next test's. TensorFlow's own tests bump
the same class attribute for the same reason.
"""

import os

import keras
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

if keras.backend.backend() == "tensorflow":
    import tensorflow as tf

    _cpus = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(
        _cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2
    )

    @pytest.fixture(autouse=True)
    def _distinct_collective_keys():
        tf.distribute.MirroredStrategy._collective_key_base += 100000
        yield
