"""What bssn_tf.zoo refuses before TensorFlow runs: unpinned URLs, hostile ops, smuggled files.

Each case first shows that the attack is real (TensorFlow alone would run or read it), then that
the zoo refuses it, by name, without running it.
"""

import importlib.util
import json
import os
import pathlib
import shutil
import subprocess
import sys
import sysconfig

import keras
import numpy as np
import pytest
import tensorflow as tf
from zoo_support import (
    IMAGE_SHAPE,
    NAME,
    ROOT,
    Z_DIM,
    card_pin,
    expected_images,
    export_module,
    flip_byte,
    read_card,
    rehash,
    run_cli,
    serving,
    variables_data,
    write_card,
)

from bssn_tf import zoo
from bssn_tf.io.hashing import sha256_of
from bssn_tf.zoo import __main__ as zoo_cli
from bssn_tf.zoo import download, integrity, registry, screening

pytest_plugins = ["zoo_fixtures"]  # fixtures: network, source_zoo, zoo_root, model_copy, server


class HostileGenerator(tf.Module):
    """A working generator whose serving function also runs `side_effect(z)` first."""

    def __init__(self, side_effect):
        super().__init__()
        self.kernel = tf.Variable(
            np.random.default_rng(0).normal(size=(Z_DIM, 16)), dtype=tf.float32
        )

        @tf.function(input_signature=[tf.TensorSpec([None, Z_DIM], tf.float32, name="z")])
        def serve(z):
            with tf.control_dependencies([side_effect(z)]):
                images = tf.reshape(tf.tanh(tf.matmul(z, self.kernel)), [-1, *IMAGE_SHAPE])
            return {"images": images}

        self.serve = serve


def write_file(target):
    return lambda z: tf.io.write_file(str(target), "written by a zoo model")


def save_v2(target):
    """A checkpoint write (SaveV2 is allowed in the saver's own function, never in serving)."""
    return lambda z: tf.raw_ops.SaveV2(
        prefix=str(target), tensor_names=["z"], shape_and_slices=[""], tensors=[z]
    )


def py_function(target):
    def write(z):
        pathlib.Path(target).write_text("written by a zoo model")
        return z

    return lambda z: tf.py_function(write, [z], tf.float32)


HOSTILE = {"WriteFile": write_file, "SaveV2": save_v2, "EagerPyFunc": py_function}


@pytest.fixture(scope="module")
def hostile_models(tmp_path_factory):
    """{op: (model folder, file its serving function writes)}, exported once."""
    root = tmp_path_factory.mktemp("hostile")
    models = {}
    for op, side_effect in HOSTILE.items():
        target = root / f"{op}-target"
        models[op] = (export_module(HostileGenerator(side_effect(target)), root / op), target)
    return models


@pytest.fixture
def hostile(hostile_models, tmp_path, request):
    """A fresh copy of one hostile model (parametrised by op), the file it writes, and the op."""
    source, target = hostile_models[request.param]
    for written in target.parent.glob(target.name + "*"):
        written.unlink()
    directory = pathlib.Path(shutil.copytree(source, tmp_path / "hostile" / request.param))
    return directory, target, request.param


def written(target):
    """The files a hostile model wrote (SaveV2 adds .index and .data-* to its prefix)."""
    return sorted(target.parent.glob(target.name + "*"))


def edit_saved_model(directory, edit):
    """Applies `edit` to the parsed saved_model.pb, writes it back and re-hashes the card."""
    path = directory / screening.SAVED_MODEL
    saved_model = screening.read_saved_model(str(path))
    edit(saved_model)
    path.write_bytes(saved_model.SerializeToString())
    rehash(directory)


