"""TensorBoard scalar summaries written with TensorFlow alone.

`tf.summary.scalar` lives in the `tensorboard` package, which TensorFlow no
longer installs; `tf.summary.write` with the scalars plugin's metadata writes
the very same event records, which TensorBoard reads as scalars.
"""

import tensorflow as tf
from tensorflow.core.framework import summary_pb2

_SCALAR_METADATA = summary_pb2.SummaryMetadata(
    plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars")
)


def scalar(name, value, step):
    """Writes one float32 scalar to the default summary writer."""
    return tf.summary.write(name, tf.cast(value, tf.float32), step=step, metadata=_SCALAR_METADATA)
