"""Checkpoints of a run: what is saved, how a run resumes, and how a trained generator is loaded.

A checkpoint (format ``facelib.train/1``, written atomically by ``facelib.checkpoint``) holds the config, the
module and optimiser states, the position in the epoch, the running sums of the epoch, the history and every
RNG state, so a run killed at any point and resumed ends with bit-identical weights to an uninterrupted one.
Keys: ``format, config, generator, discriminator, g_opt, d_opt, scaler, epoch, step_in_epoch, global_step,
epoch_sums, epoch_steps, epoch_time, history, rng, torch_version, data_identity`` (the faces it trains on,
:mod:`facelib.train.identity`; absent from older checkpoints).

A run holds its folder with :class:`RunLock` (``out_dir/.lock``, an ``flock`` the kernel drops when the process
ends, even by ``kill -9``), so two runs never write the same ``last.pt``. A fresh run's generator may start from
other weights (``init_from``: :func:`init_generator`).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ..checkpoint import (
    CHECKPOINT_FORMAT,
    CheckpointError,
    atomic_torch_save,
    check_state_dict,
    capture_rng_state,
    load_checkpoint,
    restore_rng_state,
)
from ..generator_checkpoint import read_generator, unreadable_config
from ..safe_io import remove_ours
from .build import Models
from .config import TrainConfig
from .identity import IDENTITY_KEY

try:
    import fcntl
except ImportError:  # not on Windows: runs there are not locked
    fcntl = None  # type: ignore[assignment]

__all__ = ["FORMAT", "RESUMABLE_FIELDS", "RunState", "RunLock", "RunLockedError", "checkpoint_dict",
           "save_checkpoint", "restore", "prepare_out_dir", "checkpoint_path", "epoch_checkpoints",
           "init_generator", "load_generator"]

#: The checkpoint format written here and required by ``facelib.checkpoint.load_checkpoint`` (one constant).
FORMAT = CHECKPOINT_FORMAT

#: Fields that may differ between a checkpoint and the config that resumes it: they change how long or where
#: the run goes, not what it computes. Everything else must match (a clear error otherwise).
RESUMABLE_FIELDS = frozenset(
    {"epochs", "max_steps", "resume", "overwrite", "checkpoint_every", "save_epoch_checkpoints", "log_every",
     "num_workers", "device", "out_dir", "compile", "cuda_graphs",
     # where a run resumes from, how it started (a resumed run restores its own weights), and skipping
     # unreadable images (a run that met one stopped there, so resuming with the switch on continues it)
     "resume_from", "init_from", "skip_corrupt"}
)


class RunLockedError(RuntimeError):
    """Another live training run holds ``out_dir`` (its pid is in the message)."""


class RunLock:
    """Holds a run folder: an exclusive ``fcntl.flock`` on ``out_dir/.lock``, which holds the holder's pid.

    The kernel releases the lock when the process ends in any way (``kill -9`` included), so a stale ``.lock``
    file of a dead process never blocks the next run. The file itself stays (removing it would let two runs
    lock two different files); it is emptied on release. Use as a context manager or ``acquire()/release()``.
    """

    def __init__(self, out_dir: str | Path) -> None:
        self.out_dir = Path(out_dir)
        self.path = self.out_dir / ".lock"
        self._fd: int | None = None

    def holder(self) -> str:
        """The pid written in the lock file ("unknown" when there is none)."""
        try:
            text = self.path.read_text(encoding="ascii", errors="replace").strip()
        except OSError:
            return "unknown"
        return text.split()[0] if text and text.split()[0].isdigit() else "unknown"

    def acquire(self) -> RunLock:
        if fcntl is None or self._fd is not None:
            return self
        self.out_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RunLockedError(
                f"{self.out_dir} is in use by another training run (pid {self.holder()}, lock {self.path}): wait "
                "for it to finish or stop it (Ctrl-C saves its checkpoint), or choose another out_dir"
            ) from None
        except OSError:  # a filesystem without locks (some network mounts): run unlocked rather than not at all
            os.close(fd)
            return self
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        self._fd = fd
        return self

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.ftruncate(fd, 0)
        finally:
            os.close(fd)  # closing drops the flock

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


@dataclass
class RunState:
    """Where a run is: the counters, the running sums of the current epoch and the finished epochs' rows."""

    epoch: int = 0
    step_in_epoch: int = 0
    global_step: int = 0
    epoch_sums: dict[str, Tensor] = field(default_factory=dict)
    epoch_steps: int = 0
    epoch_time: float = 0.0
    history: list[dict[str, Any]] = field(default_factory=list)

    def next_epoch(self, row: dict[str, Any]) -> None:
        """Close the current epoch with its history ``row``."""
        self.history.append(row)
        self.epoch += 1
        self.step_in_epoch, self.epoch_steps, self.epoch_time, self.epoch_sums = 0, 0, 0.0, {}


