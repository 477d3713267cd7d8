"""Crash-safe training checkpoints: atomic writes and complete RNG state.

A checkpoint must never be half-written: a run killed (kill -9, out of memory, power cut) while saving would
otherwise leave a truncated ``last.pt`` and lose the whole run. ``atomic_torch_save`` therefore writes to a
temporary file in the *same* folder, flushes it to disk (``fsync``) and only then renames it over the old file
with ``os.replace``, which POSIX and Windows guarantee to be atomic within one file system: a reader sees
either the complete old file or the complete new one, never a mix.

``capture_rng_state`` / ``restore_rng_state`` cover every random number generator a training step can touch
(Python ``random``, NumPy's legacy global generator, torch CPU and every CUDA device), so a resumed run
continues bit-for-bit where the interrupted one stopped (on CPU; cuDNN may be non-deterministic on GPU).

``load_checkpoint`` never runs code from the file: it loads with ``torch.load(..., weights_only=True)`` and an
allow-list of exactly what a facelib checkpoint holds (:data:`CHECKPOINT_SAFE_GLOBALS`: tensors, dicts, lists,
tuples, numbers, strings, plus NumPy's RNG state array and its uint32 dtype and torch's version string), and
it checks the checkpoint's ``format`` key (:data:`CHECKPOINT_FORMAT`). A file that needs anything else (for
example a pickle whose ``__reduce__`` would call a function) is refused before any of it is built.

Files are written with the permissions a plain ``open(path, "w")`` would give (``0o666`` minus the umask,
e.g. ``0o644``), not the ``0o600`` of ``tempfile.mkstemp``. A process killed with SIGKILL while saving
leaves its temporary file (``.<name>.<pid>.<random>.tmp``) behind; the next atomic write to the same path
removes such orphans (only names of exactly that pattern whose writing process is gone, see
:func:`clean_stale_temporaries`).
"""
from __future__ import annotations

import json
import os
import random
import re
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch

__all__ = [
    "atomic_torch_save",
    "atomic_write_text",
    "atomic_write_json",
    "capture_rng_state",
    "restore_rng_state",
    "load_checkpoint",
    "check_state_dict",
    "clean_stale_temporaries",
    "CheckpointError",
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_SAFE_GLOBALS",
]

#: The ``format`` entry of every checkpoint ``facelib.train`` writes; :func:`load_checkpoint` refuses others.
CHECKPOINT_FORMAT = "facelib.train/1"

# Everything beyond torch's own weights_only defaults (tensors, OrderedDict, dict, list, tuple, set, int,
# float, bool, str, bytes, None, torch dtypes/devices) that a checkpoint of facelib.train needs, and nothing
# more: `capture_rng_state` stores NumPy's legacy state ('MT19937', uint32 key array, pos, has_gauss,
# cached_gaussian), which pickles as ndarray + _reconstruct + dtype + the uint32 dtype class; `torch_version`
# is a TorchVersion (a str subclass). An ndarray cannot smuggle code in: object arrays would need further
# globals, which stay refused.
_NP_RECONSTRUCT = np._core.multiarray._reconstruct if hasattr(np, "_core") else np.core.multiarray._reconstruct
CHECKPOINT_SAFE_GLOBALS: list[Any] = [
    _NP_RECONSTRUCT,
    # Checkpoints pickled under NumPy 1.x name the function by its old module path.
    (_NP_RECONSTRUCT, "numpy.core.multiarray._reconstruct"),
    np.ndarray,
    np.dtype,
    type(np.dtype(np.uint32)),
    torch.torch_version.TorchVersion,
]

# Our temporary files: ".<target name>.<pid>.<8 mkstemp characters>.tmp" (older versions wrote no pid).
_TMP_RANDOM = r"[a-z0-9_]{8}"
# A temporary file without a pid whose mtime is older than this is an orphan (a live writer keeps writing).
_STALE_SECONDS = 15 * 60


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used (corrupt, wrong kind, or from an incompatible configuration)."""


def _fsync_dir(folder: Path) -> None:
    # The rename itself lives in the directory entry: fsync the folder so it survives a power cut too.
    # Not supported on every platform/file system (e.g. Windows); the rename is still atomic there.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _current_umask() -> int:
    """The process umask, read without changing it where the OS allows (Linux: /proc/self/status)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # elsewhere the only way to read it is to set it (and put it straight back)
    os.umask(mask)
    return mask


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)  # signal 0: existence check only, nothing is sent
    except ProcessLookupError:
        return False
    except OSError:  # e.g. PermissionError: a process of another user has that pid
        return True
    return True


