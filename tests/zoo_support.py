"""Shared by the zoo tests: a tiny generator exported as a zoo, served over http, and helpers."""

import contextlib
import functools
import hashlib
import http.server
import json
import os
import pathlib
import subprocess
import sys
import threading

import keras
import numpy as np
import tensorflow as tf

from bssn_tf import zoo
from bssn_tf.io import image_grid, write_bytes_atomically, write_json_atomically
from bssn_tf.io.hashing import sha256_of
from bssn_tf.zoo import integrity, registry

ROOT = pathlib.Path(__file__).resolve().parent.parent
Z_DIM = 4
IMAGE_SHAPE = [4, 4, 1]
NAME = "tiny"


def tiny_generator():
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((Z_DIM,)),
            keras.layers.Dense(16),
            keras.layers.Reshape(IMAGE_SHAPE),
            keras.layers.Activation("tanh"),
        ]
    )


def read_card(directory):
    return json.loads((pathlib.Path(directory) / integrity.CARD).read_text())


def write_card(directory, card):
    write_json_atomically(os.path.join(directory, integrity.CARD), card)


def rehash(directory):
    """Lists the folder's current files in its card, as a publisher would."""
    write_card(directory, dict(read_card(directory), files=integrity.file_manifest(directory)))


def card_pin(directory):
    """The sha256 of a folder's model_card.json: what a caller pins."""
    return hashlib.sha256((pathlib.Path(directory) / integrity.CARD).read_bytes()).hexdigest()


def finish_model_dir(directory, network):
    """Adds what a zoo folder holds beyond the export: sample grid, reference output, checksums."""
    z = zoo.latents(8, 0, Z_DIM)
    images = network(z, training=False).numpy()
    write_bytes_atomically(
        os.path.join(directory, "samples.png"), tf.io.encode_png(image_grid(images)).numpy()
    )
    np.savez(os.path.join(directory, "reference_output.npz"), z=z, images=images)
    rehash(directory)


def export_module(module, directory):
    """A zoo-style folder (SavedModel + card with checksums) from a tf.Module with `serve`."""
    tf.saved_model.save(module, str(directory), signatures={"serving_default": module.serve})
    write_card(directory, {"z_dim": Z_DIM, "image_shape": IMAGE_SHAPE, "files": {}})
    rehash(directory)
    return directory


def write_index(root, names):
    models = {
        name: {
            "path": name,
            "summary": {"norm": "bssn", "fcd": 1.5},
            "card_sha256": sha256_of(root / name / integrity.CARD),
        }
        for name in names
    }
    write_json_atomically(root / registry.INDEX, {"format": 1, "models": models})


@contextlib.contextmanager
def serving(directory):
    """Serves `directory` over http on 127.0.0.1; yields (base URL, list of request paths)."""
    requests = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            requests.append(self.path)

    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=str(directory))
    )
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", requests
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def variables_data(model_dir):
    [path] = pathlib.Path(model_dir, "variables").glob("variables.data-*")
    return path


def flip_byte(path, offset=0):
    payload = bytearray(path.read_bytes())
    payload[offset] ^= 0xFF
    path.write_bytes(bytes(payload))


def expected_images(network, z):
    return network(z, training=False).numpy()


def run_cli(*args, cwd, zoo_root=None, python_args=(), env=None, quiet_tensorflow=True):
    """`python [python_args] -m bssn_tf.zoo args` in a fresh process.

    Without `env`, this checkout's bssn_tf comes first on PYTHONPATH, whatever `cwd` is.
    `quiet_tensorflow` sets TF_CPP_MIN_LOG_LEVEL=3 for the child; without it, the CLI's
    own quieting is what is tested.
    """
    if env is None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    if quiet_tensorflow:
        env = dict(env, TF_CPP_MIN_LOG_LEVEL="3")
    if zoo_root is not None:
        env[registry.ZOO_DIR_ENV] = str(zoo_root)
    return subprocess.run(
        [sys.executable, *python_args, "-m", "bssn_tf.zoo", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
