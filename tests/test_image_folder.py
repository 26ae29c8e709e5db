"""Your own images: folders of PNG/JPEG/BMP/GIF become training data, checked against numpy.

Folders are built on the fly with PIL; the oracle for pixels is a numpy central crop and
block-mean (area) resize of the hand-made image.
"""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from tiny_runs import TINY

from bssn_tf import data
from bssn_tf.data import image_folder
from bssn_tf.training import ConfigError, TrainConfig, train
from bssn_tf.zoo import __main__ as zoo_cli

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def save(path, array, **kwargs):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(array, **kwargs).save(path)
    return path


def numpy_area_square(image, size):
    """Largest central square (odd margins round down), then the mean of each block."""
    height, width = image.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = image[top : top + side, left : left + side].astype(np.float64)
    block = side // size
    return square.reshape(size, block, size, block, -1).mean(axis=(1, 3))


def folder_spec(root, tmp_path, size, **kwargs):
    return data.resolve_dataset(
        f"folder:{root}", image_size=size, data_dir=str(tmp_path / "tfds"), **kwargs
    )


def test_the_pixels_that_reach_the_model_are_a_central_crop_and_area_resize(tmp_path):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (12, 8, 3), dtype=np.uint8)  # tall: rows 2..9 are kept
    save(str(tmp_path / "images" / "a.png"), image)
    spec = folder_spec(tmp_path / "images", tmp_path, 4)
    [pixels] = data.load_array(spec, "train")
    expected = np.round(numpy_area_square(image, 4)) / 127.5 - 1.0
    # float32 [-1, 1] of a uint8: exact up to float32 rounding of x / 127.5 - 1
    np.testing.assert_allclose(pixels, expected, atol=1e-6)
    assert spec.channels == 3 and spec.num_classes == 0 and spec.num_images == 1


def test_formats_and_channels(tmp_path):
    rng = np.random.default_rng(1)
    gray = rng.integers(0, 256, (8, 8), dtype=np.uint8)
    root = tmp_path / "gray"
    save(str(root / "a.png"), gray)
    save(str(root / "b.bmp"), gray)
    spec = folder_spec(root, tmp_path, 8)
    assert spec.channels == 1  # every image grayscale
    images = data.load_array(spec, "train")
    np.testing.assert_allclose(images[0, ..., 0], gray / 127.5 - 1.0, atol=1e-6)
    np.testing.assert_allclose(images[1, ..., 0], gray / 127.5 - 1.0, atol=1e-6)

    mixed = tmp_path / "mixed"
    rgba = rng.integers(0, 256, (8, 8, 4), dtype=np.uint8)
    save(str(mixed / "a_rgba.png"), rgba)
    palette = Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).convert("P")
    palette.save(mixed / "b_palette.png")
    frames = [Image.fromarray(np.full((8, 8, 3), value, np.uint8)) for value in (40, 200)]
    frames[0].save(mixed / "c_animated.gif", save_all=True, append_images=frames[1:])
    save(str(mixed / "d.jpg"), rng.integers(0, 256, (8, 8, 3), dtype=np.uint8), mode="RGB")
    spec = folder_spec(mixed, tmp_path, 8)
    assert spec.channels == 3 and spec.num_images == 4
    images = data.load_array(spec, "train")
    np.testing.assert_allclose(images[0], rgba[..., :3] / 127.5 - 1.0, atol=1e-6)  # alpha gone
    expected_palette = np.asarray(palette.convert("RGB"))
    np.testing.assert_allclose(images[1], expected_palette / 127.5 - 1.0, atol=1e-6)
    np.testing.assert_allclose(images[2], np.full((8, 8, 3), 40 / 127.5 - 1.0), atol=0.02)
    # --channels=1 overrides: the luminance of the colour images.
    assert folder_spec(mixed, tmp_path, 8, channels=1).channels == 1