#: The names a run writes in ``out_dir/checkpoints`` (all that ``overwrite`` removes there).
RUN_CHECKPOINT_FILES: tuple[str, ...] = (r"last\.pt", r"epoch_\d+\.pt")


def checkpoint_path(out_dir: str | Path) -> Path:
    """``out_dir/checkpoints/last.pt``."""
    return Path(out_dir) / "checkpoints" / "last.pt"


def checkpoint_dict(config: TrainConfig, models: Models, state: RunState,
                    data: dict[str, Any] | None = None) -> dict[str, Any]:
    """Everything needed to resume exactly (module states are of the uncompiled modules); ``data``: the faces'
    identity (:func:`facelib.train.identity.data_identity`), checked on resume."""
    return {
        "format": FORMAT,
        "config": config.to_dict(),
        "generator": models.generator.state_dict(),
        "discriminator": models.discriminator.state_dict() if models.discriminator is not None else None,
        "g_opt": models.g_opt.state_dict(),
        "d_opt": models.d_opt.state_dict() if models.d_opt is not None else None,
        "scaler": models.scaler.state_dict(),
        "epoch": state.epoch,
        "step_in_epoch": state.step_in_epoch,
        "global_step": state.global_step,
        "epoch_sums": {k: v.detach().cpu() for k, v in state.epoch_sums.items()},
        "epoch_steps": state.epoch_steps,
        "epoch_time": state.epoch_time,
        "history": state.history,
        "rng": capture_rng_state(),
        "torch_version": torch.__version__,
        IDENTITY_KEY: data,
    }


def save_checkpoint(config: TrainConfig, models: Models, state: RunState, epoch_file: bool = False,
                    data: dict[str, Any] | None = None) -> Path:
    """Write ``last.pt`` atomically (and ``epoch_{k}.pt`` when ``epoch_file``); returns the ``last.pt`` path."""
    ckpt = checkpoint_dict(config, models, state, data)
    path = atomic_torch_save(ckpt, checkpoint_path(config.out_dir))
    if epoch_file:
        atomic_torch_save(ckpt, path.with_name(f"epoch_{state.epoch}.pt"))
    return path


def restore(ckpt: dict[str, Any], config: TrainConfig, models: Models, state: RunState,
            device: torch.device, *, source: str | Path | None = None, ignore: frozenset[str] | set[str] = frozenset()
            ) -> None:
    """Load a checkpoint into ``models`` and ``state`` and restore the RNGs.

    Args:
        source: the checkpoint's path, for messages (default ``out_dir/checkpoints/last.pt``).
        ignore: more fields that may differ because they change nothing in this run (e.g. ``val_fraction`` when
            the data has a split of its own).

    Raises:
        CheckpointError: the checkpoint's config differs from ``config`` outside :data:`RESUMABLE_FIELDS`.
    """
    saved = TrainConfig.from_dict(ckpt["config"])
    diff = saved.differences(config, ignore=RESUMABLE_FIELDS | set(ignore))
    if diff:
        lines = "; ".join(f"{k}: checkpoint {a!r} vs now {b!r}" for k, (a, b) in diff.items())
        raise CheckpointError(
            f"cannot resume {source or checkpoint_path(config.out_dir)}: the configuration differs ({lines}). Use the "
            f"checkpoint's values, or start a new run with another out_dir (or overwrite=True / --overwrite)"
        )
    fix = "resume from another checkpoint of the run (checkpoints/epoch_K.pt), or start afresh (--overwrite)"
    check_state_dict(models.generator, ckpt["generator"], source or checkpoint_path(config.out_dir), fix)
    models.generator.load_state_dict(ckpt["generator"])
    if models.discriminator is not None:
        check_state_dict(models.discriminator, ckpt.get("discriminator"), source or checkpoint_path(config.out_dir),
                         fix)
        models.discriminator.load_state_dict(ckpt["discriminator"])
        models.d_opt.load_state_dict(ckpt["d_opt"])  # type: ignore[union-attr]
    models.g_opt.load_state_dict(ckpt["g_opt"])
    models.scaler.load_state_dict(ckpt["scaler"])
    state.epoch, state.step_in_epoch = ckpt["epoch"], ckpt["step_in_epoch"]
    state.global_step = ckpt["global_step"]
    state.epoch_sums = {k: v.to(device) for k, v in ckpt["epoch_sums"].items()}
    state.epoch_steps, state.epoch_time = ckpt["epoch_steps"], ckpt["epoch_time"]
    state.history = list(ckpt["history"])
    restore_rng_state(ckpt["rng"])


