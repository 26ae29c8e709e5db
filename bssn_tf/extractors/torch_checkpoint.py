"""Reads a PyTorch state-dict file (`torch.save(module.state_dict())`) without torch.

A `.pth` file is a pickle, and unpickling runs whatever callables the file names:
loading an untrusted one with `pickle` or `torch.load` can execute code. This
reader runs the pickle through an opcode- and global-vetted unpickler, so for
any input bytes it guarantees:
- no code from the file runs: only collections.OrderedDict (called with no
  arguments), torch._utils._rebuild_tensor_v2 / _rebuild_parameter and
  torch.<Type>Storage resolve, each to a stand-in built afresh for this load,
  so no pickle can reach or change an object another load uses;
- no read outside a storage: every tensor view is bounds-checked against its
  storage before an array is built, and storage bytes come from bounded reads;
- bounded memory: storages read plus arrays built stay within `max_bytes`, and
  the pickle within max_bytes / 128, each checked before the bytes are read,
  decompressed or allocated;
- any other failure is an UnsafeCheckpointError, one line naming the file.

Both of torch's layouts are read:
- the zip archive written since torch 1.6: `<dir>/data.pkl` plus one raw
  storage per tensor in `<dir>/data/<key>` (and a `byteorder` entry);
- the older "legacy" stream, which files published before 2020 use: a magic
  number, a protocol number and a system-info dict, the pickled object, the
  list of storage keys, then each storage as an int64 element count and its
  little-endian bytes.
Anything else is refused.
"""

import collections
import io
import math
import os
import pickle
import pickletools
import struct
import zipfile

import numpy as np

from bssn_tf.io import UntrustedFileError

# Tensor data (storages read plus arrays built) a load may hold; the standard
# FID weights file needs about 2 x 96 MB.
DEFAULT_MAX_BYTES = 1 << 30

# A pickle byte builds at most ~83 bytes of Python objects (measured worst case:
# memoized empty dicts), so a pickle of max_bytes / 128 unpickles within max_bytes.
_PICKLE_SHARE = 128

# numpy 1.x's limit on array dimensions; state dicts use at most 5.
_MAX_DIMS = 32

# Sizes, strides, offsets and element counts are int64 in torch.
_INT64_LIMIT = 1 << 63

# The magic number and protocol version that open a legacy torch.save stream.
_LEGACY_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL_VERSION = 1001

# torch storage classes a state dict may name, and the numpy dtype of their bytes.
_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}

# The binary opcodes of pickle protocols 2-4 that a state dict's pickle uses.
# Left out: everything that imports or instantiates classes (INST, OBJ,
# NEWOBJ*, EXT*), text-protocol opcodes, sets (their hashing of
# attacker-chosen keys), protocol 5's buffers, and text persistent ids.
_ALLOWED_OPCODES = {
    "PROTO", "FRAME", "STOP", "MARK", "POP", "POP_MARK", "DUP",
    "NONE", "NEWTRUE", "NEWFALSE", "BININT", "BININT1", "BININT2", "LONG1", "LONG4", "BINFLOAT",
    "BINSTRING", "SHORT_BINSTRING", "BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8",
    "BINBYTES", "SHORT_BINBYTES", "BINBYTES8",
    "EMPTY_TUPLE", "TUPLE", "TUPLE1", "TUPLE2", "TUPLE3",
    "EMPTY_LIST", "APPEND", "APPENDS", "EMPTY_DICT", "SETITEM", "SETITEMS",
    "BINGET", "LONG_BINGET", "BINPUT", "LONG_BINPUT", "MEMOIZE",
    "GLOBAL", "STACK_GLOBAL", "REDUCE", "BINPERSID", "BUILD",
}  # fmt: skip


class UnsafeCheckpointError(UntrustedFileError):
    """A .pth file was refused: a disallowed global or opcode, a malformed or oversized part."""


def _shown(value):
    """A short one-line rendering of a value from the file, whatever its type or size."""
    if type(value) is str:
        text = value if value.isprintable() else ascii(value)
        return text if len(text) <= 80 else text[:77] + "..."
    if type(value) in (int, bool) and abs(value) < 10**20:
        return repr(value)
    return f"<{type(value).__name__}>"


