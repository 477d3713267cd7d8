"""Which faces a run uses (:func:`resolve_faces`), how a folder is recognised (:func:`detect_layout`), and the
one-line description of any dataset for logs and captions (:func:`describe_dataset`)."""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch
from torch.utils.data import Dataset

from ..paths import DATA_DIR
from ..progress import in_kernel
from .celeba_hq import CelebAHQ, _celeba_root
from .errors import DatasetNotFoundError
from .faces import (
    _CELEBA_HELP,
    _UTKFACE_HELP,
    IMAGE_EXTENSIONS,
    SPLITS,
    UTKFACE_URL,
    ImageFolderFaces,
    _FaceFiles,
)
from .inpainting import InpaintingDataset
from .synthetic import SyntheticFaces
from .utkface import UTKFace, _scan_utkface

__all__ = ["describe_dataset", "detect_layout", "resolve_faces"]


def _looks_like_utkface(folder: Path) -> bool:
    parsed, unparsed = _scan_utkface(folder)
    return len(parsed) > 0 and len(parsed) >= len(unparsed)


def detect_layout(path: str | os.PathLike) -> str | None:
    """``"celeba_hq"`` (train/val with female/male subfolders, here or in ``celeba_hq/``), ``"utkface"`` (a
    flat folder whose image names mostly parse as UTKFace names), ``"folder"`` (any images, recursively) or
    ``None`` (no images / not a folder)."""
    path = Path(path)
    if not path.is_dir():
        return None
    if _celeba_root(path) is not None:
        return "celeba_hq"
    if _looks_like_utkface(path):
        return "utkface"
    for p in path.rglob("*"):
        if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file():
            return "folder"
    return None


def _open(path: Path, layout: str | None, split: str, size: int, source: str, val_fraction: float | None = None,
          skip_corrupt: bool = False, utkface_subset: bool = False) -> Dataset:
    if layout == "celeba_hq":
        return CelebAHQ(path, split=split, size=size, skip_corrupt=skip_corrupt)
    if layout == "utkface":
        return UTKFace(path, split=split, size=size, skip_corrupt=skip_corrupt, subset=utkface_subset,
                       val_fraction=val_fraction or 0.0)
    if layout == "folder":
        if val_fraction is None:  # no split asked for: every image, for "train" and "val" alike
            return ImageFolderFaces(path, size=size, skip_corrupt=skip_corrupt)
        return ImageFolderFaces(path, size=size, skip_corrupt=skip_corrupt, split=split, val_fraction=val_fraction)
    raise DatasetNotFoundError(
        f"{source} {path} holds no face images. Use a CelebA-HQ folder ({_CELEBA_HELP}), a UTKFace folder "
        f"({_UTKFACE_HELP}), any folder of face photos, or the string 'synthetic'."
    )


def resolve_faces(
    data: str | os.PathLike | Dataset | None = None,
    split: str = "train",
    size: int = 128,
    n_synthetic: int = 512,
    seed: int = 0,
    *,
    repo_data: str | os.PathLike | None = None,
    val_fraction: float | None = None,
    skip_corrupt: bool = False,
    utkface_subset: bool = False,
) -> Dataset:
    """The face dataset a run should use, in this order:

    1. ``data``: a folder, the string ``"synthetic"``, or a ready Dataset (returned as is);
    2. the environment variable ``FACELIB_DATA`` (a folder or ``"synthetic"``);
    3. the repository's ``data/`` folder (``repo_data`` overrides it) when it holds ``celeba_hq/``,
       ``utkface/``/``UTKFace/`` or is itself such a dataset;
    4. :class:`SyntheticFaces` ``(n_synthetic, size, seed)`` with a warning saying how to configure real data.

    Folders are recognised by :func:`detect_layout`: CelebA-HQ -> :class:`CelebAHQ`, UTKFace ->
    :class:`UTKFace`, anything else with images -> :class:`ImageFolderFaces`. Such a folder has no split: with
    ``val_fraction=None`` (the default) "train" and "val" are the same images; with a number (training passes
    its ``val_fraction``) they are the two parts of :func:`folder_split`. ``skip_corrupt`` goes to the dataset;
    ``utkface_subset`` is :class:`UTKFace`'s ``subset``. A configured folder that holds no images raises
    :class:`DatasetNotFoundError` rather than silently falling back.
    Items are ``(image (3, size, size) float32 in [-1, 1], gender)``.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if isinstance(data, Dataset):
        return data
    for value, source in ((data, "data argument"), (os.environ.get("FACELIB_DATA") or None, "FACELIB_DATA")):
        if value is None:
            continue
        if str(value).strip().lower() == "synthetic":
            return SyntheticFaces(n=n_synthetic, size=size, seed=seed, split=split)
        path = Path(value).expanduser()
        if not path.exists():
            raise DatasetNotFoundError(f"{source} {path} does not exist. {_CELEBA_HELP} {_UTKFACE_HELP}")
        return _open(path, detect_layout(path), split, size, source, val_fraction, skip_corrupt, utkface_subset)

    repo = Path(repo_data) if repo_data is not None else DATA_DIR
    for candidate in (repo / "celeba_hq", repo / "utkface", repo / "UTKFace", repo):
        layout = detect_layout(candidate)
        if layout in ("celeba_hq", "utkface"):
            return _open(candidate, layout, split, size, "data folder", val_fraction, skip_corrupt, utkface_subset)

    _warn_synthetic(
        f"No face dataset configured: using {SyntheticFaces.LABEL}. For real faces pass a folder "
        f"(data=...), set FACELIB_DATA=/path/to/faces, or put celeba_hq/ (facelib.data.download_celeba_hq) or "
        f"UTKFace/ ({UTKFACE_URL}) in {repo}."
    )
    return SyntheticFaces(n=n_synthetic, size=size, seed=seed, split=split)


class SyntheticFacesWarning(UserWarning):
    """No face dataset was configured, so the synthetic cartoon faces are used."""


_synthetic_warned = False


def _warn_synthetic(message: str) -> None:
    """The synthetic-faces warning: once per Jupyter kernel (a notebook resolves faces many times, and one
    warning per notebook is enough), on every call elsewhere (a script or a training run warns each time)."""
    global _synthetic_warned
    if in_kernel():
        if _synthetic_warned:
            return
        _synthetic_warned = True
    warnings.warn(message, SyntheticFacesWarning, stacklevel=3)


def describe_dataset(ds: Dataset) -> str:
    """One line for logs and figure captions: dataset name, split, count, image size and root folder."""
    if isinstance(ds, InpaintingDataset):
        return f"{describe_dataset(ds.faces)} + masks {getattr(ds.masks, '__name__', type(ds.masks).__name__)}"
    if isinstance(ds, torch.utils.data.Subset):
        return f"{len(ds)} of {describe_dataset(ds.dataset)}"
    if isinstance(ds, SyntheticFaces):
        return f"{ds.LABEL}: {ds.n} faces ({ds.split}), {ds.size}x{ds.size}, seed {ds.seed}"
    if isinstance(ds, _FaceFiles):
        split = f" {ds.split}" if hasattr(ds, "split") else ""
        counts = ", ".join(f"{v} {k}" for k, v in ds.counts().items() if v)
        return f"{ds.name}{split}: {len(ds)} images ({counts}), {ds.size}x{ds.size}, from {ds.root}"
    return f"{type(ds).__name__}: {len(ds)} items"  # type: ignore[arg-type]
