"""torch_checkpoint reads what torch.load reads, and refuses hostile files in one line.

The oracle is torch itself: valid files come from torch.save and are compared with
torch.load(weights_only=True). Attacks torch cannot write start from a torch.save'd
file whose pickle or entries are replaced by hand: the pickles name the real torch
globals (a Pickler emits the persistent ids and arguments each attack needs), or
are raw opcodes where no Pickler would write them.
"""

import collections
import io
import pathlib
import pickle
import struct
import subprocess
import sys
import tracemalloc
import warnings
import zipfile

import numpy as np
import pytest
import torch

from bssn_tf.extractors.torch_checkpoint import (
    DEFAULT_MAX_BYTES,
    UnsafeCheckpointError,
    load_torch_state_dict,
)
from bssn_tf.io import UntrustedFileError

_ROOT = pathlib.Path(__file__).resolve().parent.parent
_STORAGE_NAMES = [
    "FloatStorage",
    "DoubleStorage",
    "HalfStorage",
    "LongStorage",
    "IntStorage",
    "ShortStorage",
    "CharStorage",
    "ByteStorage",
    "BoolStorage",
]
_ALLOWED_GLOBALS = [
    ("collections", "OrderedDict"),
    ("torch._utils", "_rebuild_tensor_v2"),
    ("torch._utils", "_rebuild_parameter"),
] + [("torch", name) for name in _STORAGE_NAMES]
_SMALL = 4 << 20  # peak traced bytes a refused attack may cost: no storage, array or bomb read


class _PersistentId:
    """Pickles as persistent id `pid` (torch writes one per storage)."""

    def __init__(self, pid):
        self.pid = pid


def _storage(key="0", numel=4, storage_type=torch.FloatStorage, legacy=False):
    """The persistent id torch writes for a storage: 5 fields in archives, 6 in legacy files."""
    return _PersistentId(("storage", storage_type, key, "cpu", numel) + ((None,) if legacy else ()))


class _Call:
    """Pickles as a REDUCE of `function` on `args`, whatever they are."""

    def __init__(self, function, *args):
        self.function, self.args = function, args

    def __reduce__(self):
        return self.function, self.args


def _tensor(storage, offset, size, stride):
    """torch's own pickling of a tensor, with chosen storage, offset, size and stride."""
    return _Call(
        torch._utils._rebuild_tensor_v2,
        storage,
        offset,
        size,
        stride,
        False,
        collections.OrderedDict(),
    )


class _Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        return obj.pid if isinstance(obj, _PersistentId) else None


def _pickled(obj):
    buffer = io.BytesIO()
    _Pickler(buffer, protocol=2).dump(obj)
    return buffer.getvalue()


def _body(obj):
    """The opcodes that push `obj`, without PROTO and STOP, to splice into a pickle."""
    return _pickled(obj)[2:-1]


def _torch_entries(state):
    """{name: bytes} of the zip archive torch.save writes for `state`."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    with zipfile.ZipFile(buffer) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def _write_zip(path, entries, compression=zipfile.ZIP_STORED):
    """Writes [(name, bytes)] (or a dict) as a zip archive; returns the path as a str."""
    items = entries.items() if isinstance(entries, dict) else entries
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, data in items:
            archive.writestr(name, data)
    return str(path)


def _zip_attack(tmp_path, pickled, name="attack.pth"):
    """torch.save's archive of a 4-float storage "0", its data.pkl replaced by `pickled`."""
    entries = _torch_entries({"w": torch.arange(4.0)})
    entries["archive/data.pkl"] = pickled
    return _write_zip(tmp_path / name, entries)


def _torch_legacy(state):
    buffer = io.BytesIO()
    torch.save(state, buffer, _use_new_zipfile_serialization=False)
    return buffer.getvalue()


def _legacy_file(path, state, storages, keys=None, little_endian=True):
    """The legacy torch.save layout written by hand: storages is {key: (count, bytes)}."""
    sys_info = {
        "protocol_version": 1001,
        "little_endian": little_endian,
        "type_sizes": {"short": 2, "int": 4, "long": 4},
    }
    with open(path, "wb") as stream:
        for header in (0x1950A86A20F9469CFC6C, 1001, sys_info):
            pickle.dump(header, stream, protocol=2)
        stream.write(_pickled(state))
        pickle.dump(list(storages) if keys is None else keys, stream, protocol=2)
        for count, data in storages.values():
            stream.write(struct.pack("<q", count) + data)
    return str(path)


