"""The generator as a SavedModel: `serving_default(z) -> {"images"}`, plus its model card."""
import os
import platform
import tempfile

import keras
import numpy as np
import tensorflow as tf

from bssn_tf.metrics.atomic_files import replace_directory_atomically, write_json_atomically

EXPORT_DIR = "export"


class _GeneratorModule(tf.Module):
    def __init__(self, generator, z_dim):
        super().__init__()
        self.generator = generator
        self.serve = tf.function(
            lambda z: {"images": tf.cast(self.generator(z, training=False), tf.float32)},
            input_signature=[tf.TensorSpec([None, z_dim], tf.float32, name="z")])


def software_versions():
    import bssn_tf

    return {"bssn_tf": bssn_tf.__version__, "tensorflow": tf.__version__,
            "keras": keras.__version__, "numpy": np.__version__,
            "python": platform.python_version()}


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def hardware_description():
    """Where the run happened, so wall times in a card can be compared."""
    return {"machine": platform.machine(), "processor": _cpu_model(),
            "cpu_count": os.cpu_count(),
            "intra_op_threads": (tf.config.threading.get_intra_op_parallelism_threads()
                                 or os.environ.get("TF_NUM_INTRAOP_THREADS", "default")),
            "devices": sorted({device.device_type
                               for device in tf.config.list_logical_devices()})}


def export_generator(generator, z_dim, model_dir, card):
    """Writes model_dir/export/ (SavedModel and model_card.json) and returns its path.

    The export is assembled in a temporary folder and renamed into place, so
    `export/` is never half-written; an older export is replaced.
    """
    final = os.path.join(model_dir, EXPORT_DIR)
    staging = tempfile.mkdtemp(dir=model_dir, prefix=".export-")
    module = _GeneratorModule(generator, z_dim)
    tf.saved_model.save(module, staging, signatures={"serving_default": module.serve})
    write_json_atomically(os.path.join(staging, "model_card.json"),
                          dict(card, z_dim=z_dim, software=software_versions(),
                               hardware=hardware_description()))
    replace_directory_atomically(staging, final)
    return final