def _is_count(value):
    """True for a Python int (not a bool) in torch's non-negative int64 range."""
    return type(value) is int and 0 <= value < _INT64_LIMIT


class _StorageType:
    """Stands in for torch.<X>Storage: carries only the element dtype, and has no __dict__."""

    __slots__ = ("dtype",)

    def __init__(self, dtype):
        self.dtype = np.dtype(dtype)


class _Storage:
    """One storage the pickle names; `array` holds its elements once its bytes are read."""

    __slots__ = ("key", "dtype", "numel", "array")

    def __init__(self, key, dtype, numel):
        self.key, self.dtype, self.numel, self.array = key, dtype, numel, None

    @property
    def nbytes(self):
        return self.numel * self.dtype.itemsize

    def fill(self, payload, order):
        """Elements from exactly `nbytes` bytes stored in byte order `order` ("<" or ">")."""
        array = np.frombuffer(payload, self.dtype.newbyteorder(order))
        array = array.astype(self.dtype, copy=False)
        # A bool byte other than 0 or 1 is undefined in numpy: normalize it.
        self.array = array.view(np.uint8) != 0 if self.dtype == np.bool_ else array


class _TensorView:
    """A tensor as the pickle describes it, bounds-checked; copied out of its storage last."""

    __slots__ = ("storage", "offset", "size", "stride")

    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride

    @property
    def nbytes(self):
        return math.prod(self.size) * self.storage.dtype.itemsize

    def materialize(self):
        storage = self.storage.array
        if 0 in self.size:
            return np.zeros(self.size, storage.dtype)
        # A dimension of length 1 never steps: its stride, which may be any int64, is unused.
        strides = tuple(
            step * storage.itemsize if length > 1 else 0
            for length, step in zip(self.size, self.stride)
        )
        view = np.lib.stride_tricks.as_strided(
            storage[self.offset :], self.size, strides, writeable=False
        )
        return view.copy()


