"""tf.data pipelines over TFDS: every dataset yields float32 (size, size, C) images in [-1, 1]."""

import os
from typing import Optional, Union

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds
from tensorflow_datasets.core import constants as tfds_constants

# Registers the offline builders with TFDS, so tfds.builder("mnist5k") resolves.
from bssn_tf.command_line import first_line
from bssn_tf.data import digits, mnist5k  # noqa: F401
from bssn_tf.data.errors import DatasetUnavailableError, TooFewImagesError
from bssn_tf.data.image_folder import preparation_lock
from bssn_tf.data.preprocessing import preprocess_image
from bssn_tf.data.specs import DATASETS, DatasetSpec, get_spec
from bssn_tf.io.checks import check_int

DatasetLike = Union[str, DatasetSpec]

DEFAULT_SHUFFLE_BUFFER = 10_000


def load_images(
    name: DatasetLike,
    split: str = "train",
    image_size: Optional[int] = None,
    data_dir: Optional[str] = None,
    manual_dir: Optional[str] = None,
    download: bool = False,
    with_labels: bool = False,
) -> tf.data.Dataset:
    """Unbatched float32 images of `name` in [-1, 1], in the stored (deterministic) order.

    `split` is a TFDS split string ("train", "test[:10%]", ...). Datasets that are not
    yet prepared in `data_dir` are built when possible without network (the offline
    datasets, or imagenet2012 from `manual_dir`) or when `download=True`; otherwise
    `DatasetUnavailableError` says how to obtain them. With `with_labels`, elements are
    `(image, int32 label)` pairs (see `require_labels`).
    """
    return _preprocessed_images(
        name, split, image_size, data_dir, manual_dir, download, with_labels=with_labels
    )


def _preprocessed_images(
    name, split, image_size, data_dir, manual_dir, download, with_labels=False, autocache=True
) -> tf.data.Dataset:
    spec = _as_spec(name)
    size = _output_size(spec, image_size)
    examples = _stored_images(
        spec, split, data_dir, manual_dir, download, with_labels=with_labels, autocache=autocache
    )
    return examples.map(_preprocessor(spec, size), num_parallel_calls=tf.data.AUTOTUNE)


def training_batches(
    name: DatasetLike,
    global_batch_size: int,
    seed: int,
    image_size: Optional[int] = None,
    data_dir: Optional[str] = None,
    manual_dir: Optional[str] = None,
    shuffle_buffer: int = DEFAULT_SHUFFLE_BUFFER,
    download: bool = False,
    with_labels: bool = False,
) -> tf.data.Dataset:
    """Endless batches [global_batch_size, size, size, C] of the spec's training split.

    The order depends only on `seed`: files are read in order and shuffled with a seeded
    buffer that reshuffles every epoch. Shuffling happens before decoding to float so
    the buffer holds compact uint8 images. Incomplete final batches are dropped so
    every step (and every replica's share under tf.distribute) has a static shape.
    With `with_labels`, batches are `(images, int32 labels [global_batch_size])`; the
    images are the same as without.
    """
    for arg_name, value in (
        ("global_batch_size", global_batch_size),
        ("shuffle_buffer", shuffle_buffer),
    ):
        check_int(arg_name, value, 1, numpy_ints=True)
    spec = _as_spec(name)
    size = _output_size(spec, image_size)
    examples = _stored_images(
        spec, spec.train_split, data_dir, manual_dir, download, with_labels=with_labels
    )
    return (
        examples.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
        .repeat()
        .map(_preprocessor(spec, size), num_parallel_calls=tf.data.AUTOTUNE)
        .batch(global_batch_size, drop_remainder=True)
        .prefetch(tf.data.AUTOTUNE)
    )


def load_array(
    name: DatasetLike,
    split: str,
    image_size: Optional[int] = None,
    limit: Optional[int] = None,
    data_dir: Optional[str] = None,
    manual_dir: Optional[str] = None,
    download: bool = False,
    with_labels: bool = False,
):
    """The first `limit` images of a split (all if None) as float32 [N, H, W, C] in [-1, 1].

    Used as the real-image reference of evaluation metrics, so asking for more images
    than the split holds is an error rather than a silently smaller reference.
    With `with_labels`, returns `(images, int32 labels [N])`.
    """
    # Read once, so TFDS's cache of small datasets would only be filled and
    # dropped (and, cut short by take(), warn that it was discarded).
    examples = _preprocessed_images(
        name,
        split,
        image_size,
        data_dir,
        manual_dir,
        download,
        with_labels=with_labels,
        autocache=False,
    )
    if limit is not None:
        check_int("limit", limit, 1, numpy_ints=True)
        examples = examples.take(limit)
    batches = list(examples.batch(1024).as_numpy_iterator())
    if with_labels:
        images, labels = (np.concatenate(parts, axis=0) for parts in zip(*batches))
    else:
        images = np.concatenate(batches, axis=0)
    if limit is not None and len(images) < limit:
        raise TooFewImagesError(
            f"Split {split!r} of dataset {_as_spec(name).name!r} holds {len(images)} images, "
            f"fewer than limit={limit}.",
            available=len(images),
        )
    return (images, labels) if with_labels else images


