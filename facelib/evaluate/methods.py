"""Trained models as evaluation methods: a ``facelib.train`` checkpoint or committed weights
(``facelib.pretrained``), each with the one-line description the report's header gives; and the runs of a
folder trained at a size."""
from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from ..checkpoint import load_checkpoint
from ..generator_checkpoint import read_generator, stored_config
from ..models import MODELS
from ..paths import CHECKPOINTS, LAST_CHECKPOINT
from ..pretrained import load_manifest, load_pretrained

__all__ = ["find_checkpoints", "load_checkpoint_method", "load_pretrained_method"]


def load_checkpoint_method(path: str | os.PathLike, size: int, device: str | torch.device = "cpu",
                           allow_size_mismatch: bool = False) -> tuple[nn.Module, str]:
    """A trained generator from a ``facelib.train`` checkpoint and a one-line description for the header.

    Raises FileNotFoundError for a missing file and ValueError when it was trained at another size than
    ``size`` (unless ``allow_size_mismatch``).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} not found: training writes <out_dir>/checkpoints/last.pt "
                                "(python -m facelib.train --out-dir ...); pass --checkpoint NAME=PATH")
    step = load_checkpoint(path).get("global_step")
    model, config = read_generator(path, device=device)
    trained = config["image_size"]
    if trained != size and not allow_size_mismatch:
        raise ValueError(
            f"checkpoint {path} was trained at {trained}x{trained} but the evaluation is at "
            f"{size}x{size}: evaluate it with --size {trained} (a reduced-scale run; the table header "
            "states the size), or pass --allow-size-mismatch to score it at this size anyway")
    about = (f"{path} ({config['model']}, widths {list(config['widths'])}, trained at {trained}x{trained} on "
             f"{config['data'] or 'the default faces (FACELIB_DATA, data/, else synthetic)'} with "
             f"{MODELS[config['model']].mask_kind(config['masks'])} masks, step {step})")
    return model, about


def load_pretrained_method(name: str, size: int, weights_dir: str | os.PathLike | None = None,
                           device: str | torch.device = "cpu",
                           allow_size_mismatch: bool = False) -> tuple[nn.Module, str]:
    """A model from the committed weights (``facelib.pretrained``) and a one-line description for the header.

    Raises ``facelib.pretrained.WeightsNotFoundError`` (a FileNotFoundError listing the available names) and
    ValueError when the weights were trained at another size than ``size`` (unless ``allow_size_mismatch``).
    """
    manifest = load_manifest(name, weights_dir)
    trained = manifest["image_size"]
    if trained != size and not allow_size_mismatch:
        raise ValueError(f"weights {name!r} were trained at {trained}x{trained} but the evaluation is at {size}x{size}:"
                         f" evaluate them with --size {trained}, or pass --allow-size-mismatch")
    model = load_pretrained(name, weights_dir=weights_dir, device=device)
    t = manifest.get("training", {})
    digest = ",".join(f["sha256"][:12] for f in manifest["files"])
    about = (f"weights {name} ({manifest['architecture']['class']}, fp16 safetensors sha256 {digest}; trained at "
             f"{trained}x{trained}, {t.get('epochs', '?')} epochs / {t.get('steps', '?')} steps on "
             f"{t.get('data', '?')})")
    return model, about


def find_checkpoints(folder: str | os.PathLike, size: int,
                     exclude: str | os.PathLike | None = None) -> dict[str, Path]:
    """``{run name: last.pt}`` of the ``facelib.train`` runs under ``folder`` that were trained at ``size``.

    The name is the run folder relative to ``folder``; runs under ``exclude`` are skipped (e.g. a notebook's
    own fallback run).
    """
    folder = Path(folder)
    skip = Path(exclude).resolve() if exclude is not None else None
    found: dict[str, Path] = {}
    for path in sorted(folder.glob(f"**/{CHECKPOINTS}/{LAST_CHECKPOINT}")):
        if skip is not None and skip in path.resolve().parents:
            continue
        if stored_config(load_checkpoint(path), path)["image_size"] == size:
            found[str(path.parent.parent.relative_to(folder))] = path
    return found
