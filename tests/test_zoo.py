"""bssn_tf.zoo on a tiny generator exported here: by name, folder, pinned URL; ways to break it."""

import hashlib
import json
import os
import re

import numpy as np
import pytest
import tensorflow as tf
from zoo_support import (
    NAME,
    ROOT,
    Z_DIM,
    card_pin,
    expected_images,
    flip_byte,
    run_cli,
    variables_data,
)

from bssn_tf import zoo
from bssn_tf.io import image_grid, write_json_atomically
from bssn_tf.zoo import __main__ as zoo_cli
from bssn_tf.zoo import download, generator, integrity, registry

pytest_plugins = ["zoo_fixtures"]  # fixtures: network, source_zoo, zoo_root, model_copy, server


def test_latents_are_numpy_standard_normals():
    z = zoo.latents(5, seed=3, z_dim=7)
    assert z.dtype == np.float32 and z.shape == (5, 7)
    np.testing.assert_array_equal(
        z, np.random.default_rng(3).standard_normal((5, 7)).astype(np.float32)
    )


def test_the_file_manifest_covers_every_file_but_the_card(zoo_root):
    model_dir = zoo_root / NAME
    checksums = integrity.file_manifest(model_dir)
    on_disk = sorted(
        path.relative_to(model_dir).as_posix() for path in model_dir.rglob("*") if path.is_file()
    )
    assert list(checksums) == [relpath for relpath in on_disk if relpath != integrity.CARD]
    assert {
        "saved_model.pb",
        "samples.png",
        "reference_output.npz",
        variables_data(model_dir).relative_to(model_dir).as_posix(),
    } <= set(checksums)
    for relpath, entry in checksums.items():
        payload = (model_dir / relpath).read_bytes()
        assert entry == {"sha256": hashlib.sha256(payload).hexdigest(), "size": len(payload)}


def test_registry_lists_the_index(zoo_root):
    assert registry.zoo_root() == str(zoo_root)
    assert zoo.available() == [NAME]
    assert registry.model_directory(NAME) == str(zoo_root / NAME)