def clean_stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """Remove orphaned temporary files of earlier atomic writes to ``path``; returns what was removed.

    Only files beside ``path`` named exactly ``.<name>.<pid>.<8 characters>.tmp`` whose process ``pid`` no
    longer exists (a writer killed with SIGKILL), or ``.<name>.<8 characters>.tmp`` (older facelib versions,
    no pid) not modified for 15 minutes, are removed: never another name, and never a live writer's file.
    """
    path = Path(path)
    with_pid = re.compile(rf"\.{re.escape(path.name)}\.(\d+)\.{_TMP_RANDOM}\.tmp")
    without_pid = re.compile(rf"\.{re.escape(path.name)}\.{_TMP_RANDOM}\.tmp")
    removed = []
    try:
        candidates = list(path.parent.iterdir())
    except OSError:
        return removed
    for tmp in candidates:
        match = with_pid.fullmatch(tmp.name)
        try:
            if match:
                # On Windows os.kill(pid, 0) would terminate the process: decide by age there.
                stale = (not _pid_alive(int(match.group(1))) if os.name != "nt"
                         else time.time() - tmp.stat().st_mtime > _STALE_SECONDS)
            elif without_pid.fullmatch(tmp.name):
                stale = time.time() - tmp.stat().st_mtime > _STALE_SECONDS
            else:
                continue
            if stale and tmp.is_file() and not tmp.is_symlink():
                tmp.unlink()
                removed.append(tmp)
        except OSError:  # vanished meanwhile, or not ours to remove: leave it
            continue
    return removed


def _atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], Any]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_temporaries(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            # mkstemp creates 0o600; give the file what open(path, "w") would (0o666 minus the umask).
            mode = 0o666 & ~_current_umask()
            if hasattr(os, "fchmod"):
                os.fchmod(f.fileno(), mode)
            else:
                os.chmod(tmp, mode)
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        # Interrupted (exception, KeyboardInterrupt): drop the partial temporary file, keep the old `path`.
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save(obj, path)`` that either fully replaces ``path`` or leaves it untouched.

    Returns:
        ``Path(path)``.
    """
    return _atomic_write(path, lambda f: torch.save(obj, f))


def atomic_write_text(text: str, path: str | os.PathLike) -> Path:
    """Write a UTF-8 text file atomically (same guarantees as ``atomic_torch_save``)."""
    data = text.encode("utf-8")
    return _atomic_write(path, lambda f: f.write(data))


def atomic_write_json(obj: Any, path: str | os.PathLike) -> Path:
    """Write ``obj`` as indented JSON atomically."""
    return atomic_write_text(json.dumps(obj, indent=2) + "\n", path)


def capture_rng_state() -> dict[str, Any]:
    """Snapshot of Python, NumPy (global) and torch (CPU + all CUDA devices) generator states."""
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Restore a snapshot from ``capture_rng_state`` (CUDA states only when CUDA is available here)."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


def _first_line(exc: BaseException) -> str:
    """The first sentence of an exception's message (torch's unpickling errors span many lines)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    # Keep the first sentence: torch's zip-reader errors run on with paragraphs of advice.
    return lines[0].split(". ")[0].rstrip(".") if lines else type(exc).__name__


