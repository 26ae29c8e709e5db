"""What a record says about where it was made: software versions and the machine.

Model cards of exports and the digit classifier's card take these from here.
TensorFlow is imported when they are called, not when this module is.
"""

import os
import platform


def software_versions():
    """{"bssn_tf", "tensorflow", "keras", "numpy", "python"} versions of this process."""
    import keras
    import numpy as np
    import tensorflow as tf

    import bssn_tf

    return {
        "bssn_tf": bssn_tf.__version__,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


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
    import tensorflow as tf

    return {
        "machine": platform.machine(),
        "processor": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "intra_op_threads": (
            tf.config.threading.get_intra_op_parallelism_threads()
            or os.environ.get("TF_NUM_INTRAOP_THREADS", "default")
        ),
        "devices": sorted({device.device_type for device in tf.config.list_logical_devices()}),
    }