def _traced(function):
    """(function(), its peak traced bytes): numpy's allocations are traced too."""
    tracemalloc.start()
    try:
        return function(), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _refusal(path, **kwargs):
    """(message, peak traced bytes) of the refusal of `path`; the message is one line naming it."""

    def refuse():
        with pytest.raises(UnsafeCheckpointError) as caught:
            load_torch_state_dict(path, **kwargs)
        return caught.value

    error, peak = _traced(refuse)
    message = str(error)
    assert message.startswith(f"{path}: ") and "\n" not in message, message
    return message, peak


def _assert_loads_like_torch(path, weights_only=True):
    ours = load_torch_state_dict(path)
    theirs = torch.load(path, weights_only=weights_only)
    assert list(ours) == list(theirs)
    for name, tensor in theirs.items():
        expected = tensor.detach().numpy()
        assert ours[name].dtype == expected.dtype and ours[name].shape == expected.shape, name
        assert np.array_equal(ours[name], expected), name
    return ours


def _dtypes_and_views():
    torch.manual_seed(0)
    state = collections.OrderedDict()
    for dtype in (torch.float32, torch.float64, torch.float16):
        state[str(dtype)] = torch.randn(3, 4).to(dtype)
    for dtype in (torch.int64, torch.int32, torch.int16, torch.int8):
        state[str(dtype)] = torch.randint(-100, 100, (3, 4), dtype=dtype)
    state["uint8"] = torch.randint(0, 256, (5,), dtype=torch.uint8)
    state["bool"] = torch.randn(2, 3) > 0
    state["scalar"] = torch.tensor(3.5)
    base = torch.randn(4, 6)
    state["base"] = base
    state["transposed"] = torch.randn(5, 2).t()  # non-contiguous, saved as is
    state["slice"] = base[1:3, ::2]  # shares base's storage at an offset, with a stride
    state["empty"] = torch.zeros(0)
    state["empty_2d"] = torch.zeros(2, 0)
    return state


def _batch_norms():
    """60 BatchNorm2d state dicts in one (300 tensors: memo indices past 255), with _metadata."""
    torch.manual_seed(0)
    network = torch.nn.Sequential(*[torch.nn.BatchNorm2d(4) for _ in range(60)])
    network(torch.randn(8, 4, 3, 3))  # running statistics and num_batches_tracked move
    return network.state_dict()


@pytest.mark.parametrize("make_state", [_dtypes_and_views, _batch_norms])
@pytest.mark.parametrize(
    "save_kwargs",
    [{}, {"pickle_protocol": 4}, {"_use_new_zipfile_serialization": False}],
    ids=["zip", "zip-protocol-4", "legacy"],
)
def test_torch_files_load_as_torch_loads_them(tmp_path, make_state, save_kwargs):
    path = str(tmp_path / "state.pth")
    state = make_state()
    torch.save(state, path, **save_kwargs)
    # torch's weights-only unpickler lacks protocol 4's MEMOIZE; the file is our own.
    ours = _assert_loads_like_torch(path, weights_only=save_kwargs.get("pickle_protocol") != 4)
    if make_state is _batch_norms:
        assert ours["0.num_batches_tracked"].shape == () and ours["0.num_batches_tracked"] == 1
    else:
        assert not state["transposed"].is_contiguous()
        np.testing.assert_array_equal(ours["transposed"], state["transposed"].numpy())


def test_hand_written_legacy_files_are_what_torch_reads(tmp_path):
    """The hand-written legacy layout the attacks use loads in torch too; torch reads legacy
    storages little-endian whatever the header's little_endian says, and so do we."""
    data = np.arange(4, dtype="<f4").tobytes()
    state = collections.OrderedDict(w=_tensor(_storage(legacy=True), 1, (3,), (1,)))
    for little_endian in (True, False):
        path = _legacy_file(
            tmp_path / f"{little_endian}.pth", state, {"0": (4, data)}, None, little_endian
        )
        np.testing.assert_array_equal(_assert_loads_like_torch(path)["w"], [1.0, 2.0, 3.0])


