"""`tf.distribute` strategies by name, and which worker is the chief."""

import tensorflow as tf


def make_strategy(name):
    """default | mirrored | multiworker (TF_CONFIG) | tpu (TPUClusterResolver)."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        # All GPUs, or else all logical CPUs (one unless the CPU was split).
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([device.name for device in devices])
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    raise ValueError(f"strategy must be default, mirrored, multiworker or tpu; got {name!r}.")


def is_chief(strategy):
    """True on the one worker that writes files: the only one, or worker 0 / the chief."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief


def worker_id(strategy):
    """A name for this worker's private files ("chief" on the chief)."""
    if is_chief(strategy):
        return "chief"
    resolver = strategy.cluster_resolver
    return f"{resolver.task_type}{resolver.task_id}"
