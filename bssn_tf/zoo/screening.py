"""Screens a SavedModel before TensorFlow loads it: a zoo model may only compute images.

A SavedModel is a program. tf.saved_model.load turns every function of its
library into a callable, and the serving signature runs whatever ops it
holds, file and process ops included. So saved_model.pb is parsed here first
(as a protobuf; nothing is executed) and refused unless all of this holds:

- It is a TensorFlow 2 SavedModel: one meta graph with an object graph. For a
  meta graph without one, TensorFlow falls back to its TF1 loader, which runs
  the saver's restore op and an init op named in `collection_def`; the zoo's
  exporter never writes such models, so none is loaded.
- Every op in the graph and in every library function is in GENERATOR_OPS,
  the ops the zoo's CNN and ResNet generators (conditional ones included) are
  exported with. Calls are followed through `f`, branch, body and every other
  function-valued attribute; a call to a name that is not a library function
  (an op name, say) is refused, and so are two functions with one name.
- Checkpoint ops appear only in the two functions that `saver_def`'s save and
  restore nodes call directly, and only on paths made from that function's
  own prefix argument (the prefix itself, or the prefix plus a constant suffix
  without '..', as TensorFlow names its shard files), never on a constant or
  data-computed path. A saver node that a signature, another node or any
  collection refers to is screened strictly, like the rest of the graph.
- Sizes written into the file stay within a cap derived from the card's image
  shape (bssn_tf.zoo.shape_bounds), and the variables declare no more bytes
  than the checkpoint's data files hold.
- The serving signature matches the card.

TensorFlow 2 loading restores variables from Python and never runs the saver's
functions, so the checkpoint rules are a second line, not the first.
"""

import os

import numpy as np
import tensorflow as tf
from google.protobuf.message import DecodeError
from tensorflow.core.framework import function_pb2
from tensorflow.core.protobuf import saved_model_pb2

from bssn_tf.command_line import one_line
from bssn_tf.zoo import shape_bounds
from bssn_tf.zoo.integrity import IntegrityError

SAVED_MODEL = "saved_model.pb"
VARIABLES_PREFIX = "variables/variables"
# Other SavedModel encodings TensorFlow would read instead of, or besides, saved_model.pb.
UNSCREENED_ENCODINGS = ("saved_model.pbtxt", "saved_model.cpb")
SIGNATURE = "serving_default"

_STRUCTURE_OPS = {
    "Assert", "CheckNumerics", "Const", "EnsureShape", "Identity", "IdentityN", "NoOp",
    "PartitionedCall", "Placeholder", "PlaceholderWithDefault", "PreventGradient",
    "StatefulPartitionedCall", "StopGradient",
    # Control flow: the branch and body functions are screened like any other.
    "Case", "If", "StatelessCase", "StatelessIf", "StatelessWhile", "While",
}  # fmt: skip
_VARIABLE_OPS = {
    "AssignVariableOp", "DisableCopyOnRead", "ReadVariableOp", "ResourceGather",
    "VarHandleOp", "VarIsInitializedOp",
}  # fmt: skip
_SHAPE_OPS = {
    "BroadcastArgs", "BroadcastGradientArgs", "BroadcastTo", "Cast", "Concat", "ConcatV2",
    "DepthToSpace", "ExpandDims", "Fill", "GatherNd", "GatherV2", "MirrorPad", "OneHot",
    "OnesLike", "Pack", "Pad", "PadV2", "Range", "Rank", "Reshape", "ResizeBilinear",
    "ResizeNearestNeighbor", "ReverseV2", "Select", "SelectV2", "Shape", "ShapeN", "Size",
    "Slice", "SpaceToDepth", "Split", "SplitV", "Squeeze", "StridedSlice", "Tile",
    "Transpose", "Unpack", "ZerosLike",
}  # fmt: skip
_MATH_OPS = {
    "Abs", "Add", "AddN", "AddV2", "All", "Any", "ArgMax", "ArgMin", "AvgPool",
    "BatchMatMulV2", "BatchMatMulV3", "BiasAdd", "Ceil", "ClipByValue", "Conv2D",
    "Conv2DBackpropInput", "DepthwiseConv2dNative", "Div", "DivNoNan", "Einsum", "Elu",
    "Equal", "Erf", "Exp", "Floor", "FloorDiv", "FloorMod", "FusedBatchNorm",
    "FusedBatchNormV3", "Greater", "GreaterEqual", "IsFinite", "LeakyRelu", "Less",
    "LessEqual", "Log", "Log1p", "LogicalAnd", "LogicalNot", "LogicalOr", "MatMul", "Max",
    "MaxPool", "Maximum", "Mean", "Min", "Minimum", "Mul", "Neg", "NotEqual", "Pow", "Prod",
    "RealDiv", "Reciprocal", "Relu", "Relu6", "Round", "Rsqrt", "Selu", "Sigmoid", "Sign",
    "Softmax", "Softplus", "Sqrt", "Square", "SquaredDifference", "Sub", "Sum", "Tanh",
}  # fmt: skip
# What a generator may run: no file, process, network, py_func, print or summary op.
GENERATOR_OPS = frozenset(_STRUCTURE_OPS | _VARIABLE_OPS | _SHAPE_OPS | _MATH_OPS)
# Allowed only in the function that saver_def's save node calls, on paths from its prefix.
SAVE_OPS = frozenset(
    {"MergeV2Checkpoints", "SaveV2", "ShardedFilename", "StaticRegexFullMatch", "StringJoin"}
)
# Allowed only in the function that saver_def's restore node calls, on its prefix.
RESTORE_OPS = frozenset({"RestoreV2"})


