"""The SavedModel screen against a hostile publisher: TF1 loaders, saver paths, calls, sizes.

Each attack is first shown to be real where that is cheap (TensorFlow alone runs it), then
refused by bssn_tf.zoo before TensorFlow sees the file, with nothing written or read.
"""

import pathlib
import shutil

import numpy as np
import pytest
import tensorflow as tf
from zoo_support import IMAGE_SHAPE, NAME, Z_DIM, export_module, rehash, write_card
from zoo_support import read_card as read_card_json

from bssn_tf import zoo
from bssn_tf.io import UntrustedFileError
from bssn_tf.zoo import loading, screening, shape_bounds

pytest_plugins = ["zoo_fixtures"]


def edit_saved_model(directory, edit):
    """Applies `edit` to the parsed saved_model.pb, writes it back and re-hashes the card."""
    path = pathlib.Path(directory) / screening.SAVED_MODEL
    saved_model = screening.read_saved_model(str(path))
    edit(saved_model.meta_graphs[0])
    path.write_bytes(saved_model.SerializeToString())
    rehash(directory)


def must_not_load(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("tf.saved_model.load ran on a model that the screen must refuse")

    monkeypatch.setattr(tf.saved_model, "load", refuse)


def function_named(meta_graph, fragment):
    [function] = [f for f in meta_graph.graph_def.library.function if fragment in f.signature.name]
    return function


def tf1_model(directory, target):
    """A TF1-style SavedModel (no object graph) whose main op writes `target` when loaded."""
    with tf.Graph().as_default():
        z = tf.compat.v1.placeholder(tf.float32, [None, Z_DIM], name="z")
        images = tf.reshape(tf.tanh(tf.matmul(z, tf.ones([Z_DIM, 16]))), [-1, *IMAGE_SHAPE])
        main_op = tf.io.write_file(str(target), "written by a TF1 main op")
        with tf.compat.v1.Session() as session:
            builder = tf.compat.v1.saved_model.Builder(str(directory))
            signature = tf.compat.v1.saved_model.predict_signature_def({"z": z}, {"images": images})
            builder.add_meta_graph_and_variables(
                session,
                ["serve"],
                signature_def_map={"serving_default": signature},
                main_op=main_op,
            )
            builder.save()
    write_card(directory, {"z_dim": Z_DIM, "image_shape": IMAGE_SHAPE, "files": {}})
    rehash(directory)
    return directory


def test_a_tf1_saved_model_is_refused_before_its_main_op_runs(tmp_path, monkeypatch):
    target = tmp_path / "written.txt"
    directory = tf1_model(tmp_path / "tf1", target)
    # Oracle: TensorFlow's own loader falls back to the TF1 loader and runs the main op.
    tf.saved_model.load(str(directory))
    assert target.read_text() == "written by a TF1 main op"
    target.unlink()
    must_not_load(monkeypatch)
    for call in (zoo.load, zoo.verify, zoo.card):
        with pytest.raises(zoo.IntegrityError, match="a TensorFlow 1 style SavedModel"):
            call(str(directory))
    assert not target.exists()


def test_an_emptied_object_graph_is_refused(model_copy, monkeypatch):
    edit_saved_model(model_copy, lambda meta_graph: meta_graph.ClearField("object_graph_def"))
    must_not_load(monkeypatch)
    with pytest.raises(zoo.IntegrityError, match="no object graph") as raised:
        zoo.load(str(model_copy))
    assert str(raised.value).startswith(f"{model_copy / screening.SAVED_MODEL}: ")


def test_a_collection_that_names_the_save_node_makes_it_strict(model_copy, monkeypatch):
    """A TF1 loader would run a main op from collection_def: the saver node named there loses
    its checkpoint allowance, so SaveV2 in its function is refused."""

    def name_save_node_as_main_op(meta_graph):
        save_node = meta_graph.saver_def.save_tensor_name.split(":")[0]
        collection = meta_graph.collection_def["saved_model_main_op"]
        collection.node_list.value[:] = [save_node]

    edit_saved_model(model_copy, name_save_node_as_main_op)
    must_not_load(monkeypatch)
    with pytest.raises(zoo.ForbiddenOpError, match=r"SaveV2 in function __inference__traced_save"):
        zoo.verify(str(model_copy))


def const_path_node(function, name, path):
    node = function.node_def.add(name=name, op="Const")
    node.attr["dtype"].type = tf.string.as_datatype_enum
    node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(path))
    return f"{name}:output:0"