def _unsafe_globals(path: Path) -> list[str]:
    """What a torch zip checkpoint would import beyond our allow-list (read statically, nothing runs)."""
    try:
        with torch.serialization.safe_globals(CHECKPOINT_SAFE_GLOBALS):
            return torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except Exception:  # not a zip checkpoint, or unreadable: the caller words the error without the names
        return []


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a training checkpoint written by ``facelib.train``, without running any code from the file.

    Loads with ``weights_only=True`` and :data:`CHECKPOINT_SAFE_GLOBALS` (see the module docstring), then
    checks that the result is a dict whose ``format`` is :data:`CHECKPOINT_FORMAT`.

    Raises:
        FileNotFoundError: ``path`` does not exist (the message says where checkpoints are written).
        CheckpointError: the file is not a readable facelib checkpoint, holds something a checkpoint never
            holds (refused, nothing of it is run), or has another format version. One line each.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"checkpoint {path} not found; training writes <out_dir>/checkpoints/last.pt "
            "(run `python -m facelib.train --out-dir DIR` first)"
        )
    with path.open("rb") as f:
        magic = f.read(4)
    # torch.save writes a zip archive (PK..); torch < 1.6 wrote a raw pickle (protocol 2: 0x80 0x02).
    if not (magic.startswith(b"PK\x03\x04") or magic.startswith(b"\x80")):
        raise CheckpointError(
            f"{path} is not a checkpoint (not a file written by torch.save): pass a facelib.train checkpoint, "
            "<out_dir>/checkpoints/last.pt or epoch_K.pt"
        )
    try:
        with torch.serialization.safe_globals(CHECKPOINT_SAFE_GLOBALS), warnings.catch_warnings():
            # torch warns about the pickle protocol of non-checkpoint pickles; the error below says it better.
            warnings.simplefilter("ignore", UserWarning)
            ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        if "weights only load failed" in str(exc).lower():
            # torch's unpickler refused something; name it when a static read of the pickle can.
            unsafe = _unsafe_globals(path)
            named = re.search(r"GLOBAL ([\w.]+)", str(exc))
            what = (", ".join(unsafe) if unsafe else named.group(1) if named
                    else "pickle instructions beyond tensors, numbers, strings and containers")
            raise CheckpointError(
                f"refusing to load {path}: it holds {what}, which a facelib checkpoint never contains (loading it "
                "could run code from the file); nothing of it was run. Use checkpoints written by facelib.train "
                "from a source you trust"
            ) from None
        raise CheckpointError(
            f"cannot read checkpoint {path} ({_first_line(exc)}): the file is truncated or damaged; resume from "
            "another checkpoint of the run (checkpoints/epoch_K.pt) or start the run afresh"
        ) from exc
    if not isinstance(ckpt, dict) or "generator" not in ckpt or "config" not in ckpt:
        raise CheckpointError(
            f"{path} is not a facelib.train checkpoint (expected a dict with 'generator' and 'config' entries): "
            "pass <out_dir>/checkpoints/last.pt or epoch_K.pt of a facelib.train run"
        )
    found = ckpt.get("format")
    if found is None:
        raise CheckpointError(
            f"{path} is not a facelib.train checkpoint (it has no 'format' entry, every facelib.train checkpoint "
            f"has {CHECKPOINT_FORMAT!r}): pass <out_dir>/checkpoints/last.pt or epoch_K.pt of a facelib.train run"
        )
    if found != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{path} has checkpoint format {found!r} but this facelib reads {CHECKPOINT_FORMAT!r}: load it with the "
            "facelib version that wrote it (a newer format needs a newer facelib)"
        )
    return ckpt



def check_state_dict(model: torch.nn.Module, state: Any, source: str | os.PathLike, fix: str) -> None:
    """Raise CheckpointError (one line) unless ``state`` fits ``model`` exactly: a mapping of tensors with the
    model's keys and shapes. ``source`` names where it came from; ``fix`` says what to do instead.

    ``load_state_dict`` would otherwise fail with a many-line RuntimeError listing every key.
    """
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{source}: the weights are not a mapping of tensors (got {type(state).__name__}); "
                              f"{fix}")
    mine = model.state_dict()
    missing, extra = [k for k in mine if k not in state], [k for k in state if k not in mine]
    if missing or extra:
        parts = [f"{len(missing)} missing (e.g. {missing[0]})" if missing else "",
                 f"{len(extra)} unexpected (e.g. {extra[0]})" if extra else ""]
        raise CheckpointError(f"{source}: the weights do not fit the {type(model).__name__} its config describes: "
                              f"{', '.join(p for p in parts if p)} parameters; {fix}")
    for key, value in mine.items():
        if tuple(state[key].shape) != tuple(value.shape):
            raise CheckpointError(f"{source}: {key} has shape {tuple(state[key].shape)} but the "
                                  f"{type(model).__name__} its config describes needs {tuple(value.shape)}; {fix}")