class ForbiddenOpError(IntegrityError):
    """A SavedModel holds an op that a generator does not need; the message names it."""


class _Refused(Exception):
    """A structural reason to refuse a meta graph; screen_saved_model adds the file's path."""


def _node_name(tensor_name):
    """'^name', 'name:0' or 'name:output:0' -> 'name'."""
    return tensor_name.lstrip("^").split(":")[0]


def library_functions(meta_graph):
    """{name: FunctionDef} of the meta graph's library; two functions with one name are refused."""
    functions = {}
    for function in meta_graph.graph_def.library.function:
        name = function.signature.name
        if name in functions:
            raise _Refused(f"two library functions are named {name!r}")
        functions[name] = function
    return functions


def _unique_nodes(nodes, where):
    by_name = {}
    for node in nodes:
        if node.name in by_name:
            raise _Refused(f"two nodes of {where} are named {node.name!r}")
        by_name[node.name] = node
    return by_name


def _called_functions(node, functions):
    """Names of the library functions that a node calls: function-valued attrs, or its op."""
    called = {node.op} & functions.keys()
    pending = list(node.attr.values())
    while pending:
        value = pending.pop()
        kind = value.WhichOneof("value")
        funcs = [value.func] if kind == "func" else list(value.list.func) if kind == "list" else []
        for func in funcs:
            if func.name not in functions:
                raise _Refused(
                    f"node {node.name!r} calls {func.name!r}, which is not a function of "
                    "this model's library"
                )
            called.add(func.name)
            pending.extend(func.attr.values())
    return called


def _closure(roots, functions):
    """Every function reachable from `roots` through the call graph."""
    reached, pending = set(), [name for name in roots if name in functions]
    while pending:
        name = pending.pop()
        if name in reached:
            continue
        reached.add(name)
        for node in functions[name].node_def:
            pending.extend(_called_functions(node, functions) - reached)
    return reached


def _object_graph_functions(meta_graph):
    """Functions that tf.saved_model.load makes callable or runs while restoring objects."""
    graph = meta_graph.object_graph_def
    names = set(graph.concrete_functions)
    for node in graph.nodes:
        kind = node.WhichOneof("kind")
        if kind == "function":
            names.update(node.function.concrete_functions)
        elif kind == "bare_concrete_function":
            names.add(node.bare_concrete_function.concrete_function_name)
    return names


def _collection_references(meta_graph, names):
    """Which of `names` a collection_def entry (a TF1 loader's init or main op) refers to."""
    referred = set()
    for collection in meta_graph.collection_def.values():
        listed = {_node_name(value) for value in collection.node_list.value}
        listed |= {
            _node_name(value.decode("utf-8", "replace")) for value in collection.bytes_list.value
        }
        referred |= names & listed
        opaque = b"".join(value.SerializeToString() for value in collection.any_list.value)
        referred |= {name for name in names if name.encode() in opaque}
    return referred


def _saver_nodes(meta_graph, nodes):
    """{"save"|"restore": node name} of saver_def nodes that only a checkpoint call can run.

    A saver node qualifies when its first input is the saver's filename
    placeholder and nothing else (a signature, another node, a collection)
    refers to it; otherwise it is screened as strictly as any other node.
    """
    saver = meta_graph.saver_def
    filename = _node_name(saver.filename_tensor_name)
    candidates = {
        "save": _node_name(saver.save_tensor_name),
        "restore": _node_name(saver.restore_op_name),
    }
    used = {
        _node_name(tensor.name)
        for signature in meta_graph.signature_def.values()
        for tensor in list(signature.inputs.values()) + list(signature.outputs.values())
    }
    for node in nodes.values():
        used.update(_node_name(name) for name in node.input)
    used |= _collection_references(meta_graph, set(candidates.values()))
    return {
        role: name
        for role, name in candidates.items()
        if name in nodes
        and name not in used
        and nodes[name].input
        and _node_name(nodes[name].input[0]) == filename
        and filename in nodes
        and nodes[filename].op == "Placeholder"
    }