@pytest.mark.parametrize(
    "op, fragment, reason",
    [
        ("RestoreV2", "_traced_restore", "restores from a path other than its prefix argument"),
        ("SaveV2", "_traced_save", "writes to a path not made from its prefix argument"),
        ("MergeV2Checkpoints", "_traced_save", "merges files other than its prefix's shards"),
    ],
)
def test_checkpoint_ops_on_a_constant_path_are_refused(model_copy, tmp_path, op, fragment, reason):
    secret = tmp_path / "secret" / "variables"

    def point_at_constant(meta_graph):
        function = function_named(meta_graph, fragment)
        path = const_path_node(function, "attacker_path", str(secret))
        [node] = [node for node in function.node_def if node.op == op]
        node.input[1 if op == "MergeV2Checkpoints" else 0] = path

    edit_saved_model(model_copy, point_at_constant)
    with pytest.raises(zoo.ForbiddenOpError) as raised:
        zoo.load(str(model_copy))
    assert f"{op} in function __inference_{fragment}" in str(raised.value)
    assert reason in str(raised.value)
    assert not secret.parent.exists()


def test_a_save_path_that_climbs_out_of_the_prefix_is_refused(model_copy):
    def climb(meta_graph):
        function = function_named(meta_graph, "_traced_save")
        [join] = [node for node in function.node_def if node.op == "StringJoin"]
        join.attr["separator"].s = b"/../../../"

    edit_saved_model(model_copy, climb)
    with pytest.raises(zoo.ForbiddenOpError, match="SaveV2 in function __inference__traced_save"):
        zoo.verify(str(model_copy))


def test_a_saver_node_fed_a_constant_filename_is_strict(model_copy):
    def feed_constant(meta_graph):
        node = meta_graph.graph_def.node.add(name="attacker_filename", op="Const")
        node.attr["dtype"].type = tf.string.as_datatype_enum
        node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto("/etc/passwd"))
        restore = meta_graph.saver_def.restore_op_name
        [saver] = [n for n in meta_graph.graph_def.node if n.name == restore]
        saver.input[0] = "attacker_filename"

    edit_saved_model(model_copy, feed_constant)
    with pytest.raises(zoo.ForbiddenOpError, match=r"RestoreV2 in function \S+ \(strict\)"):
        zoo.verify(str(model_copy))


def test_a_call_whose_target_is_an_op_name_is_refused(model_copy):
    def call_write_file(meta_graph):
        wrapper = function_named(meta_graph, "signature_wrapper")
        [call] = [node for node in wrapper.node_def if node.op == "StatefulPartitionedCall"]
        call.attr["f"].func.name = "WriteFile"

    edit_saved_model(model_copy, call_write_file)
    with pytest.raises(
        zoo.ForbiddenOpError, match="calls 'WriteFile', which is not a function of this model"
    ):
        zoo.load(str(model_copy))


def test_two_functions_with_one_name_are_refused(model_copy):
    def duplicate(meta_graph):
        serving = function_named(meta_graph, "signature_wrapper")
        meta_graph.graph_def.library.function.add().CopyFrom(serving)

    edit_saved_model(model_copy, duplicate)
    with pytest.raises(zoo.ForbiddenOpError, match="two library functions are named"):
        zoo.load(str(model_copy))


class FillingGenerator(tf.Module):
    """A working generator whose serving function also builds `make_tensor(z)` first."""

    def __init__(self, make_tensor):
        super().__init__()
        self.kernel = tf.Variable(np.ones((Z_DIM, 16)), dtype=tf.float32)

        @tf.function(input_signature=[tf.TensorSpec([None, Z_DIM], tf.float32, name="z")])
        def serve(z):
            padding = tf.reduce_sum(make_tensor(z)) * 0.0
            images = tf.reshape(tf.tanh(tf.matmul(z, self.kernel)), [-1, *IMAGE_SHAPE])
            return {"images": images + padding}

        self.serve = serve


