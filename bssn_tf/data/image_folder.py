"""A folder of the user's own images as a prepared TFDS dataset, decoded and resized once.

`--dataset=folder:PATH` trains on every PNG, JPEG, BMP and GIF (first frame)
under PATH. If PATH holds only subfolders, each subfolder is a class, in
sorted name order (as `keras.utils.image_dataset_from_directory` infers
them); otherwise the images are unlabelled, nested folders included.

Each image is decoded with `tf.io.decode_image`, cut to its largest central
square and resized with `tf.image.resize(method="area")` (the mean of the
source pixels each output pixel covers, so downscaling does not alias). The
results are written once, as uint8, with `tfds.dataset_builders.store_as_tfds_dataset`
into the TFDS data folder under a name derived from the folder's fingerprint,
the size and the channels; later runs and resumes read that dataset and
decode nothing. The fingerprint is the sha256 of the sorted relative file
names with their sizes and modification times, so any change to the folder
makes a new dataset, and a resumed run can tell that its folder changed.

Keras' `image_dataset_from_directory` does the same decoding but yields
batches without saying which file failed to decode, and re-decodes on every
epoch; decoding file by file here names a bad file in one line (or skips it
with `skip_bad_images`), and the cache makes every later run fast.
"""

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import shutil
import sys
from typing import Optional

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from bssn_tf.command_line import first_line
from bssn_tf.data.errors import DatasetUnavailableError
from bssn_tf.data.preprocessing import central_square
from bssn_tf.io import write_json_atomically

IMAGE_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
PREFIX = "folder:"
VERSION_NAME = "1.0.0"
SOURCE_FILE = "bssn_tf_source.json"
# How many names of skipped files a message lists.
NAMED_SKIPS = 5
PROGRESS_EVERY = 500


class ImageFolderError(DatasetUnavailableError):
    """A folder that cannot be trained on: missing, empty, or holding an undecodable file."""


@dataclasses.dataclass(frozen=True)
class FolderListing:
    """What a folder holds: relative image paths (sorted), their labels and the class names."""

    root: str
    relpaths: tuple
    labels: tuple  # one int per image; all 0 without classes
    class_names: tuple  # () for a flat folder
    fingerprint: str


def list_folder(root):
    """The images under `root`, with classes when it holds only subfolders."""
    if not os.path.exists(root):
        raise ImageFolderError(f"dataset folder {root} does not exist.")
    if not os.path.isdir(root):
        raise ImageFolderError(f"dataset folder {root} is not a folder.")
    entries = sorted(os.listdir(root))
    top_images = [name for name in entries if _is_image(os.path.join(root, name))]
    subfolders = [name for name in entries if os.path.isdir(os.path.join(root, name))]
    class_names = tuple(subfolders) if subfolders and not top_images else ()
    relpaths, labels = [], []
    for label, class_name in enumerate(class_names or [None]):
        found = _images_under(root, class_name)
        if class_name is not None and not found:
            raise ImageFolderError(
                f"class folder {os.path.join(root, class_name)} holds no images "
                f"({', '.join(IMAGE_EXTENSIONS)})."
            )
        relpaths += found
        labels += [label] * len(found)
    if not relpaths:
        raise ImageFolderError(
            f"dataset folder {root} holds no images ({', '.join(IMAGE_EXTENSIONS)})."
        )
    return FolderListing(
        root, tuple(relpaths), tuple(labels), class_names, _fingerprint(root, relpaths)
    )


def _is_image(path):
    return os.path.isfile(path) and path.lower().endswith(IMAGE_EXTENSIONS)


def _images_under(root, class_name):
    start = root if class_name is None else os.path.join(root, class_name)
    found = []
    for folder, dirnames, filenames in os.walk(start):
        dirnames.sort()
        for name in sorted(filenames):
            path = os.path.join(folder, name)
            if _is_image(path):
                found.append(os.path.relpath(path, root).replace(os.sep, "/"))
    return found


def _fingerprint(root, relpaths):
    """sha256 of the sorted (relative name, size, mtime in ns) of every image."""
    entries = []
    for relpath in relpaths:
        status = os.stat(os.path.join(root, *relpath.split("/")))
        entries.append([relpath, status.st_size, status.st_mtime_ns])
    return hashlib.sha256(json.dumps(entries).encode("utf-8")).hexdigest()


def dataset_name(listing, image_size, channels, skip_bad_images):
    """The TFDS name of the prepared folder: the same inputs always give the same name."""
    key = json.dumps([listing.fingerprint, image_size, channels, skip_bad_images])
    return "bssn_folder_" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def decode_square(contents, image_size):
    """Encoded image bytes -> float32 [image_size, image_size, 3] in 0..255 and its grayness.

    Grayscale (with or without alpha) is repeated to three channels; RGBA drops
    alpha, as PIL's convert("RGB") does; palette images decode to RGB.
    """
    image = tf.io.decode_image(contents, channels=0, expand_animations=False)
    stored_channels = int(image.shape[-1])
    if stored_channels in (1, 2):
        image = tf.repeat(image[..., :1], 3, axis=-1)
    else:
        image = image[..., :3]
    gray = stored_channels in (1, 2) or bool(
        tf.reduce_all(image[..., 0] == image[..., 1])
        and tf.reduce_all(image[..., 1] == image[..., 2])
    )
    square = tf.cast(central_square(image), tf.float32)
    return tf.image.resize(square, (image_size, image_size), method="area"), gray


