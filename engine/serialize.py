"""Save and load models: one .npz with the architecture as JSON and the arrays by full name.

Files are read with ``allow_pickle=False`` and checked entry by entry, so a wrong, truncated or
hand-edited file gives one ModelFileError naming the problem. Saves are atomic: a temporary
file in the same folder, flushed, then renamed over the target.
"""
from __future__ import annotations

import json
import math
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from .errors import ModelFileError, shape_str
from .model import LAYER_TYPES, Sequential, layer_names

FORMAT = "nndb-model"
VERSION = 1
ARCH_KEY = "__architecture__"


def atomic_write(path: str | os.PathLike, write) -> None:
    """Call ``write(file)`` on a temporary file beside ``path``, then rename it into place."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    remove_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}-", suffix=".tmp", dir=folder)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a saved model gets the usual permissions
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def remove_stale_temporaries(path: Path) -> None:
    """Remove ``.NAME.PID-xxxx.tmp`` files that a killed writer of ``path`` left (its process is gone).

    A write killed with SIGKILL cannot clean up after itself; the next write of the same file does.
    A temporary file whose process still runs is another writer's, and is left alone."""
    folder = path.parent if str(path.parent) else Path(".")
    prefix = f".{path.name}."
    try:
        names = [n for n in os.listdir(folder) if n.startswith(prefix) and n.endswith(".tmp")]
    except OSError:
        return
    for name in names:
        pid = name[len(prefix):].partition("-")[0]
        if not pid.isdigit() or int(pid) == os.getpid() or _alive(int(pid)):
            continue
        try:
            os.unlink(folder / name)
        except OSError:
            pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True
    return True


def save(model: Sequential, path: str | os.PathLike, extra: dict | None = None) -> Path:
    """Write ``model`` to ``path`` (exactly that name) atomically; ``extra`` is stored JSON metadata."""
    header = {"format": FORMAT, "version": VERSION, **model.config(), "extra": extra or {}}
    arrays = {ARCH_KEY: np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)}
    arrays.update(model.state_dict())
    atomic_write(path, lambda f: np.savez(f, **arrays))
    return Path(path)


# What a model file may ask of this process: checked from the file's headers before anything is built.
MAX_PARAMETER_BYTES = 256 * 2**20  # the parameters an architecture may declare (float64: 32M numbers)
MAX_ARCHITECTURE_BYTES = 16 * 2**20  # the architecture's JSON text
MAX_JSON_DEPTH = 32  # nesting of the architecture's JSON


def _size_str(n: int) -> str:
    return f"{n / 2**20:,.1f} MiB" if n < 2**40 else f"{float(n):.3g} bytes"


class _Refused(Exception):
    """A reason to refuse the file, without its path (load adds it)."""


def _json_depth_ok(text: str) -> bool:
    depth = 0
    in_string = escaped = False
    for ch in text:  # brackets outside strings: a nesting too deep for json's recursion is refused first
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return False
        elif ch in "]}":
            depth -= 1
    return True


def _not_json(name):
    raise ValueError(f"{name} is not a JSON number")


def _has_nonfinite(value) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_has_nonfinite(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_nonfinite(v) for v in value)
    return False


def _parse_header(raw: bytes) -> dict:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise _Refused(f"the architecture entry is not valid JSON ({e})") from None
    if not _json_depth_ok(text):
        raise _Refused(f"the architecture entry is not valid JSON (nested deeper than {MAX_JSON_DEPTH} levels)")
    try:
        header = json.loads(text, parse_constant=_not_json)
    except (ValueError, RecursionError) as e:  # JSONDecodeError, Infinity/NaN, a 5,000-digit integer
        raise _Refused(f"the architecture entry is not valid JSON ({e})") from None
    if _has_nonfinite(header):
        raise _Refused("the architecture entry holds a number too large for a float (inf)")
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise _Refused(f"not an nndb model file (format is {header.get('format')!r} "
                       f"if anything, expected {FORMAT!r})" if isinstance(header, dict)
                       else "the architecture entry is not a JSON object")
    if header.get("version") != VERSION:
        raise _Refused(f"model file version {header.get('version')!r}, this nndb reads version {VERSION}")
    return header