@pytest.mark.parametrize("hostile", sorted(HOSTILE), indirect=True)
def test_hostile_ops_are_refused_before_anything_runs(hostile, monkeypatch):
    directory, target, op = hostile
    # Oracle: TensorFlow alone loads the model, and its serving function writes the file.
    served = tf.saved_model.load(str(directory)).signatures["serving_default"]
    assert served(z=tf.zeros([2, Z_DIM]))["images"].shape == [2, *IMAGE_SHAPE]
    assert written(target)
    for path in written(target):
        path.unlink()

    def must_not_load(*args, **kwargs):
        raise AssertionError("tf.saved_model.load ran on a model that the screen must refuse")

    monkeypatch.setattr(tf.saved_model, "load", must_not_load)
    for call in (zoo.load, zoo.verify, zoo.card):
        with pytest.raises(zoo.ForbiddenOpError) as raised:
            call(str(directory))
        message = str(raised.value)
        assert message.startswith(f"{directory / screening.SAVED_MODEL}: refused before loading")
        assert f"{op} in function __inference_" in message and "(strict)" in message
    assert written(target) == []


@pytest.mark.parametrize("hostile", ["WriteFile"], indirect=True)
def test_a_pinned_url_is_screened_too(hostile, tmp_path, monkeypatch):
    directory, target, _ = hostile
    monkeypatch.setenv(download.CACHE_ENV, str(tmp_path / "cache"))
    with serving(directory.parent) as (base, requests):
        url = f"{base}/{directory.name}"
        with pytest.raises(zoo.ForbiddenOpError, match="WriteFile"):
            zoo.load(url, sha256=card_pin(directory))
    assert len(requests) == 1 + len(read_card(directory)["files"])  # the pin matched
    assert written(target) == []


def test_save_ops_in_serving_are_refused_even_through_the_savers_own_function(model_copy):
    """Re-points the serving wrapper at the saver's save function: that function turns strict."""
    path = model_copy / screening.SAVED_MODEL
    saved_model = screening.read_saved_model(str(path))
    [meta_graph] = saved_model.meta_graphs
    roles, _, saver_nodes = screening.function_roles(meta_graph)
    [save_function] = [name for name, role in roles.items() if role == "save"]
    assert [node.name for node in saver_nodes] == [
        "StatefulPartitionedCall_1",
        "StatefulPartitionedCall_2",
    ]
    assert screening.forbidden_ops(meta_graph) == {}  # the export as written passes
    [wrapper] = [
        f for f in meta_graph.graph_def.library.function if "signature_wrapper" in f.signature.name
    ]
    [call] = [node for node in wrapper.node_def if node.op == "StatefulPartitionedCall"]
    call.attr["f"].func.name = save_function
    path.write_bytes(saved_model.SerializeToString())
    rehash(model_copy)
    assert screening.function_roles(meta_graph)[0][save_function] == "strict"
    with pytest.raises(zoo.ForbiddenOpError) as raised:
        zoo.verify(str(model_copy))
    for op in ("MergeV2Checkpoints", "SaveV2", "ShardedFilename", "StringJoin"):
        assert f"{op} in function {save_function} (strict)" in str(raised.value)


def test_a_saver_node_that_the_signature_uses_is_screened_strictly(model_copy):
    def serve_the_save_node(saved_model):
        [meta_graph] = saved_model.meta_graphs
        images = meta_graph.signature_def[screening.SIGNATURE].outputs["images"]
        images.name = meta_graph.saver_def.save_tensor_name

    edit_saved_model(model_copy, serve_the_save_node)
    with pytest.raises(
        zoo.ForbiddenOpError, match=r"SaveV2 in function __inference__traced_save_\d+ \(strict\)"
    ):
        zoo.verify(str(model_copy))


def test_a_clean_export_passes_the_screen(zoo_root):
    directory = zoo_root / NAME
    saved_model = screening.read_saved_model(str(directory / screening.SAVED_MODEL))
    roles = list(screening.function_roles(saved_model.meta_graphs[0])[0].values())
    assert roles.count("save") == 1 and roles.count("restore") == 1 and "saver" not in roles
    screening.screen_saved_model(str(directory), read_card(directory))


