"""Bounds the tensors that a SavedModel's ops create from shapes written into the file.

An allowed op such as Fill, BroadcastTo or Tile builds a tensor whose size
comes from another tensor: a 13 KB file can ask for gigabytes on its first
call. Every such operand is evaluated here, without running TensorFlow, from
the function's own nodes: constants, packs and concatenations of constants,
integer arithmetic on constants, and dimensions read unchanged from an existing
tensor's `Shape` (such as the batch size, which the caller chooses). The
product of its constant entries must stay within a cap derived from the card's
image shape. An operand that depends on data, or on arithmetic applied to a
runtime dimension, cannot be bounded before running, so it is refused.

Constants are bounded the same way: TensorFlow expands a constant to the
shape it declares, however few values the file stores. The variables that
loading restores are bounded by the checkpoint's own data files (screening).

What this does not bound: an op whose output grows with its inputs' sizes
(broadcasting Mul, MatMul, Concat) combines tensors that were each bounded,
and is limited only by them.
"""

import numpy as np
from tensorflow.python.framework import tensor_util

# Per sample, the largest tensor a zoo generator may build, in multiples of its
# image's elements. The shipped generators need at most about 85 (the ResNet's
# 256 channels at 32x32 for a 32x32x3 image); 256 leaves room for wider models.
ELEMENTS_PER_IMAGE_ELEMENT = 256

# op -> the inputs that decide the size of its output. Reshape is not here: its
# output always has as many elements as its input.
_SIZE_OPERANDS = {
    "BroadcastTo": (1,),
    "Conv2DBackpropInput": (0,),
    "Fill": (0,),
    "MirrorPad": (1,),
    "OneHot": (1,),
    "Pad": (1,),
    "PadV2": (1,),
    "Range": (0, 1, 2),
    "ResizeBilinear": (1,),
    "ResizeNearestNeighbor": (1,),
    "Tile": (1,),
}
# Ops that pass an integer value (or a runtime dimension) through unchanged.
_PASS_THROUGH = {"Identity", "Cast", "StopGradient", "EnsureShape"}
_ARITHMETIC = {
    "Add": np.add,
    "AddV2": np.add,
    "FloorDiv": np.floor_divide,
    "Maximum": np.maximum,
    "Minimum": np.minimum,
    "Mul": np.multiply,
    "Sub": np.subtract,
}


# A size operand lists one entry per dimension; no real one needs more entries.
_MAX_OPERAND_ELEMENTS = 1024


def declared_elements(node):
    """Elements of a Const node's tensor as its shape declares them.

    TensorFlow fills a constant whose values are fewer than its shape asks by
    repeating the last one, so a few bytes in the file can declare gigabytes.
    """
    return int(
        np.prod([dim.size for dim in node.attr["value"].tensor.tensor_shape.dim], dtype=object)
    )


class Unbounded(Exception):
    """An operand whose value cannot be known before running; the message says why."""


class _Runtime:
    """A value read unchanged from a tensor's shape at run time (the batch size, say)."""


RUNTIME = _Runtime()