class _Load:
    """One load_torch_state_dict call: its fresh stand-ins, its storages and its memory budget."""

    def __init__(self, path, max_bytes, legacy):
        self.path, self.max_bytes, self.legacy = path, max_bytes, legacy
        self.pickle_limit = max_bytes // _PICKLE_SHARE
        self.storages = {}
        self.storage_bytes = 0
        self.globals = {
            ("collections", "OrderedDict"): self.ordered_dict,
            ("torch._utils", "_rebuild_tensor_v2"): self.rebuild_tensor,
            ("torch._utils", "_rebuild_parameter"): self.rebuild_parameter,
            **{("torch", name): _StorageType(dtype) for name, dtype in _STORAGE_DTYPES.items()},
        }

    def refuse(self, reason):
        return UnsafeCheckpointError(f"{self.path}: {reason}")

    def check_budget(self, needed):
        if needed > self.max_bytes:
            raise self.refuse(
                f"needs at least {needed} bytes of tensor data (storages read plus arrays "
                f"built), over the limit of {self.max_bytes}; if you trust the file, pass a "
                "larger max_bytes to load_torch_state_dict."
            )

    def pickle_too_large(self):
        return self.refuse(
            f"its pickle needs more than {self.pickle_limit} bytes (max_bytes / "
            f"{_PICKLE_SHARE}, max_bytes={self.max_bytes}); if you trust the file, pass a "
            "larger max_bytes to load_torch_state_dict."
        )

    def ordered_dict(self, *args):
        """collections.OrderedDict's stand-in: torch calls it with no arguments (a copy would
        let a few pickle bytes duplicate a large dict)."""
        if args:
            raise self.refuse("the pickle calls collections.OrderedDict with arguments.")
        return collections.OrderedDict()

    def rebuild_tensor(self, *args):
        """torch._utils._rebuild_tensor_v2's stand-in: a view of a storage, bounds-checked now."""
        if not 4 <= len(args) <= 7:
            raise self.refuse(f"_rebuild_tensor_v2 called with {len(args)} arguments.")
        storage, offset, size, stride = args[:4]
        if type(storage) is not _Storage:
            raise self.refuse(f"_rebuild_tensor_v2 given {_shown(storage)} as its storage.")
        if not _is_count(offset):
            raise self.refuse(f"tensor storage offset {_shown(offset)} is no int64 >= 0.")
        if not (
            type(size) is tuple
            and type(stride) is tuple
            and len(size) == len(stride) <= _MAX_DIMS
            and all(_is_count(value) for value in size + stride)
        ):
            raise self.refuse(
                f"tensor size and stride must be equally long tuples of at most {_MAX_DIMS} "
                "int64 values >= 0."
            )
        # Even an empty view's shape must be one numpy can allocate.
        self.check_budget(math.prod(max(length, 1) for length in size) * storage.dtype.itemsize)
        if 0 not in size:
            last = offset + sum((length - 1) * step for length, step in zip(size, stride))
            if last >= storage.numel:
                raise self.refuse(
                    f"a tensor (offset {offset}, size {size}, stride {stride}) reaches element "
                    f"{last} of storage {_shown(storage.key)}, which holds {storage.numel}."
                )
        return _TensorView(storage, offset, size, stride)

    def rebuild_parameter(self, *args):
        """torch._utils._rebuild_parameter's stand-in: the tensor it wraps."""
        if not (1 <= len(args) <= 3 and type(args[0]) is _TensorView):
            raise self.refuse("_rebuild_parameter is given no tensor.")
        return args[0]

    def storage(self, pid):
        """The storage a persistent id names: ("storage", type, key, location, numel[, view])."""
        if not (
            type(pid) is tuple
            and len(pid) == (6 if self.legacy else 5)
            and type(pid[0]) is str
            and pid[0] == "storage"
        ):
            raise self.refuse(f"unexpected persistent id {_shown(pid)} in the pickle.")
        storage_type, key, numel = pid[1], pid[2], pid[4]
        if type(key) is not str:
            raise self.refuse(f"persistent id names storage key {_shown(key)}, no str.")
        if type(storage_type) is not _StorageType:
            raise self.refuse(f"persistent id of storage {_shown(key)} has no storage type.")
        if not _is_count(numel):
            raise self.refuse(f"storage {_shown(key)} has element count {_shown(numel)}.")
        if self.legacy and pid[5] is not None:
            raise self.refuse(f"storage {_shown(key)} is a view, which torch no longer writes.")
        storage = self.storages.get(key)
        if storage is None:
            storage = self.storages[key] = _Storage(key, storage_type.dtype, numel)
            self.storage_bytes += storage.nbytes
            self.check_budget(self.storage_bytes)
        elif (storage.dtype, storage.numel) != (storage_type.dtype, numel):
            raise self.refuse(
                f"storage {_shown(key)} is named as {storage.numel} x {storage.dtype} and as "
                f"{numel} x {storage_type.dtype}."
            )
        return storage

    def tensors(self, result):
        """The {name: view} dict the pickle built, once it fits the budget with its storages."""
        if type(result) not in (dict, collections.OrderedDict):
            raise self.refuse(f"expected a state dict of tensors; got {_shown(result)}.")
        for name, value in result.items():
            if type(value) is not _TensorView:
                raise self.refuse(f"state dict entry {_shown(name)} is {_shown(value)}, no tensor.")
        self.check_budget(self.storage_bytes + sum(view.nbytes for view in result.values()))
        return result


def _refuse_opcode(name):
    def refuse(unpickler):
        raise unpickler.load_state.refuse(f"pickle opcode {name} is not allowed in a state dict.")

    return refuse


def _load_build(unpickler):
    """BUILD, allowed only as torch uses it: a state dict's `_metadata`, which is dropped."""
    state = unpickler.stack.pop()
    target = unpickler.stack[-1]
    if type(target) is not collections.OrderedDict or type(state) is not dict:
        raise unpickler.load_state.refuse(
            f"pickle BUILD sets state on {_shown(target)}; only a state dict's OrderedDict "
            "may carry any."
        )


def _set_items(unpickler, items):
    """SETITEM(S) into a plain dict with str keys only: nothing else is mutated or hashed."""
    target = unpickler.stack[-1]
    keys = items[::2]
    if (
        type(target) not in (dict, collections.OrderedDict)
        or len(items) % 2
        or not all(type(key) is str for key in keys)
    ):
        raise unpickler.load_state.refuse(
            f"pickle sets items on {_shown(target)}; only dicts with str keys take items."
        )
    target.update(zip(keys, items[1::2]))