class ConditionalGenerator(tf.Module):
    """Class-conditional: an embedding of the label scales the latents (embedding lookups)."""

    def __init__(self, num_classes=3):
        super().__init__()
        keras.utils.set_random_seed(0)
        z = keras.Input((Z_DIM,))
        label = keras.Input((), dtype="int32")
        gain = keras.layers.Embedding(num_classes, Z_DIM)(label)
        hidden = keras.layers.Dense(16)(keras.layers.Multiply()([z, gain]))
        hidden = keras.layers.BatchNormalization()(hidden)
        images = keras.layers.Activation("tanh")(keras.layers.Reshape(IMAGE_SHAPE)(hidden))
        self.network = keras.Model([z, label], images)

        @tf.function(
            input_signature=[
                tf.TensorSpec([None, Z_DIM], tf.float32, name="z"),
                tf.TensorSpec([None], tf.int32, name="labels"),
            ]
        )
        def serve(z, labels):
            return {"images": self.network([z, labels], training=False)}

        self.serve = serve


def test_a_conditional_generator_passes_the_screen(tmp_path):
    directory = export_module(ConditionalGenerator(), tmp_path / "conditional")
    write_card(directory, dict(read_card(directory), num_classes=3))
    screening.screen_saved_model(str(directory), read_card(directory))
    saved_model = screening.read_saved_model(str(directory / screening.SAVED_MODEL))
    used = {
        node.op
        for function in saved_model.meta_graphs[0].graph_def.library.function
        for node in function.node_def
    }
    assert used & {"GatherV2", "ResourceGather"}  # the embedding lookup is there, and allowed


def test_a_model_without_the_serving_signature_is_refused(model_copy):
    def rename(saved_model):
        signatures = saved_model.meta_graphs[0].signature_def
        signatures["other"].CopyFrom(signatures.pop(screening.SIGNATURE))

    edit_saved_model(model_copy, rename)
    with pytest.raises(zoo.IntegrityError, match="expected a serving_default signature"):
        zoo.verify(str(model_copy))


def test_two_meta_graphs_are_refused(model_copy):
    edit_saved_model(model_copy, lambda sm: sm.meta_graphs.append(sm.meta_graphs[0]))
    with pytest.raises(zoo.IntegrityError, match="holds 2 meta graphs; expected exactly one"):
        zoo.verify(str(model_copy))


def test_a_saved_model_that_does_not_parse_is_named(model_copy):
    (model_copy / screening.SAVED_MODEL).write_bytes(b"\xff" * 16)
    rehash(model_copy)
    with pytest.raises(zoo.IntegrityError, match=r"saved_model.pb: not a SavedModel protobuf"):
        zoo.load(str(model_copy))


def test_other_saved_model_encodings_are_refused(model_copy):
    shutil.copy(model_copy / screening.SAVED_MODEL, model_copy / "saved_model.pbtxt")
    rehash(model_copy)
    with pytest.raises(zoo.IntegrityError, match=r"saved_model.pbtxt: only saved_model.pb is"):
        zoo.load(str(model_copy))


# --- pins -------------------------------------------------------------------------------------


def test_an_unpinned_url_is_refused_before_any_request(zoo_root, server, tmp_path):
    base, requests = server
    for source in (f"{base}/{NAME}", (zoo_root / NAME).as_uri()):
        for call in (zoo.load, zoo.verify, zoo.card, download.fetch):
            with pytest.raises(zoo.PinRequiredError) as raised:
                call(source)
            message = str(raised.value)
            assert message.startswith(f"{source}: refusing an unpinned model URL")
            assert "sha256 of its model_card.json" in message and "--sha256" in message
    assert requests == [] and not (tmp_path / "cache").exists()


