"""Save and load models: one .npz with the architecture as JSON and the arrays by full name.

Files are read with ``allow_pickle=False`` and checked entry by entry, so a wrong, truncated or
hand-edited file gives one ModelFileError naming the problem. Saves are atomic: a temporary
file in the same folder, flushed, then renamed over the target.
"""
from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from .errors import ModelFileError, shape_str
from .model import LAYER_TYPES, Sequential

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


def _read_header(data, path) -> dict:
    if ARCH_KEY not in data.files:
        raise ModelFileError(f"{path}: not an nndb model file (no architecture entry); "
                             f"save models with engine.save or `nndb train --out`")
    raw = data[ARCH_KEY]
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise ModelFileError(f"{path}: the architecture entry is not JSON text")
    try:
        header = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelFileError(f"{path}: the architecture entry is not valid JSON ({e})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not an nndb model file (format is {header.get('format')!r} "
                             f"if anything, expected {FORMAT!r})" if isinstance(header, dict)
                             else f"{path}: the architecture entry is not a JSON object")
    if header.get("version") != VERSION:
        raise ModelFileError(f"{path}: model file version {header.get('version')!r}, this nndb reads "
                             f"version {VERSION}")
    return header


def _build(header: dict, path) -> Sequential:
    layers = header.get("layers")
    if not isinstance(layers, list) or not layers:
        raise ModelFileError(f"{path}: 'layers' must be a non-empty list of layer specs")
    for i, spec in enumerate(layers):
        if not isinstance(spec, dict) or not isinstance(spec.get("type"), str) or spec["type"] not in LAYER_TYPES:
            got = spec.get("type") if isinstance(spec, dict) else spec
            raise ModelFileError(f"{path}: layer {i + 1} has unknown type {got!r}; known types: "
                                 f"{', '.join(LAYER_TYPES)}")
    try:
        return Sequential.from_config(header)
    except (TypeError, ValueError) as e:
        raise ModelFileError(f"{path}: invalid architecture: {e}") from None


def _legacy_names(model) -> dict[str, str]:
    """Each parameter's full name → the one files saved before layers with parameters were numbered
    like them, when every layer was numbered by its kind (a CNN's or an RNN's ``dense1.W`` is ``dense2.W`` now)."""
    counts: dict[str, int] = {}
    names = {}
    for layer in model.layers:
        counts[layer.kind] = counts.get(layer.kind, 0) + 1
        for attr in layer.params:
            names[f"{layer.name}.{attr}"] = f"{layer.kind}{counts[layer.kind]}.{attr}"
    return names


def load(path: str | os.PathLike) -> Sequential:
    """Read a model written by ``save``; raises ModelFileError naming what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file")
    try:
        with open(path, "rb") as f:  # ours to close, even when np.load fails half-way
            magic = f.read(6)
            if not magic.startswith(b"PK") and magic != b"\x93NUMPY":  # neither a zip (.npz) nor a .npy
                raise ModelFileError(f"{path}: not an nndb model file (not a NumPy .npz archive)")
            f.seek(0)
            data = np.load(f, allow_pickle=False)
            if not isinstance(data, np.lib.npyio.NpzFile):
                raise ModelFileError(f"{path}: a single NumPy array, not an nndb model file (.npz)")
            with data:
                header = _read_header(data, path)
                model = _build(header, path)
                expected = {p.name: p for p in model.parameters()}
                stored = {name: name for name in expected}  # the name of each array in the file
                if any(name not in data.files for name in expected):
                    legacy = _legacy_names(model)
                    if all(legacy[name] in data.files for name in expected):
                        stored = legacy  # written before a layer took its parameters' number (dense1 → dense2)
                missing = [name for name in expected if stored[name] not in data.files]
                unexpected = [name for name in data.files if name not in stored.values() and name != ARCH_KEY]
                if missing:
                    raise ModelFileError(f"{path}: missing arrays {', '.join(missing)} for this architecture")
                if unexpected:
                    raise ModelFileError(f"{path}: arrays {', '.join(unexpected)} do not belong to this architecture")
                state = {}
                for name, p in expected.items():
                    array = data[stored[name]]
                    if array.shape != p.value.shape:
                        raise ModelFileError(f"{path}: {name} ({p.symbol}) has shape {shape_str(array.shape)}, "
                                             f"the architecture needs {shape_str(p.value.shape)}")
                    if array.dtype.kind != "f":
                        raise ModelFileError(f"{path}: {name} has dtype {array.dtype}, expected floating point")
                    state[name] = array
    except ModelFileError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as e:
        raise ModelFileError(f"{path}: unreadable or truncated model file ({type(e).__name__}: {e})") from None
    model.load_state_dict(state)
    model.file_extra = header.get("extra", {})
    return model
