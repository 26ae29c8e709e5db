"""Bounds the tensors that a SavedModel's ops create from shapes written into the file.

An allowed op such as Fill, BroadcastTo or Tile builds a tensor whose size
comes from another tensor: a 13 KB file can ask for gigabytes on its first
call. Every such operand is evaluated here, without running TensorFlow, from
the function's own nodes: constants, packs and concatenations of constants,
integer arithmetic on constants, and dimensions read unchanged from an existing
tensor's `Shape`. The product of its constant entries must stay within a cap
derived from the card's image shape. Fill, BroadcastTo and a transposed
convolution's output size may hold one runtime dimension (the batch, which
the caller chooses); every other size must be constant. An operand that
depends on data, on arithmetic with a runtime dimension, or on two runtime
dimensions at once cannot be bounded before running, so it is refused.

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


# A size operand lists one entry per dimension; no real one needs more entries,
# nor more than a few dozen ops between it and its constants.
_MAX_OPERAND_ELEMENTS = 1024
_MAX_DEPTH = 256


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
    """A dimension read unchanged from a tensor's shape at run time (the batch size, say)."""

    def __repr__(self):
        return "runtime"


RUNTIME = _Runtime()
# Ops whose size operands may hold one runtime dimension (the batch); the rest need constants.
_ONE_RUNTIME_DIMENSION = {"BroadcastTo", "Conv2DBackpropInput", "Fill"}


def _runtime_count(value):
    return sum(entry is RUNTIME for entry in np.ravel(value))


class _Evaluator:
    """Evaluates integer operands of one function from its nodes, without running anything.

    Values are numpy object arrays of Python ints, where RUNTIME marks a
    dimension read from a tensor's shape; constants are never hidden behind it.
    """

    def __init__(self, function):
        self._nodes = {node.name: node for node in function.node_def}
        self._args = {arg.name for arg in function.signature.input_arg}
        self._cache = {}
        self._depth = 0

    def value(self, tensor_name):
        name = tensor_name.lstrip("^").split(":")[0]
        if name in self._args:
            raise Unbounded(f"it is the function argument {name!r}")
        if name not in self._cache:
            self._cache[name] = Unbounded(f"{name!r} depends on itself")  # a cycle, not recursion
            if self._depth >= _MAX_DEPTH:  # a chain this long is no generator's shape
                raise Unbounded(f"{name!r} is {_MAX_DEPTH} or more ops from a constant")
            self._depth += 1
            try:
                self._cache[name] = self._evaluate(name)
            except Unbounded as error:
                self._cache[name] = error
            finally:
                self._depth -= 1
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
        if node.op in ("Shape", "ShapeN"):
            return np.array([RUNTIME], dtype=object)
        if node.op == "Size":
            return np.array(RUNTIME, dtype=object)
        if node.op in _PASS_THROUGH:
            return self.value(inputs[0])
        if node.op == "StridedSlice":
            sliced = self.value(inputs[0])
            if _runtime_count(sliced) != np.size(sliced):
                raise Unbounded(f"{name!r} slices constants; only a tensor's shape may be sliced")
            shrink = node.attr["shrink_axis_mask"].i
            return np.array(RUNTIME if shrink else [RUNTIME], dtype=object)
        if node.op == "Reshape":
            value, shape = (self.value(entry) for entry in inputs[:2])
            if _runtime_count(value) or _runtime_count(shape):
                raise Unbounded(f"{name!r} reshapes a runtime value")
            return np.reshape(value, [int(size) for size in np.ravel(shape)])
        if node.op == "Pack":
            parts = [self.value(entry) for entry in inputs]
            if any(np.ndim(part) != 0 for part in parts):
                raise Unbounded(f"{name!r} packs a non-scalar")
            return np.array([part.item() for part in parts], dtype=object)
        if node.op == "ConcatV2":
            parts = [np.atleast_1d(self.value(entry)) for entry in inputs[:-1]]
            return np.concatenate(parts).astype(object)
        if node.op in _ARITHMETIC:
            left, right = (self.value(entry) for entry in inputs[:2])
            if _runtime_count(left) or _runtime_count(right):
                raise Unbounded(f"{name!r} ({node.op}) does arithmetic on a runtime dimension")
            return np.asarray(_ARITHMETIC[node.op](left, right), dtype=object)
        raise Unbounded(f"{name!r} is computed by {node.op} from data")


def _elements(op, operands):
    """Elements that the op's size operands ask for, or Unbounded."""
    runtime = sum(_runtime_count(operand) for operand in operands)
    if op == "Range":
        start, limit, delta = (
            np.ravel(operand)[0] if np.size(operand) else 0 for operand in operands
        )
        if limit is RUNTIME and start == 0 and delta == 1:
            return 1  # range(n) for a runtime n: as long as an existing dimension
        if runtime:
            raise Unbounded("a range over runtime bounds other than range(n)")
        return 0 if delta == 0 else max(0, -((start - limit) // delta))
    allowed = 1 if op in _ONE_RUNTIME_DIMENSION else 0
    if runtime > allowed:
        raise Unbounded(
            f"{runtime} runtime dimension(s) in its size; {op} may take {allowed} (the batch)"
        )
    known = [entry for entry in np.ravel(operands[0]) if entry is not RUNTIME]
    if op in ("Pad", "PadV2", "MirrorPad"):
        return sum(abs(value) for value in known)
    return int(np.prod([abs(value) for value in known], dtype=object))


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
        except (Unbounded, IndexError, ValueError, TypeError, ArithmeticError) as error:
            found.append(
                (node.name, node.op, f"its size cannot be bounded before running: {error}")
            )
            continue
        try:
            elements = _elements(node.op, operands)
        except Unbounded as error:
            found.append(
                (node.name, node.op, f"its size cannot be bounded before running: {error}")
            )
            continue
        if elements > max_elements:
            found.append((node.name, node.op, f"asks for {elements} elements"))
    return found