def test_a_wrong_pin_stops_at_the_card(zoo_root, server, tmp_path):
    base, requests = server
    with pytest.raises(zoo.IntegrityError, match=rf"{base}/{NAME}/{integrity.CARD}: sha256"):
        zoo.load(f"{base}/{NAME}", sha256="0" * 64)
    assert requests == [f"/{NAME}/{integrity.CARD}"]  # nothing after the card
    assert os.listdir(tmp_path / "cache") == []


def test_the_pin_decides_what_the_cache_may_serve(zoo_root, server, tmp_path, network):
    base, requests = server
    url = f"{base}/{NAME}"
    pin = card_pin(zoo_root / NAME)
    cached = pathlib.Path(zoo.verify(url, sha256=pin.upper()))  # case does not matter
    assert cached == tmp_path / "cache" / pin
    first = len(requests)

    assert zoo.verify(url, sha256=pin) == str(cached) and len(requests) == first  # reused

    # A cached copy whose card no longer hashes to the pin is not used: fetched again.
    write_card(cached, dict(read_card(cached), metrics={"fcd": 0.1}))
    assert zoo.card(url, sha256=pin)["metrics"] == {"fcd": 1.5}
    assert len(requests) == 2 * first

    # A copy of another model planted under this pin is not used either.
    other = dict(read_card(cached), name="other")
    write_card(cached, other)
    model = zoo.load(url, sha256=pin)
    assert len(requests) == 3 * first and "name" not in model.card
    z = zoo.latents(3, seed=0, z_dim=Z_DIM)
    np.testing.assert_allclose(model(z), expected_images(network, z), rtol=1e-6, atol=1e-6)

    # The server's card changes: the old pin refuses it once the cache is gone.
    shutil.rmtree(cached)
    write_card(zoo_root / NAME, dict(read_card(zoo_root / NAME), metrics={"fcd": 0.1}))
    with pytest.raises(zoo.IntegrityError, match="caller's sha256"):
        zoo.load(url, sha256=pin)


@pytest.mark.parametrize("pin", ["abc", "g" * 64, 12, "0" * 63])
def test_a_malformed_pin_is_named(zoo_root, pin):
    with pytest.raises(ValueError, match=rf"sha256={pin!r}: expected the 64 hex digits"):
        zoo.load(NAME, sha256=pin)


def test_an_edited_card_is_reported_when_pinned(zoo_root, model_copy):
    pin = card_pin(model_copy)
    write_card(model_copy, dict(read_card(model_copy), metrics={"fcd": 0.1}))
    with pytest.raises(zoo.IntegrityError, match=r"model_card.json: sha256 .* caller's sha256"):
        zoo.card(str(model_copy), sha256=pin)
    # Unpinned, a folder of one's own is only consistent with its own card (documented).
    assert zoo.card(str(model_copy))["metrics"] == {"fcd": 0.1}
    # A shipped model's folder, loaded by path, stays pinned by the index.
    shipped = zoo_root / NAME
    write_card(shipped, dict(read_card(shipped), metrics={"fcd": 0.1}))
    with pytest.raises(zoo.IntegrityError, match=r"from the zoo index \(model 'tiny'\)"):
        zoo.load(str(shipped))


def test_a_pin_that_contradicts_the_index(zoo_root):
    with pytest.raises(zoo.IntegrityError, match="the caller's sha256 is 0{64}, but the zoo index"):
        zoo.verify(NAME, sha256="0" * 64)
    assert zoo.verify(NAME, sha256=card_pin(zoo_root / NAME)) == str(zoo_root / NAME)


# --- exact file lists and card fields ----------------------------------------------------------


def test_an_extra_variables_shard_is_refused(zoo_root, model_copy):
    for directory in (model_copy, zoo_root / NAME):
        data = variables_data(directory)
        shutil.copy(data, data.parent / "variables.data-00001-of-00002")
        with pytest.raises(
            zoo.IntegrityError,
            match=r"variables/variables.data-00001-of-00002: not listed in model_card.json",
        ):
            zoo.load(str(directory))


