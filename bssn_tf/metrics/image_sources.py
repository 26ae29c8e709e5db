"""Whatever a user has at hand, as batches of [-1, 1] images or as saved FID statistics.

`fid_between` (and `python -m bssn_tf.fid`) compare any two of: a folder of
image files, an .npy/.npz array of images, a zoo model (a shipped name, a
model folder, or a training run's directory holding export/), and an .npz of
pytorch-fid/TTUR statistics. Folders are listed and decoded exactly as
pytorch-fid does it, so their statistics equal `python -m pytorch_fid`'s
(docs/DESIGN.md, "FID between any two sources"). Images are read one batch at a
time, so a folder, array or generator of any size runs in bounded memory.
"""

import dataclasses
import itertools
import os
import pathlib
from typing import Callable, Iterator, Optional

import numpy as np
from PIL import Image

from bssn_tf import zoo
from bssn_tf.extractors.feature_extractor import require_image_batch, require_unit_range
from bssn_tf.metrics.gaussian_statistics import STATISTICS_KEYS, load_fid_statistics
from bssn_tf.zoo.integrity import CARD

# pytorch_fid.fid_score.IMAGE_EXTENSIONS, matched as it matches them: the glob
# "*.<ext>" in the folder itself (case-sensitive on Linux, hidden files included).
IMAGE_EXTENSIONS = ("bmp", "jpg", "jpeg", "pgm", "png", "ppm", "tif", "tiff", "webp")
ARRAY_SUFFIXES = (".npy", ".npz")
# uint8 -> [-1, 1] as one table lookup: every value is the float32 nearest to x / 127.5 - 1,
# so a uint8 array and the float array a user makes from it give identical batches.
_UNIT_RANGE = (np.arange(256) / 127.5 - 1.0).astype(np.float32)


@dataclasses.dataclass(frozen=True)
class ImageSource:
    """`count` images; `batches(batch_size)` yields them as float32 [k, H, W, C] in [-1, 1]."""

    name: str
    kind: str  # "folder", "array" or "zoo"
    count: int
    batches: Callable[[int], Iterator[np.ndarray]]


@dataclasses.dataclass(frozen=True)
class StatisticsSource:
    """Saved FID statistics (pytorch-fid/TTUR .npz): mu [d] and sigma [d, d], float64."""

    name: str
    mu: np.ndarray
    sigma: np.ndarray
    kind: str = "statistics"
    count: Optional[int] = None


def list_image_files(folder):
    """The files pytorch-fid reads from `folder`, in its order (its compute_statistics_of_path).

    Not recursive; lower-case extensions only on case-sensitive file systems;
    sorted as paths. Whatever matches is read, so a subfolder or hidden file
    named like an image is refused by read_image, naming it.
    """
    path = pathlib.Path(folder)
    return sorted(file for ext in IMAGE_EXTENSIONS for file in path.glob(f"*.{ext}"))


def read_image(path):
    """[H, W, 3] uint8, decoded as pytorch-fid decodes it: PIL, then .convert("RGB")."""
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        raise ValueError(f"{path}: cannot be read as an image ({error}).") from None


def uint8_to_unit_range(images):
    """uint8 [0, 255] -> float32 [-1, 1], the nearest float32 to x / 127.5 - 1."""
    return _UNIT_RANGE[images]


def _require_images(name, count):
    if count < 2:
        raise ValueError(f"{name}: {count} image(s); FID statistics need at least 2.")


def _folder_source(folder):
    files = list_image_files(folder)
    if not files:
        raise ValueError(
            f"{folder}: no image files; expected files named *.{{{','.join(IMAGE_EXTENSIONS)}}} "
            "in the folder itself (lower-case extensions, subfolders not read, as pytorch-fid)."
        )
    _require_images(folder, len(files))

    def batches(batch_size):
        for start in range(0, len(files), batch_size):
            images = [read_image(path) for path in files[start : start + batch_size]]
            # The network takes one image size per call; files of one folder may differ.
            for _, run in itertools.groupby(images, key=np.shape):
                yield uint8_to_unit_range(np.stack(list(run)))

    return ImageSource(str(folder), "folder", len(files), batches)


