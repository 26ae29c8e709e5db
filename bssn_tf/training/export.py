"""The generator as a SavedModel: `serving_default(z) -> {"images"}`, plus its model card.

A class-conditional generator's signature is `serving_default(z, labels) -> {"images"}`,
labels int32 `[N]`; its card records `num_classes` (0 for unconditional ones).
"""

import os
import tempfile

import tensorflow as tf

from bssn_tf.io import replace_directory_atomically, write_json_atomically
from bssn_tf.io.provenance import hardware_description, software_versions
from bssn_tf.training.run_directory import STAGING_PREFIX
from bssn_tf.zoo.integrity import CARD, file_manifest


class _GeneratorModule(tf.Module):
    def __init__(self, generator, z_dim, num_classes):
        super().__init__()
        self.generator = generator
        z_spec = tf.TensorSpec([None, z_dim], tf.float32, name="z")
        if num_classes:
            self.serve = tf.function(
                lambda z, labels: {
                    "images": tf.cast(self.generator([z, labels], training=False), tf.float32)
                },
                input_signature=[z_spec, tf.TensorSpec([None], tf.int32, name="labels")],
            )
        else:
            self.serve = tf.function(
                lambda z: {"images": tf.cast(self.generator(z, training=False), tf.float32)},
                input_signature=[z_spec],
            )


def export_generator(generator, z_dim, path, card, num_classes=0):
    """Writes the folder `path` (SavedModel and model_card.json) and returns `path`.

    The export is assembled in a temporary folder beside `path` and renamed into
    place, so the folder is never half-written; an older export is replaced. The
    card lists the sha256 and size of every other file, so `bssn_tf.zoo.load`
    verifies the export like any zoo model. `num_classes` > 0 exports the
    `(z, labels)` signature of a class-conditional generator.
    """
    final = os.fspath(path)
    staging = tempfile.mkdtemp(dir=os.path.dirname(os.path.abspath(final)), prefix=STAGING_PREFIX)
    module = _GeneratorModule(generator, z_dim, num_classes)
    tf.saved_model.save(module, staging, signatures={"serving_default": module.serve})
    write_json_atomically(
        os.path.join(staging, CARD),
        dict(
            card,
            z_dim=z_dim,
            num_classes=num_classes,
            software=software_versions(),
            hardware=hardware_description(),
            files=file_manifest(staging),
        ),
    )
    os.chmod(staging, 0o755)  # mkdtemp makes it private; an export is meant to be shared
    replace_directory_atomically(staging, final)
    return final
