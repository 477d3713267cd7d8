"""Checkpoints of a run: what is saved, how a run resumes, and how a trained generator is loaded.

A checkpoint (format ``facelib.train/1``, written atomically by ``facelib.checkpoint``) holds the config, the
module and optimiser states, the position in the epoch, the running sums of the epoch, the history and every
RNG state, so a run killed at any point and resumed ends with bit-identical weights to an uninterrupted one.
Keys: ``format, config, generator, discriminator, g_opt, d_opt, scaler, epoch, step_in_epoch, global_step,
epoch_sums, epoch_steps, epoch_time, history, rng, torch_version, data_identity`` (the faces it trains on,
:mod:`facelib.train.identity`; absent from older checkpoints).

The run folder around it (the lock, fresh start or resume, overwrite) is ``facelib.train.run_folder``. A fresh
run's generator may start from other weights (``init_from``: :func:`init_generator`).
"""
from __future__ import annotations

import os
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
from ..paths import epoch_checkpoint, last_checkpoint
from .build import Models
from .config import TrainConfig
from .identity import IDENTITY_KEY

__all__ = ["FORMAT", "RESUMABLE_FIELDS", "RunState", "checkpoint_dict", "save_checkpoint", "restore",
           "init_generator", "load_generator"]

#: The checkpoint format written here and required by ``facelib.checkpoint.load_checkpoint`` (one constant).
FORMAT = CHECKPOINT_FORMAT

#: Fields that may differ between a checkpoint and the config that resumes it: they change how long or where
#: the run goes, not what it computes. Everything else must match (a clear error otherwise).
RESUMABLE_FIELDS = frozenset(
    {"epochs", "max_steps", "max_minutes", "resume", "overwrite", "checkpoint_every", "save_epoch_checkpoints",
     "log_every", "num_workers", "device", "out_dir", "compile", "cuda_graphs",
     # where a run resumes from, how it started (a resumed run restores its own weights), and skipping
     # unreadable images (a run that met one stopped there, so resuming with the switch on continues it)
     "resume_from", "init_from", "skip_corrupt"}
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
    path = atomic_torch_save(ckpt, last_checkpoint(config.out_dir))
    if epoch_file:
        atomic_torch_save(ckpt, epoch_checkpoint(config.out_dir, state.epoch))
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
            f"cannot resume {source or last_checkpoint(config.out_dir)}: the configuration differs ({lines}). Use the "
            f"checkpoint's values, or start a new run with another out_dir (or overwrite=True / --overwrite)"
        )
    fix = "resume from another checkpoint of the run (checkpoints/epoch_K.pt), or start afresh (--overwrite)"
    check_state_dict(models.generator, ckpt["generator"], source or last_checkpoint(config.out_dir), fix)
    models.generator.load_state_dict(ckpt["generator"])
    if models.discriminator is not None:
        check_state_dict(models.discriminator, ckpt.get("discriminator"), source or last_checkpoint(config.out_dir),
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