def test_class_subfolders_are_labels_in_sorted_order(tmp_path):
    rng = np.random.default_rng(2)
    root = tmp_path / "classes"
    for name, count in (("zebra", 2), ("apple", 3), ("mango", 1)):
        for index in range(count):
            save(
                str(root / name / "nested" / f"{index}.png"),
                rng.integers(0, 256, (4, 4, 3), np.uint8),
            )
    spec = folder_spec(root, tmp_path, 4)
    assert spec.class_names == ("apple", "mango", "zebra") and spec.num_classes == 3
    _, labels = data.load_array(spec, "train", with_labels=True)
    assert labels.tolist() == [0, 0, 0, 1, 2, 2]


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda root: None, "does not exist"),
        (lambda root: root.mkdir(), "holds no images"),
        (lambda root: (root.mkdir(), (root / "notes.txt").write_text("x")), "holds no images"),
        (
            lambda root: (
                (root / "empty_class").mkdir(parents=True),
                (root / "b").mkdir(),
                save(str(root / "b" / "x.png"), np.zeros((4, 4), np.uint8)),
            ),
            "empty_class holds no images",
        ),
    ],
)
def test_missing_and_empty_folders_are_one_line(tmp_path, make, message):
    root = tmp_path / "images"
    make(root)
    with pytest.raises(data.DatasetUnavailableError, match=message) as raised:
        folder_spec(root, tmp_path, 4)
    assert "\n" not in str(raised.value)


