"""Sample grids written during training, from one fixed batch of z for the whole run."""

import os

from bssn_tf.io import write_grid_png

SAMPLES_DIR = "samples"


def write_sample_grid(model_dir, step, images, columns=None):
    """Writes model_dir/samples/step_XXXXXXX.png; returns its path."""
    path = os.path.join(model_dir, SAMPLES_DIR, f"step_{step:07d}.png")
    write_grid_png(path, images, columns)
    return path