CAP = shape_bounds.ELEMENTS_PER_IMAGE_ELEMENT * int(np.prod(IMAGE_SHAPE))


@pytest.mark.parametrize(
    "make_tensor, op, reason",
    [
        # 2**29 floats (2 GiB) from a file of a few KB.
        (lambda z: tf.fill([1 << 29], 1.0), "Fill", f"asks for {1 << 29} elements"),
        (lambda z: tf.fill(tf.constant([1 << 15]) * (1 << 14), 1.0), "Fill", "asks for"),
        (lambda z: tf.broadcast_to(z[:1, :1], [1 << 14, 1 << 14]), "BroadcastTo", "asks for"),
        (lambda z: tf.tile(z, [1, 1 << 20]), "Tile", f"asks for {1 << 20} elements"),
        (lambda z: tf.one_hot([0], 1 << 26), "OneHot", "asks for"),
        (
            lambda z: tf.fill(tf.cast(tf.reduce_max(z), tf.int32)[None] * 1000, 1.0),
            "Fill",
            "cannot be bounded before running",
        ),
        (
            lambda z: tf.fill(tf.shape(z)[:1] * 100000, 1.0),
            "Fill",
            "does arithmetic on a runtime dimension",
        ),
        # A constant hidden beside the batch in a concat still counts.
        (lambda z: tf.fill(tf.concat([tf.shape(z)[:1], [1 << 30]], 0), 1.0), "Fill", "asks for"),
        # ... and cannot be sliced back out of it.
        (
            lambda z: tf.fill(tf.concat([tf.shape(z), [1 << 30]], 0)[2:], 1.0),
            "Fill",
            "only a tensor's shape may be sliced",
        ),
        # Two runtime dimensions multiply: [N, N] from any tensor's shape.
        (lambda z: tf.fill(tf.concat([tf.shape(z), tf.shape(z)], 0), 1.0), "Fill", "2 runtime"),
        (lambda z: tf.tile(z, tf.shape(z)), "Tile", "runtime dimension(s) in its size"),
        (lambda z: tf.cast(tf.range(-(1 << 30), tf.shape(z)[0]), tf.float32), "Range", "runtime"),
    ],
)
def test_sizes_written_into_the_file_are_bounded(tmp_path, monkeypatch, make_tensor, op, reason):
    directory = export_module(FillingGenerator(make_tensor), tmp_path / "bomb")
    must_not_load(monkeypatch)
    with pytest.raises(zoo.ForbiddenOpError) as raised:
        zoo.load(str(directory))
    message = str(raised.value)
    assert f"{op} in function __inference_serve" in message and reason in message
    assert f"(cap {CAP})" in message and "\n" not in message


def test_sizes_within_the_cap_pass(tmp_path):
    """The same ops at a generator's scale: a per-sample Fill and a batch-sized Tile load."""

    def modest(z):
        batch = tf.shape(z)[:1]
        return tf.fill(tf.concat([batch, [CAP]], 0), 1.0) + tf.tile(z[:, :1], [1, CAP])

    directory = export_module(FillingGenerator(modest), tmp_path / "modest")
    images = zoo.load(str(directory))(np.zeros((2, Z_DIM), np.float32))
    assert images.shape == (2, *IMAGE_SHAPE)


def test_the_screen_reads_only_the_verified_copy(zoo_root, hostile_saved_model, monkeypatch):
    """Check, then load, is no race: swapping saved_model.pb in the folder after the copy was
    verified (a deterministic stand-in for a blind swapper) changes nothing that is loaded."""
    directory = zoo_root / NAME
    real_screen = screening.screen_saved_model
    swapped = []

    def screen_then_swap(copy, card, shown_as=None):
        real_screen(copy, card, shown_as)
        shutil.copy(hostile_saved_model, directory / screening.SAVED_MODEL)
        swapped.append(copy)

    monkeypatch.setattr(loading, "screen_saved_model", screen_then_swap)
    generator = zoo.load(NAME)
    assert swapped and not pathlib.Path(swapped[0]).exists()  # the private copy is gone
    reference = np.load(directory / "reference_output.npz")
    np.testing.assert_allclose(generator(reference["z"]), reference["images"], atol=1e-6)