def _check_architecture(header: dict) -> list[tuple[type, dict, str, int]]:
    """(class, config, name, index) per layer, the specs' types and the scalars checked."""
    layers = header.get("layers")
    if not isinstance(layers, list) or not layers:
        raise _Refused("'layers' must be a non-empty list of layer specs")
    for i, spec in enumerate(layers):
        if not isinstance(spec, dict) or not isinstance(spec.get("type"), str) or spec["type"] not in LAYER_TYPES:
            got = spec.get("type") if isinstance(spec, dict) else spec
            raise _Refused(f"layer {i + 1} has unknown type {got!r}; known types: {', '.join(LAYER_TYPES)}")
    if header.get("dtype", "float64") not in ("float32", "float64"):
        raise _Refused(f"invalid architecture: dtype must be float32 or float64, got {header.get('dtype')!r}")
    l2 = header.get("l2", 0.0)
    if isinstance(l2, bool) or not isinstance(l2, (int, float)) or not 0 <= l2 < float("inf"):
        raise _Refused(f"invalid architecture: l2 must be a number ≥ 0, got {l2!r}")
    if not isinstance(header.get("extra", {}), dict):
        raise _Refused(f"the metadata ('extra') must be a JSON object, got {type(header['extra']).__name__}")
    classes = [LAYER_TYPES[spec["type"]] for spec in layers]
    return [(cls, {k: v for k, v in spec.items() if k != "type"}, name, index)
            for cls, spec, (name, index) in zip(classes, layers, layer_names(classes))]


def _expected_arrays(layers) -> dict[str, tuple[str, tuple[int, ...] | None]]:
    """Each parameter's full name → (symbol, shape) as the architecture declares it, and the total
    checked against MAX_PARAMETER_BYTES; the shape is None for a layer class that cannot say."""
    expected, total, biggest = {}, 0, []
    for i, (cls, config, name, index) in enumerate(layers):
        try:
            shapes = cls.parameter_shapes(**config)
        except (TypeError, ValueError, OverflowError) as e:
            raise _Refused(f"invalid architecture: layer {i + 1} ({cls.__name__}): {e}") from None
        for attr in cls.params:
            shape = None if shapes is None else shapes.get(attr)
            if shape is not None:
                if any(n < 0 for n in shape):
                    raise _Refused(f"invalid architecture: layer {i + 1} ({cls.__name__}) has a negative size")
                size = math.prod(shape) * 8
                total += size
                biggest.append((size, f"{name}.{attr} {shape_str(shape)}"))
            expected[f"{name}.{attr}"] = (f"{attr}{index}", shape)
    if total > MAX_PARAMETER_BYTES:
        largest = ", ".join(what for _, what in sorted(biggest, reverse=True)[:3])
        raise _Refused(f"the architecture declares {_size_str(total)} of parameters ({largest}), over the "
                       f"{_size_str(MAX_PARAMETER_BYTES)} limit on a model file (engine.serialize."
                       f"MAX_PARAMETER_BYTES); nothing was allocated")
    return expected


def _npy_header(member) -> tuple[tuple[int, ...], bool, np.dtype]:
    """Shape, Fortran order and dtype from an .npy member's header, its data not read."""
    version = np.lib.format.read_magic(member)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(member, max_header_size=10_000)
    if version == (2, 0):
        return np.lib.format.read_array_header_2_0(member, max_header_size=10_000)
    raise ValueError(f"unsupported .npy format version {version}")


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, shape, fortran, dtype) -> np.ndarray:
    """The array of an .npy member, reading no more than its header declares (and refusing more)."""
    nbytes = math.prod(shape) * dtype.itemsize
    with zf.open(info) as member:
        _npy_header(member)
        data = bytearray()
        while len(data) < nbytes:
            chunk = member.read(min(1 << 20, nbytes - len(data)))
            if not chunk:
                raise _Refused(f"{info.filename}: truncated (its header declares {nbytes} bytes of data)")
            data += chunk
        if member.read(1):
            raise _Refused(f"{info.filename}: holds more data than its header declares ({nbytes} bytes)")
    return np.frombuffer(bytes(data), dtype=dtype).reshape(shape, order="F" if fortran else "C")