def test_big_endian_archives_are_byteswapped_as_torch_does(tmp_path):
    entries = _torch_entries({"w": torch.arange(6.0).reshape(2, 3), "n": torch.tensor(7)})
    entries["archive/byteorder"] = b"big"
    for name in ("archive/data/0", "archive/data/1"):
        itemsize = 4 if name.endswith("0") else 8
        entries[name] = (
            np.frombuffer(entries[name], f"<i{itemsize}").astype(f">i{itemsize}").tobytes()
        )
    path = _write_zip(tmp_path / "big.pth", entries)
    ours = _assert_loads_like_torch(path)
    np.testing.assert_array_equal(ours["w"], np.arange(6.0).reshape(2, 3))
    assert ours["n"] == 7 and ours["w"].dtype.isnative


def test_bool_bytes_other_than_0_and_1_read_as_true(tmp_path):
    entries = _torch_entries({"b": torch.tensor([True, False])})
    entries["archive/data/0"] = b"\x02\x00"
    loaded = load_torch_state_dict(_write_zip(tmp_path / "bools.pth", entries))["b"]
    np.testing.assert_array_equal(loaded.view(np.uint8), [1, 0])


def test_the_refusal_is_an_untrusted_file_error():
    assert issubclass(UnsafeCheckpointError, UntrustedFileError)
    assert issubclass(UnsafeCheckpointError, ValueError)


@pytest.mark.parametrize(
    "offset, size, stride, reason",
    [
        (0, (64,), (1,), "reaches element 63 of storage 0, which holds 4"),
        (3, (4,), (-1,), "int64 values >= 0"),
        (4, (1,), (1,), "reaches element 4"),
        (0, (-1,), (1,), "int64 values >= 0"),
        (0, (True,), (1,), "int64 values >= 0"),
        (0, (2.0,), (1,), "int64 values >= 0"),
        (0, (2, 2), (1,), "equally long"),
        (0, (1,) * 33, (1,) * 33, "at most 32"),
        (0, (1,), (2**63,), "int64 values >= 0"),
        (-1, (1,), (1,), "offset -1 is no int64"),
        ("0", (1,), (1,), "offset 0 is no int64"),
        (4, (), (), "reaches element 4 of storage 0, which holds 4"),
        (0, (32768, 32768), (0, 0), "needs at least 4294967296 bytes"),
        (0, (0, 2**62), (1, 1), "needs at least"),
    ],
)
def test_views_outside_their_storage_are_refused(tmp_path, offset, size, stride, reason):
    path = _zip_attack(tmp_path, _pickled({"w": _tensor(_storage(), offset, size, stride)}))
    message, peak = _refusal(path)
    assert reason in message and peak < _SMALL


@pytest.mark.parametrize(
    "pid, reason",
    [
        (("storage", torch.FloatStorage, "0", "cpu", "4"), "element count 4"),
        (("storage", torch.FloatStorage, "0", "cpu", -1), "element count -1"),
        (("storage", torch.FloatStorage, "0", "cpu", 4.0), "element count <float>"),
        (("storage", torch.FloatStorage, "0", "cpu", 2**40), "needs at least 4398046511104"),
        (("storage", torch.FloatStorage, "0", "cpu", 2**20), "declares 16 bytes"),
        (("storage", torch.FloatStorage, "0", "cpu", 4, None), "unexpected persistent id"),
        (("storage", torch.FloatStorage, "0", "cpu"), "unexpected persistent id"),
        (("module", torch.FloatStorage, "0", "cpu", 4), "unexpected persistent id"),
        (("storage", collections.OrderedDict, "0", "cpu", 4), "no storage type"),
        (("storage", torch.FloatStorage, 0, "cpu", 4), "storage key 0, no str"),
        (("storage", torch.FloatStorage, "7", "cpu", 4), "storage 7 has no entry"),
        ("storage", "unexpected persistent id storage"),
    ],
)
def test_malformed_persistent_ids_are_refused(tmp_path, pid, reason):
    path = _zip_attack(tmp_path, _pickled({"w": _tensor(_PersistentId(pid), 0, (1,), (1,))}))
    message, peak = _refusal(path)
    assert reason in message and peak < _SMALL


def test_one_storage_named_with_two_types_or_sizes_is_refused(tmp_path):
    for other in (_storage(storage_type=torch.IntStorage), _storage(numel=2)):
        state = {"a": _tensor(_storage(), 0, (4,), (1,)), "b": _tensor(other, 0, (1,), (1,))}
        message, _ = _refusal(_zip_attack(tmp_path, _pickled(state)))
        assert "storage 0 is named as 4 x float32 and as" in message


