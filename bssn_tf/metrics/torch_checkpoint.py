"""Reads a PyTorch state-dict file (`torch.save(module.state_dict())`) without torch.

A `.pth` file is a pickle, and unpickling runs whatever callables the file names:
loading an untrusted one with `pickle` or `torch.load` can execute code. This
reader unpickles with an allow-list of the few globals that rebuild an ordered
dict of tensors and refuses every other global, naming the file and the global.
Tensor data is copied out of the file into numpy arrays; nothing from the file
is ever called.

Both of torch's layouts are read:
- the zip archive written since torch 1.6: `<dir>/data.pkl` plus one raw
  storage per tensor in `<dir>/data/<key>` (and a `byteorder` entry);
- the older "legacy" stream, which files published before 2020 use: a magic
  number, a protocol number and a system-info dict, the pickled object, the
  list of storage keys, then each storage as an int64 element count and raw bytes.
Anything else is refused.
"""

import collections
import io
import pickle
import struct
import zipfile

import numpy as np

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


class UnsafeCheckpointError(ValueError):
    """The file names a pickle global outside the allow-list, or is no torch file at all."""


class _StorageType:
    """Stands in for torch.<X>Storage in the pickle: only carries the element dtype."""

    def __init__(self, name):
        self.name = name
        self.dtype = np.dtype(_STORAGE_DTYPES[name])


def _rebuild_tensor_v2(
    storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, metadata=None
):
    """numpy twin of torch._utils._rebuild_tensor_v2: a strided view copied out of `storage`."""
    del requires_grad, backward_hooks, metadata
    itemsize = storage.dtype.itemsize
    if len(size) == 0:
        return storage[storage_offset].copy()
    view = np.lib.stride_tricks.as_strided(
        storage[storage_offset:],
        shape=tuple(size),
        strides=tuple(step * itemsize for step in stride),
        writeable=False,
    )
    return np.array(view)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None):
    del requires_grad, backward_hooks
    return data


_ALLOWED_GLOBALS = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    **{("torch", name): _StorageType(name) for name in _STORAGE_DTYPES},
}


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only _ALLOWED_GLOBALS and loads storages via `load_storage`."""

    def __init__(self, stream, path, load_storage):
        super().__init__(stream)
        self._path = path
        self._load_storage = load_storage

    def find_class(self, module, name):
        if (module, name) not in _ALLOWED_GLOBALS:
            raise UnsafeCheckpointError(
                f"{self._path}: refusing to unpickle global {module}.{name}; a state-dict "
                "file needs only collections.OrderedDict, torch._utils._rebuild_tensor_v2, "
                "torch._utils._rebuild_parameter and torch.<Type>Storage."
            )
        return _ALLOWED_GLOBALS[(module, name)]

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise UnsafeCheckpointError(f"{self._path}: unexpected persistent id {pid!r}.")
        storage_type, key, numel = pid[1], str(pid[2]), int(pid[4])
        if not isinstance(storage_type, _StorageType):
            raise UnsafeCheckpointError(f"{self._path}: storage {key} has no storage type.")
        return self._load_storage(key, storage_type.dtype, numel)


def _storage_from_bytes(path, key, dtype, numel, payload, byteorder):
    expected = numel * dtype.itemsize
    if len(payload) < expected:
        raise ValueError(
            f"{path}: storage {key} holds {len(payload)} bytes; {numel} elements of "
            f"{dtype} need {expected}."
        )
    return np.frombuffer(payload[:expected], dtype=dtype.newbyteorder(byteorder))


def _read_zip(path, archive):
    pickles = [name for name in archive.namelist() if name.endswith("/data.pkl")]
    if len(pickles) != 1:
        raise UnsafeCheckpointError(
            f"{path}: a torch zip archive has exactly one <dir>/data.pkl; found {len(pickles)}."
        )
    root = pickles[0][: -len("data.pkl")]
    byteorder = "little"
    if root + "byteorder" in archive.namelist():
        byteorder = archive.read(root + "byteorder").decode("ascii").strip()
        if byteorder not in ("little", "big"):
            raise UnsafeCheckpointError(f"{path}: unknown byteorder {byteorder!r}.")
    order = "<" if byteorder == "little" else ">"
    cache = {}

    def load_storage(key, dtype, numel):
        if key not in cache:
            entry = f"{root}data/{key}"
            if entry not in archive.namelist():
                raise ValueError(f"{path}: the pickle refers to storage {entry}, which is absent.")
            cache[key] = _storage_from_bytes(path, key, dtype, numel, archive.read(entry), order)
        return cache[key]

    return _RestrictedUnpickler(io.BytesIO(archive.read(pickles[0])), path, load_storage).load()


def _read_legacy(path, stream):
    """The pre-zip torch.save layout; see the module docstring."""

    def header_value():
        return _RestrictedUnpickler(stream, path, None).load()

    if header_value() != _LEGACY_MAGIC_NUMBER or header_value() != _LEGACY_PROTOCOL_VERSION:
        raise UnsafeCheckpointError(f"{path}: not a torch file (bad magic or protocol number).")
    system_info = header_value()
    if not isinstance(system_info, dict):
        raise UnsafeCheckpointError(f"{path}: not a torch file (no system-info header).")
    order = "<" if system_info.get("little_endian", True) else ">"
    storages = {}

    def record_storage(key, dtype, numel):
        # The bytes follow the main pickle; fill this array in once they are read.
        if key not in storages:
            storages[key] = (dtype, numel, np.empty(numel, dtype=dtype))
        return storages[key][2]

    # First pass: learns which storages exist; the tensors it builds are discarded.
    _RestrictedUnpickler(stream, path, record_storage).load()
    keys = _RestrictedUnpickler(stream, path, None).load()
    for key in keys:
        if str(key) not in storages:
            raise ValueError(f"{path}: storage {key} is listed but no tensor uses it.")
        dtype, numel, array = storages[str(key)]
        (count,) = struct.unpack("<q", stream.read(8))
        if count != numel:
            raise ValueError(f"{path}: storage {key} holds {count} elements; expected {numel}.")
        payload = stream.read(numel * dtype.itemsize)
        array[...] = _storage_from_bytes(path, key, dtype, numel, payload, order)
    # The tensors were copied out of the still-empty storages while unpickling,
    # so unpickle once more now that every storage holds its bytes.
    stream.seek(0)
    for _ in range(3):
        header_value()
    return _RestrictedUnpickler(stream, path, lambda key, *_: storages[key][2]).load()


def load_torch_state_dict(path):
    """{name: numpy array} from a torch.save'd state dict, without running its pickle.

    Raises:
      FileNotFoundError: `path` does not exist.
      UnsafeCheckpointError: the file is neither torch layout, or names a global
        outside the allow-list (the message names the file and the global).
      ValueError: the file is truncated or inconsistent, or holds no dict of tensors.
    """
    path = str(path)
    with open(path, "rb") as stream:
        if zipfile.is_zipfile(stream):
            with zipfile.ZipFile(stream) as archive:
                result = _read_zip(path, archive)
        else:
            stream.seek(0)
            try:
                result = _read_legacy(path, stream)
            except (pickle.UnpicklingError, EOFError, struct.error) as error:
                raise UnsafeCheckpointError(
                    f"{path}: not a torch state-dict file (neither a torch zip archive nor "
                    f"a legacy torch.save stream): {error}"
                ) from None
    if not isinstance(result, dict) or not all(
        isinstance(value, np.ndarray | np.generic) for value in result.values()
    ):
        raise ValueError(f"{path}: expected a state dict of tensors; got {type(result).__name__}.")
    return {str(name): np.asarray(value) for name, value in result.items()}
