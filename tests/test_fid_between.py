"""`python -m bssn_tf.fid` and `fid_between`: pytorch-fid's numbers, any source, one-line refusals.

The oracle is pytorch-fid itself (the `test` extra): its FID Inception with
random, calibrated weights (benchmarks/pytorch_fid_reference.py, as in
tests/test_fid_inception.py), run by its own compute_statistics_of_path on the
same folders. Everything else uses the small digit classifier, for speed.
"""

import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

# Imports torchvision with its fake-kernel registration stubbed out (the module says why).
from benchmarks import pytorch_fid_reference as reference_network
from bssn_tf import fid as fid_cli
from bssn_tf.metrics import (
    fid_between,
    fid_statistics,
    inception_score_of,
    statistics_of,
)
from bssn_tf.metrics.image_sources import list_image_files
from bssn_tf.metrics.running_statistics import RunningStatistics
from bssn_tf.zoo import registry

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DIGITS = "--extractor=digits"


def _pixels(seed, count, height, width):
    """uint8 [count, height, width, 3] smooth (image-like) pictures."""
    images = reference_network.smooth_images(np.random.default_rng(seed), count, max(height, width))
    images = images.numpy().transpose(0, 2, 3, 1)[:, :height, :width]
    return np.round((images + 1.0) * 127.5).astype(np.uint8)