@pytest.mark.parametrize("module, name", _ALLOWED_GLOBALS)
def test_build_on_an_allowed_global_is_refused_and_poisons_nothing(tmp_path, module, name):
    """BUILD used to set attributes on the module-level stand-ins, breaking every later load."""
    fetch = pickle.GLOBAL + f"{module}\n{name}\n".encode()
    for state in ({"dtype": 1, "name": "x"}, (None, {"dtype": 1})):
        path = _zip_attack(tmp_path, b"\x80\x02" + fetch + _body(state) + pickle.BUILD + b".")
        message, _ = _refusal(path)
        assert "pickle BUILD sets state on" in message
    valid = str(tmp_path / "valid.pth")
    torch.save(_dtypes_and_views(), valid)
    _assert_loads_like_torch(valid)


def test_build_on_a_tensor_is_refused_and_on_the_state_dict_is_dropped(tmp_path):
    tensor = _pickled(_tensor(_storage(), 0, (4,), (1,)))[:-1]
    message, _ = _refusal(_zip_attack(tmp_path, tensor + _body({"x": 1}) + pickle.BUILD + b"."))
    assert "pickle BUILD sets state on <_TensorView>" in message
    state = _pickled(collections.OrderedDict(w=_tensor(_storage(), 0, (4,), (1,))))[:-1]
    path = _zip_attack(tmp_path, state + _body({"_metadata": {"": 1}}) + pickle.BUILD + b".")
    np.testing.assert_array_equal(load_torch_state_dict(path)["w"], np.arange(4.0))


@pytest.mark.parametrize(
    "value, reason",
    [
        (_Call(collections.OrderedDict, {"a": 1}), "calls collections.OrderedDict with arguments"),
        (_Call(torch._utils._rebuild_tensor_v2, _storage(), 0), "called with 2 arguments"),
        (_Call(torch._utils._rebuild_tensor_v2, *[0] * 8), "called with 8 arguments"),
        (_tensor("0", 0, (1,), (1,)), "given 0 as its storage"),
        (_Call(torch._utils._rebuild_parameter, "w"), "_rebuild_parameter is given no tensor"),
        (_Call(torch.FloatStorage, 10**9), "TypeError"),
        ({"nested": {}}, "entry w is <dict>, no tensor"),
    ],
)
def test_calls_with_odd_arguments_are_refused(tmp_path, value, reason):
    message, peak = _refusal(_zip_attack(tmp_path, _pickled({"w": value})))
    assert reason in message and peak < _SMALL


def test_the_parameter_wrapper_is_read_through(tmp_path):
    parameter = _Call(
        torch._utils._rebuild_parameter,
        _tensor(_storage(), 1, (2,), (2,)),
        True,
        collections.OrderedDict(),
    )
    path = _zip_attack(tmp_path, _pickled({"w": parameter}))
    np.testing.assert_array_equal(_assert_loads_like_torch(path)["w"], [1.0, 3.0])


@pytest.mark.parametrize(
    "pickled, reason",
    [
        (b"\x80\x02(X\x02\x00\x00\x00idios\nsystem\n.", "INST"),
        (b"\x80\x02(ccollections\nOrderedDict\no.", "OBJ"),
        (b"\x80\x02ccollections\nOrderedDict\n)\x81.", "NEWOBJ"),
        (b"\x80\x02\x82\x01.", "EXT1"),
        (b"\x80\x05\x96" + struct.pack("<Q", 2**40) + b".", "BYTEARRAY8"),
        (b"\x80\x04\x8f.", "EMPTY_SET"),
        (b"\x80\x02P0\n.", "PERSID"),
        (b"(I1\nI2\nl.", "INT"),
        (b"\x80\x02\xff.", "0xff"),
        (b"\x80\x02]K\x00K\x01s.", "sets items on <list>"),
        (b"\x80\x02}K\x01K\x02s.", "only dicts with str keys"),
        (b"\x80\x02}(X\x01\x00\x00\x00aN0u.", "only dicts with str keys"),
        (b"\x80\x02(K\x01t.", "got <tuple>"),
        (b"\x80\x02cbuiltins\neval\n.", "refusing to unpickle global builtins.eval"),
        (b"\x80\x02ctorch\nload\n.", "refusing to unpickle global torch.load"),
        (b"\x80\x02c\xff\nx\n.", "UnicodeDecodeError"),
        (b"\x80\x02", "EOFError"),
        (b"\x80\x02h\x05.", "Memo value not found"),
    ],
)
def test_opcodes_outside_a_state_dict_are_refused(tmp_path, pickled, reason):
    message, peak = _refusal(_zip_attack(tmp_path, pickled))
    assert reason in message and peak < _SMALL