class _Evaluator:
    """Evaluates integer operands of one function from its nodes, without running anything."""

    def __init__(self, function):
        self._nodes = {node.name: node for node in function.node_def}
        self._args = {arg.name for arg in function.signature.input_arg}
        self._cache = {}

    def value(self, tensor_name):
        """A numpy int array (RUNTIME entries allowed in object arrays) or RUNTIME itself."""
        name = tensor_name.lstrip("^").split(":")[0]
        if name in self._args:
            raise Unbounded(f"it is the function argument {name!r}")
        if name not in self._cache:
            self._cache[name] = Unbounded(f"{name!r} depends on itself")  # a cycle, not recursion
            try:
                self._cache[name] = self._evaluate(name)
            except Unbounded as error:
                self._cache[name] = error
        if isinstance(self._cache[name], Unbounded):
            raise self._cache[name]
        return self._cache[name]

    def _evaluate(self, name):
        node = self._nodes.get(name)
        if node is None:
            raise Unbounded(f"{name!r} is not a node of the function")
        inputs = [entry for entry in node.input if not entry.startswith("^")]
        if node.op == "Const":
            if declared_elements(node) > _MAX_OPERAND_ELEMENTS:
                raise Unbounded(f"{name!r} is a constant of {declared_elements(node)} elements")
            value = tensor_util.MakeNdarray(node.attr["value"].tensor)
            if not np.issubdtype(value.dtype, np.integer):
                raise Unbounded(f"{name!r} is a {value.dtype} constant")
            return value.astype(object)  # Python ints: no silent int64 overflow
        if node.op in ("Shape", "ShapeN", "Size"):
            return RUNTIME
        if node.op in _PASS_THROUGH:
            return self.value(inputs[0])
        if node.op == "StridedSlice":
            sliced = self.value(inputs[0])
            if sliced is RUNTIME or _has_runtime(sliced):
                return RUNTIME
            raise Unbounded(f"{name!r} slices a constant; only runtime shapes are sliced")
        if node.op == "Reshape":
            value, shape = (self.value(entry) for entry in inputs[:2])
            if value is RUNTIME or shape is RUNTIME or _has_runtime(value) or _has_runtime(shape):
                raise Unbounded(f"{name!r} reshapes a runtime value")
            return np.reshape(value, [int(size) for size in np.ravel(shape)])
        if node.op == "Pack":
            return np.array([self._scalar(entry) for entry in inputs], dtype=object)
        if node.op == "ConcatV2":
            parts = [self.value(entry) for entry in inputs[:-1]]
            if any(part is RUNTIME for part in parts):
                return RUNTIME
            return np.concatenate([np.atleast_1d(part) for part in parts]).astype(object)
        if node.op in _ARITHMETIC:
            left, right = (self.value(entry) for entry in inputs[:2])
            if left is RUNTIME or right is RUNTIME or _has_runtime(left) or _has_runtime(right):
                raise Unbounded(f"{name!r} ({node.op}) does arithmetic on a runtime dimension")
            return _ARITHMETIC[node.op](left, right)
        raise Unbounded(f"{name!r} is computed by {node.op} from data")

    def _scalar(self, tensor_name):
        value = self.value(tensor_name)
        if value is RUNTIME:
            return RUNTIME
        if np.ndim(value) != 0:
            raise Unbounded(f"{tensor_name!r} packs a non-scalar")
        return value.item() if isinstance(value, np.ndarray) else value


def _has_runtime(value):
    return isinstance(value, np.ndarray) and any(entry is RUNTIME for entry in value.flat)


def _elements(op, operands):
    """Elements that the op's size operands ask for (runtime dimensions count as 1)."""
    if any(operand is RUNTIME for operand in operands):
        return 1
    known = [[entry for entry in np.ravel(operand) if entry is not RUNTIME] for operand in operands]
    if op == "Range":
        start, limit, delta = (values[0] if values else 0 for values in known)
        return 0 if delta == 0 else max(0, -((start - limit) // delta))
    if op in ("Pad", "PadV2", "MirrorPad"):
        return sum(abs(value) for value in known[0])
    return int(np.prod([abs(value) for value in known[0]], dtype=object))


def oversized_operands(function, max_elements):
    """[(node name, op, reason)] for every size operand above `max_elements` or unbounded,
    and every constant that declares more than `max_elements` elements."""
    evaluator = _Evaluator(function)
    found = []
    for node in function.node_def:
        if node.op == "Const" and declared_elements(node) > max_elements:
            found.append((node.name, node.op, f"declares {declared_elements(node)} elements"))
        positions = _SIZE_OPERANDS.get(node.op)
        if positions is None:
            continue
        try:
            operands = [evaluator.value(node.input[position]) for position in positions]
        except (Unbounded, IndexError, ValueError, TypeError) as error:
            found.append(
                (node.name, node.op, f"its size cannot be bounded before running: {error}")
            )
            continue
        elements = _elements(node.op, operands)
        if elements > max_elements:
            found.append((node.name, node.op, f"asks for {elements} elements"))
    return found