def test_load_by_name_matches_the_keras_generator(zoo_root, network):
    model = zoo.load(NAME)
    assert model.z_dim == Z_DIM and model.directory == str(zoo_root / NAME)
    assert model.card["norm"] == "bssn" and model.card["metrics"] == {"fcd": 1.5}
    z = zoo.latents(6, seed=1, z_dim=Z_DIM)
    images = model(z)
    assert images.dtype == np.float32 and images.shape == (6, 4, 4, 1)
    np.testing.assert_allclose(images, expected_images(network, z), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(model(tf.constant(z)), images, rtol=0, atol=0)
    np.testing.assert_allclose(model.sample(6, seed=1), images, rtol=0, atol=0)
    with np.load(zoo_root / NAME / "reference_output.npz") as reference:
        np.testing.assert_allclose(model(reference["z"]), reference["images"], atol=1e-6)


def test_load_by_local_folder(zoo_root, network):
    model = zoo.load(str(zoo_root / NAME))
    z = zoo.latents(3, seed=2, z_dim=Z_DIM)
    np.testing.assert_allclose(model(z), expected_images(network, z), rtol=1e-6, atol=1e-6)
    assert zoo.card(str(zoo_root / NAME)) == model.card


def test_large_inputs_run_in_batches(zoo_root, network, monkeypatch):
    monkeypatch.setattr(generator, "BATCH_SIZE", 3)
    model = zoo.load(NAME)
    z = zoo.latents(7, seed=4, z_dim=Z_DIM)
    np.testing.assert_allclose(model(z), expected_images(network, z), rtol=1e-6, atol=1e-6)
    assert model(np.zeros((0, Z_DIM), np.float32)).shape == (0, 4, 4, 1)


@pytest.mark.parametrize("shape", [(3, 5), (4,), (2, 4, 1)])
def test_bad_latent_shape_is_refused(zoo_root, shape):
    model = zoo.load(NAME)
    with pytest.raises(ValueError, match=rf"shape \[{', '.join(map(str, shape))}\].*\[N, 4\]"):
        model(np.zeros(shape, np.float32))


def test_load_over_http_lands_in_the_cache_and_reuses_it(zoo_root, server, network, tmp_path):
    base, requests = server
    url = f"{base}/{NAME}"
    cache = tmp_path / "cache"
    pin = card_pin(zoo_root / NAME)
    model = zoo.load(url, sha256=pin)
    final = cache / pin  # content-addressed: the folder is named by the pin
    assert model.directory == str(final)
    assert os.listdir(cache) == [final.name]  # no staging folder left behind
    assert integrity.file_manifest(final) == integrity.file_manifest(zoo_root / NAME)
    assert (final / integrity.CARD).read_bytes() == (zoo_root / NAME / integrity.CARD).read_bytes()
    assert requests[0] == f"/{NAME}/{integrity.CARD}"
    assert len(requests) == 1 + len(model.card["files"])
    z = zoo.latents(5, seed=0, z_dim=Z_DIM)
    np.testing.assert_allclose(model(z), expected_images(network, z), rtol=1e-6, atol=1e-6)

    assert download.fetch(url, pin) == str(final)
    assert len(requests) == 1 + len(model.card["files"])  # reused, nothing fetched again

    flip_byte(variables_data(final))  # a damaged cache is fetched again
    assert download.fetch(url, pin) == str(final)
    assert len(requests) == 2 * (1 + len(model.card["files"]))
    assert integrity.read_card(str(final), pin) == model.card
    assert os.listdir(cache) == [final.name]


def test_load_by_file_url(zoo_root, network, tmp_path):
    url = (zoo_root / NAME).as_uri()
    pin = card_pin(zoo_root / NAME)
    model = zoo.load(url, sha256=pin)
    assert model.directory == str(tmp_path / "cache" / pin)
    z = zoo.latents(2, seed=5, z_dim=Z_DIM)
    np.testing.assert_allclose(model(z), expected_images(network, z), rtol=1e-6, atol=1e-6)


def test_fetch_into_an_explicit_cache_dir(zoo_root, tmp_path):
    url = (zoo_root / NAME).as_uri()
    final = download.fetch(url, card_pin(zoo_root / NAME), cache_dir=str(tmp_path / "elsewhere"))
    assert os.path.dirname(final) == str(tmp_path / "elsewhere")
    assert not (tmp_path / "cache").exists()


def test_tampered_download_is_refused_and_leaves_nothing(zoo_root, server, tmp_path):
    base, _ = server
    data = variables_data(zoo_root / NAME)
    flip_byte(data, offset=len(data.read_bytes()) // 2)
    url = f"{base}/{NAME}"
    with pytest.raises(zoo.IntegrityError, match=rf"{url}/variables/{data.name}"):
        zoo.load(url, sha256=card_pin(zoo_root / NAME))
    assert os.listdir(tmp_path / "cache") == []


def test_missing_remote_file_names_its_url(zoo_root, server, tmp_path):
    base, _ = server
    (zoo_root / NAME / "samples.png").unlink()
    with pytest.raises(download.DownloadError, match=rf"{base}/{NAME}/samples.png"):
        download.fetch(f"{base}/{NAME}", card_pin(zoo_root / NAME))
    assert os.listdir(tmp_path / "cache") == []


def test_unsupported_url_scheme(zoo_root):
    with pytest.raises(ValueError, match="ftp://host/tiny"):
        download.fetch("ftp://host/tiny", "0" * 64)


def test_tampered_variables_are_named(zoo_root):
    data = variables_data(zoo_root / NAME)
    flip_byte(data, offset=len(data.read_bytes()) - 1)
    for source in (NAME, str(zoo_root / NAME)):
        with pytest.raises(zoo.IntegrityError, match=rf"variables/{data.name}: sha256"):
            zoo.load(source)


def test_truncated_file_is_named(zoo_root):
    path = zoo_root / NAME / "saved_model.pb"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(
        zoo.IntegrityError,
        match=r"saved_model.pb: 100 bytes; its card lists \d+ \(the file was truncated\)",
    ):
        zoo.verify(NAME)


def test_missing_file_is_named(zoo_root):
    (zoo_root / NAME / "reference_output.npz").unlink()
    with pytest.raises(zoo.IntegrityError, match=r"reference_output.npz: listed .* but missing"):
        zoo.card(NAME)


def test_card_must_match_the_index(zoo_root):
    card_path = zoo_root / NAME / integrity.CARD
    card = json.loads(card_path.read_text())
    write_json_atomically(card_path, dict(card, metrics={"fcd": 0.1}))
    with pytest.raises(zoo.IntegrityError, match=rf"{integrity.CARD}: sha256 .* zoo index"):
        zoo.load(NAME)


def test_card_without_files_is_refused(model_copy):
    card_path = model_copy / integrity.CARD
    card = json.loads(card_path.read_text())
    del card["files"]
    write_json_atomically(card_path, card)
    with pytest.raises(zoo.IntegrityError, match="'files' is None; expected a non-empty"):
        zoo.load(str(model_copy))


@pytest.mark.parametrize(
    "relpath",
    [
        "/etc/passwd",
        "../outside",
        "variables/../../x",
        "variables\\variables.index",
        "",
        "./samples.png",
        "samples\n.png",  # a newline would break the one-line refusal
        "samples\x1b[2J.png",  # a terminal escape
        "samples\x00.png",
    ],
)
def test_unsafe_paths_in_a_card_are_refused(model_copy, relpath):
    card_path = model_copy / integrity.CARD
    card = json.loads(card_path.read_text())
    card["files"][relpath] = {"sha256": "0" * 64, "size": 1}
    write_json_atomically(card_path, card)
    with pytest.raises(zoo.IntegrityError, match="unsafe file path"):
        zoo.card(str(model_copy))


def test_unsafe_index_path_is_refused(zoo_root):
    index = json.loads((zoo_root / registry.INDEX).read_text())
    index["models"][NAME]["path"] = "../elsewhere"
    write_json_atomically(zoo_root / registry.INDEX, index)
    with pytest.raises(zoo.IntegrityError, match="unsafe file path '../elsewhere'"):
        zoo.load(NAME)


def test_unknown_name_lists_the_available_ones(zoo_root):
    with pytest.raises(zoo.UnknownModelError) as raised:
        zoo.load("no_such_model")
    assert str(raised.value).startswith("no zoo model named 'no_such_model'; available: tiny")


def test_list_is_an_aligned_table_of_any_summary(zoo_root, capsys):
    index = json.loads((zoo_root / registry.INDEX).read_text())
    index["models"]["plain"] = dict(index["models"][NAME], summary="SN baseline, 10k steps")
    write_json_atomically(zoo_root / registry.INDEX, index)
    assert zoo_cli.main(["list"]) == 0
    assert capsys.readouterr().out == (
        "name   arch  norm  scale  steps  FCD  classes\n"
        "plain  -     -     -      -      -    -\n"
        "tiny   -     bssn  -      -      1.5  -\n"
    )


def test_list_json_prints_the_verified_cards(zoo_root, capsys):
    assert zoo_cli.main(["list", "--json"]) == 0
    cards = json.loads(capsys.readouterr().out)
    assert cards == {NAME: json.loads((zoo_root / NAME / integrity.CARD).read_text())}


TENSORFLOW_LOG_LINE = re.compile(r"^[IWEF]0000 |Traceback", re.MULTILINE)


def test_cli_list_card_sample_verify(zoo_root, tmp_path):
    # The CLI quiets TensorFlow itself: no TF_CPP_MIN_LOG_LEVEL from the caller.
    env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONPATH"] = str(ROOT)
    listed = run_cli("list", cwd=tmp_path, zoo_root=zoo_root, env=env, quiet_tensorflow=False)
    assert listed.returncode == 0, listed.stderr
    assert (
        listed.stdout
        == "name  arch  norm  scale  steps  FCD  classes\ntiny  -     bssn  -      -      1.5  -\n"
    )
    assert listed.stderr == "" and not TENSORFLOW_LOG_LINE.search(listed.stdout)

    shown = run_cli("card", NAME, cwd=tmp_path, zoo_root=zoo_root)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout) == json.loads((zoo_root / NAME / integrity.CARD).read_text())

    result = run_cli(
        "sample",
        NAME,
        "--num",
        "10",
        "--seed",
        "3",
        "--out",
        "grid.png",
        cwd=tmp_path,
        zoo_root=zoo_root,
    )
    assert result.returncode == 0, result.stderr
    grid = tf.io.decode_png((tmp_path / "grid.png").read_bytes()).numpy()
    # 10 images: 4 columns, 3 rows of 4x4, upscaled 16x to reach 256 px
    assert grid.shape == (3 * 4 * 16, 4 * 4 * 16, 1)
    expected = image_grid(zoo.load(NAME).sample(10, seed=3), upscale=16)
    np.testing.assert_allclose(grid.astype(int), expected.astype(int), atol=1)

    verified = run_cli("verify", cwd=tmp_path, zoo_root=zoo_root)
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout == "tiny: ok\n"


def test_cli_verify_fails_on_a_tampered_model(zoo_root, tmp_path):
    data = variables_data(zoo_root / NAME)
    flip_byte(data)
    result = run_cli("verify", NAME, cwd=tmp_path, zoo_root=zoo_root)
    assert result.returncode == 1
    assert f"variables/{data.name}: sha256" in result.stderr
