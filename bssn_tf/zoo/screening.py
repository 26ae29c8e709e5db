"""Screens a SavedModel's ops before TensorFlow loads it: a zoo model may only compute images.

A SavedModel is a program. tf.saved_model.load turns every function of its
library into a callable, runs initialisers and restore functions, and the
serving signature runs whatever ops it holds, file and process ops included.
So saved_model.pb is parsed here first (as a protobuf; nothing is executed)
and every op type in its graphs and in every function is checked against
GENERATOR_OPS, the ops that the zoo's CNN and ResNet generators (and
conditional ones, with embedding lookups) are exported with.

Every SavedModel also carries its own checkpoint functions, with SaveV2,
RestoreV2 and friends, that the graph's saver (`saver_def`) calls. The screen
tells them apart by reachability, not by name: the two graph nodes that
`saver_def` names are the only roots whose functions may use checkpoint ops
(SAVE_OPS in the save function's call tree, RESTORE_OPS in the restore
function's). Every other graph node, every function that the object graph or
a signature names, and every function that is not reachable from the saver
is screened strictly, along with everything it calls (through `f`, branch,
body and other function-valued attributes, or a node whose op is a function
name). A function reachable from both sides is strict, so the serving
signature can never call a checkpoint op, even through the saver's own
functions. TensorFlow 2 loading restores variables from Python and never
runs the saver's functions; a TensorFlow 1 style load runs the restore
function, which can then only restore tensors.
"""

import os

from google.protobuf.message import DecodeError
from tensorflow.core.protobuf import saved_model_pb2

from bssn_tf.zoo.integrity import IntegrityError

SAVED_MODEL = "saved_model.pb"
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
# Allowed only in the call tree of the node that saver_def names as its save op.
SAVE_OPS = frozenset(
    {"MergeV2Checkpoints", "SaveV2", "ShardedFilename", "StaticRegexFullMatch", "StringJoin"}
)
# Allowed only in the call tree of the node that saver_def names as its restore op.
RESTORE_OPS = frozenset({"RestoreV2"})


class ForbiddenOpError(IntegrityError):
    """A SavedModel holds an op that a generator does not need; the message names it."""


def _node_name(tensor_name):
    """'^name', 'name:0' or 'name:output:0' -> 'name'."""
    return tensor_name.lstrip("^").split(":")[0]


def _called_functions(node, functions):
    """Names of the library functions that a node calls: function-valued attrs, or its op."""
    called = {node.op} & functions.keys()
    pending = list(node.attr.values())
    while pending:
        value = pending.pop()
        kind = value.WhichOneof("value")
        if kind == "func":
            called.add(value.func.name)
            pending.extend(value.func.attr.values())
        elif kind == "list":
            for func in value.list.func:
                called.add(func.name)
                pending.extend(func.attr.values())
    return called


def _closure(roots, functions):
    """Every function reachable from `roots` through the call graph (unknown names dropped)."""
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


def function_roles(meta_graph):
    """Sorts one meta graph's functions and graph nodes by what the screen allows them.

    Returns (roles, strict graph nodes, saver graph nodes), where roles maps
    each function name to "save" or "restore" (reachable only from the saver's
    save or restore node), "saver" (from both, but from nothing else) or
    "strict" (everything else).
    """
    functions = {f.signature.name: f for f in meta_graph.graph_def.library.function}
    nodes = {node.name: node for node in meta_graph.graph_def.node}
    saver = meta_graph.saver_def
    save_node = _node_name(saver.save_tensor_name)
    restore_node = _node_name(saver.restore_op_name)
    # A saver node that a signature or any node (the other saver node included) uses
    # runs with it, so it is strict like the rest of the graph.
    used = {
        _node_name(tensor.name)
        for signature in meta_graph.signature_def.values()
        for tensor in list(signature.inputs.values()) + list(signature.outputs.values())
    }
    for node in nodes.values():
        used.update(_node_name(name) for name in node.input)
    saver_nodes = ({save_node, restore_node} & nodes.keys()) - used
    strict_nodes = [node for name, node in nodes.items() if name not in saver_nodes]

    def call_tree(name):
        if name not in saver_nodes:
            return set()
        return _closure(_called_functions(nodes[name], functions), functions)

    save_tree, restore_tree = call_tree(save_node), call_tree(restore_node)
    roots = (set(functions) - save_tree - restore_tree) | _object_graph_functions(meta_graph)
    for node in strict_nodes:
        roots |= _called_functions(node, functions)
    strict = _closure(roots, functions)
    roles = {}
    for name in functions:
        if name in strict:
            roles[name] = "strict"
        elif name in save_tree and name in restore_tree:
            roles[name] = "saver"
        else:
            roles[name] = "save" if name in save_tree else "restore"
    return roles, strict_nodes, [nodes[name] for name in sorted(saver_nodes)]


