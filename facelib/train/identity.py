"""What a run trains on, recorded in its checkpoints so that a resume on other data is refused.

:func:`data_identity` describes the resolved faces of a run: the dataset kind, the resolved absolute root (or
``synthetic``), the number of faces per split and a SHA-256 of the sorted file names (relative to the root)
per split. :func:`compare_identity` compares a checkpoint's record with the data a resume has found: another
spelling of the same folder (relative vs absolute, a symlink, a moved copy) has the same names and counts and
is accepted; different content is refused with one line. Checkpoints written before the record existed have
none: their data is "unknown", which a resume accepts with one warning (the config's ``data`` string is then
compared as before).

:func:`check_out_dir_outside_data` refuses an out-dir inside the data folder, whose PNGs (samples, curves)
would otherwise become training faces of the next run.
"""
from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path
from typing import Any

from torch.utils.data import Dataset

__all__ = ["DataUnknownWarning", "check_out_dir_outside_data", "compare_identity", "data_identity"]

#: The key of the record in a checkpoint.
IDENTITY_KEY = "data_identity"


class DataUnknownWarning(UserWarning):
    """A checkpoint from before data identities were recorded: what it trained on cannot be checked."""


def _names_hash(files: list[Path], root: Path) -> str:
    # abspath, not resolve: no file-system call per file (UTKFace has 23,708), and any spelling of the root
    # (relative, absolute, with ..) gives the same relative names.
    base = os.path.abspath(root)
    names = sorted(os.path.relpath(os.path.abspath(f), base) for f in files)
    return hashlib.sha256("\n".join(names).encode("utf-8")).hexdigest()


def _split(ds: Dataset) -> dict[str, Any]:
    files = getattr(ds, "files", None)
    if files is None:  # synthetic faces: drawn from a seed, no files
        return {"count": len(ds), "names_sha256": None}  # type: ignore[arg-type]
    return {"count": len(files), "names_sha256": _names_hash(list(files), Path(ds.root))}


def data_identity(train: Dataset, val: Dataset) -> dict[str, Any]:
    """``{"kind", "root", "train": {"count", "names_sha256"}, "val": {...}}`` of a run's resolved faces.

    ``root`` is the resolved absolute folder (``"synthetic"`` for the synthetic faces, with their seed).
    """
    root = getattr(train, "root", None)
    return {
        "kind": type(train).__name__,
        "root": str(Path(root).resolve()) if root is not None else f"synthetic (seed {getattr(train, 'seed', '?')})",
        "train": _split(train),
        "val": _split(val),
    }


def compare_identity(saved: dict[str, Any] | None, now: dict[str, Any], source: str | Path) -> bool:
    """True when a checkpoint's data record matches the data found now (the config's ``data`` may then be
    spelled differently); False when the checkpoint has no record (warns once: unknown).

    Raises:
        ValueError: other data (another kind, other names or counts): one line naming both.
    """
    if saved is None:
        warnings.warn(f"{source} does not record which faces it trained on (written before facelib recorded it): "
                      "resuming without checking that the data are the same", DataUnknownWarning, stacklevel=2)
        return False
    diffs = []
    if saved.get("kind") != now["kind"]:
        diffs.append(f"{saved.get('kind')} vs {now['kind']}")
    for split in ("train", "val"):
        a, b = saved.get(split) or {}, now[split]
        if a.get("count") != b["count"]:
            diffs.append(f"{a.get('count')} vs {b['count']} {split} faces")
        elif a.get("names_sha256") != b["names_sha256"]:
            diffs.append(f"other {split} file names")
    if diffs:
        what = ", ".join(diffs)
        raise ValueError(f"cannot resume {source}: it trained on other faces ({saved.get('root')}) than --data "
                         f"gives now ({now['root']}): {what}. Pass the data it trained on (--data "
                         f"{saved.get('root')}), or start a new run with another --out-dir (or --overwrite)")
    return True


def check_out_dir_outside_data(out_dir: str | Path, data_root: str | Path | None) -> None:
    """ValueError when ``out_dir`` lies inside the data folder (its PNGs would be read as training faces)."""
    if data_root is None:
        return
    out, root = Path(out_dir).resolve(), Path(data_root).resolve()
    if out == root or out.is_relative_to(root):
        raise ValueError(f"--out-dir {out_dir} is inside the data folder {root}: the run's images (samples.png, "
                         "loss_curves.png) would become training faces; choose an --out-dir outside it")