def require_labels(spec: DatasetSpec) -> None:
    """Raises ValueError unless the spec's training split has a `label` feature."""
    if not spec.num_classes:
        raise ValueError(
            f"Dataset {spec.name!r} has no class labels in its training split "
            f"{spec.train_split!r}; class-conditional use needs a labelled dataset, one of "
            f"{sorted(name for name, other in DATASETS.items() if other.num_classes)}."
        )


def _preprocessor(spec: DatasetSpec, size: int):
    """`preprocess_image` on an image, or on the image of an `(image, label)` pair."""

    def preprocess(image, label=None):
        image = preprocess_image(image, spec, size)
        return image if label is None else (image, label)

    return preprocess


def _stored_images(
    spec: DatasetSpec,
    split: str,
    data_dir,
    manual_dir,
    download,
    with_labels=False,
    autocache=True,
) -> tf.data.Dataset:
    """Decoded uint8 images of a split (with int32 labels if asked), preparing the dataset
    first if that is possible here. With `autocache`, TFDS keeps a small split in memory
    after the first pass."""
    if with_labels:
        require_labels(spec)
    if spec.builder_dir is not None:  # an image folder, prepared when it was resolved
        builder = tfds.builder_from_directory(spec.builder_dir)
    else:
        builder = tfds.builder(spec.tfds_name, data_dir=data_dir)
        if not _is_prepared(builder):
            _prepare(spec, builder, manual_dir, download)
            # A builder made before the files existed knows no splits; read them afresh.
            builder = tfds.builder(spec.tfds_name, data_dir=data_dir)
    examples = builder.as_dataset(
        split=split, shuffle_files=False, read_config=tfds.ReadConfig(try_autocache=autocache)
    )
    image_key, label_key = spec.image_key, spec.label_key
    if with_labels:
        return examples.map(
            lambda example: (example[image_key], tf.cast(example[label_key], tf.int32))
        )
    return examples.map(lambda example: example[image_key])


def _is_prepared(builder) -> bool:
    """builder.is_prepared(), without its warning about the empty folder that TFDS itself made."""
    return all(
        os.path.exists(os.path.join(builder.data_dir, name))
        for name in (tfds_constants.DATASET_INFO_FILENAME, tfds_constants.FEATURES_FILENAME)
    )


def _prepare(spec: DatasetSpec, builder, manual_dir, download) -> None:
    """Builds an unprepared dataset if that can work here, else raises DatasetUnavailableError.

    Offline datasets always build (a missing optional package raises ImportError).
    Without `download` or `manual_dir` nothing is attempted for downloadable datasets:
    TFDS would otherwise retry an unreachable network for minutes before failing.
    TFDS writes into a temporary folder and renames it when done, so a failed build
    leaves no partial dataset behind.
    """
    if spec.builds_offline:
        with preparation_lock(os.path.dirname(builder.data_dir)):
            if not _is_prepared(builder):
                builder.download_and_prepare()
        return
    if manual_dir is None and not download:
        raise DatasetUnavailableError(_unavailable_message(spec, builder, reason=None))
    config = tfds.download.DownloadConfig(
        manual_dir=None if manual_dir is None else os.fspath(manual_dir)
    )
    try:
        builder.download_and_prepare(download_config=config)
    except Exception as error:
        # Network, checksum and manual_dir failures all mean "not obtainable here".
        raise DatasetUnavailableError(
            _unavailable_message(spec, builder, f"{type(error).__name__}: {first_line(error)}")
        ) from None


def _unavailable_message(spec: DatasetSpec, builder, reason: Optional[str]) -> str:
    data_dir = builder.data_dir
    root = os.path.dirname(os.path.dirname(data_dir))
    lines = [
        f"Dataset {spec.name!r} (TFDS {spec.tfds_name} {builder.version}) is not prepared "
        f"in {data_dir}"
        + (
            f" and could not be built: {reason}"
            if reason
            else " and no download was attempted (download=False, no manual_dir)."
        ),
        "To get it:",
    ]
    if spec.needs_manual_dir:
        lines.append(
            "  - put the ILSVRC2012 tar files (ILSVRC2012_img_train.tar, "
            "ILSVRC2012_img_val.tar) in a folder and pass manual_dir=THAT_FOLDER;"
        )
    else:
        lines.append(
            f"  - with network access here, run `tfds build {spec.tfds_name} --data_dir={root}` "
            "(from Python: pass download=True to bssn_tf.data; the training and "
            "evaluation scripts never download);"
        )
    lines += [
        f"  - or prepare it on a connected machine with `tfds build {spec.tfds_name} "
        f"--data_dir=DIR{' --manual_dir=TARS' if spec.needs_manual_dir else ''}` and "
        f"copy DIR/{spec.tfds_name} into {root} (or pass data_dir=DIR);",
        "  - or train on an offline dataset, 'mnist5k' (default) or 'digits', which "
        "build from installed packages.",
    ]
    return "\n".join(lines)


def _as_spec(dataset: DatasetLike) -> DatasetSpec:
    """A DatasetSpec as given (folders and TFDS sources come resolved), or a registered name's."""
    return dataset if isinstance(dataset, DatasetSpec) else get_spec(dataset)


def _output_size(spec: DatasetSpec, image_size: Optional[int]) -> int:
    if image_size is None:
        return spec.image_size
    check_int("image_size", image_size, 1, numpy_ints=True)
    return image_size