@pytest.fixture
def hostile_saved_model(tmp_path):
    """The saved_model.pb of a model whose serving function writes a file."""

    class Writer(tf.Module):
        def __init__(self):
            super().__init__()
            self.kernel = tf.Variable(np.ones((Z_DIM, 16)), dtype=tf.float32)

        @tf.function(input_signature=[tf.TensorSpec([None, Z_DIM], tf.float32, name="z")])
        def serve(self, z):
            with tf.control_dependencies([tf.io.write_file(str(tmp_path / "pwned"), "x")]):
                images = tf.reshape(tf.tanh(tf.matmul(z, self.kernel)), [-1, *IMAGE_SHAPE])
            return {"images": images}

    module = Writer()
    tf.saved_model.save(
        module, str(tmp_path / "writer"), signatures={"serving_default": module.serve}
    )
    return tmp_path / "writer" / screening.SAVED_MODEL


def test_every_refusal_is_an_untrusted_file_error_on_one_line(model_copy):
    card = read_card_json(model_copy)
    write_card(model_copy, dict(card, z_dim=[1] * 3))
    with pytest.raises(UntrustedFileError) as raised:
        zoo.load(str(model_copy))
    assert "\n" not in str(raised.value) and str(model_copy) in str(raised.value)
    assert issubclass(zoo.ForbiddenOpError, UntrustedFileError)


def test_a_constant_that_declares_gigabytes_in_a_few_bytes_is_refused(model_copy):
    def add_bomb(meta_graph):
        serving = function_named(meta_graph, "signature_wrapper")
        node = serving.node_def.add(name="bomb", op="Const")
        node.attr["dtype"].type = tf.float32.as_datatype_enum
        tensor = node.attr["value"].tensor
        tensor.dtype = tf.float32.as_datatype_enum
        tensor.tensor_shape.dim.add(size=1 << 30)
        tensor.float_val.append(1.0)  # TensorFlow repeats it to the declared 2**30 values

    edit_saved_model(model_copy, add_bomb)
    with pytest.raises(zoo.ForbiddenOpError, match=f"declares {1 << 30} elements"):
        zoo.load(str(model_copy))


class WideGenerator(tf.Module):
    def __init__(self):
        super().__init__()
        self.table = tf.Variable(tf.zeros([1 << 20]))  # 4 MB of checkpoint data

        @tf.function(input_signature=[tf.TensorSpec([None, Z_DIM], tf.float32, name="z")])
        def serve(z):
            images = tf.reshape(tf.tile(z[:, :1], [1, 16]), [-1, *IMAGE_SHAPE])
            return {"images": images + self.table[0]}

        self.serve = serve


def test_variables_that_declare_more_than_their_data_holds_are_refused(tmp_path, monkeypatch):
    directory = export_module(WideGenerator(), tmp_path / "wide")
    assert zoo.load(str(directory))(np.zeros((1, Z_DIM), np.float32)).shape == (1, *IMAGE_SHAPE)
    [data] = directory.glob("variables/variables.data-*")
    data.write_bytes(b"\0" * 1024)  # the index still declares 4 MB for the table
    rehash(directory)
    must_not_load(monkeypatch)
    with pytest.raises(zoo.IntegrityError) as raised:
        zoo.load(str(directory))
    assert str(raised.value).startswith(f"{directory / 'variables/variables.index'}: declares")
    assert "but its data files hold 1024" in str(raised.value)


@pytest.mark.parametrize(
    "make_tensor, reason",
    [
        # 5,000 ops between the constant and the size: no RecursionError, one line.
        (lambda z: tf.fill(_identity_chain(tf.constant([4]), 5000), 1.0), "or more ops from"),
        # A division by zero in a size computation.
        (lambda z: tf.fill(tf.constant([4]) // tf.constant([0]), 1.0), "cannot be bounded"),
    ],
)
def test_malformed_size_computations_are_one_line(tmp_path, make_tensor, reason):
    directory = export_module(FillingGenerator(make_tensor), tmp_path / "odd")
    with pytest.raises(zoo.ForbiddenOpError) as raised:
        zoo.verify(str(directory))
    assert reason in str(raised.value) and "\n" not in str(raised.value)


def _identity_chain(tensor, length):
    for _ in range(length):
        tensor = tf.identity(tensor)
    return tensor
