"""What every face dataset shares: the gender and split names, the image extensions, the repository's ``data/``
folder, :func:`load_image`, the file-backed base class, and :class:`ImageFolderFaces` (any folder of photos) with
its seeded validation hold-out :func:`folder_split`.

Items of every face dataset are ``(image, gender)``: ``image`` float32 ``(3, size, size)`` in ``[-1, 1]`` (RGB,
centre-cropped to a square, resized with an antialiasing filter), ``gender`` int (0 female, 1 male, -1 unknown).
"""
from __future__ import annotations

import hashlib
import os
import warnings
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps
from torch import Tensor
from torch.utils.data import Dataset

from ..paths import DATA_DIR
from ..progress import tqdm
from .errors import CorruptImageError, DatasetNotFoundError

__all__ = [
    "FOLDER_SPLIT_SEED",
    "GENDERS",
    "IMAGE_EXTENSIONS",
    "SPLITS",
    "UTKFACE_URL",
    "UTKFACE_VAL_LIST",
    "ImageFolderFaces",
    "folder_split",
    "load_image",
]

GENDERS: tuple[str, str] = ("female", "male")
IMAGE_EXTENSIONS: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
SPLITS: tuple[str, str] = ("train", "val")

# The repository's own data/ folder (facelib.paths.DATA_DIR; ignored by git apart from splits/ and README.md): the third place
# resolve_faces looks, and the home of the committed UTKFace validation list.
UTKFACE_VAL_LIST: Path = DATA_DIR / "splits" / "utkface_val.txt"
UTKFACE_URL = "https://susanqq.github.io/UTKFace/"
#: Seed of :func:`folder_split`, the validation hold-out of folders without a split (a property of the data, not
#: of a run: every run on the same folder validates on the same images).
FOLDER_SPLIT_SEED = 2024

_CELEBA_HELP = (
    "Expected the StarGAN-v2 CelebA-HQ layout <root>/{train,val}/{female,male}/*.jpg (28,000 train / 2,000 val "
    "images). With internet, run `python -c \"from facelib.data import download_celeba_hq; "
    "download_celeba_hq('data')\"` (about 3 GB) and use data/celeba_hq; or set FACELIB_DATA to the folder."
)
_UTKFACE_HELP = (
    "Expected the flat UTKFace 'Aligned & Cropped Faces' folder: 23,708 files named "
    "<age>_<gender>_<race>_<timestamp>.jpg.chip.jpg. Download UTKFace.tar.gz from "
    f"{UTKFACE_URL} (non-commercial research licence), unpack it (it creates UTKFace/) and pass that folder or "
    "set FACELIB_DATA to it."
)


# ------------------------------------------------------------------------------------------- image loading
def _list_images(folder: Path, recursive: bool = False) -> list[Path]:
    """Image files (by extension, any case) in ``folder``, sorted so that indices are reproducible."""
    candidates = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(p for p in candidates if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())


def _to_rgb(img: Image.Image) -> Image.Image:
    # Transparent pixels would turn black with a plain convert("RGB"): put them on white instead.
    if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")


def _pil_to_tensor(img: Image.Image) -> Tensor:
    """PIL RGB (H, W) uint8 -> float32 (3, H, W) in [-1, 1]."""
    array = np.asarray(img, dtype=np.uint8)
    return torch.from_numpy(array.copy()).permute(2, 0, 1).float().div_(127.5).sub_(1.0)


def load_image(path: str | os.PathLike, size: int | None = None) -> Tensor:
    """Read an image file as a float32 tensor ``(3, size, size)`` in ``[-1, 1]``.

    The EXIF orientation is applied, the image is converted to RGB, centre-cropped to a square and, when
    ``size`` is given, resized with an antialiasing (bicubic) filter. Raises :class:`CorruptImageError` naming
    the file when it cannot be decoded (truncated, not an image, ...).
    """
    path = Path(path)
    try:
        with Image.open(path) as img:
            if size is not None:
                # JPEG only: let libjpeg decode at 1/2, 1/4 or 1/8 scale (never below `size`); 1024 -> 256 is
                # about 6x faster than decoding the full image and resizing it.
                img.draft("RGB", (size, size))
            img = ImageOps.exif_transpose(img)
            img = _to_rgb(img)  # forces the full decode, so truncated files fail here
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise CorruptImageError(path, exc) from exc
    w, h = img.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    img = img.crop((left, top, left + side, top + side))
    if size is not None and side != size:
        img = img.resize((size, size), Image.Resampling.BICUBIC)
    return _pil_to_tensor(img)


