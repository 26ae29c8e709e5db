"""The generator as a SavedModel: `serving_default(z) -> {"images"}`, plus its model card.

A class-conditional generator's signature is `serving_default(z, labels) -> {"images"}`,
labels int32 `[N]`; its card records `num_classes` (0 for unconditional ones).
"""

import json
import os
import shutil
import tempfile

import tensorflow as tf

from bssn_tf.io import replace_directory_atomically, write_json_atomically
from bssn_tf.io.provenance import hardware_description, software_versions
from bssn_tf.zoo.integrity import CARD, file_manifest

EXPORT_DIR = "export"
# The generator of the evaluation with the lowest FCD so far (with --eval_every).
BEST_EXPORT_DIR = "best_export"


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


def export_generator(generator, z_dim, model_dir, card, folder=EXPORT_DIR, num_classes=0):
    """Writes model_dir/`folder`/ (SavedModel and model_card.json) and returns its path.

    The export is assembled in a temporary folder and renamed into place, so
    the folder is never half-written; an older export is replaced. The card
    lists the sha256 and size of every other file, so `bssn_tf.zoo.load` verifies the
    export like any zoo model. `num_classes` > 0 exports the `(z, labels)`
    signature of a class-conditional generator.
    """
    final = os.path.join(model_dir, folder)
    staging = tempfile.mkdtemp(dir=model_dir, prefix=".export-")
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


def discard_export_after(model_dir, step, folder=BEST_EXPORT_DIR):
    """Removes model_dir/`folder` if it was made after `step` by a run that died.

    On resume, metrics rows past the checkpoint are dropped and redone; an
    export selected by one of those rows must go with them.
    """
    path = os.path.join(model_dir, folder)
    try:
        with open(os.path.join(path, "model_card.json")) as handle:
            exported_step = json.load(handle)["steps"]
    except FileNotFoundError:
        return
    if exported_step > step:
        shutil.rmtree(path)