def _load_setitem(unpickler):
    value = unpickler.stack.pop()
    key = unpickler.stack.pop()
    _set_items(unpickler, [key, value])


def _load_setitems(unpickler):
    _set_items(unpickler, unpickler.pop_mark())


def _dispatch_table():
    """pickle._Unpickler's handlers for the allowed opcodes; every other byte is refused."""
    names = {op.code.encode("latin-1")[0]: op.name for op in pickletools.opcodes}
    overrides = {"BUILD": _load_build, "SETITEM": _load_setitem, "SETITEMS": _load_setitems}
    table = {}
    for code in range(256):
        name = names.get(code, f"0x{code:02x}")
        if name in overrides:
            table[code] = overrides[name]
        elif name in _ALLOWED_OPCODES:
            table[code] = pickle._Unpickler.dispatch[code]
        else:
            table[code] = _refuse_opcode(name)
    return table


class _Unpickler(pickle._Unpickler):
    """The pure-Python unpickler, whose opcodes can be vetted one by one (the C one's cannot,
    and its memo array grows to whatever index a LONG_BINPUT names)."""

    dispatch = _dispatch_table()

    def __init__(self, stream, load_state):
        super().__init__(stream)
        self.load_state = load_state

    def find_class(self, module, name):
        resolved = self.load_state.globals.get((module, name))
        if resolved is None:
            raise self.load_state.refuse(
                f"refusing to unpickle global {_shown(module)}.{_shown(name)}; a state-dict "
                "file needs only collections.OrderedDict, torch._utils._rebuild_tensor_v2, "
                "torch._utils._rebuild_parameter and torch.<Type>Storage."
            )
        return resolved

    def persistent_load(self, pid):
        return self.load_state.storage(pid)


def _read_entry(load, archive, info):
    """An entry's bytes, decompressing no more than its header's file_size (plus one, to catch
    a header that understates it)."""
    if info.flag_bits & 0x1 or info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        # torch stores entries uncompressed; other methods can inflate without bound per read.
        raise load.refuse(f"entry {_shown(info.filename)} is encrypted or not stored/deflated.")
    with archive.open(info) as entry:
        data = entry.read(info.file_size + 1)
    if len(data) != info.file_size:
        raise load.refuse(
            f"entry {_shown(info.filename)} holds {len(data)} bytes, not the {info.file_size} "
            "its header declares."
        )
    return data


def _read_zip(load, stream):
    with zipfile.ZipFile(stream) as archive:
        entries = {info.filename: info for info in archive.infolist()}
        if len(entries) != len(archive.infolist()):
            raise load.refuse("the zip archive holds two entries of the same name.")
        pickles = [name for name in entries if name.endswith("/data.pkl")]
        if len(pickles) != 1:
            raise load.refuse(
                f"a torch zip archive has exactly one <dir>/data.pkl; found {len(pickles)}."
            )
        root = pickles[0][: -len("data.pkl")]
        if root.count("/") != 1 or root == "/":
            raise load.refuse(f"{_shown(pickles[0])} is not in the archive's top folder.")
        order = "<"
        byteorder = entries.get(root + "byteorder")
        if byteorder is not None:
            data = _read_entry(load, archive, byteorder) if byteorder.file_size <= 6 else b""
            if data not in (b"little", b"big"):
                raise load.refuse("its byteorder entry is neither 'little' nor 'big'.")
            order = "<" if data == b"little" else ">"
        if entries[pickles[0]].file_size > load.pickle_limit:
            raise load.pickle_too_large()
        pickled = _read_entry(load, archive, entries[pickles[0]])
        views = load.tensors(_Unpickler(io.BytesIO(pickled), load).load())
        for storage in load.storages.values():
            info = entries.get(f"{root}data/{storage.key}")
            if info is None:
                raise load.refuse(f"storage {_shown(storage.key)} has no entry in the archive.")
            if info.file_size != storage.nbytes:
                raise load.refuse(
                    f"storage {_shown(storage.key)} entry declares {info.file_size} bytes; "
                    f"{storage.numel} x {storage.dtype} need {storage.nbytes}."
                )
            storage.fill(_read_entry(load, archive, info), order)
    return views