def _members(zf: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    """Array name → zip entry; every entry's declared size checked (a zip bomb is refused by its directory)."""
    members, total = {}, 0
    for info in zf.infolist():
        total += info.file_size
        if info.filename.endswith(".npy"):
            members[info.filename[:-4]] = info
    if total > MAX_PARAMETER_BYTES + MAX_ARCHITECTURE_BYTES:
        raise _Refused(f"its entries inflate to {_size_str(total)}, over the "
                       f"{_size_str(MAX_PARAMETER_BYTES + MAX_ARCHITECTURE_BYTES)} limit on a model file "
                       f"(engine.serialize.MAX_PARAMETER_BYTES); nothing was read")
    return members


def _declared(zf, members, name, info) -> tuple[tuple[int, ...], bool, np.dtype]:
    with zf.open(info) as member:
        shape, fortran, dtype = _npy_header(member)
        header_size = member.tell() if member.seekable() else None
    if dtype.hasobject:
        raise _Refused(f"{name} is an object array: Object arrays are never loaded (they could run code)")
    if header_size is not None and info.file_size != header_size + math.prod(shape) * dtype.itemsize:
        raise _Refused(f"{name}: its entry inflates to {info.file_size} bytes but its header declares "
                       f"{shape_str(shape)} {dtype} ({header_size + math.prod(shape) * dtype.itemsize} bytes)")
    return shape, fortran, dtype


def _legacy_names(layers) -> dict[str, str]:
    """Each parameter's full name → the one files saved before layers with parameters were numbered
    like them, when every layer was numbered by its kind (a CNN's or an RNN's ``dense1.W`` is ``dense2.W`` now)."""
    counts: dict[str, int] = {}
    names = {}
    for cls, _config, name, _index in layers:
        counts[cls.kind] = counts.get(cls.kind, 0) + 1
        for attr in cls.params:
            names[f"{name}.{attr}"] = f"{cls.kind}{counts[cls.kind]}.{attr}"
    return names


def load(path: str | os.PathLike) -> Sequential:
    """Read a model written by ``save``; raises ModelFileError naming what is wrong.

    Everything is checked from the file's headers before anything is allocated: the zip directory's
    sizes, the architecture JSON (its size, depth, numbers), the parameters it declares against
    MAX_PARAMETER_BYTES, each array's declared shape and dtype against the architecture. Then each
    array is read, never more than its header declares.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file")
    try:
        with open(path, "rb") as f:  # ours to close, even when reading fails half-way
            magic = f.read(6)
            if magic == b"\x93NUMPY":
                raise _Refused("a single NumPy array, not an nndb model file (.npz)")
            if not magic.startswith(b"PK"):  # not a zip (.npz)
                raise _Refused("not an nndb model file (not a NumPy .npz archive)")
            f.seek(0)
            with zipfile.ZipFile(f) as zf:
                members = _members(zf)
                arch = members.get(ARCH_KEY)
                if arch is None:
                    raise _Refused("not an nndb model file (no architecture entry); "
                                   "save models with engine.save or `nndb train --out`")
                shape, fortran, dtype = _declared(zf, members, ARCH_KEY, arch)
                if dtype != np.uint8 or len(shape) != 1:
                    raise _Refused("the architecture entry is not JSON text")
                if shape[0] > MAX_ARCHITECTURE_BYTES:
                    raise _Refused(f"the architecture entry is {_size_str(shape[0])}, over the "
                                   f"{_size_str(MAX_ARCHITECTURE_BYTES)} limit (engine.serialize.MAX_ARCHITECTURE_BYTES)")
                header = _parse_header(_read_member(zf, arch, shape, fortran, dtype).tobytes())
                layers = _check_architecture(header)
                expected = _expected_arrays(layers)
                files = set(members) - {ARCH_KEY}
                stored = {name: name for name in expected}  # the name of each array in the file
                if any(name not in files for name in expected):
                    legacy = _legacy_names(layers)
                    if all(legacy[name] in files for name in expected):
                        stored = legacy  # written before a layer took its parameters' number (dense1 → dense2)
                missing = [name for name in expected if stored[name] not in files]
                wanted = set(stored.values())
                unexpected = [name for name in members if name not in wanted and name != ARCH_KEY]
                if missing:
                    raise _Refused(f"missing arrays {', '.join(missing)} for this architecture")
                if unexpected:
                    raise _Refused(f"arrays {', '.join(unexpected)} do not belong to this architecture")
                declared = {}
                for name, (symbol, need) in expected.items():
                    shape, fortran, dtype = _declared(zf, members, name, members[stored[name]])
                    if need is not None and shape != need:
                        raise _Refused(f"{name} ({symbol}) has shape {shape_str(shape)}, "
                                       f"the architecture needs {shape_str(need)}")
                    if dtype.kind != "f":
                        raise _Refused(f"{name} has dtype {dtype}, expected floating point")
                    if math.prod(shape) * 8 > MAX_PARAMETER_BYTES:  # a layer class that could not say
                        raise _Refused(f"{name} declares {shape_str(shape)}, over the "
                                       f"{_size_str(MAX_PARAMETER_BYTES)} limit (engine.serialize.MAX_PARAMETER_BYTES)")
                    declared[name] = (shape, fortran, dtype)
                try:
                    model = Sequential.from_config(header)
                except (TypeError, ValueError, OverflowError) as e:
                    raise _Refused(f"invalid architecture: {e}") from None
                state = {}
                for p in model.parameters():
                    shape, fortran, dtype = declared[p.name]
                    if shape != p.value.shape:
                        raise _Refused(f"{p.name} ({p.symbol}) has shape {shape_str(shape)}, "
                                       f"the architecture needs {shape_str(p.value.shape)}")
                    state[p.name] = _read_member(zf, members[stored[p.name]], shape, fortran, dtype)
    except _Refused as e:
        raise ModelFileError(f"{path}: {e}") from None
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError, NotImplementedError,
            RuntimeError, OverflowError) as e:
        raise ModelFileError(f"{path}: unreadable or truncated model file ({type(e).__name__}: {e})") from None
    model.load_state_dict(state)
    model.file_extra = header.get("extra", {})
    return model