def test_a_memo_index_of_four_billion_costs_one_dict_entry(tmp_path):
    """The C unpickler grows its memo array to the index a LONG_BINPUT names (64 GB here)."""
    valid = _pickled(collections.OrderedDict(w=_tensor(_storage(), 0, (4,), (1,))))
    path = _zip_attack(tmp_path, b"\x80\x02Nr\xff\xff\xff\xff0" + valid[2:])
    loaded, peak = _traced(lambda: load_torch_state_dict(path))
    np.testing.assert_array_equal(loaded["w"], np.arange(4.0))
    assert peak < _SMALL


def test_a_pickle_at_its_limit_unpickles_within_max_bytes(tmp_path):
    """The pickle may be max_bytes / 128; its worst opcode (MEMOIZE) builds ~83 bytes each."""
    max_bytes = 32 << 20
    limit = max_bytes // 128
    bomb = b"\x80\x04}" + b"\x94" * (limit - 4) + b"."  # an empty dict memoized 262,000 times
    loaded, peak = _traced(lambda: load_torch_state_dict(_zip_attack(tmp_path, bomb), max_bytes))
    assert loaded == {} and peak < max_bytes
    message, peak = _refusal(_zip_attack(tmp_path, bomb + b"N"), max_bytes=max_bytes)
    assert f"its pickle needs more than {limit} bytes" in message and peak < _SMALL


def _zip_with_inflating_entry(path, name, size, entries):
    """A zip of `entries` plus `name`: `size` zero bytes deflated (50 MB becomes ~50 KB)."""
    with zipfile.ZipFile(path, "w") as archive:
        for entry_name, data in entries.items():
            if entry_name != name:
                archive.writestr(entry_name, data)
        info = zipfile.ZipInfo(name)
        info.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(info, "w") as entry:
            chunk = bytes(1 << 20)
            for _ in range(size >> 20):
                entry.write(chunk)
    return str(path)


def _patch_central_record(path, name, field, value):
    """Rewrites one field of `name`'s central-directory record: "flags" or "file_size"."""
    offset, layout = {"flags": (8, "<H"), "file_size": (24, "<I")}[field]
    data = bytearray(pathlib.Path(path).read_bytes())
    start = data.index(b"PK\x01\x02")
    while bytes(data[start + 46 : start + 46 + len(name)]) != name.encode():
        start = data.index(b"PK\x01\x02", start + 4)
    struct.pack_into(layout, data, start + offset, value)
    pathlib.Path(path).write_bytes(bytes(data))


def test_zip_bombs_are_refused_before_they_inflate(tmp_path):
    entries = _torch_entries({"w": torch.arange(4.0)})
    # The storage entry honestly declares 50 MB where 4 floats need 16 bytes.
    bomb = _zip_with_inflating_entry(tmp_path / "bomb.pth", "archive/data/0", 50 << 20, entries)
    assert pathlib.Path(bomb).stat().st_size < 200_000
    message, peak = _refusal(bomb)
    assert "declares 52428800 bytes; 4 x float32 need 16" in message and peak < _SMALL
    # The same entry with a header that claims 16 bytes: at most 17 are inflated.
    _patch_central_record(bomb, "archive/data/0", "file_size", 16)
    message, peak = _refusal(bomb)
    assert "Bad CRC-32" in message and peak < _SMALL
    # A data.pkl that inflates to 50 MB, over the pickle limit (max_bytes / 128).
    pickle_bomb = _zip_with_inflating_entry(
        tmp_path / "pickle_bomb.pth", "archive/data.pkl", 50 << 20, entries
    )
    message, peak = _refusal(pickle_bomb)
    assert f"more than {DEFAULT_MAX_BYTES // 128} bytes" in message and peak < _SMALL