_ALLOWED = {
    "strict": GENERATOR_OPS,
    "save": GENERATOR_OPS | SAVE_OPS,
    "restore": GENERATOR_OPS | RESTORE_OPS,
    "saver": GENERATOR_OPS,
}


def forbidden_ops(meta_graph):
    """{op type: sorted places it occurs} for every op the screen refuses in one meta graph."""
    functions = {f.signature.name: f for f in meta_graph.graph_def.library.function}
    roles, strict_nodes, saver_nodes = function_roles(meta_graph)
    found = {}

    def check(node, allowed, place):
        if node.op not in allowed and node.op not in functions:
            found.setdefault(node.op, set()).add(place)

    for node in strict_nodes + saver_nodes:
        check(node, GENERATOR_OPS, "the graph")
    for name, function in functions.items():
        for node in function.node_def:
            check(node, _ALLOWED[roles[name]], f"function {name} ({roles[name]})")
    return {op: sorted(places) for op, places in sorted(found.items())}


def read_saved_model(path):
    """The parsed SavedModel protobuf at `path`; parsing runs nothing."""
    saved_model = saved_model_pb2.SavedModel()
    with open(path, "rb") as handle:
        payload = handle.read()
    try:
        saved_model.ParseFromString(payload)
    except DecodeError as error:
        raise IntegrityError(f"{path}: not a SavedModel protobuf ({error})") from error
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


def screen_saved_model(directory, card):
    """Raises unless `directory`'s SavedModel holds only allowed ops and matches its card.

    Call it on a verified folder (every file matches the card) before
    tf.saved_model.load. Also checks the serving signature that ZooGenerator
    calls: input `z` of shape [N, z_dim] (and `labels` [N] when the card's
    num_classes > 0), output `images` of [N, *image_shape].

    Raises:
      ForbiddenOpError: an op outside the allowlist, named with where it occurs.
      IntegrityError: no screenable saved_model.pb, or a signature that
        contradicts the card.
    """
    path = os.path.join(directory, SAVED_MODEL)
    for other in UNSCREENED_ENCODINGS:
        if other in card["files"]:
            raise IntegrityError(
                f"{os.path.join(directory, other)}: only {SAVED_MODEL} is screened; "
                f"a zoo model is stored as {SAVED_MODEL}"
            )
    if SAVED_MODEL not in card["files"]:
        raise IntegrityError(f"{path}: not listed in the model card; a zoo model needs one")
    saved_model = read_saved_model(path)
    if len(saved_model.meta_graphs) != 1:
        raise IntegrityError(
            f"{path}: holds {len(saved_model.meta_graphs)} meta graphs; expected exactly one"
        )
    [meta_graph] = saved_model.meta_graphs
    forbidden = forbidden_ops(meta_graph)
    if forbidden:
        listed = "; ".join(f"{op} in {', '.join(places)}" for op, places in forbidden.items())
        raise ForbiddenOpError(
            f"{path}: refused before loading: op(s) that a generator does not need: {listed} "
            "(allowed: bssn_tf.zoo.screening.GENERATOR_OPS)"
        )
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