def _direct_target(node, functions):
    """The one library function a call node runs, or None."""
    called = _called_functions(node, functions)
    return next(iter(called)) if len(called) == 1 else None


def function_roles(meta_graph):
    """Sorts one meta graph's functions and graph nodes by what the screen allows them.

    Returns (roles, strict graph nodes, saver graph nodes), where roles maps
    each function name to "save" or "restore" (the function that the saver's
    save or restore node calls, reachable from nothing else), "saver" (called
    only from within those) or "strict" (everything else).
    """
    functions = library_functions(meta_graph)
    nodes = _unique_nodes(meta_graph.graph_def.node, "the graph")
    saver_nodes = _saver_nodes(meta_graph, nodes)
    strict_nodes = [node for name, node in nodes.items() if name not in saver_nodes.values()]
    roots = _object_graph_functions(meta_graph)
    for node in strict_nodes:
        roots |= _called_functions(node, functions)
    tops, saver_tree = {}, set()
    for role, name in saver_nodes.items():
        called = _called_functions(nodes[name], functions)
        saver_tree |= _closure(called, functions)
        target = _direct_target(nodes[name], functions)
        if target is not None:
            tops[role] = target
    # A function outside every saver call tree is strict, reachable or not.
    strict = _closure(roots | (set(functions) - saver_tree), functions)
    roles = {}
    for name in functions:
        if name in strict:
            roles[name] = "strict"
        elif name == tops.get("save") and name != tops.get("restore"):
            roles[name] = "save"
        elif name == tops.get("restore") and name != tops.get("save"):
            roles[name] = "restore"
        else:
            roles[name] = "saver"
    saver_list = [nodes[name] for name in sorted(saver_nodes.values())]
    return roles, strict_nodes, saver_list


_ALLOWED = {
    "strict": GENERATOR_OPS,
    "save": GENERATOR_OPS | SAVE_OPS,
    "restore": GENERATOR_OPS | RESTORE_OPS,
    "saver": GENERATOR_OPS,
}


class _PathCheck:
    """Whether a checkpoint op's path operand is made only from the function's prefix argument."""

    def __init__(self, function):
        self._nodes = _unique_nodes(function.node_def, f"function {function.signature.name}")
        args = function.signature.input_arg
        self.prefix = args[0].name if args else None

    def _resolve(self, tensor_name, depth=0):
        """The producing node (None for a function argument), through Identity chains."""
        name = _node_name(tensor_name)
        node = self._nodes.get(name)
        if node is not None and node.op == "Identity" and node.input and depth < 64:
            return self._resolve(node.input[0], depth + 1)
        return node, name

    def is_prefix(self, tensor_name):
        node, name = self._resolve(tensor_name)
        return node is None and name == self.prefix

    def _safe_suffix(self, tensor_name, depth=0):
        node, _ = self._resolve(tensor_name)
        if node is None or depth > 8:
            return False
        if node.op == "Select":
            return all(self._safe_suffix(entry, depth + 1) for entry in node.input[1:3])
        if node.op != "Const":
            return False
        strings = node.attr["value"].tensor.string_val
        return len(strings) == 1 and _is_safe_suffix(strings[0])

    def is_prefix_path(self, tensor_name, depth=0):
        """The prefix, or prefix + constant suffix (no '..'), optionally as a shard file name."""
        if self.is_prefix(tensor_name):
            return True
        node, _ = self._resolve(tensor_name)
        if node is None or depth > 8:
            return False
        if node.op == "ShardedFilename":
            return self.is_prefix_path(node.input[0], depth + 1) and all(
                self._resolve(entry)[0] is not None and self._resolve(entry)[0].op == "Const"
                for entry in node.input[1:3]
            )
        if node.op == "StringJoin":
            data = [entry for entry in node.input if not entry.startswith("^")]
            return (
                node.attr["separator"].s == b""
                and len(data) >= 1
                and self.is_prefix(data[0])
                and all(self._safe_suffix(entry) for entry in data[1:])
            )
        return False

    def is_prefix_paths(self, tensor_name):
        """A Pack of prefix paths (MergeV2Checkpoints' shard list) or one prefix path."""
        node, _ = self._resolve(tensor_name)
        if node is not None and node.op == "Pack":
            data = [entry for entry in node.input if not entry.startswith("^")]
            return bool(data) and all(self.is_prefix_path(entry) for entry in data)
        return self.is_prefix_path(tensor_name)