def test_zip_layouts_torch_never_writes_are_refused(tmp_path):
    entries = _torch_entries({"w": torch.arange(4.0)})
    cases = {
        "duplicate": (list(entries.items()) + [("archive/data/0", bytes(16))], "two entries"),
        "nested": (
            {name.replace("archive/", "archive/nested/"): data for name, data in entries.items()},
            "archive/nested/data.pkl is not in the archive's top folder",
        ),
        "two_pickles": (
            {**entries, "other/data.pkl": entries["archive/data.pkl"]},
            "exactly one <dir>/data.pkl; found 2",
        ),
        "missing": (
            {name: data for name, data in entries.items() if name != "archive/data/0"},
            "storage 0 has no entry",
        ),
        "short_storage": ({**entries, "archive/data/0": bytes(12)}, "declares 12 bytes"),
        "byteorder_non_ascii": (
            {**entries, "archive/byteorder": "lïttle".encode()},
            "byteorder entry is neither",
        ),
        "byteorder_bytes": ({**entries, "archive/byteorder": b"\xff\xfe"}, "neither"),
        "byteorder_long": ({**entries, "archive/byteorder": b"little" * 1000}, "neither"),
    }
    for name, (case_entries, reason) in cases.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # zipfile warns of the duplicate name
            path = _write_zip(tmp_path / f"{name}.pth", case_entries)
        message, _ = _refusal(path)
        assert reason in message, name
    lzma = _write_zip(tmp_path / "lzma.pth", entries, zipfile.ZIP_LZMA)
    assert "is encrypted or not stored/deflated" in _refusal(lzma)[0]
    encrypted = _write_zip(tmp_path / "encrypted.pth", entries)
    _patch_central_record(encrypted, "archive/data/0", "flags", 0x1)
    assert "is encrypted or not stored/deflated" in _refusal(encrypted)[0]
    deflated = _write_zip(tmp_path / "deflated.pth", entries, zipfile.ZIP_DEFLATED)
    _assert_loads_like_torch(deflated)


def test_legacy_streams_that_disagree_with_themselves_are_refused(tmp_path):
    data = np.arange(4, dtype="<f4").tobytes()
    view = collections.OrderedDict(w=_tensor(_storage(legacy=True), 0, (4,), (1,)))
    view_pid = ("storage", torch.FloatStorage, "0", "cpu", 4, ("0", 0, 4))
    cases = {
        "count_mismatch": (view, {"0": (3, data)}, None, "holds 3 elements; its tensors expect 4"),
        "repeated_key": (view, {"0": (4, data)}, ["0", "0"], "exactly once"),
        "unlisted_storage": (view, {"0": (4, data)}, [], "exactly once"),
        "int_keys": (view, {"0": (4, data)}, [0], "exactly once"),
        "keys_not_a_list": (view, {"0": (4, data)}, "0", "exactly once"),
        "view_metadata": (
            {"w": _tensor(_PersistentId(view_pid), 0, (4,), (1,))},
            {"0": (4, data)},
            None,
            "storage 0 is a view, which torch no longer writes",
        ),
        "zip_length_pid": (
            {"w": _tensor(_storage(), 0, (4,), (1,))},
            {"0": (4, data)},
            None,
            "unexpected persistent id",
        ),
    }
    for name, (state, storages, keys, reason) in cases.items():
        message, peak = _refusal(_legacy_file(tmp_path / f"{name}.pth", state, storages, keys))
        assert reason in message and peak < _SMALL, name


def test_edited_torch_legacy_files_are_refused(tmp_path):
    original = _torch_legacy({"w": torch.arange(4.0)})  # ends: int64 count 4, then 16 bytes
    magic = pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2)
    assert original.startswith(magic)
    negative = original[:-24] + struct.pack("<q", -1) + original[-16:]
    cases = {
        "negative_count": (negative, "holds -1 elements"),
        "truncated_storage": (original[:-8], "truncated: 16 more bytes expected"),
        "truncated_count": (original[:-20], "truncated: 8 more bytes expected"),
        "truncated_pickle": (original[:200], "not a valid torch state-dict file"),
        "empty": (b"", "EOFError"),
        "huge_string_length": (b"\x80\x02X\xff\xff\xff\x7f", "its pickle needs more than"),
        "plain_pickle": (pickle.dumps({"w": [1.0]}), "not a torch file (bad magic"),
        "magic_only": (magic + pickle.dumps(7, protocol=2), "bad magic or protocol"),
    }
    for name, (data, reason) in cases.items():
        path = tmp_path / f"{name}.pth"
        path.write_bytes(data)
        message, peak = _refusal(str(path))
        assert reason in message and peak < _SMALL, (name, message)


