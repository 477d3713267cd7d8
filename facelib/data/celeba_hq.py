"""CelebA-HQ in the StarGAN-v2 layout ``root/{train,val}/{female,male}/*.jpg`` (``download_celeba_hq`` fetches
it); items ``(image (3, size, size) float32 in [-1, 1], gender)``."""
from __future__ import annotations

import os
from pathlib import Path

from .errors import DatasetNotFoundError
from .faces import _CELEBA_HELP, GENDERS, SPLITS, _FaceFiles, _list_images

__all__ = ["CelebAHQ"]


def _celeba_root(root: Path) -> Path | None:
    """The folder holding train/ or val/ with gender subfolders: ``root`` itself or ``root/celeba_hq``."""
    for candidate in (root, root / "celeba_hq"):
        for split in SPLITS:
            if any((candidate / split / g).is_dir() for g in GENDERS):
                return candidate
    return None


class CelebAHQ(_FaceFiles):
    """CelebA-HQ faces in the StarGAN-v2 layout ``root/{train,val}/{female,male}/*.jpg``.

    The full set has 28,000 train and 2,000 val images of 1024x1024 (``download_celeba_hq`` fetches it).
    ``root`` may also be the folder that contains ``celeba_hq/``.

    Args:
        root: dataset folder.
        split: ``"train"`` or ``"val"``.
        size: output side in pixels; items are ``(image (3, size, size) float32 in [-1, 1], gender)``.
        gender: ``None`` for all, or ``"female"`` / ``"male"`` (or 0 / 1) to keep one folder.
        skip_corrupt: replace unreadable files by the next readable one instead of raising.
    """

    name = "CelebA-HQ"

    def __init__(
        self,
        root: str | os.PathLike,
        split: str = "train",
        size: int = 256,
        gender: str | int | None = None,
        skip_corrupt: bool = False,
    ) -> None:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        if gender is not None:
            if gender in (0, 1):
                gender = GENDERS[int(gender)]
            if gender not in GENDERS:
                raise ValueError(f"gender must be None, 'female', 'male', 0 or 1, got {gender!r}")
        given = Path(root)
        found = _celeba_root(given) if given.is_dir() else None
        if found is None or not (found / split).is_dir():
            raise DatasetNotFoundError(f"no CelebA-HQ {split!r} split under {given}. {_CELEBA_HELP}")
        files: list[Path] = []
        genders: list[int] = []
        for g, gname in enumerate(GENDERS):
            if gender is not None and gname != gender:
                continue
            folder = found / split / gname
            images = _list_images(folder) if folder.is_dir() else []
            files += images
            genders += [g] * len(images)
        if not files:
            which = f"{split}/{gender}" if gender else f"{split}/{{female,male}}"
            raise DatasetNotFoundError(f"no images in {found}/{which}. {_CELEBA_HELP}")
        self.split = split
        self.gender = gender
        super().__init__(found, files, genders, size, skip_corrupt)
