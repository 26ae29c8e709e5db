"""Scores an exported generator: prints one JSON line of metrics, saves eval_metrics.json.

  python -m train.evaluate --saved_model=PATH [--extractor=digits|inception]
  python -m train.evaluate --model_dir=DIR   (scores DIR/export/)
  python -m train.evaluate --zoo=NAME        (scores zoo/NAME/ of this repo)

A generator export is a TF SavedModel whose `serving_default` signature maps
`z: float32[None, z_dim]` to `{"images": float32[None, H, W, C]}` in [-1, 1],
with a `model_card.json` holding `z_dim` beside `saved_model.pb`.
eval_metrics.json is written into that same directory.
"""

import json
import os
import sys

from absl import app, flags

_MODEL_DIR = flags.DEFINE_string(
    "model_dir", None, "Training directory; its generator export is in export/."
)
_SAVED_MODEL = flags.DEFINE_string("saved_model", None, "Generator SavedModel directory.")
_ZOO = flags.DEFINE_string("zoo", None, "Name of a generator under zoo/.")
_DATASET = flags.DEFINE_string(
    "dataset", "mnist5k", "Dataset of the real images (bssn_tf.data name)."
)
_REAL_SPLIT = flags.DEFINE_string("real_split", "train", "Split of the real images.")
_NUM_REAL = flags.DEFINE_integer(
    "num_real", None, "Use at most this many real images (default: the whole split)."
)
_NUM_SAMPLES = flags.DEFINE_integer("num_samples", 10000, "Number of generated images.")
_EXTRACTOR = flags.DEFINE_string("extractor", "digits", "Feature extractor: digits or inception.")
_INCEPTION_WEIGHTS = flags.DEFINE_string(
    "inception_weights", None, "Keras Inception-v3 .h5 weights (default: $BSSN_INCEPTION_WEIGHTS)."
)
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 500, "Images per forward pass.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the latent vectors.")

_REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_PROGRESS_BAR_MIN_IMAGES = 2000
_EXTRACTOR_NAMES = ("digits", "inception")


class FlagError(ValueError):
    """A bad flag value; the message starts with the flag."""


def _export_dir():
    """The SavedModel directory named by exactly one of the three model flags."""
    given = [
        (name, flag.value)
        for name, flag in (("model_dir", _MODEL_DIR), ("saved_model", _SAVED_MODEL), ("zoo", _ZOO))
        if flag.value
    ]
    if len(given) != 1:
        raise FlagError(
            "give exactly one of --model_dir, --saved_model, --zoo; got "
            f"{', '.join('--' + name for name, _ in given) or 'none'}."
        )
    name, value = given[0]
    if name == "model_dir":
        path = os.path.join(value, "export")
    elif name == "zoo":
        path = os.path.join(_REPO_ROOT, "zoo", value)
    else:
        path = value
    if not os.path.isdir(path):
        hint = ""
        if name == "zoo":
            zoo_root = os.path.join(_REPO_ROOT, "zoo")
            names = sorted(os.listdir(zoo_root)) if os.path.isdir(zoo_root) else []
            hint = f" Zoo entries here: {', '.join(names) or 'none'}."
        raise FlagError(f"--{name}={value}: no generator export directory at {path}.{hint}")
    card_path = os.path.join(path, "model_card.json")
    if not os.path.isfile(card_path):
        raise FlagError(f"--{name}={value}: {card_path} is missing; it must hold z_dim.")
    return path


def _check_flags():
    if _EXTRACTOR.value not in _EXTRACTOR_NAMES:
        raise FlagError(
            f"--extractor={_EXTRACTOR.value}: expected one of {'|'.join(_EXTRACTOR_NAMES)}."
        )
    minimums = ((_NUM_SAMPLES, 2), (_NUM_REAL, 2), (_BATCH_SIZE, 1))
    for flag, minimum in minimums:
        if flag.value is not None and flag.value < minimum:
            raise FlagError(f"--{flag.name}={flag.value}: must be at least {minimum}.")


def _load_sample_fn(export_dir):
    """(sample_fn, z_dim) from a generator SavedModel and its model card."""
    import tensorflow as tf

    with open(os.path.join(export_dir, "model_card.json")) as handle:
        card = json.load(handle)
    if not isinstance(card.get("z_dim"), int) or card["z_dim"] < 1:
        raise ValueError(
            f"{export_dir}/model_card.json: z_dim must be a positive "
            f"integer; got {card.get('z_dim')!r}."
        )
    serving = tf.saved_model.load(export_dir).signatures.get("serving_default")
    if serving is None:
        raise ValueError(f"{export_dir} has no serving_default signature.")

    def sample_fn(z):
        return serving(z=tf.constant(z))["images"].numpy()

    return sample_fn, card["z_dim"]


def _extractor():
    from bssn_tf import metrics

    if _EXTRACTOR.value == "inception":
        return metrics.make_inception_extractor(_INCEPTION_WEIGHTS.value or "env")
    return _EXTRACTOR.value


def main(argv):
    if len(argv) > 1:
        sys.exit(f"evaluate: error: unexpected arguments {argv[1:]}.")
    try:
        _check_flags()
        export_dir = _export_dir()
        from bssn_tf import data, metrics
        from bssn_tf.io import write_json_atomically

        sample_fn, z_dim = _load_sample_fn(export_dir)
        real_images = data.load_array(_DATASET.value, _REAL_SPLIT.value, limit=_NUM_REAL.value)
        results = metrics.evaluate_generator(
            sample_fn,
            real_images,
            extractor=_extractor(),
            num_samples=_NUM_SAMPLES.value,
            batch_size=_BATCH_SIZE.value,
            seed=_SEED.value,
            z_dim=z_dim,
            progress=_NUM_SAMPLES.value + len(real_images) >= _PROGRESS_BAR_MIN_IMAGES,
        )
    except (ValueError, FileNotFoundError) as error:
        sys.exit(f"evaluate: error: {' '.join(str(error).split())}")
    results.update(
        dataset=_DATASET.value, real_split=_REAL_SPLIT.value, export_dir=os.path.abspath(export_dir)
    )
    write_json_atomically(os.path.join(export_dir, "eval_metrics.json"), results)
    print(json.dumps(results, sort_keys=True))


if __name__ == "__main__":
    app.run(main)