def test_max_bytes_bounds_storages_and_arrays_and_can_be_raised(tmp_path):
    path = str(tmp_path / "state.pth")
    torch.save({"w": torch.zeros(1 << 20)}, path)  # 4 MiB of storage, 4 MiB of array
    message, _ = _refusal(path, max_bytes=6 << 20)
    assert "needs at least 8388608 bytes" in message and "limit of 6291456" in message
    assert "pass a larger max_bytes" in message
    assert load_torch_state_dict(path, max_bytes=8 << 20)["w"].shape == (1 << 20,)
    with pytest.raises(ValueError, match="max_bytes must be a positive int"):
        load_torch_state_dict(path, max_bytes=0)


def test_crashing_attacks_are_refused_in_a_subprocess(tmp_path):
    """Each of these segfaulted or could: run apart, so a regression cannot kill pytest."""
    deep = b")" + b"\x85" * 200_000  # a tuple nested 200,000 deep
    attacks = {
        "huge_stride": (
            _pickled({"w": _tensor(_storage(), 0, (2,), (2**60,))}),
            "reaches element 1152921504606846976",
        ),
        "values_2_26": (
            _pickled({"w": _tensor(_storage(), 0, (2**26,), (1,))}),
            "reaches element 67108863 of storage 0, which holds 4",
        ),
        "deep_key": (b"\x80\x02}" + deep + b"Ns.", "only dicts with str keys"),
        "deep_pid": (b"\x80\x02" + deep + b"Q.", "unexpected persistent id <tuple>"),
        "deep_value": (b"\x80\x02}X\x01\x00\x00\x00w" + deep + b"s.", "entry w is <tuple>"),
    }
    paths = {
        name: _zip_attack(tmp_path, data, f"{name}.pth") for name, (data, _) in attacks.items()
    }
    script = (
        "import sys\n"
        "from bssn_tf.extractors import torch_checkpoint as checkpoint\n"
        "for path in sys.argv[1:]:\n"
        "    try:\n"
        "        checkpoint.load_torch_state_dict(path)\n"
        "        print('LOADED', path)\n"
        "    except checkpoint.UnsafeCheckpointError as error:\n"
        "        print(error)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, *paths.values()],
        cwd=_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert len(lines) == len(attacks), done.stdout
    for line, (name, (_, reason)) in zip(lines, attacks.items()):
        assert line.startswith(f"{paths[name]}: ") and reason in line, line


def test_corrupted_torch_files_are_loaded_or_refused_in_one_line(tmp_path):
    """Random byte changes and truncations of torch's files raise nothing but the refusal."""
    rng = np.random.default_rng(0)
    state = {"w": torch.arange(6.0).reshape(2, 3).t(), "n": torch.tensor(3)}
    buffer = io.BytesIO()
    torch.save(state, buffer)
    for original in (buffer.getvalue(), _torch_legacy(state)):
        variants = [original[:cut] for cut in range(0, len(original), max(1, len(original) // 40))]
        for _ in range(150):
            data = bytearray(original)
            for position in rng.integers(0, len(data), size=rng.integers(1, 5)):
                data[position] = rng.integers(0, 256)
            variants.append(bytes(data))
        path = tmp_path / "corrupted.pth"
        for data in variants:
            path.write_bytes(data)
            try:
                load_torch_state_dict(str(path))
            except UnsafeCheckpointError as error:
                assert str(error).startswith(f"{path}: ") and "\n" not in str(error)


def test_strides_that_never_step_load_as_torch_loads_them(tmp_path):
    """An empty view reads nothing (any offset will do) and a length-1 dimension never steps
    (any stride will do); torch accepts both, and they cannot read past the storage."""
    state = {
        "empty": _tensor(_storage(), 9, (0, 3), (3, 1)),
        "empty_zero_stride": _tensor(_storage(), 0, (2, 0), (0, 5)),
        "length_one": _tensor(_storage(), 3, (1, 1), (2**63 - 1, 2**62)),
        "broadcast": _tensor(_storage(), 1, (3, 2), (0, 2)),
    }
    loaded = _assert_loads_like_torch(_zip_attack(tmp_path, _pickled(state)))
    assert loaded["empty"].shape == (0, 3) and loaded["empty_zero_stride"].shape == (2, 0)
    np.testing.assert_array_equal(loaded["length_one"], [[3.0]])
    np.testing.assert_array_equal(loaded["broadcast"], [[1.0, 3.0]] * 3)