def corrupt_folder(tmp_path):
    root = tmp_path / "images"
    save(str(root / "good.png"), np.zeros((4, 4), np.uint8))
    (root / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    return root


def test_an_undecodable_file_is_named(tmp_path):
    root = corrupt_folder(tmp_path)
    with pytest.raises(image_folder.ImageFolderError) as raised:
        folder_spec(root, tmp_path, 4)
    message = str(raised.value)
    assert message.startswith(f"{root / 'bad.png'}: cannot be decoded") and "\n" not in message
    assert "--skip_bad_images" in message
    assert not list((tmp_path / "tfds").glob("bssn_folder_*/*"))  # nothing half-built


def test_skip_bad_images_skips_and_says_so(tmp_path, capsys):
    root = corrupt_folder(tmp_path)
    spec = folder_spec(root, tmp_path, 4, skip_bad_images=True)
    assert spec.num_images == 1
    assert f"skipped 1 undecodable file(s) of {root}: bad.png" in capsys.readouterr().err


def test_the_cache_is_reused_and_follows_the_fingerprint(tmp_path, monkeypatch):
    rng = np.random.default_rng(3)
    root = tmp_path / "images"
    save(str(root / "a.png"), rng.integers(0, 256, (4, 4, 3), np.uint8))
    first = folder_spec(root, tmp_path, 4)
    monkeypatch.setattr(image_folder, "_build", lambda *args: pytest.fail("decoded again"))
    assert folder_spec(root, tmp_path, 4) == first  # nothing decoded the second time
    monkeypatch.undo()
    save(str(root / "b.png"), rng.integers(0, 256, (4, 4, 3), np.uint8))
    second = folder_spec(root, tmp_path, 4)
    assert second.fingerprint != first.fingerprint and second.num_images == 2


def folder_config(model_dir, root, tmp_path, **overrides):
    settings = dict(
        TINY,
        dataset=f"folder:{root}",
        image_size=28,
        data_dir=str(tmp_path / "tfds"),
        steps=2,
        eval_every=2,
        eval_num_samples=16,
        eval_num_real=8,
    )
    return TrainConfig(model_dir=str(model_dir), **dict(settings, **overrides))


@pytest.fixture(scope="module")
def digit_folders(tmp_path_factory):
    """mnist5k's first 40 training digits as a flat folder and as 4 class folders."""
    root = tmp_path_factory.mktemp("folders")
    images, labels = data.load_array("mnist5k", "train", limit=40, with_labels=True)
    pixels = np.round((images + 1) * 127.5).astype(np.uint8)[..., 0]
    for index, (image, label) in enumerate(zip(pixels, labels)):
        save(str(root / "flat" / f"{index:05d}.png"), image)
        save(str(root / "classes" / f"digit{label % 4}" / f"{index:05d}.png"), image)
    return root


def test_short_runs_on_a_folder_export_a_card_without_paths(digit_folders, tmp_path, capsys):
    flat = train(folder_config(tmp_path / "flat_run", digit_folders / "flat", tmp_path))
    conditional = train(
        folder_config(tmp_path / "cond_run", digit_folders / "classes", tmp_path, num_classes=4)
    )
    for result in (flat, conditional):
        card_text = open(os.path.join(result["export_dir"], "model_card.json")).read()
        record = open(os.path.join(os.path.dirname(result["export_dir"]), "config.json")).read()
        for text in (card_text, record):
            assert str(digit_folders) not in text and str(tmp_path) not in text
    card = json.loads(card_text)
    assert card["class_names"] == ["digit0", "digit1", "digit2", "digit3"]
    assert card["flags"]["dataset"] == "folder" and card["flags"]["dataset_images"] == 40
    assert card["image_shape"] == [28, 28, 1]
    # `zoo sample --label` takes a class name from the card, or refuses it in one line.
    grid = tmp_path / "digit2.png"
    export = conditional["export_dir"]
    assert (
        zoo_cli.main(["sample", export, "--label", "digit2", "--num", "4", "--out", str(grid)]) == 0
    )
    assert grid.exists()
    capsys.readouterr()
    assert zoo_cli.main(["sample", export, "--label", "digit9", "--out", str(grid)]) == 1
    assert capsys.readouterr().err == (
        "error: --label 'digit9' is not a class of this model; expected one of "
        "['digit0', 'digit1', 'digit2', 'digit3']\n"
    )


def test_a_flat_folder_or_a_wrong_class_count_is_refused(digit_folders, tmp_path):
    with pytest.raises(ConfigError, match="num_classes=4 does not match .* which has no classes"):
        train(folder_config(tmp_path / "a", digit_folders / "flat", tmp_path, num_classes=4))
    with pytest.raises(ConfigError, match="num_classes=3 does not match .* 4 class subfolders"):
        train(folder_config(tmp_path / "b", digit_folders / "classes", tmp_path, num_classes=3))
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_a_changed_folder_is_refused_on_resume(digit_folders, tmp_path):
    root = tmp_path / "mine"
    shutil.copytree(digit_folders / "flat", root)
    train(folder_config(tmp_path / "run", root, tmp_path))
    (root / "00000.png").unlink()
    with pytest.raises(
        ConfigError, match=r"changed since the run began \(40 images recorded, 39 now"
    ):
        train(folder_config(tmp_path / "run", root, tmp_path, steps=4))


def test_a_folder_export_of_mnist5k_trains_to_the_same_batches(tmp_path):
    out = tmp_path / "digits_png"
    result = subprocess.run(
        [sys.executable, "-m", "bssn_tf.data", "export", "mnist5k", "--out", str(out)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == f"wrote 4000 images of mnist5k (train) to {out}"
    spec = folder_spec(out, tmp_path, 28)
    from_folder = data.training_batches(spec, 64, seed=7).take(3)
    from_tfds = data.training_batches("mnist5k", 64, seed=7).take(3)
    for ours, theirs in zip(from_folder.as_numpy_iterator(), from_tfds.as_numpy_iterator()):
        np.testing.assert_array_equal(ours, theirs)


def test_a_prepared_tfds_dataset_by_name(tmp_path):
    data.load_array("mnist5k", "train", limit=1)  # prepares it offline
    spec = data.resolve_dataset("tfds:mnist5k:test", image_size=32)
    assert (spec.channels, spec.num_classes, spec.train_split) == (1, 10, "test")
    images = data.load_array(spec, "test", limit=2)
    assert images.shape == (2, 32, 32, 1) and -1 <= images.min() and images.max() <= 1
    with pytest.raises(data.DatasetUnavailableError, match="tfds:no_such_dataset"):
        data.resolve_dataset("tfds:no_such_dataset", image_size=32)
