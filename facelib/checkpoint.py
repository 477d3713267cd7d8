"""Crash-safe training checkpoints: atomic writes and complete RNG state.

A checkpoint must never be half-written: a run killed (kill -9, out of memory, power cut) while saving would
otherwise leave a truncated ``last.pt`` and lose the whole run. ``atomic_torch_save`` therefore writes to a
temporary file in the *same* folder, flushes it to disk (``fsync``) and only then renames it over the old file
with ``os.replace``, which POSIX and Windows guarantee to be atomic within one file system: a reader sees
either the complete old file or the complete new one, never a mix.

``capture_rng_state`` / ``restore_rng_state`` cover every random number generator a training step can touch
(Python ``random``, NumPy's legacy global generator, torch CPU and every CUDA device), so a resumed run
continues bit-for-bit where the interrupted one stopped (on CPU; cuDNN may be non-deterministic on GPU).
"""
from __future__ import annotations

import json
import os
import random
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = [
    "atomic_torch_save",
    "atomic_write_text",
    "atomic_write_json",
    "capture_rng_state",
    "restore_rng_state",
    "load_checkpoint",
    "CheckpointError",
]


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


def _atomic_write(path: str | os.PathLike, write) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
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


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a training checkpoint written by ``facelib.train``.

    Raises:
        FileNotFoundError: ``path`` does not exist (the message says where checkpoints are written).
        CheckpointError: the file is not a readable facelib checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"checkpoint {path} not found; training writes <out_dir>/checkpoints/last.pt "
            "(run `python -m facelib.train --out-dir DIR` first)"
        )
    try:
        # weights_only=False: the checkpoint holds RNG states and the config dict, written by this package.
        ckpt = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as exc:  # truncated / not a torch file
        raise CheckpointError(f"cannot read checkpoint {path}: {exc}; delete it or resume from another one") from exc
    if not isinstance(ckpt, dict) or "generator" not in ckpt or "config" not in ckpt:
        raise CheckpointError(
            f"{path} is not a facelib.train checkpoint (expected a dict with 'generator' and 'config' entries)"
        )
    return ckpt
