"""The trained generator of a ``facelib.train`` checkpoint and the config it stored, read without the training
package.

A checkpoint's ``config`` entry is the run's ``TrainConfig.to_dict()`` (a plain dict: the field names, tuples as
lists). :func:`stored_config` gives it completed with :data:`LEGACY_DEFAULTS` for the fields added after older
checkpoints were written; :func:`read_generator` rebuilds the generator from four of those fields (``model``,
``image_size``, ``widths``, ``num_residual``, through ``facelib.models.MODELS``) and loads its weights.
Weights export (``facelib.export``) and evaluation (``facelib.evaluate``) read checkpoints this way;
``facelib.train.load_generator`` wraps it to return the config as a ``TrainConfig``.

Example::

    g, config = read_generator("runs/g/checkpoints/last.pt")   # eval mode; config["image_size"], ...
    out = g(mask_image(image, mask), mask)                      # (N, 3, H, W) in [-1, 1]
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from .checkpoint import CheckpointError, check_state_dict, load_checkpoint
from .models import model_spec

__all__ = ["LEGACY_DEFAULTS", "stored_config", "read_generator", "unreadable_config"]

#: Config fields added after the first checkpoint format, with the value that means "as before": an older
#: checkpoint lacks them, and reading it with these values reproduces what that run did.
LEGACY_DEFAULTS: dict[str, Any] = {"holdout_protocol_masks": False, "val_fraction": 0.0, "utkface_subset": False,
                                   "skip_corrupt": False, "resume_from": None, "init_from": None,
                                   "mrf_weight": 0.0, "stage2_epoch": 0, "max_minutes": None}


def stored_config(ckpt: Mapping[str, Any], source: str | os.PathLike = "the checkpoint") -> dict[str, Any]:
    """The training config a loaded checkpoint holds, as a dict, with :data:`LEGACY_DEFAULTS` for the fields
    it lacks. Raises :class:`~facelib.checkpoint.CheckpointError` when there is no config dict."""
    config = ckpt.get("config")
    if not isinstance(config, Mapping):
        raise CheckpointError(f"{source}: holds no training config; use a checkpoint written by facelib.train")
    return {**config, **{k: v for k, v in LEGACY_DEFAULTS.items() if k not in config}}  # the stored order first


def read_generator(checkpoint_path: str | os.PathLike,
                   device: str | torch.device = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """The trained generator of a checkpoint, in eval mode on ``device``, and its :func:`stored_config`.

    Raises:
        FileNotFoundError, CheckpointError: no such file, not a facelib checkpoint, a config that names no
            known model, or weights of another architecture (one line each, with the fix).
    """
    ckpt = load_checkpoint(checkpoint_path, map_location="cpu")
    config = stored_config(ckpt, checkpoint_path)
    try:
        model = model_spec(config["model"]).build(int(config["image_size"]), tuple(config["widths"]),
                                                  int(config["num_residual"]))
    except (KeyError, TypeError, ValueError) as err:
        raise unreadable_config(checkpoint_path, err) from None
    check_state_dict(model, ckpt["generator"], checkpoint_path, "pass a checkpoint written by facelib.train for this "
                     "model (the file was edited, or its weights belong to another architecture)")
    model.load_state_dict(ckpt["generator"])
    return model.to(device).eval(), config


def unreadable_config(source: str | os.PathLike, err: Exception) -> CheckpointError:
    """The one-line error for a checkpoint whose stored config cannot be read (here or as a ``TrainConfig``)."""
    return CheckpointError(f"{source}: its config cannot be read ({err}); use a checkpoint written by facelib.train "
                           "(another version wrote this one, or it was edited)")