class _PickleReader:
    """The legacy stream's reads for its pickles, which together stay within the pickle limit,
    so no length field in them can make a read allocate more."""

    def __init__(self, stream, load):
        self._stream, self._load, self._left = stream, load, load.pickle_limit

    def read(self, size):
        if size > self._left:
            raise self._load.pickle_too_large()
        data = self._stream.read(size)
        self._left -= len(data)
        return data

    def readline(self):
        line = self._stream.readline(self._left + 1)
        if len(line) > self._left:
            raise self._load.pickle_too_large()
        self._left -= len(line)
        return line


def _read_exactly(load, stream, size, file_size):
    """`size` bytes from the legacy stream, refused before reading if the file is shorter."""
    if size > file_size - stream.tell():
        raise load.refuse(f"the file is truncated: {size} more bytes expected at {stream.tell()}.")
    return stream.read(size)


def _read_legacy(load, stream):
    """The pre-zip torch.save layout; see the module docstring."""
    file_size = os.fstat(stream.fileno()).st_size
    pickles = _PickleReader(stream, load)

    def unpickle():
        return _Unpickler(pickles, load).load()

    for expected in (_LEGACY_MAGIC_NUMBER, _LEGACY_PROTOCOL_VERSION):
        value = unpickle()
        if type(value) is not int or value != expected:
            raise load.refuse("not a torch file (bad magic or protocol number).")
    if type(unpickle()) is not dict:
        raise load.refuse("not a torch file (no system-info header).")
    result = unpickle()
    keys = unpickle()
    views = load.tensors(result)
    if not (
        type(keys) is list
        and all(type(key) is str for key in keys)
        and len(set(keys)) == len(keys)
        and set(keys) == set(load.storages)
    ):
        raise load.refuse("its storage list does not name each storage it uses exactly once.")
    for key in keys:
        storage = load.storages[key]
        (count,) = struct.unpack("<q", _read_exactly(load, stream, 8, file_size))
        if count != storage.numel:
            raise load.refuse(
                f"storage {_shown(key)} holds {count} elements; its tensors expect {storage.numel}."
            )
        # torch writes legacy storages little-endian whatever the system-info header says.
        storage.fill(_read_exactly(load, stream, storage.nbytes, file_size), "<")
    return views


# What the zip and pickle machinery raise on malformed input; each becomes an
# UnsafeCheckpointError naming the file.
_MALFORMED = (
    pickle.UnpicklingError,
    zipfile.BadZipFile,
    struct.error,
    EOFError,
    ValueError,
    TypeError,
    LookupError,
    AttributeError,
    ArithmeticError,
    RuntimeError,
    MemoryError,
    OSError,
)


def load_torch_state_dict(path, max_bytes=DEFAULT_MAX_BYTES):
    """{name: numpy array} from a torch.save'd state dict, without running its pickle.

    Args:
      path: the .pth file, zip or legacy layout.
      max_bytes: the most tensor data (storages read plus arrays built) the load
        may hold; the pickle may be max_bytes / 128. Raise it only for a file
        whose size you trust: it bounds what a hostile file can make us allocate.

    Raises:
      FileNotFoundError: `path` does not exist.
      UnsafeCheckpointError (an UntrustedFileError): the file names a global or
        opcode outside the allow-list, a tensor reads outside its storage, it
        needs more than max_bytes, or it is truncated, inconsistent or no torch
        state dict. The message is one line naming the file and the reason.
    """
    if type(max_bytes) is not int or max_bytes <= 0:
        raise ValueError(f"max_bytes must be a positive int; got {max_bytes!r}.")
    path = str(path)
    with open(path, "rb") as stream:
        # torch's own test: a zip archive starts with a local file header.
        load = _Load(path, max_bytes, legacy=stream.read(4) != b"PK\x03\x04")
        stream.seek(0)
        try:
            views = _read_legacy(load, stream) if load.legacy else _read_zip(load, stream)
        except UnsafeCheckpointError:
            raise
        except _MALFORMED as error:
            detail = " ".join(f"{type(error).__name__}: {error}".split())[:200]
            raise UnsafeCheckpointError(
                f"{path}: not a valid torch state-dict file ({detail})."
            ) from None
    return {name: view.materialize() for name, view in views.items()}
