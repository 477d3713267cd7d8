"""Checkpoints of a run: what is saved, how a run resumes, and how a trained generator is loaded.

A checkpoint (format ``facelib.train/1``, written atomically by ``facelib.checkpoint``) holds the config, the
module and optimiser states, the position in the epoch, the running sums of the epoch, the history and every
RNG state, so a run killed at any point and resumed ends with bit-identical weights to an uninterrupted one.
Keys: ``format, config, generator, discriminator, g_opt, d_opt, scaler, epoch, step_in_epoch, global_step,
epoch_sums, epoch_steps, epoch_time, history, rng, torch_version``.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ..checkpoint import (
    CHECKPOINT_FORMAT,
    CheckpointError,
    atomic_torch_save,
    capture_rng_state,
    load_checkpoint,
    restore_rng_state,
)
from .build import Models, build_generator
from .config import TrainConfig

__all__ = ["FORMAT", "RESUMABLE_FIELDS", "RunState", "checkpoint_dict", "save_checkpoint", "restore",
           "prepare_out_dir", "checkpoint_path", "load_generator"]

#: The checkpoint format written here and required by ``facelib.checkpoint.load_checkpoint`` (one constant).
FORMAT = CHECKPOINT_FORMAT

#: Fields that may differ between a checkpoint and the config that resumes it: they change how long or where
#: the run goes, not what it computes. Everything else must match (a clear error otherwise).
RESUMABLE_FIELDS = frozenset(
    {"epochs", "max_steps", "resume", "overwrite", "checkpoint_every", "save_epoch_checkpoints", "log_every",
     "num_workers", "device", "out_dir", "compile", "cuda_graphs"}
)


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


def checkpoint_path(out_dir: str | Path) -> Path:
    """``out_dir/checkpoints/last.pt``."""
    return Path(out_dir) / "checkpoints" / "last.pt"


def checkpoint_dict(config: TrainConfig, models: Models, state: RunState) -> dict[str, Any]:
    """Everything needed to resume exactly (module states are of the uncompiled modules)."""
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
    }


def save_checkpoint(config: TrainConfig, models: Models, state: RunState, epoch_file: bool = False) -> Path:
    """Write ``last.pt`` atomically (and ``epoch_{k}.pt`` when ``epoch_file``); returns the ``last.pt`` path."""
    ckpt = checkpoint_dict(config, models, state)
    path = atomic_torch_save(ckpt, checkpoint_path(config.out_dir))
    if epoch_file:
        atomic_torch_save(ckpt, path.with_name(f"epoch_{state.epoch}.pt"))
    return path


def restore(ckpt: dict[str, Any], config: TrainConfig, models: Models, state: RunState,
            device: torch.device) -> None:
    """Load a checkpoint into ``models`` and ``state`` and restore the RNGs.

    Raises:
        CheckpointError: the checkpoint's config differs from ``config`` outside :data:`RESUMABLE_FIELDS`.
    """
    saved = TrainConfig.from_dict(ckpt["config"])
    diff = saved.differences(config, ignore=RESUMABLE_FIELDS)
    if diff:
        lines = "; ".join(f"{k}: checkpoint {a!r} vs now {b!r}" for k, (a, b) in diff.items())
        raise CheckpointError(
            f"cannot resume {checkpoint_path(config.out_dir)}: the configuration differs ({lines}). Use the "
            f"checkpoint's values, or start a new run with another out_dir (or overwrite=True / --overwrite)"
        )
    models.generator.load_state_dict(ckpt["generator"])
    if models.discriminator is not None:
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


def prepare_out_dir(config: TrainConfig) -> Path | None:
    """Make ``out_dir/checkpoints``; returns the checkpoint to resume from, or None for a fresh start.

    Raises:
        FileExistsError: ``out_dir`` holds a run and neither ``resume`` nor ``overwrite`` is set.
    """
    out_dir, last = Path(config.out_dir), checkpoint_path(config.out_dir)
    existing = [p for p in (last, out_dir / "history.json") if p.exists()]
    if existing and not config.resume:
        if not config.overwrite:
            raise FileExistsError(
                f"{out_dir} already holds a training run ({existing[0]}). Pass resume=True (--resume) to "
                "continue it, overwrite=True (--overwrite) to start afresh there, or choose another out_dir"
            )
        shutil.rmtree(out_dir / "checkpoints", ignore_errors=True)
        for name in ("history.csv", "history.json"):
            (out_dir / name).unlink(missing_ok=True)
    (out_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
    return last if config.resume and last.exists() else None


def load_generator(checkpoint_path: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, TrainConfig]:
    """The trained generator of a checkpoint, in eval mode, and its ``TrainConfig``.

    Example::

        g, cfg = load_generator("runs/g/checkpoints/last.pt")
        out = g(mask_image(image, mask), mask)
    """
    ckpt = load_checkpoint(checkpoint_path, map_location="cpu")
    config = TrainConfig.from_dict(ckpt["config"])
    model = build_generator(config)
    model.load_state_dict(ckpt["generator"])
    return model.to(device).eval(), config