def _decoded_images(listing, image_size, skip_bad_images):
    """([uint8 RGB images], [labels], all grayscale, [skipped relpaths]), file by file."""
    images, labels, skipped, all_gray = [], [], [], True
    total = len(listing.relpaths)
    for count, (relpath, label) in enumerate(zip(listing.relpaths, listing.labels), 1):
        path = os.path.join(listing.root, *relpath.split("/"))
        try:
            image, gray = decode_square(tf.io.read_file(path), image_size)
        except (tf.errors.OpError, ValueError) as error:
            if not skip_bad_images:
                raise ImageFolderError(
                    f"{path}: cannot be decoded as an image ({first_line(error)}); fix or remove "
                    "it, or pass --skip_bad_images."
                ) from None
            skipped.append(relpath)
            continue
        images.append(np.clip(np.round(image.numpy()), 0, 255).astype(np.uint8))
        labels.append(label)
        all_gray = all_gray and gray
        if count % PROGRESS_EVERY == 0 or count == total:
            print(f"preparing {listing.root}: {count}/{total} images decoded", file=sys.stderr)
    if not images:
        raise ImageFolderError(f"dataset folder {listing.root}: no image could be decoded.")
    return images, labels, all_gray, skipped


def _to_channels(images, channels, all_gray):
    stacked = np.stack(images)
    if channels == 3:
        return stacked
    if all_gray:
        return stacked[..., :1]
    return tf.cast(
        tf.round(tf.image.rgb_to_grayscale(tf.cast(stacked, tf.float32))), tf.uint8
    ).numpy()


def prepare_folder(root, image_size, data_dir, channels=None, skip_bad_images=False):
    """The TFDS builder folder of `root`'s images at `image_size`, built on first use.

    Returns (builder_dir, source record): the record holds the fingerprint,
    image count, channels, class names and skipped files, never `root`.
    """
    listing = list_folder(root)
    name = dataset_name(listing, image_size, channels, skip_bad_images)
    dataset_dir = os.path.join(data_dir, name)
    source_path = os.path.join(dataset_dir, SOURCE_FILE)
    with preparation_lock(dataset_dir):
        if not os.path.exists(source_path):
            shutil.rmtree(dataset_dir, ignore_errors=True)  # what a crashed build left
            record = _build(listing, name, image_size, data_dir, channels, skip_bad_images)
            write_json_atomically(source_path, record)
    with open(source_path, encoding="utf-8") as handle:
        record = json.load(handle)
    if record["skipped"]:
        shown = ", ".join(record["skipped"][:NAMED_SKIPS])
        more = (
            f" and {len(record['skipped']) - NAMED_SKIPS} more"
            if len(record["skipped"]) > NAMED_SKIPS
            else ""
        )
        print(
            f"skipped {len(record['skipped'])} undecodable file(s) of {root}: {shown}{more}",
            file=sys.stderr,
        )
    return os.path.join(dataset_dir, VERSION_NAME), record


@contextlib.contextmanager
def preparation_lock(dataset_dir):
    """Holds an exclusive lock beside `dataset_dir` while it is built.

    Two first runs at once would both build the dataset and one would fail at
    TFDS's final rename; the second waits here, then finds it built.
    """
    os.makedirs(os.path.dirname(os.path.abspath(dataset_dir)), exist_ok=True)
    with open(f"{os.path.abspath(dataset_dir)}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _build(listing, name, image_size, data_dir, channels, skip_bad_images):
    """Decodes the folder and stores it as TFDS dataset `name`; returns its source record."""
    images, labels, all_gray, skipped = _decoded_images(listing, image_size, skip_bad_images)
    chosen = channels or (1 if all_gray else 3)
    stacked = _to_channels(images, chosen, all_gray)
    features = {"image": tfds.features.Image(shape=(image_size, image_size, chosen))}
    examples = {"image": stacked}
    if listing.class_names:
        features["label"] = tfds.features.ClassLabel(names=list(listing.class_names))
        examples["label"] = np.asarray(labels, np.int64)
    _folder_builder(name, tfds.features.FeaturesDict(features), examples)(
        data_dir=data_dir
    ).download_and_prepare()
    return {
        "fingerprint": listing.fingerprint,
        "num_images": len(stacked),
        "channels": chosen,
        "class_names": list(listing.class_names),
        "skipped": skipped,
    }


def _folder_builder(name, features, examples):
    """A TFDS builder class that writes `examples` (arrays, in order) as dataset `name`.

    Unlike tfds.dataset_builders.store_as_tfds_dataset, it announces nothing as a
    download: the decoding progress above already said what happens.
    """

    class FolderBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
        VERSION = tfds.core.Version(VERSION_NAME)

        def _info(self):
            return tfds.core.DatasetInfo(builder=self, features=features, disable_shuffling=True)

        def _split_generators(self, dl_manager):
            del dl_manager  # the images are already decoded, in memory
            return {"train": self._generate_examples()}

        def _generate_examples(self):
            for index in range(len(examples["image"])):
                yield index, {key: values[index] for key, values in examples.items()}

        def _log_download_bytes(self):
            pass

        def _log_download_done(self):
            pass

    FolderBuilder.name = name
    return FolderBuilder


def folder_path(dataset):
    """PATH of a `folder:PATH` dataset name, else None."""
    return dataset[len(PREFIX) :] if dataset.startswith(PREFIX) else None


def data_root(data_dir: Optional[str]):
    """`data_dir`, else $TFDS_DATA_DIR, else ~/tensorflow_datasets (TFDS's own default)."""
    return (
        data_dir or os.environ.get("TFDS_DATA_DIR") or os.path.expanduser("~/tensorflow_datasets")
    )