def test_an_unlisted_file_is_refused(model_copy):
    (model_copy / "notes.txt").write_text("hello")
    with pytest.raises(zoo.IntegrityError, match=r"notes.txt: not listed"):
        zoo.verify(str(model_copy))


def test_symlinks_are_refused_even_with_the_right_content(model_copy, tmp_path):
    samples = model_copy / "samples.png"
    outside = tmp_path / "outside.png"
    shutil.move(samples, outside)
    samples.symlink_to(outside)
    # Oracle: the link's content hashes to the listed value, so only the link itself is wrong.
    assert sha256_of(samples) == read_card(model_copy)["files"]["samples.png"]["sha256"]
    with pytest.raises(zoo.IntegrityError, match=r"samples.png: a symbolic link"):
        zoo.load(str(model_copy))


def test_a_symlinked_folder_is_refused(model_copy, tmp_path):
    shutil.move(model_copy / "variables", tmp_path / "variables")
    (model_copy / "variables").symlink_to(tmp_path / "variables", target_is_directory=True)
    with pytest.raises(zoo.IntegrityError, match=r"/variables: a symbolic link"):
        zoo.verify(str(model_copy))


def test_a_symlinked_card_is_refused(model_copy, tmp_path):
    shutil.move(model_copy / integrity.CARD, tmp_path / integrity.CARD)
    (model_copy / integrity.CARD).symlink_to(tmp_path / integrity.CARD)
    with pytest.raises(zoo.IntegrityError, match=r"model_card.json: a symbolic link"):
        zoo.card(str(model_copy))


@pytest.mark.parametrize(
    "field, value, expected",
    [
        ("files", {}, r"'files' is \{\}; expected a non-empty object"),
        ("files", ["saved_model.pb"], r"'files' is \['saved_model.pb'\]"),
        ("z_dim", None, r"z_dim is None; expected a positive integer"),
        ("z_dim", 0, r"z_dim is 0; expected a positive integer"),
        ("z_dim", "4", r"z_dim is '4'"),
        ("z_dim", True, r"z_dim is True"),
        ("z_dim", 4.0, r"z_dim is 4.0"),
        ("image_shape", None, r"image_shape is None; expected \[height, width, channels\]"),
        ("image_shape", [4, 4], r"image_shape is \[4, 4\]"),
        ("image_shape", [4, 4, 0], r"image_shape is \[4, 4, 0\]"),
        ("name", 3, r"name is 3; expected a string"),
    ],
)
def test_card_fields_are_validated(model_copy, field, value, expected):
    card = read_card(model_copy)
    if value is None:
        del card[field]
    else:
        card[field] = value
    write_card(model_copy, card)
    with pytest.raises(zoo.IntegrityError, match=rf"model_card.json: {expected}"):
        zoo.load(str(model_copy))


@pytest.mark.parametrize(
    "entry",
    [
        "0" * 64,  # a bare hash: cards state every file's size too
        {"sha256": "xyz", "size": 1},
        {"sha256": "0" * 64},
        {"sha256": "0" * 64, "size": -1},
        {"sha256": "0" * 64, "size": True},
        {"sha256": "0" * 64, "size": 1.0},
    ],
)
def test_malformed_file_entries_are_refused(model_copy, entry):
    card = read_card(model_copy)
    write_card(model_copy, dict(card, files=dict(card["files"], **{"samples.png": entry})))
    with pytest.raises(zoo.IntegrityError, match=r"gives 'samples.png' the entry"):
        zoo.card(str(model_copy))


def test_a_card_listing_itself_is_refused(model_copy):
    card = read_card(model_copy)
    entry = {"sha256": "0" * 64, "size": 1}
    write_card(model_copy, dict(card, files=dict(card["files"], **{integrity.CARD: entry})))
    with pytest.raises(zoo.IntegrityError, match="lists itself"):
        zoo.card(str(model_copy))


