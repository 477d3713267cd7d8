"""Where things live: the repository's folders, the committed protocol manifests and the layout of a run folder.

Every path the package, the experiments and the notebooks name is built here, once::

    RUNS_DIR / "classroom" / "generator"        # a run folder (``TrainConfig.out_dir``)
    last_checkpoint(out_dir)                    # out_dir/checkpoints/last.pt (resumable, atomic)
    epoch_checkpoint(out_dir, 6)                # out_dir/checkpoints/epoch_6.pt
    history_file(out_dir, "json")               # out_dir/history.json (and history.csv)
    UTKFACE_MANIFEST, CELEBA_MANIFEST           # data/protocol/*.csv, the fixed evaluation cases

A leaf: it imports nothing from ``facelib``.
"""
from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "REPO_ROOT", "DATA_DIR", "PROTOCOL_DIR", "UTKFACE_MANIFEST", "CELEBA_MANIFEST", "WEIGHTS_DIR", "RECIPES_DIR",
    "RUNS_DIR", "RESULTS_DIR", "CHECKPOINTS", "LAST_CHECKPOINT", "EPOCH_CHECKPOINT", "EPOCH_CHECKPOINT_RE", "HISTORY",
    "checkpoint_dir", "last_checkpoint",
    "epoch_checkpoint", "history_file", "repo_relative",
]

#: The repository (this checkout).
REPO_ROOT: Path = Path(__file__).resolve().parents[1]
#: Committed small data: splits, protocol manifests, the dataset notes.
DATA_DIR: Path = REPO_ROOT / "data"
#: The committed protocol manifests (``facelib.protocol``).
PROTOCOL_DIR: Path = DATA_DIR / "protocol"
#: The UTKFace protocol: the 2,000 validation faces at 128x128, 6,000 cases (the default of every evaluation).
UTKFACE_MANIFEST: Path = PROTOCOL_DIR / "utkface_val_128.csv"
#: The cross-dataset check: 56 CelebA-HQ faces, 168 cases.
CELEBA_MANIFEST: Path = PROTOCOL_DIR / "celeba_hq_sample_128.csv"
#: The committed weights (``facelib.pretrained``; ``FACELIB_WEIGHTS`` overrides it there).
WEIGHTS_DIR: Path = REPO_ROOT / "weights"
#: The committed training recipes (``facelib.recipe``), one JSON file per trained model.
RECIPES_DIR: Path = REPO_ROOT / "recipes"
#: Run folders of the experiments (not committed).
RUNS_DIR: Path = REPO_ROOT / "runs"
#: Committed evaluation tables and figures of the experiments.
RESULTS_DIR: Path = REPO_ROOT / "results"

#: A run folder's checkpoint subfolder, and the resumable checkpoint in it.
CHECKPOINTS = "checkpoints"
LAST_CHECKPOINT = "last.pt"
#: An epoch checkpoint's file name (``epoch_6.pt``), and the same as a regular expression (group 1: the epoch).
EPOCH_CHECKPOINT = "epoch_{}.pt"
EPOCH_CHECKPOINT_RE = r"epoch_(\d+)\.pt"
#: A run folder's per-epoch table, without its suffix (``history.json`` and ``history.csv``).
HISTORY = "history"


def checkpoint_dir(out_dir: str | os.PathLike) -> Path:
    """``out_dir/checkpoints``."""
    return Path(out_dir) / CHECKPOINTS


def last_checkpoint(out_dir: str | os.PathLike) -> Path:
    """``out_dir/checkpoints/last.pt``: written every ``checkpoint_every`` steps and at each epoch end."""
    return checkpoint_dir(out_dir) / LAST_CHECKPOINT


def epoch_checkpoint(out_dir: str | os.PathLike, epoch: int) -> Path:
    """``out_dir/checkpoints/epoch_K.pt`` (kept with ``save_epoch_checkpoints``)."""
    return checkpoint_dir(out_dir) / EPOCH_CHECKPOINT.format(int(epoch))


def history_file(out_dir: str | os.PathLike, suffix: str = "json") -> Path:
    """``out_dir/history.json`` (config and rows) or, with ``suffix="csv"``, ``out_dir/history.csv``."""
    if suffix not in ("json", "csv"):
        raise ValueError(f"history_file: suffix must be 'json' or 'csv', got {suffix!r}")
    return Path(out_dir) / f"{HISTORY}.{suffix}"


def repo_relative(path: str | os.PathLike) -> str:
    """``path`` relative to the repository when it lies inside it (as manifests and tables name files), else as
    given, e.g. ``repo_relative(UTKFACE_MANIFEST) == "data/protocol/utkface_val_128.csv"``."""
    p = Path(path)
    try:
        return p.resolve().relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return str(path)
