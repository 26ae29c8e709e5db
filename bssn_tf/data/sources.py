"""Turns a `--dataset` value into a DatasetSpec: a registered name, an image folder or any
prepared TFDS image dataset.

- a name of `DATASETS` (mnist5k, cifar10, ...): the paper's crops and sizes;
- `folder:PATH`: the user's images (bssn_tf.data.image_folder), class subfolders as labels;
- `tfds:NAME[/CONFIG][:SPLIT]`: the first image feature of a prepared TFDS dataset,
  and its `label` feature when it has a ClassLabel one, cut to the central square
  and resized by area like a folder.
Folders and TFDS datasets need an explicit image size; `channels` overrides theirs.
"""

from typing import Optional

import tensorflow_datasets as tfds

from bssn_tf.command_line import first_line
from bssn_tf.data import image_folder
from bssn_tf.data.errors import DatasetUnavailableError
from bssn_tf.data.specs import DATASETS, DatasetSpec

TFDS_PREFIX = "tfds:"
CHANNELS = (1, 3)


def is_dataset_name(dataset):
    """Whether `dataset` is a registered name or a folder:/tfds: source (not whether it exists)."""
    return dataset in DATASETS or (
        isinstance(dataset, str)
        and (dataset.startswith(image_folder.PREFIX) or dataset.startswith(TFDS_PREFIX))
        and len(dataset.split(":", 1)[1]) > 0
    )


def resolve_dataset(
    dataset: str,
    image_size: Optional[int] = None,
    channels: Optional[int] = None,
    data_dir: Optional[str] = None,
    skip_bad_images: bool = False,
) -> DatasetSpec:
    """The DatasetSpec of a `--dataset` value, preparing an image folder on first use."""
    if dataset in DATASETS:
        return DATASETS[dataset]
    if not is_dataset_name(dataset):
        raise ValueError(
            f"Unknown dataset {dataset!r}; expected one of {sorted(DATASETS)}, folder:PATH "
            "or tfds:NAME[/CONFIG][:SPLIT]."
        )
    if image_size is None:
        raise ValueError(f"{dataset}: an image folder or TFDS dataset needs an image size.")
    if channels is not None and channels not in CHANNELS:
        raise ValueError(f"channels must be 1 or 3; got {channels}.")
    path = image_folder.folder_path(dataset)
    if path is not None:
        builder_dir, record = image_folder.prepare_folder(
            path, image_size, image_folder.data_root(data_dir), channels, skip_bad_images
        )
        return DatasetSpec(
            name="folder",
            tfds_name=builder_dir,
            image_size=image_size,
            channels=record["channels"],
            builds_offline=True,
            num_classes=len(record["class_names"]),
            builder_dir=builder_dir,
            resize_method="area",
            class_names=tuple(record["class_names"]),
            fingerprint=record["fingerprint"],
            num_images=record["num_images"],
        )
    return _tfds_spec(dataset[len(TFDS_PREFIX) :], image_size, channels, data_dir)


def _tfds_spec(reference, image_size, channels, data_dir):
    name, _, split = reference.partition(":")
    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except Exception as error:  # TFDS raises several types for an unknown name
        raise DatasetUnavailableError(
            f"tfds:{name}: no such TFDS dataset ({first_line(error)})"
        ) from None
    features = builder.info.features
    image_keys = [
        key for key, feature in features.items() if isinstance(feature, tfds.features.Image)
    ]
    if not image_keys:
        raise ValueError(f"tfds:{name} has no image feature; features: {sorted(features)}.")
    label = features["label"] if "label" in features.keys() else None
    labelled = isinstance(label, tfds.features.ClassLabel)
    stored_channels = features[image_keys[0]].shape[-1]
    spec = DatasetSpec(
        name=f"tfds:{reference}",
        tfds_name=name,
        image_size=image_size,
        channels=channels or (1 if stored_channels == 1 else 3),
        train_split=split or "train",
        crop_square=True,
        num_classes=label.num_classes if labelled else 0,
        image_key=image_keys[0],
        resize_method="area",
        class_names=tuple(label.names) if labelled else (),
    )
    return spec