def test_a_card_that_contradicts_the_signature_is_refused(model_copy):
    write_card(model_copy, dict(read_card(model_copy), image_shape=[8, 8, 3], z_dim=5))
    with pytest.raises(
        zoo.IntegrityError, match=r"input 'z' has shape \[-1, 4\]; the card says \[-1, 5\]"
    ):
        zoo.load(str(model_copy))
    write_card(model_copy, dict(read_card(model_copy), z_dim=Z_DIM))
    with pytest.raises(
        zoo.IntegrityError, match=r"'images' has shape \[-1, 4, 4, 1\]; .* \[-1, 8, 8, 3\]"
    ):
        zoo.load(str(model_copy))


def test_repr_names_the_model(zoo_root, model_copy):
    assert repr(zoo.load(NAME)) == (
        f"ZooGenerator(name='tiny', z_dim={Z_DIM}, image_shape={IMAGE_SHAPE}, source='tiny')"
    )
    write_card(model_copy, dict(read_card(model_copy), name="copied"))
    assert repr(zoo.load(str(model_copy))) == (
        f"ZooGenerator(name='copied', z_dim={Z_DIM}, image_shape={IMAGE_SHAPE}, "
        f"source='{model_copy}')"
    )


# --- one line, every time ------------------------------------------------------------------------


def cli_error(capsys, *args):
    """Runs the CLI in this process; returns its one stderr line (and checks there is one)."""
    assert zoo_cli.main(list(args)) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    return lines[0]


def damaged_but_listed(directory):
    """Flips a byte of the variables data and re-hashes the card: only TensorFlow can tell."""
    data = variables_data(directory)
    flip_byte(data, offset=len(data.read_bytes()) // 2)
    rehash(directory)


def test_cli_failures_are_one_line(zoo_root, model_copy, server, tmp_path, capsys):
    base, _ = server
    line = cli_error(capsys, "card", f"{base}/{NAME}")
    assert line.startswith(f"error: {base}/{NAME}: refusing an unpinned") and "--sha256" in line

    write_card(model_copy, {k: v for k, v in read_card(model_copy).items() if k != "z_dim"})
    line = cli_error(capsys, "sample", str(model_copy))
    assert (
        line == f"error: {model_copy / integrity.CARD}: z_dim is None; expected a positive integer"
    )

    (tmp_path / "a_file").write_text("not a folder")
    line = cli_error(capsys, "sample", NAME, "--out", str(tmp_path / "a_file" / "grid.png"))
    assert line.startswith("error: ") and "a_file" in line

    line = cli_error(capsys, "verify", NAME, "other", "--sha256", "0" * 64)
    assert line == "error: --sha256 pins one model; got 2 names"


def test_cli_a_damaged_variables_file_is_one_line(model_copy, capsys):
    damaged_but_listed(model_copy)
    # Oracle: the card is satisfied, and TensorFlow itself raises on the data.
    zoo.verify(str(model_copy))
    with pytest.raises(tf.errors.OpError):
        tf.saved_model.load(str(model_copy))
    with pytest.raises(zoo.IntegrityError, match=f"{model_copy}: TensorFlow could not load"):
        zoo.load(str(model_copy))
    line = cli_error(capsys, "sample", str(model_copy))
    assert line.startswith(f"error: {model_copy}: TensorFlow could not load this model")


def test_cli_pinned_url(zoo_root, server, capsys):
    base, _ = server
    pin = card_pin(zoo_root / NAME)
    assert zoo_cli.main(["card", f"{base}/{NAME}", "--sha256", pin]) == 0
    assert json.loads(capsys.readouterr().out) == read_card(zoo_root / NAME)
    assert zoo_cli.main(["verify", f"{base}/{NAME}", "--sha256", pin]) == 0
    assert capsys.readouterr().out == f"{base}/{NAME}: ok\n"


@pytest.mark.parametrize("hostile", ["WriteFile"], indirect=True)
def test_cli_verify_reports_a_hostile_model(hostile, capsys):
    directory, target, _ = hostile
    assert zoo_cli.main(["verify", str(directory)]) == 1
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"{directory}: FAILED: {directory / screening.SAVED_MODEL}: refused")
    assert "WriteFile" in line