def epoch_checkpoints(out_dir: str | Path) -> list[Path]:
    """``out_dir/checkpoints/epoch_{k}.pt`` files, by epoch."""
    found = [(int(m.group(1)), p) for p in (Path(out_dir) / "checkpoints").glob("epoch_*.pt")
             if (m := re.fullmatch(r"epoch_(\d+)\.pt", p.name))]
    return [p for _, p in sorted(found)]


def prepare_out_dir(config: TrainConfig) -> Path | None:
    """Make ``out_dir/checkpoints``; returns the checkpoint to resume from, or None for a fresh start.

    - ``resume_from``: that checkpoint (it must exist). When ``out_dir`` holds another run's files (a checkpoint
      or history and ``resume_from`` is not in ``out_dir/checkpoints``), ``overwrite`` is needed.
    - ``resume``: ``out_dir/checkpoints/last.pt``; without it, a fresh start only when ``out_dir`` holds no run
      (no history, no epoch checkpoints) or with ``overwrite`` (which deletes them).
    - neither: a fresh start; ``overwrite`` is needed (and deletes the old files) when ``out_dir`` holds a run.

    ``overwrite`` deletes only what a run writes: ``history.json``, ``history.csv`` and the
    :data:`RUN_CHECKPOINT_FILES` of ``checkpoints/``; other files there stay.

    Raises:
        FileExistsError: the folder holds a run that this call would overwrite (one line naming the way out).
        FileNotFoundError: ``resume_from`` does not exist.
    """
    out_dir, last = Path(config.out_dir), checkpoint_path(config.out_dir)
    histories = [p for p in (out_dir / "history.json", out_dir / "history.csv") if p.exists()]
    epochs = epoch_checkpoints(out_dir)

    def wipe() -> None:  # only the files a run writes: anything else in the folder is the user's
        remove_ours(out_dir / "checkpoints", RUN_CHECKPOINT_FILES)
        for path in histories:
            path.unlink(missing_ok=True)

    if config.resume_from is not None:
        source = Path(config.resume_from).expanduser()
        if not source.is_file():
            listed = ", ".join(str(p) for p in [*([last] if last.exists() else []), *epochs]) or "none"
            raise FileNotFoundError(f"resume_from={config.resume_from!r}: no such checkpoint file (checkpoints in "
                                    f"{out_dir}: {listed})")
        ours = source.resolve().parent == (out_dir / "checkpoints").resolve()
        if (last.exists() or histories) and not ours and not config.overwrite:
            raise FileExistsError(
                f"{out_dir} holds another run ({(last if last.exists() else histories[0])}) that resuming from "
                f"{source} would overwrite: pass overwrite=True (--overwrite) to do that, or choose another out_dir"
            )
        (out_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
        return source
    if config.resume:
        if last.exists():
            return last
        if histories or epochs:
            if not config.overwrite:
                hint = (f"resume from an epoch checkpoint with resume_from (--resume-from {epochs[-1]}; present: "
                        f"{', '.join(p.name for p in epochs)})" if epochs else "there is no epoch checkpoint to "
                        "resume from")
                raise FileExistsError(
                    f"cannot resume {out_dir}: {last} is missing but the folder holds a run "
                    f"({', '.join(p.name for p in histories) or 'epoch checkpoints'}); {hint}, or pass "
                    "overwrite=True (--overwrite) to start afresh (deletes its history and checkpoints)"
                )
            wipe()
    else:
        existing = [p for p in (last, *histories, *epochs) if p.exists()]
        if existing:
            if not config.overwrite:
                raise FileExistsError(
                    f"{out_dir} already holds a training run ({existing[0]}). Pass resume=True (--resume) to "
                    "continue it, overwrite=True (--overwrite) to start afresh there, or choose another out_dir"
                )
            wipe()
    (out_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
    return None


def _architecture(model: str, image_size: int, options: dict[str, Any]) -> str:
    return f"{model} {options} at {image_size}x{image_size}"


def init_generator(config: TrainConfig, generator: nn.Module) -> str:
    """Load ``config.init_from`` into ``generator`` (a fresh run, before the first optimiser step); returns a
    one-line description of the source.

    ``init_from`` is a weights name of ``facelib.pretrained.available_weights()`` (``FACELIB_WEIGHTS`` or the
    repository's ``weights/``) or the path of a training checkpoint (its generator). Both must hold the same
    architecture as the run (model and its options); only the generator is loaded.

    Raises:
        FileNotFoundError: neither a checkpoint file nor a known weights name (the message lists the names).
        ValueError: another architecture.
    """
    from ..models import generator_options
    from ..pretrained import available_weights, load_state_dict, resolve_weights_dir

    src = str(config.init_from)
    path = Path(src).expanduser()
    ours = _architecture(config.model, config.image_size,
                         generator_options(config.model, config.image_size, config.widths, config.num_residual))
    if path.suffix in (".pt", ".pth", ".ckpt") or "/" in src or os.sep in src or path.is_file():
        if not path.is_file():
            raise FileNotFoundError(f"init_from={src!r}: no such checkpoint file (pass a training checkpoint such as "
                                    "runs/g/checkpoints/last.pt, or a weights name)")
        ckpt = load_checkpoint(path, map_location="cpu")
        saved = TrainConfig.from_dict(ckpt["config"])
        model = saved.model
        theirs = _architecture(saved.model, saved.image_size,
                               generator_options(saved.model, saved.image_size, saved.widths, saved.num_residual))
        weights, what = ckpt["generator"], f"checkpoint {path} (global step {ckpt['global_step']})"
    else:
        folder = resolve_weights_dir()
        available = available_weights(folder)
        if src not in available:
            raise FileNotFoundError(f"init_from={src!r} is neither a checkpoint file nor a weights name in {folder} "
                                    f"(available: {', '.join(available) or 'none'})")
        arch = available[src].get("architecture", {})
        model = str(arch.get("name"))
        theirs = _architecture(model, int(available[src].get("image_size", 0)), dict(arch.get("options", {})))
        weights, what = load_state_dict(src, folder), f"weights {src!r} in {folder}"
    mine = generator.state_dict()
    problem = None
    if model != config.model:
        problem = f"model {model!r} vs {config.model!r}"
    elif weights.keys() != mine.keys():
        problem = f"parameters {sorted(set(weights) ^ set(mine))[:3]} in one only"
    else:
        shapes = [k for k in mine if tuple(weights[k].shape) != tuple(mine[k].shape)]
        if shapes:
            problem = f"{shapes[0]}: {tuple(weights[shapes[0]].shape)} vs {tuple(mine[shapes[0]].shape)}"
    if problem:
        raise ValueError(f"init_from={src!r} holds a {theirs} generator, which does not fit this run's {ours} "
                         f"({problem}): use the same model, widths and num_residual")
    generator.load_state_dict({k: v.to(mine[k].dtype) for k, v in weights.items()})
    return what


def load_generator(checkpoint_path: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, TrainConfig]:
    """The trained generator of a checkpoint, in eval mode, and its ``TrainConfig``
    (:func:`facelib.generator_checkpoint.read_generator`, the stored config read as a ``TrainConfig``).

    Example::

        g, cfg = load_generator("runs/g/checkpoints/last.pt")
        out = g(mask_image(image, mask), mask)
    """
    model, stored = read_generator(checkpoint_path, device)
    try:
        config = TrainConfig.from_dict(stored)
    except (TypeError, ValueError) as err:
        raise unreadable_config(checkpoint_path, err) from None
    return model, config