class _FaceFiles(Dataset):
    """Shared machinery of the file-backed datasets: ``files[i]`` with ``genders[i]``, lazy loading, skipping."""

    name = "faces"

    def __init__(self, root: Path, files: list[Path], genders: list[int], size: int, skip_corrupt: bool) -> None:
        if not isinstance(size, int) or size < 1:
            raise ValueError(f"size must be a positive int (pixels), got {size!r}")
        self.root = root
        self.files = files
        self.genders = genders
        self.size = size
        self.skip_corrupt = skip_corrupt
        # Checking 28,000 files upfront would take minutes, so bad files are found when first loaded. Note that
        # with DataLoader workers each worker process keeps its own list.
        self.skipped: list[Path] = []

    def __len__(self) -> int:
        return len(self.files)

    @property
    def num_skipped(self) -> int:
        """How many unreadable files were skipped so far."""
        return len(self.skipped)

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        """``(image (3, size, size) float32 in [-1, 1], gender int)``."""
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"index {index} out of range for {self.name} with {n} images")
        index %= n
        # With skip_corrupt an unreadable file is replaced by the next readable one: deterministic, and no
        # upfront scan of the whole folder is needed.
        for offset in range(n):
            i = (index + offset) % n
            path = self.files[i]
            if path in self._skipped_set:
                continue
            try:
                return load_image(path, self.size), self.genders[i]
            except CorruptImageError as err:
                if not self.skip_corrupt:
                    raise
                self.skipped.append(path)
                warnings.warn(
                    f"{self.name}: skipping unreadable image {path} ({err.reason}); {len(self.skipped)} skipped "
                    f"so far (dataset.skipped lists them)",
                    stacklevel=2,
                )
        raise CorruptImageError(self.root, f"none of the {n} images of {self.name} can be read")

    @property
    def _skipped_set(self) -> set[Path]:
        return set(self.skipped)

    def counts(self) -> dict[str, int]:
        """Number of images per gender name (``"unknown"`` for -1), e.g. ``{"female": 25, "male": 21}``."""
        tally = Counter(self.genders)
        out = {name: tally.get(g, 0) for g, name in enumerate(GENDERS)}
        if tally.get(-1):
            out["unknown"] = tally[-1]
        return out

    def verify(self, progress: bool = True) -> list[Path]:
        """Decode every file once (slow on big sets: tqdm shows progress) and return the unreadable ones."""
        bad = []
        for path in tqdm(self.files, desc=f"checking {self.name}", disable=not progress):
            try:
                load_image(path, 8)
            except CorruptImageError:
                bad.append(path)
        return bad

    def __repr__(self) -> str:
        return f"{type(self).__name__}(root={str(self.root)!r}, n={len(self)}, size={self.size})"


# ------------------------------------------------------------------------------------------- image folders
class ImageFolderFaces(_FaceFiles):
    """Any folder of face photos, searched recursively for jpg/jpeg/png/webp/bmp/tif files (sorted paths).

    Items are ``(image (3, size, size) float32 in [-1, 1], -1)``: centre-cropped to a square, RGB, gender unknown.
    Such a folder has no split of its own. ``split=None`` (the default) gives every image; ``split="train"`` /
    ``"val"`` gives the two parts of :func:`folder_split` with ``val_fraction`` (a fixed seeded rule, so every
    run on the folder validates on the same images; ``val_fraction=0``: both are every image).
    """

    name = "image folder"

    def __init__(self, root: str | os.PathLike, size: int = 128, skip_corrupt: bool = False,
                 split: str | None = None, val_fraction: float = 0.1) -> None:
        if split is not None and split not in SPLITS:
            raise ValueError(f"split must be None or one of {SPLITS}, got {split!r}")
        root = Path(root)
        if not root.is_dir():
            raise DatasetNotFoundError(f"image folder {root} does not exist")
        files = _list_images(root, recursive=True)
        if not files:
            raise DatasetNotFoundError(
                f"no images ({', '.join(IMAGE_EXTENSIONS)}) in {root} or its subfolders. Put face photos there, "
                f"or use a CelebA-HQ folder ({_CELEBA_HELP}) or UTKFace ({_UTKFACE_HELP})"
            )
        self.val_fraction = val_fraction
        if split is not None:
            self.split = split
            if val_fraction > 0:
                train, val = folder_split(files, root, val_fraction)
                files = val if split == "val" else train
        super().__init__(root, files, [-1] * len(files), size, skip_corrupt)


def folder_split(files: Sequence[Path], root: str | os.PathLike, val_fraction: float = 0.1,
                 seed: int = FOLDER_SPLIT_SEED) -> tuple[list[Path], list[Path]]:
    """``(train, val)``: the validation hold-out of a folder without a split of its own.

    Rule: ``n_val = round(val_fraction * n)``, at least 1 and at most ``n - 1``; the ``n_val`` files with the
    smallest ``sha256(f"{seed}/{path relative to root, POSIX}")`` validate, the others train; both keep the
    order of ``files``. The choice depends only on the file names (not on the run's seed), and adding a file
    moves at most one other file between the parts.

    Raises:
        ValueError: fewer than 2 files, or ``val_fraction`` outside (0, 1).
    """
    files = list(files)
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction!r}")
    if len(files) < 2:
        raise ValueError(f"{root} holds {len(files)} image(s): too few to hold out validation images; add images "
                         "or set val_fraction=0 (--val-fraction 0) to validate on the training images")
    n_val = min(max(1, round(val_fraction * len(files))), len(files) - 1)
    root = Path(root)

    def key(path: Path) -> str:
        try:
            rel = Path(path).relative_to(root).as_posix()
        except ValueError:
            rel = Path(path).as_posix()
        return hashlib.sha256(f"{seed}/{rel}".encode()).hexdigest()

    chosen = set(sorted(files, key=key)[:n_val])
    return [f for f in files if f not in chosen], [f for f in files if f in chosen]