def _is_safe_suffix(value):
    text = value.decode("utf-8", "replace")
    return ".." not in text and not text.startswith("/") and "\0" not in text and ":" not in text


def _checkpoint_path_problems(function):
    """[(op, reason)] for checkpoint ops whose path is not the function's own prefix."""
    check, problems = _PathCheck(function), []
    for node in function.node_def:
        if node.op == "RestoreV2" and not check.is_prefix(node.input[0]):
            problems.append((node.op, "restores from a path other than its prefix argument"))
        elif node.op in ("SaveV2", "ShardedFilename") and not check.is_prefix_path(node.input[0]):
            problems.append((node.op, "writes to a path not made from its prefix argument"))
        elif node.op == "MergeV2Checkpoints" and not (
            check.is_prefix_paths(node.input[0]) and check.is_prefix(node.input[1])
        ):
            problems.append((node.op, "merges files other than its prefix's shards"))
    return problems


def _as_function(nodes):
    """The graph's own nodes wrapped as an argument-less function, for the size bounds."""
    wrapper = function_pb2.FunctionDef()
    wrapper.node_def.extend(nodes)
    return wrapper


def forbidden_ops(meta_graph, max_elements=None):
    """{op type: sorted places it occurs} for every op the screen refuses in one meta graph.

    `max_elements` (from the card's image shape) also refuses ops that ask for
    more elements, or for a size that cannot be known before running.
    """
    functions = library_functions(meta_graph)
    roles, strict_nodes, saver_nodes = function_roles(meta_graph)
    found = {}

    def add(op, place):
        found.setdefault(op, set()).add(place)

    for node in strict_nodes + saver_nodes:
        if node.op not in GENERATOR_OPS and node.op not in functions:
            add(node.op, "the graph")
    for name, function in functions.items():
        place = f"function {name} ({roles[name]})"
        for node in function.node_def:
            if node.op not in _ALLOWED[roles[name]] and node.op not in functions:
                add(node.op, place)
        if roles[name] in ("save", "restore"):
            for op, reason in _checkpoint_path_problems(function):
                add(op, f"{place}, which {reason}")
    if max_elements is not None:
        scopes = [("the graph", _as_function(meta_graph.graph_def.node))]
        scopes += [(f"function {name}", function) for name, function in functions.items()]
        for where, function in scopes:
            for node_name, op, reason in shape_bounds.oversized_operands(function, max_elements):
                add(op, f"{where}, node {node_name!r}, which {reason} (cap {max_elements})")
    return {op: sorted(places) for op, places in sorted(found.items())}


def read_saved_model(path, shown_as=None):
    """The parsed SavedModel at `path` (named `shown_as` in errors); parsing runs nothing."""
    saved_model = saved_model_pb2.SavedModel()
    with open(path, "rb") as handle:
        payload = handle.read()
    try:
        saved_model.ParseFromString(payload)
    except (DecodeError, RecursionError) as error:
        raise IntegrityError(f"{shown_as or path}: not a SavedModel protobuf ({error})") from None
    return saved_model


def _check_shape(path, what, tensor_info, expected):
    """Compares a signature tensor's static shape (where known) with the card's."""
    shape = tensor_info.tensor_shape
    if shape.unknown_rank:
        return
    dims = [dim.size for dim in shape.dim]
    if len(dims) != len(expected) or any(
        size >= 0 and want is not None and size != want for size, want in zip(dims, expected)
    ):
        raise IntegrityError(
            f"{path}: {SIGNATURE} {what} has shape {dims}; the card says "
            f"{[-1 if want is None else want for want in expected]}"
        )


def _listing(forbidden, limit=6):
    """`op in place, ...` for the first `limit` places, and how many more there are."""
    places = [f"{op} in {place}" for op, op_places in forbidden.items() for place in op_places]
    more = f"; and {len(places) - limit} more" if len(places) > limit else ""
    return "; ".join(places[:limit]) + more


def _screen_meta_graph(path, meta_graph, card):
    if not meta_graph.HasField("object_graph_def") or not meta_graph.object_graph_def.nodes:
        raise IntegrityError(
            f"{path}: a TensorFlow 1 style SavedModel (no object graph); TensorFlow would "
            "load it with its TF1 loader, which runs the model's own restore and init ops, "
            "so only TensorFlow 2 SavedModels (as the zoo's exporter writes) are loaded"
        )
    image_elements = card["image_shape"][0] * card["image_shape"][1] * card["image_shape"][2]
    try:
        forbidden = forbidden_ops(
            meta_graph, max_elements=shape_bounds.ELEMENTS_PER_IMAGE_ELEMENT * image_elements
        )
    except _Refused as error:
        raise ForbiddenOpError(f"{path}: refused before loading: {error}") from None
    if forbidden:
        raise ForbiddenOpError(
            f"{path}: refused before loading: op(s) that a generator does not need: "
            f"{_listing(forbidden)} "
            "(allowed: bssn_tf.zoo.screening.GENERATOR_OPS)"
        )


