"""A ``facelib.train`` checkpoint -> committed fp16 weights with their manifest (``facelib.pretrained``).

Kept apart from ``pretrained`` so that loading weights never imports the training code.
"""
from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path
from collections.abc import Mapping
from typing import Any

from .checkpoint import load_checkpoint
from .models import generator_options
from .pretrained import export_weights
from .train import load_generator

__all__ = ["checkpoint_to_weights"]


def checkpoint_to_weights(checkpoint: str | os.PathLike, name: str, out_dir: str | os.PathLike, *,
                          command: str = "", description: str = "", data_note: str = "", split_note: str = "", device_note: str = "",
                          init_from: str | None = None, code_commit: str = "",
                          extra: Mapping[str, Any] | None = None) -> Path:
    """Export the generator of ``checkpoint`` as fp16 weights named ``name`` in ``out_dir``; returns the manifest.

    The manifest records the run's full ``TrainConfig``, its per-epoch history (train/val pixel and perceptual
    losses), completed epochs and steps, and the words given here for the command, data, device and origin;
    ``extra`` adds or replaces recipe fields (e.g. a budgeted GPU run's time budget and stop reason).
    """
    path = Path(checkpoint)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} not found: training writes <out_dir>/checkpoints/last.pt and, "
                                "with --save-epoch-checkpoints, epoch_K.pt")
    ckpt = load_checkpoint(path, map_location="cpu")
    model, config = load_generator(path)
    history = list(ckpt.get("history", []))
    training: dict[str, Any] = {
        "preset_config": config.to_dict(),
        "data": data_note or str(config.data),
        "split": split_note,
        "masks": f"{config.mask_kind}" + (" incl. NVIDIA irregular masks" if config.mask_root else ""),
        "epochs": sum(1 for row in history if row.get("complete", True)),
        "steps": int(ckpt["global_step"]),
        "batch_size": config.batch_size,
        "history": history,
        "command": command,
        "device": device_note,
        "code_commit": code_commit,
        "torch": ckpt.get("torch_version"),
        "trained_until": datetime.fromtimestamp(path.stat().st_mtime, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "init_from": init_from,
        "checkpoint": path.name,
        **(extra or {}),
    }
    architecture = {"name": config.model, "options": generator_options(config.model, config.image_size,
                                                                        config.widths, config.num_residual)}
    return export_weights(model, name, out_dir, architecture=architecture, image_size=config.image_size,
                          training=training, description=description)