def _write_mixed_folder(folder, seed, count=10, faded=False):
    """`count` images of several sizes and PIL modes (RGB, L, RGBA, P, one JPEG), plus files
    that pytorch-fid does not read: another extension, an upper-case one, a subfolder.
    `faded` halves the contrast and brightens, so that two folders are far apart."""
    sizes = [(32, 32), (48, 40), (299, 299), (28, 28), (40, 64)]
    folder.mkdir()
    for index in range(count):
        height, width = sizes[index % len(sizes)]
        pixels = _pixels(seed * 100 + index, 1, height, width)[0]
        image = Image.fromarray(pixels // 2 + 127 if faded else pixels)
        mode = ("RGB", "L", "RGBA", "P")[index % 4]
        image = image.quantize(64) if mode == "P" else image.convert(mode)
        image.save(folder / f"{index:02d}.{'jpg' if index == count - 1 else 'png'}")
    (folder / "notes.txt").write_text("not an image")
    Image.fromarray(_pixels(seed, 1, 32, 32)[0]).save(folder / "UPPER.PNG")
    (folder / "nested").mkdir()
    Image.fromarray(_pixels(seed, 1, 32, 32)[0]).save(folder / "nested" / "inner.png")


def _write_folder(folder, pixels):
    folder.mkdir()
    for index, image in enumerate(pixels):
        Image.fromarray(image.squeeze()).save(folder / f"{index:03d}.png")
    return str(folder)


def _max_relative_difference(ours, theirs):
    return float(np.max(np.abs(ours - theirs)) / np.max(np.abs(theirs)))


@pytest.fixture(scope="module")
def random_weights(tmp_path_factory):
    """(pytorch-fid's InceptionV3 as its CLI builds it, the .pth bssn_tf reads), random weights."""
    inception = reference_network.random_fid_inception(np.random.default_rng(0))
    path = str(tmp_path_factory.mktemp("weights") / "random_fid_inception.pth")
    torch.save(inception.state_dict(), path)
    wrapper = reference_network.pytorch_fid_wrapper(inception.state_dict())
    # pytorch-fid's CLI feeds [0, 1] images (ToTensor) to InceptionV3([3]), whose default
    # normalize_input=True maps them to [-1, 1]; the helper builds it for [-1, 1] input.
    wrapper.normalize_input = True
    return wrapper, path


# A correct float32 port differs from PyTorch by ~1e-4 of the largest feature
# (summation order in 94 convolutions; tests/test_fid_inception.py), and the
# statistics inherit that. A wrong resize convention moves them by more than 1e-2
# (checked below), a wrong decoding or file list by far more.
_STATISTICS_TOLERANCE = 1e-3


@pytest.mark.slow  # two Inception networks over 20 images of mixed sizes: about a minute
def test_save_stats_equal_pytorch_fid(random_weights, tmp_path):
    from pytorch_fid import fid_score

    wrapper, weights = random_weights
    saved = {"ours": [], "pytorch_fid": []}
    for seed, name in enumerate("ab"):
        folder = tmp_path / name
        _write_mixed_folder(folder, seed, faded=name == "b")
        theirs_files = sorted(
            file for ext in fid_score.IMAGE_EXTENSIONS for file in folder.glob(f"*.{ext}")
        )
        assert list_image_files(folder) == theirs_files and len(theirs_files) == 10
        # Files of different sizes cannot share a batch in pytorch-fid (its DataLoader
        # stacks them), so it runs with batch size 1.
        mu, sigma = fid_score.compute_statistics_of_path(
            str(folder), wrapper, 1, 2048, "cpu", num_workers=0
        )
        saved["pytorch_fid"].append(str(tmp_path / f"{name}_pytorch_fid.npz"))
        np.savez_compressed(saved["pytorch_fid"][-1], mu=mu, sigma=sigma)
        saved["ours"].append(str(tmp_path / f"{name}_ours.npz"))
        command = ["--save_stats", saved["ours"][-1], str(folder), f"--fid_weights={weights}"]
        assert fid_cli.main(command) == 0
        with np.load(saved["ours"][-1]) as ours:
            assert _max_relative_difference(ours["mu"], mu) <= _STATISTICS_TOLERANCE
            assert _max_relative_difference(ours["sigma"], sigma) <= _STATISTICS_TOLERANCE
        if name == "a":  # the tolerance would catch the other resize convention
            legacy = statistics_of(folder, fid_weights=weights, resize="tf_legacy")
            assert _max_relative_difference(legacy["mu"], mu) > 10 * _STATISTICS_TOLERANCE
    # The same two statistics files give the same FID, whichever tool reads them. Both
    # take the trace of a matrix square root in float64, scipy's sqrtm against our
    # eigenvalues: 10 images leave ~2040 null directions whose rounding-level
    # eigenvalues add ~1e-4 in either method. Folder b is faded so that the FID (~7e3
    # with these weights) dwarfs that (measured: 3e-8 relative); a different formula
    # would be off by far more than 1e-6.
    for first, second in saved.values():
        load = lambda path: fid_score.compute_statistics_of_path(path, None, 1, 2048, "cpu")
        expected = fid_score.calculate_frechet_distance(*load(first), *load(second))
        assert fid_between(first, second)["fid"] == pytest.approx(expected, rel=1e-6)


def test_arrays_and_folder_give_identical_statistics(tmp_path):
    """uint8 .npy, float [-1, 1] .npy, an .npz and PNG files of the same images: one input."""
    pixels = _pixels(1, 12, 28, 28)
    paths = {
        "uint8": tmp_path / "uint8.npy",
        "float": tmp_path / "float.npy",
        "npz": tmp_path / "images.npz",
    }
    np.save(paths["uint8"], pixels)
    np.save(paths["float"], (pixels / 127.5 - 1.0).astype(np.float32))
    np.savez(paths["npz"], images=pixels)
    paths["folder"] = _write_folder(tmp_path / "pngs", pixels)
    reference = statistics_of(paths.pop("uint8"), extractor="digits")
    assert reference["num_images"] == 12 and reference["kind"] == "array"
    for path in paths.values():
        statistics = statistics_of(path, extractor="digits")
        np.testing.assert_array_equal(statistics["mu"], reference["mu"])
        np.testing.assert_array_equal(statistics["sigma"], reference["sigma"])


def test_running_statistics_equal_fid_statistics():
    """Batch-by-batch sums around a shift keep float64 accuracy despite a large offset."""
    activations = np.random.default_rng(0).normal(1000.0, 0.5, (103, 16))
    running = RunningStatistics()
    for start in range(0, 103, 10):  # the last batch holds 3
        running.add(activations[start : start + 10])
    mu, sigma = running.statistics()
    expected_mu, expected_sigma = fid_statistics(activations)
    np.testing.assert_allclose(mu, expected_mu, rtol=1e-12)
    np.testing.assert_allclose(sigma, expected_sigma, rtol=1e-9, atol=1e-12)


# The FID of two equal statistics: 0 up to the square roots of the rounding-level
# eigenvalues (~1e-14 each, so ~1e-7 after the root) that the ~100 null directions
# of a 12-sample, 128-feature covariance leave in tr((S S)^1/2).
_ZERO = 1e-4


def test_json_output_and_save_stats_round_trip(tmp_path, capsys):
    folder_a = _write_folder(tmp_path / "a", _pixels(2, 12, 28, 28))
    folder_b = _write_folder(tmp_path / "b", _pixels(3, 12, 28, 28))
    stats = str(tmp_path / "a.npz")
    assert fid_cli.main(["--save_stats", stats, folder_a, DIGITS, "--json"]) == 0
    saved = json.loads(capsys.readouterr().out)
    assert saved["saved_to"] == stats and saved["num_images"] == 12
    assert fid_cli.main([stats, folder_b, DIGITS, "--json", "--isc"]) == 0
    output = capsys.readouterr().out
    assert output.count("\n") == 1
    results = json.loads(output)
    assert results["a"] == {"source": stats, "kind": "statistics", "num_images": None}
    assert results["b"]["num_images"] == 12 and "isc" in results["b"]
    # The saved statistics stand in for their folder exactly.
    direct = fid_between(folder_a, folder_b, extractor="digits")["fid"]
    assert results["fid"] == pytest.approx(direct, rel=1e-12)
    assert fid_between(stats, folder_a, extractor="digits")["fid"] == pytest.approx(0, abs=_ZERO)


def test_zoo_sources(tmp_path):
    """A zoo name, a model folder and a run directory are the same generator, drawn as
    zoo.latents draws (batch after batch), and agree with its images as an array."""
    run_directory = tmp_path / "run"
    shutil.copytree(os.path.join(registry.zoo_root(), "cnn_bssn"), run_directory / "export")
    options = dict(extractor="digits", num_samples=64, batch_size=50)
    results = fid_between("cnn_bssn", str(run_directory), kid=True, **options)
    assert results["a"] == {"source": "cnn_bssn", "kind": "zoo", "num_images": 64}
    assert results["fid"] == pytest.approx(0, abs=_ZERO)
    from bssn_tf import zoo

    images = zoo.load("cnn_bssn").sample(64, seed=0)
    array = statistics_of(images, extractor="digits")
    folder = statistics_of(str(run_directory / "export"), **options)
    # The generator ran in batches of 50 and 14 here and of 64 above: float32 rounding only.
    np.testing.assert_allclose(folder["mu"], array["mu"], rtol=1e-5, atol=1e-6)
    score = inception_score_of("cnn_bssn", **options)
    assert score["num_images"] == 64 and score["isc"] > 1


def _refusal(capsys, argv, environment=None, monkeypatch=None):
    """(status, the one stderr line) of the CLI run in this process."""
    for key, value in (environment or {}).items():
        monkeypatch.setenv(key, value)
    status = fid_cli.main(argv)
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err + captured.out, captured.err
    assert lines[0].startswith("bssn_tf.fid: error: ")
    return status, lines[0]


@pytest.fixture
def inputs(tmp_path):
    """Good and bad sources, by name."""
    paths = {"good": _write_folder(tmp_path / "good", _pixels(4, 12, 28, 28))}
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("no images")
    paths["empty"] = str(empty)
    paths["undecodable"] = _write_folder(tmp_path / "undecodable", _pixels(5, 3, 28, 28))
    (tmp_path / "undecodable" / "broken.png").write_bytes(b"\x89PNG but not really")
    paths["subfolder"] = _write_folder(tmp_path / "subfolder", _pixels(6, 3, 28, 28))
    (tmp_path / "subfolder" / "folder.png").mkdir()
    paths["one_image"] = _write_folder(tmp_path / "one_image", _pixels(7, 1, 28, 28))
    paths["three"] = _write_folder(tmp_path / "three", _pixels(13, 3, 28, 28))
    arrays = {
        "mu_only": dict(mu=np.zeros(128)),
        "other_arrays": dict(x=np.zeros((3, 3)), y=np.zeros(3)),
        "images_and_mu": dict(images=_pixels(8, 4, 28, 28), mu=np.zeros(128), sigma=np.eye(128)),
        "nan": dict(mu=np.full(128, np.nan), sigma=np.eye(128)),
        "dims_128": dict(mu=np.zeros(128), sigma=np.eye(128)),
        "dims_2048": dict(mu=np.zeros(2048), sigma=np.eye(2048)),
    }
    for name, content in arrays.items():
        paths[name] = str(tmp_path / f"{name}.npz")
        np.savez(paths[name], **content)
    for name, array in {
        "one_image_array": _pixels(9, 1, 28, 28),
        "float_0_255": _pixels(10, 3, 28, 28).astype(np.float32),
        "int32": _pixels(11, 3, 28, 28).astype(np.int32),
        "no_channels": _pixels(12, 3, 28, 28)[..., 0],
    }.items():
        paths[name] = str(tmp_path / f"{name}.npy")
        np.save(paths[name], array)
    paths["text"] = str(tmp_path / "notes.txt")
    (tmp_path / "notes.txt").write_text("hello")
    paths["missing"] = str(tmp_path / "missing")
    paths["existing_npz"] = paths["dims_128"]
    return paths


# (arguments with {name} for a path of `inputs`, what the one line must contain)
REFUSALS = {
    "missing path": (["{missing}", "{good}"], "{missing}: no such file or folder"),
    "empty folder": (["{empty}", "{good}"], "{empty}: no image files"),
    "undecodable file": (["{good}", "{undecodable}"], "broken.png: cannot be read as an image"),
    "folder named like an image": (["{subfolder}", "{good}"], "folder.png: cannot be read"),
    "one image": (["{one_image}", "{good}"], "{one_image}: 1 image(s)"),
    "one image array": (["{good}", "{one_image_array}"], "{one_image_array}: 1 image(s)"),
    "npz without sigma": (["{mu_only}", "{good}"], "{mu_only}: FID statistics need keys"),
    "npz of other arrays": (["{other_arrays}", "{good}"], "found arrays ['x', 'y']"),
    "npz with images and mu": (["{images_and_mu}", "{good}"], "holds both statistics"),
    "NaN statistics": (["{nan}", "{good}"], "{nan}: mu contains NaN"),
    "statistics of two sizes": (
        ["{dims_128}", "{dims_2048}"],
        "{dims_128} holds statistics of 128",
    ),
    "statistics of another extractor": (
        ["{good}", "{dims_2048}"],
        "{dims_2048} holds statistics of 2048",
    ),
    "float images in [0, 255]": (
        ["{float_0_255}", "{good}"],
        "{float_0_255}: float images must lie in",
    ),
    "int32 images": (["{int32}", "{good}"], "{int32}: images must be uint8"),
    "images without channels": (["{no_channels}", "{good}"], "1 or 3] array; got shape"),
    "another kind of file": (["{text}", "{good}"], "{text}: expected a folder of images"),
    "KID against statistics": (["{dims_128}", "{good}", "--kid"], "KID needs images"),
    "IS of fewer images than splits": (["--isc", "{three}"], "{three}: 3 images; the Incep"),
    "save over a file": (["--save_stats", "{existing_npz}", "{good}"], "exists"),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_bad_input_is_one_line_naming_it(case, inputs, capsys):
    arguments, expected = REFUSALS[case]
    status, line = _refusal(capsys, [a.format(**inputs) for a in arguments] + [DIGITS])
    assert status == 1
    assert expected.format(**inputs) in line


@pytest.mark.parametrize(
    "arguments, expected",
    [
        (["--fid_weights={tmp}/absent.pth"], "absent.pth' does not exist"),
        (["--fid_weights=download"], "has sha256"),
    ],
)
def test_unusable_weights_are_one_line(arguments, expected, inputs, tmp_path, capsys, monkeypatch):
    # A cached download that fails its sha256 check is refused before anything reads it.
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "pt_inception-2015-12-05-6726825d.pth").write_bytes(b"not the published file")
    argv = [inputs["good"], inputs["good"]] + [a.format(tmp=tmp_path) for a in arguments]
    status, line = _refusal(capsys, argv, {"BSSN_FID_CACHE": str(cache)}, monkeypatch)
    assert status == 1 and expected in line


@pytest.mark.parametrize(
    "argv",
    [["only_one"], ["a", "b", "c"], ["a", "b", "--resize=bicubic"], ["a", "b", "--batch_size=0"]],
)
def test_usage_errors_exit_2_in_one_line(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        fid_cli.main(argv)
    assert exit_info.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bssn_tf.fid: error: ")


def test_command_line_in_a_subprocess(inputs):
    def run(*sources):
        return subprocess.run(
            [sys.executable, "-m", "bssn_tf.fid", DIGITS, *sources],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        )

    done = run(inputs["good"], inputs["dims_128"])
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert re.fullmatch(r"FID: -?\d+\.\d+(e[-+]\d+)?", done.stdout.strip().splitlines()[-1])
    failed = run(inputs["missing"], inputs["good"])
    assert failed.returncode == 1 and failed.stdout == ""
    assert failed.stderr.strip().splitlines() == [
        f"bssn_tf.fid: error: {inputs['missing']}: no such file or folder, and no shipped zoo "
        f"model of that name (shipped: {', '.join(registry.available())})."
    ]