def _check_variable_sizes(directory, card, shown):
    """Refuses variables that declare more bytes than the checkpoint's data files hold.

    Restoring allocates each variable at the shape that variables.index
    declares before reading its bytes, so a small index could ask for more
    memory than the machine has. The index is read with TensorFlow's own
    checkpoint reader, which parses metadata only.
    """
    index = f"{VARIABLES_PREFIX}.index"
    if index not in card["files"]:
        return
    data_bytes = sum(
        entry["size"]
        for relpath, entry in card["files"].items()
        if relpath.startswith(f"{VARIABLES_PREFIX}.data-")
    )
    try:
        reader = tf.train.load_checkpoint(os.path.join(directory, VARIABLES_PREFIX))
        shapes, dtypes = reader.get_variable_to_shape_map(), reader.get_variable_to_dtype_map()
    except (tf.errors.OpError, ValueError) as error:
        raise IntegrityError(
            f"{os.path.join(shown, index)}: not a checkpoint index ({one_line(error)})"
        ) from None
    declared = sum(
        int(np.prod(shape, dtype=object)) * dtypes[name].size for name, shape in shapes.items()
    )
    if declared > data_bytes:
        raise IntegrityError(
            f"{os.path.join(shown, index)}: declares {declared} bytes of variables, but its "
            f"data files hold {data_bytes}"
        )


def screen_saved_model(directory, card, shown_as=None):
    """Raises unless `directory`'s SavedModel passes the screen and matches its card.

    Call it on a verified private copy (bssn_tf.zoo.integrity.verified_copy)
    before tf.saved_model.load. Also checks the serving signature that
    ZooGenerator calls: input `z` of shape [N, z_dim] (and `labels` [N] when
    the card's num_classes > 0), output `images` of [N, *image_shape].
    Errors name the folder `shown_as` (the original of a copy), else `directory`.

    Raises:
      ForbiddenOpError: an op outside the allowlist, a checkpoint op on a path
        not made from its prefix, an oversized or unboundable size, or a
        malformed function library, named with where it occurs.
      IntegrityError: no screenable saved_model.pb, a TF1-style model, or a
        signature that contradicts the card.
    """
    shown = shown_as or directory
    path = os.path.join(shown, SAVED_MODEL)
    for other in UNSCREENED_ENCODINGS:
        if other in card["files"]:
            raise IntegrityError(
                f"{os.path.join(shown, other)}: only {SAVED_MODEL} is screened; "
                f"a zoo model is stored as {SAVED_MODEL}"
            )
    if SAVED_MODEL not in card["files"]:
        raise IntegrityError(f"{path}: not listed in the model card; a zoo model needs one")
    saved_model = read_saved_model(os.path.join(directory, SAVED_MODEL), shown_as=path)
    if len(saved_model.meta_graphs) != 1:
        raise IntegrityError(
            f"{path}: holds {len(saved_model.meta_graphs)} meta graphs; expected exactly one"
        )
    [meta_graph] = saved_model.meta_graphs
    _screen_meta_graph(path, meta_graph, card)
    _check_variable_sizes(directory, card, shown)
    signature = meta_graph.signature_def.get(SIGNATURE)
    if signature is None or "z" not in signature.inputs or "images" not in signature.outputs:
        raise IntegrityError(
            f"{path}: expected a {SIGNATURE} signature with input 'z' and output 'images'"
        )
    _check_shape(path, "input 'z'", signature.inputs["z"], [None, card["z_dim"]])
    # A class-conditional generator (card num_classes > 0) takes int labels [N] too.
    expected_inputs = {"z", "labels"} if card.get("num_classes") else {"z"}
    if set(signature.inputs) != expected_inputs:
        raise IntegrityError(
            f"{path}: {SIGNATURE} takes inputs {sorted(signature.inputs)}; the card's "
            f"num_classes={card.get('num_classes', 0)} means {sorted(expected_inputs)}"
        )
    if "labels" in expected_inputs:
        _check_shape(path, "input 'labels'", signature.inputs["labels"], [None])
    _check_shape(path, "output 'images'", signature.outputs["images"], [None, *card["image_shape"]])
