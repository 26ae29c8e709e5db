"""What each supported dataset is and how it becomes GAN training images.

Preprocessing choices follow the paper's reference code (fjxmlzn/BSN,
`dataset_preprocess/`), which crops with integer offsets and resizes with
`cv2.resize` (bilinear, no antialiasing):

- stl10: the 100,000 `unlabelled` images (the TFDS split name), 96 -> 48.
- celeb_a: all 202,599 images, central 128x128 crop of the 218x178 aligned face,
  then 64. Other codebases differ: DCGAN-tensorflow crops 108, Mimicry crops 178
  (the full width); FIDs are only comparable under the same crop.
- imagenet2012: largest central square, then 128. TFDS cannot download ImageNet;
  it is built from the ILSVRC2012 tar files in `manual_dir`.
- digits: 8x8 images upsampled bilinearly to 28.
"""

import dataclasses
from typing import Optional


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """A dataset as the GAN sees it.

    Attributes:
      name: key in `DATASETS`.
      tfds_name: name of the TFDS builder that stores the images.
      image_size: default output side length; images are always square.
      channels: 1 (grayscale) or 3 (RGB).
      train_split: TFDS split string the GAN trains on.
      center_crop: side of the fixed central square cut before resizing, if any.
      crop_square: cut the largest central square (for images of varying size).
      needs_manual_dir: TFDS cannot download it; it is built from local files.
      builds_offline: built from an installed package, never downloaded.
      num_classes: classes of the `label` feature of `train_split`; 0 if it has none.
      builder_dir: a prepared TFDS folder to read instead of the builder `tfds_name`
        (an image folder, prepared by bssn_tf.data.image_folder).
      image_key, label_key: the features holding the image and the class label.
      resize_method: tf.image.resize method; "bilinear" (no antialiasing) follows
        the paper's cv2.resize, "area" is used for the user's own images.
      class_names: the label feature's class names, where known.
      fingerprint, num_images: an image folder's content hash and image count.
    """

    name: str
    tfds_name: str
    image_size: int
    channels: int
    train_split: str = "train"
    center_crop: Optional[int] = None
    crop_square: bool = False
    needs_manual_dir: bool = False
    builds_offline: bool = False
    num_classes: int = 0
    builder_dir: Optional[str] = None
    image_key: str = "image"
    label_key: str = "label"
    resize_method: str = "bilinear"
    class_names: tuple = ()
    fingerprint: Optional[str] = None
    num_images: Optional[int] = None

    def __post_init__(self):
        if self.center_crop is not None and self.crop_square:
            raise ValueError(
                f"DatasetSpec {self.name!r}: set center_crop or crop_square, not both."
            )


DATASETS = {
    spec.name: spec
    for spec in (
        DatasetSpec("mnist5k", "mnist5k", 28, 1, builds_offline=True, num_classes=10),
        DatasetSpec("digits", "digits", 28, 1, builds_offline=True, num_classes=10),
        DatasetSpec("mnist", "mnist", 28, 1, num_classes=10),
        DatasetSpec("fashion_mnist", "fashion_mnist", 28, 1, num_classes=10),
        DatasetSpec("cifar10", "cifar10", 32, 3, num_classes=10),
        DatasetSpec("stl10", "stl10", 48, 3, train_split="unlabelled"),
        DatasetSpec(
            "celeb_a", "celeb_a", 64, 3, train_split="train+validation+test", center_crop=128
        ),
        DatasetSpec(
            "imagenet2012",
            "imagenet2012",
            128,
            3,
            crop_square=True,
            needs_manual_dir=True,
            num_classes=1000,
        ),
    )
}


def get_spec(name: str) -> DatasetSpec:
    """Looks a dataset up by name, listing the known names when it is not one of them."""
    try:
        return DATASETS[name]
    except KeyError:
        raise ValueError(f"Unknown dataset {name!r}; expected one of {sorted(DATASETS)}.") from None