def test_cli_usage_errors_are_one_line(capsys):
    with pytest.raises(SystemExit) as raised:
        zoo_cli.main(["sample"])
    assert raised.value.code == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("python -m bssn_tf.zoo sample: error: the following arguments")


def test_cli_help_exits_zero(capsys):
    for args in (["--help"], ["sample", "--help"]):
        with pytest.raises(SystemExit) as raised:
            zoo_cli.main(args)
        assert raised.value.code == 0
        assert capsys.readouterr().out.startswith("usage: python -m bssn_tf.zoo")
    zoo_cli.parse_args(["sample", "x", "--sha256", "0" * 64])  # every model command takes a pin


# --- first run: from the repository root, with a plain `pip install .` ---------------------------


def checkout_only_env():
    """The environment of a non-editable install run from the repository root.

    `python -S` skips site-packages' .pth files, so no editable-install finder maps
    bssn_tf.zoo_files; PYTHONPATH still gives TensorFlow and the other dependencies.
    The checkout's bssn_tf is first on sys.path (the working directory), as after
    `pip install .`, and it has no bssn_tf/zoo_files.
    """
    paths = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    env = {k: v for k, v in os.environ.items() if k != registry.ZOO_DIR_ENV}
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


def test_first_run_from_the_repository_root():
    env = checkout_only_env()
    probe = subprocess.run(
        [sys.executable, "-S", "-c", PROBE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert probe.returncode == 0, probe.stderr
    # The precondition of the bug: the checkout's bssn_tf is found first and has no zoo_files.
    assert probe.stdout.split() == [str(ROOT / "bssn_tf"), "None"]

    shipped = sorted(json.loads((ROOT / "zoo" / registry.INDEX).read_text())["models"])
    verified = run_cli("verify", cwd=ROOT, python_args=["-S"], env=env)
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout == "".join(f"{name}: ok\n" for name in shipped)


def test_a_checkout_reads_its_own_zoo_and_an_install_its_data_package(monkeypatch, tmp_path):
    monkeypatch.delenv(registry.ZOO_DIR_ENV, raising=False)
    assert registry.zoo_root() == str(ROOT / "zoo")
    monkeypatch.setattr(registry, "PACKAGE_DIR", str(tmp_path / "site-packages" / "bssn_tf"))
    spec = importlib.util.find_spec(registry.DATA_PACKAGE)
    if spec is None:  # bssn_tf is not installed in this environment
        with pytest.raises(FileNotFoundError, match="set BSSN_ZOO_DIR"):
            registry.zoo_root()
    else:
        assert registry.zoo_root() == list(spec.submodule_search_locations)[0]


# Where `import bssn_tf` would come from, and whether bssn_tf.zoo_files is findable there
# (without importing bssn_tf, so without TensorFlow).
PROBE = """
import importlib.machinery, importlib.util
[location] = importlib.util.find_spec("bssn_tf").submodule_search_locations
print(location, importlib.machinery.PathFinder.find_spec("bssn_tf.zoo_files", [location]))
"""


def test_no_zoo_at_all_says_what_to_do(tmp_path):
    package = shutil.copytree(
        ROOT / "bssn_tf", tmp_path / "bssn_tf", ignore=shutil.ignore_patterns("__pycache__")
    )
    result = run_cli("list", cwd=tmp_path, python_args=["-S"], env=checkout_only_env())
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    line = result.stderr.splitlines()[-1]
    assert line.startswith(f"error: no model zoo for bssn_tf at {package}")
    assert "set BSSN_ZOO_DIR" in line and "reinstall" not in line