def _array_source(name, array):
    """Images in an [n, H, W, 1 or 3] array: uint8 in [0, 255] or float in [-1, 1]."""
    if array.ndim != 4 or array.shape[-1] not in (1, 3):
        raise ValueError(
            f"{name}: images must be an [n, height, width, 1 or 3] array; got shape {array.shape}."
        )
    if array.dtype == np.uint8:
        convert = uint8_to_unit_range
    elif np.issubdtype(array.dtype, np.floating):
        # The whole array now, not after hours of batches.
        require_unit_range(array, f"{name}: float images")
        convert = lambda batch: np.asarray(batch, dtype=np.float32)
    else:
        raise ValueError(
            f"{name}: images must be uint8 in [0, 255] or float in [-1, 1]; got dtype "
            f"{array.dtype}."
        )
    _require_images(name, len(array))

    def batches(batch_size):
        for start in range(0, len(array), batch_size):
            yield convert(array[start : start + batch_size])

    return ImageSource(name, "array", len(array), batches)


def _npz_source(name, archive):
    """Statistics when the archive holds mu or sigma, else its one image array."""
    with archive:
        keys = sorted(archive.files)
        if set(keys) & set(STATISTICS_KEYS):
            images = [key for key in keys if key not in STATISTICS_KEYS and archive[key].ndim >= 3]
            if images:
                raise ValueError(
                    f"{name}: holds both statistics (mu, sigma) and an image array "
                    f"({images[0]!r}); keep one kind per file."
                )
            return StatisticsSource(name, *load_fid_statistics(name))
        if len(keys) != 1:
            raise ValueError(
                f"{name}: expected FID statistics ('mu' and 'sigma') or one image array; "
                f"found arrays {keys}."
            )
        return _array_source(name, archive[keys[0]])


def _file_source(path):
    if not path.lower().endswith(ARRAY_SUFFIXES):
        raise ValueError(
            f"{path}: expected a folder of images, an .npz of statistics or images, an .npy "
            "of images, or a zoo model; this file is none of them."
        )
    try:
        # A memory map: an .npy larger than memory is read batch by batch.
        loaded = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as error:
        raise ValueError(f"{path}: not a readable numpy file ({error}).") from None
    if isinstance(loaded, np.lib.npyio.NpzFile):
        return _npz_source(path, loaded)
    return _array_source(path, loaded)


def _zoo_source(name, location, num_samples, seed):
    """`num_samples` images of the generator, z drawn as zoo.latents(num_samples, seed) draws it
    (conditional models: uniform labels from default_rng(seed), as train.evaluate)."""
    if int(num_samples) < 2:
        raise ValueError(f"num_samples={num_samples}: FID statistics need at least 2 images.")
    generator = zoo.load(location)

    def batches(batch_size):
        rng = np.random.default_rng(seed)  # batch after batch: the same draws as one call
        sample = generator.with_uniform_labels(seed)
        for start in range(0, num_samples, batch_size):
            size = min(batch_size, num_samples - start)
            z = rng.standard_normal((size, generator.z_dim)).astype(np.float32)
            yield require_image_batch(sample(z), f"images of {name}")

    return ImageSource(name, "zoo", int(num_samples), batches)


def open_source(source, num_samples=10000, seed=0):
    """An ImageSource or StatisticsSource for `source`, checked before any image is read.

    `source` is a numpy image array, or a path or name: a folder holding
    model_card.json (a zoo model folder) or export/model_card.json (a training
    run), any other folder (image files), an .npz or .npy file, or a shipped
    zoo model name. Generators give `num_samples` images from `seed`.

    Raises:
      FileNotFoundError: no such path, and no shipped model of that name.
      ValueError: anything that cannot be read as images or statistics; the
        message names the path and what was expected.
    """
    if isinstance(source, np.ndarray):
        return _array_source("array", source)
    name = os.fspath(source)
    if os.path.isdir(name):
        for location in (name, os.path.join(name, "export")):
            if os.path.isfile(os.path.join(location, CARD)):
                return _zoo_source(name, location, num_samples, seed)
        return _folder_source(name)
    if os.path.exists(name):
        return _file_source(name)
    if name in zoo.available():
        return _zoo_source(name, name, num_samples, seed)
    raise FileNotFoundError(
        f"{name}: no such file or folder, and no shipped zoo model of that name "
        f"(shipped: {', '.join(zoo.available())})."
    )
