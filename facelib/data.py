"""Face datasets for inpainting: real folders (CelebA-HQ, UTKFace, any image folder), procedural faces, and the
wrapper that pairs every face with a deterministic hole mask.

Every face dataset returns ``(image, gender)``:

- ``image``: float32 tensor ``(3, size, size)`` with values in ``[-1, 1]`` (RGB, centre-cropped to a square and
  resized with an antialiasing filter);
- ``gender``: int, ``0`` = female, ``1`` = male (the sorted folder order of StarGAN-v2's CelebA-HQ), ``-1`` =
  unknown. ``GENDERS[g]`` names it.

Which faces a run uses is decided by :func:`resolve_faces`: an explicit argument, else the ``FACELIB_DATA``
environment variable, else a dataset placed in the repository's ``data/`` folder, else :class:`SyntheticFaces`
(with a warning, because those are drawn, not photographed).

Unreadable images raise :class:`CorruptImageError` naming the file; ``skip_corrupt=True`` replaces them by the
next readable image and records them in ``dataset.skipped``. Missing or empty folders raise
:class:`DatasetNotFoundError`, which states the expected layout and how to get the data.
"""
from __future__ import annotations

import hashlib
import os
import re
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageOps
from torch import Tensor
from torch.utils.data import Dataset

from .progress import in_kernel, tqdm

from facelib.download import (  # re-exported: the downloader belongs to the data API
    CELEBA_HQ_URL,
    ChecksumError,
    DownloadError,
    download_celeba_hq,
)

__all__ = [
    "CELEBA_HQ_URL",
    "GENDERS",
    "IMAGE_EXTENSIONS",
    "REPO_DATA_DIR",
    "SyntheticFacesWarning",
    "UTKFACE_URL",
    "UTKFACE_VAL_LIST",
    "CelebAHQ",
    "ChecksumError",
    "CorruptImageError",
    "DatasetNotFoundError",
    "DownloadError",
    "ImageFolderFaces",
    "InpaintingDataset",
    "SyntheticFaces",
    "UTKFace",
    "UTKFaceInfo",
    "describe_dataset",
    "detect_layout",
    "draw_synthetic_face",
    "download_celeba_hq",
    "folder_split",
    "load_image",
    "make_utkface_split",
    "parse_utkface_name",
    "read_split_file",
    "resolve_faces",
]

GENDERS: tuple[str, str] = ("female", "male")
IMAGE_EXTENSIONS: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
SPLITS: tuple[str, str] = ("train", "val")

# The repository's own data/ folder (ignored by git apart from splits/ and README.md): the third place
# resolve_faces looks, and the home of the committed UTKFace validation list.
REPO_DATA_DIR: Path = Path(__file__).resolve().parents[1] / "data"
UTKFACE_VAL_LIST: Path = REPO_DATA_DIR / "splits" / "utkface_val.txt"
UTKFACE_URL = "https://susanqq.github.io/UTKFace/"
UTKFACE_SPLIT_SEED = 2024
#: Seed of :func:`folder_split`, the validation hold-out of folders without a split (a property of the data, not
#: of a run: every run on the same folder validates on the same images).
FOLDER_SPLIT_SEED = 2024


# --------------------------------------------------------------------------------------------------- errors
class CorruptImageError(ValueError):
    """An image file that cannot be decoded. ``path`` names it; the message is one line naming the fix.

    The same single line reaches the main process when a DataLoader worker (``num_workers > 0``) hits the
    file: torch re-raises a worker's exception as ``CorruptImageError(text)`` where ``text`` is "Caught
    CorruptImageError in DataLoader worker process N. Original Traceback ..." (the worker's whole traceback);
    the constructor recognises that text, keeps it in ``worker_traceback`` and restores the original line,
    ``path`` and ``reason``. Pickling keeps ``(path, reason)`` too.
    """

    _SUFFIX = (". Remove or replace this file, or pass skip_corrupt=True to the dataset (training: --skip-corrupt) "
               "to skip unreadable images.")

    def __init__(self, path: str | os.PathLike, reason: object = "") -> None:
        self.worker_traceback: str | None = None
        text = str(path)
        if not reason and text.startswith(f"Caught {type(self).__name__} ") and "\nOriginal Traceback" in text:
            self.worker_traceback = text
            path, reason = self._parse_worker_text(text)
        self.path = Path(path)
        self.reason = str(reason)
        super().__init__(f"cannot read image {self.path}: {self.reason or 'unreadable'}{self._SUFFIX}")

    @classmethod
    def _parse_worker_text(cls, text: str) -> tuple[str, str]:
        """``(path, reason)`` from the last line of a worker traceback, ``"<module>.CorruptImageError: <ours>"``."""
        ours = text.rsplit(f"{cls.__module__}.{cls.__qualname__}: ", 1)[-1].strip()
        match = re.fullmatch(r"cannot read image (.+?): (.*)" + re.escape(cls._SUFFIX), ours, flags=re.S)
        if match is None:  # not our wording after all: keep the worker's last line as the reason
            return "<image read by a DataLoader worker>", ours.splitlines()[-1] if ours else "unreadable"
        reason = match.group(2)
        return match.group(1), "" if reason == "unreadable" else reason

    def __reduce__(self) -> tuple[type, tuple[Path, str]]:
        # Default exception pickling would call CorruptImageError(message), i.e. take the message as the path.
        return type(self), (self.path, self.reason)


class DatasetNotFoundError(FileNotFoundError):
    """A dataset folder that is missing, empty or not in the expected layout; the message says how to fix it."""


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


# ------------------------------------------------------------------------------------------------ CelebA-HQ
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


# -------------------------------------------------------------------------------------------------- UTKFace
class UTKFaceInfo(NamedTuple):
    """Labels encoded in a UTKFace file name. ``gender`` uses our convention (0 female, 1 male)."""

    age: int
    gender: int
    race: int | None  # 0 White, 1 Black, 2 Asian, 3 Indian, 4 Others; None for the 3 files without it
    timestamp: str


# `<age>_<gender>_<race>_<timestamp>.jpg.chip.jpg`; tolerates the two quirks of the released set
# ("...657 .jpg.chip.jpg" with a space, "...357jpg.chip.jpg" without the dot) and the missing race field.
_UTKFACE_NAME = re.compile(r"^(\d{1,3})_([01])_(?:([0-4])_)?(\d+)\s*\.?jpg\.chip\.jpg$")


def parse_utkface_name(name: str) -> UTKFaceInfo:
    """Parse ``<age>_<gender>_<race>_<timestamp>.jpg.chip.jpg``.

    UTKFace writes gender 0 = male, 1 = female; it is converted here to our 0 = female, 1 = male.
    Raises ValueError for names that do not follow the pattern.
    """
    match = _UTKFACE_NAME.match(name)
    if match is None:
        raise ValueError(
            f"{name!r} is not a UTKFace aligned & cropped file name (<age>_<gender>_<race>_<timestamp>.jpg.chip.jpg)"
        )
    age, utk_gender, race, stamp = match.groups()
    return UTKFaceInfo(int(age), 1 - int(utk_gender), None if race is None else int(race), stamp)


def _scan_utkface(root: Path) -> tuple[dict[str, UTKFaceInfo], list[str]]:
    """Parsed names -> labels, and the image names that did not parse."""
    parsed: dict[str, UTKFaceInfo] = {}
    unparsed: list[str] = []
    with os.scandir(root) as entries:
        for entry in entries:
            if not entry.is_file() or not entry.name.lower().endswith(IMAGE_EXTENSIONS):
                continue
            try:
                parsed[entry.name] = parse_utkface_name(entry.name)
            except ValueError:
                unparsed.append(entry.name)
    return parsed, sorted(unparsed)


def read_split_file(path: str | os.PathLike) -> list[str]:
    """File names listed one per line; blank lines and ``#`` comments are ignored."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"split file {path} not found: it is committed in the repository as data/splits/; regenerate it with "
            "facelib.data.make_utkface_split(root, out=path)"
        )
    lines = (line.rstrip("\n") for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line.strip() and not line.lstrip().startswith("#")]


def make_utkface_split(
    root: str | os.PathLike,
    n_val: int = 2000,
    seed: int = UTKFACE_SPLIT_SEED,
    out: str | os.PathLike | None = None,
) -> list[str]:
    """Choose the UTKFace validation file names (the rule behind ``data/splits/utkface_val.txt``).

    Rule: sort the parseable file names; split them by gender; give each gender ``round(n_val * share)``
    places (female first, male gets the rest) so val keeps the gender balance of the whole set; with
    ``rng = numpy.random.default_rng(seed)`` draw ``rng.choice(len(names_g), k_g, replace=False)`` for female then
    male; return all chosen names sorted. When ``out`` is given the list is written there with a comment header.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetNotFoundError(f"UTKFace folder {root} does not exist. {_UTKFACE_HELP}")
    parsed, _ = _scan_utkface(root)
    names = sorted(parsed)
    if n_val > len(names):
        raise ValueError(f"n_val={n_val} is larger than the {len(names)} UTKFace images in {root}")
    by_gender = [[n for n in names if parsed[n].gender == g] for g in range(len(GENDERS))]
    n_female = round(n_val * len(by_gender[0]) / len(names))
    quota = [n_female, n_val - n_female]
    rng = np.random.default_rng(seed)
    chosen: list[str] = []
    for group, k in zip(by_gender, quota):
        picks = rng.choice(len(group), size=k, replace=False)
        chosen += [group[i] for i in picks]
    chosen.sort()
    if out is not None:
        header = [
            "# UTKFace validation split for facelib (file names, one per line).",
            f"# Made by facelib.data.make_utkface_split(root, n_val={n_val}, seed={seed}) from the {len(names)}",
            "# aligned & cropped images: names sorted, stratified by gender (female then male, share-proportional),",
            "# numpy.random.default_rng(seed).choice(..., replace=False). Train = every other file.",
        ]
        Path(out).write_text("\n".join(header + chosen) + "\n", encoding="utf-8")
    return chosen


class UTKFace(_FaceFiles):
    """UTKFace "Aligned & Cropped Faces" (200x200) from the flat folder of the official release.

    Labels come from the file names (:func:`parse_utkface_name`): ``genders`` (0 female, 1 male), ``ages``,
    ``races``. The split is fixed by a committed list of 2,000 validation names
    (``data/splits/utkface_val.txt``, made by :func:`make_utkface_split`); ``"train"`` is every other file.
    Image files whose names do not parse are left out (``unparsed`` lists them, with a warning).

    Args:
        root: the folder of ``*.jpg.chip.jpg`` files.
        split: ``"train"`` or ``"val"``.
        size: output side; items are ``(image (3, size, size) float32 in [-1, 1], gender)``.
        skip_corrupt: replace unreadable files by the next readable one instead of raising.
        val_list: the validation names: a file path or a sequence of names; default the committed list.
        subset: accept a folder that lacks some of the listed validation names (a subset of UTKFace, one warning):
            the listed names it holds are "val" and never "train"; when it holds none of them, "val" is
            :func:`folder_split` of the rest with ``val_fraction`` (0: "val" is the same faces as "train").
            Without it such a folder raises :class:`DatasetNotFoundError` (an incomplete download looks alike).
    """

    name = "UTKFace"

    def __init__(
        self,
        root: str | os.PathLike,
        split: str = "train",
        size: int = 128,
        skip_corrupt: bool = False,
        val_list: str | os.PathLike | Sequence[str] | None = None,
        subset: bool = False,
        val_fraction: float = 0.1,
    ) -> None:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        root = Path(root)
        if not root.is_dir():
            raise DatasetNotFoundError(f"UTKFace folder {root} does not exist. {_UTKFACE_HELP}")
        parsed, self.unparsed = _scan_utkface(root)
        if not parsed:
            raise DatasetNotFoundError(f"no UTKFace file names in {root}. {_UTKFACE_HELP}")
        if self.unparsed:
            warnings.warn(
                f"UTKFace: left out {len(self.unparsed)} image(s) in {root} whose names do not parse as "
                f"<age>_<gender>_<race>_<timestamp>.jpg.chip.jpg, e.g. {self.unparsed[:3]}",
                stacklevel=2,
            )
        source = UTKFACE_VAL_LIST if val_list is None else val_list
        from_file = isinstance(source, (str, os.PathLike))
        val_names = read_split_file(source) if from_file else list(source)  # type: ignore[arg-type]
        missing = [n for n in val_names if n not in parsed]
        listed = source if from_file else "val_list"
        if missing and not subset:
            raise DatasetNotFoundError(
                f"{root} is incomplete or is not the UTKFace aligned & cropped set: {len(missing)} of the "
                f"{len(val_names)} validation images listed in {listed} are missing (e.g. {missing[:3]}). If it is "
                f"a subset on purpose, pass subset=True (training: --utkface-subset / utkface_subset=True): the listed "
                f"validation faces it holds validate and never train. {_UTKFACE_HELP}"
            )
        val_set = set(val_names)
        self.missing_val = len(missing)  # > 0: a subset (only with subset=True)
        if missing:
            held = sorted(n for n in parsed if n in val_set)
            rest = sorted(n for n in parsed if n not in val_set)
            if held:
                train_names, val_names_here = rest, held
                how = f"validating on the {len(held)} listed validation faces it holds"
            elif val_fraction > 0 and len(rest) >= 2:
                train_paths, val_paths = folder_split([root / n for n in rest], root, val_fraction)
                train_names, val_names_here = [p.name for p in train_paths], [p.name for p in val_paths]
                how = (f"it holds none of them: validating on {len(val_names_here)} of its faces held out by "
                       f"facelib.data.folder_split (val_fraction={val_fraction})")
            else:
                train_names = val_names_here = rest
                how = "it holds none of them: validating on the training faces (val_fraction=0)"
            warnings.warn(
                f"UTKFace: {root} is a subset ({len(missing)} of the {len(val_names)} validation faces listed in "
                f"{listed} are missing): {how}; the listed validation faces never train", stacklevel=2)
            names = val_names_here if split == "val" else train_names
        else:
            names = sorted(n for n in parsed if (n in val_set) == (split == "val"))
        self.split = split
        self.ages = [parsed[n].age for n in names]
        self.races = [parsed[n].race for n in names]
        super().__init__(root, [root / n for n in names], [parsed[n].gender for n in names], size, skip_corrupt)


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


# ------------------------------------------------------------------------------------------ synthetic faces
_SKIN = np.array([(255, 224, 196), (241, 194, 158), (224, 172, 125), (198, 140, 98), (161, 107, 70),
                  (127, 82, 52), (94, 60, 38), (234, 192, 160)], dtype=float)
_HAIR = np.array([(25, 20, 18), (60, 40, 28), (105, 70, 40), (150, 85, 45), (215, 180, 110),
                  (170, 165, 160), (235, 225, 200), (120, 30, 25)], dtype=float)
_IRIS = np.array([(80, 50, 25), (45, 30, 20), (70, 120, 170), (80, 130, 80), (130, 100, 50),
                  (110, 120, 130)], dtype=float)


def _colour(base: np.ndarray, rng: np.random.Generator, jitter: float = 12.0) -> tuple[int, int, int]:
    value = np.clip(base + rng.normal(0.0, jitter, 3), 0, 255)
    return tuple(int(v) for v in value)  # type: ignore[return-value]


def _shade(colour: tuple[int, int, int], factor: float) -> tuple[int, int, int]:
    return tuple(int(min(255, max(0, c * factor))) for c in colour)  # type: ignore[return-value]


def draw_synthetic_face(rng: np.random.Generator, size: int = 128) -> tuple[Image.Image, int]:
    """Draw one cartoon face (PIL RGB, ``size`` x ``size``) and return it with its gender (0 female, 1 male).

    Drawn at twice the size with PIL ImageDraw and downsampled 2x (which antialiases the edges).
    """
    s = 2 * size
    u = rng.uniform
    male = int(rng.random() < 0.5)

    # Background: a vertical two-colour gradient (a 1x2 image stretched is the cheapest way in PIL).
    top, bottom = _colour(rng.uniform(40, 230, 3), rng, 0), _colour(rng.uniform(40, 230, 3), rng, 0)
    strip = Image.new("RGB", (1, 2))
    strip.putdata([top, bottom])
    canvas = strip.resize((s, s), Image.Resampling.BILINEAR).convert("RGBA")

    layer = Image.new("RGBA", (s, s), (0, 0, 0, 0))
    d = ImageDraw.Draw(layer)

    def box(cx: float, cy: float, rx: float, ry: float) -> list[float]:
        return [(cx - rx) * s, (cy - ry) * s, (cx + rx) * s, (cy + ry) * s]

    scale = u(0.88, 1.06)
    cx, cy = 0.5 + u(-0.035, 0.035), 0.47 + u(-0.03, 0.03)
    rx, ry = 0.24 * scale * u(0.92, 1.06), 0.31 * scale * u(0.95, 1.05)
    skin = _colour(_SKIN[rng.integers(len(_SKIN))], rng, 8)
    hair = _colour(_HAIR[rng.integers(len(_HAIR))], rng, 10)
    clothes = _colour(rng.uniform(20, 235, 3), rng, 0)
    long_hair = rng.random() < (0.12 if male else 0.9)
    bald = male and rng.random() < 0.08
    beard = male and rng.random() < 0.4

    # Clothes and long hair sit behind the head.
    d.ellipse(box(cx, cy + ry + 0.36 * scale, 0.46 * scale, 0.26 * scale), fill=clothes)
    if long_hair:
        length = u(0.55, 1.05)
        d.rounded_rectangle(box(cx, cy + 0.15 * ry + 0.5 * length * ry, rx * 1.22, ry * (0.6 + 0.55 * length)),
                            radius=int(rx * s * 0.6), fill=_shade(hair, 0.85))
    d.rectangle(box(cx, cy + ry * 0.95, rx * 0.42, ry * 0.45), fill=_shade(skin, 0.9))  # neck
    for side in (-1, 1):  # ears
        d.ellipse(box(cx + side * rx * 0.98, cy + 0.02 * ry, rx * 0.14, ry * 0.16), fill=_shade(skin, 0.95))
    # Head with simple shading: a darker rim and a lighter ellipse towards the light.
    light = u(-0.3, 0.3)
    d.ellipse(box(cx, cy, rx, ry), fill=_shade(skin, 0.88))
    d.ellipse(box(cx + light * 0.12 * rx, cy - 0.04 * ry, rx * 0.9, ry * 0.93), fill=skin)
    if beard:
        beard_box = box(cx, cy + 0.05 * ry, rx * 1.0, ry * 0.97)
        d.chord(beard_box, 15, 165, fill=hair)
    if not bald:
        hairline = u(-0.05, 0.25)
        d.chord(box(cx, cy - 0.5 * ry + 0.5 * hairline * ry, rx * 1.07, ry * (0.62 + 0.5 * hairline)), 180, 360,
                fill=hair)
        if long_hair or rng.random() < 0.5:  # side locks over the temples
            for side in (-1, 1):
                d.ellipse(box(cx + side * rx * 0.9, cy - 0.25 * ry, rx * 0.2, ry * 0.35), fill=hair)
        if rng.random() < 0.45:  # fringe
            d.chord(box(cx + u(-0.3, 0.3) * rx, cy - 0.55 * ry, rx * 0.75, ry * 0.3), 0, 180, fill=hair)

    # Features follow a small yaw (horizontal shift) of the face.
    fx = cx + u(-0.1, 0.1) * rx
    ey = cy - u(0.0, 0.1) * ry
    eye_rx, eye_ry = rx * u(0.17, 0.22), ry * u(0.08, 0.11)
    iris = _colour(_IRIS[rng.integers(len(_IRIS))], rng, 10)
    gaze = u(-0.3, 0.3)
    line = max(1, round(s / 128))
    dark = (40, 28, 24)
    for side in (-1, 1):
        ex = fx + side * rx * u(0.38, 0.44)
        d.ellipse(box(ex, ey, eye_rx, eye_ry), fill=(245, 245, 240), outline=dark, width=line)
        ir = min(eye_rx, eye_ry) * 0.95
        ix = ex + gaze * eye_rx * 0.4
        d.ellipse(box(ix, ey, ir, ir), fill=iris)
        d.ellipse(box(ix, ey, ir * 0.45, ir * 0.45), fill=(10, 10, 10))
        d.ellipse(box(ix + ir * 0.3, ey - ir * 0.3, ir * 0.18, ir * 0.18), fill=(255, 255, 255))
        d.arc(box(ex, ey, eye_rx * 1.05, eye_ry * 1.1), 190, 350, fill=dark, width=line * (2 if not male else 1))
        brow_y = ey - ry * u(0.16, 0.22)
        brow_w = (3 if male else 2) * line
        tilt = u(-0.02, 0.02)
        d.line([((ex - eye_rx * 1.1) * s, (brow_y + tilt * side) * s), (ex * s, (brow_y - 0.012) * s),
                ((ex + eye_rx * 1.1) * s, (brow_y - tilt * side) * s)], fill=_shade(hair, 0.8), width=brow_w,
               joint="curve")

    # Nose: a shaded ridge and nostrils.
    nose_y = cy + ry * u(0.25, 0.33)
    nose_col = _shade(skin, 0.75)
    d.line([(fx * s, (ey + 0.05 * ry) * s), ((fx + 0.05 * rx) * s, nose_y * s)], fill=_shade(skin, 0.83),
           width=2 * line)
    d.arc(box(fx, nose_y - 0.02 * ry, rx * 0.13, ry * 0.06), 20, 160, fill=nose_col, width=2 * line)

    # Mouth: open smile with teeth, or closed lips.
    my = cy + ry * u(0.52, 0.6)
    mw, mh = rx * u(0.28, 0.42), ry * u(0.06, 0.12)
    lips = _colour(np.array((200, 80, 90) if not male else (170, 95, 90), dtype=float), rng, 12)
    if rng.random() < 0.5:
        d.chord(box(fx, my - mh * 0.6, mw, mh * 1.6), 0, 180, fill=(90, 20, 30), outline=lips, width=2 * line)
        d.chord(box(fx, my - mh * 0.6, mw * 0.85, mh * 0.9), 0, 180, fill=(245, 245, 240))
    else:
        d.ellipse(box(fx, my - mh * 0.35, mw, mh * 0.45), fill=_shade(lips, 0.9))
        d.ellipse(box(fx, my + mh * 0.3, mw * 0.85, mh * 0.55), fill=lips)
        d.line([((fx - mw) * s, (my - 0.0) * s), ((fx + mw) * s, my * s)], fill=_shade(lips, 0.5), width=line)

    # Roll the whole head by a few degrees around its centre, then paste it on the background.
    layer = layer.rotate(u(-9, 9), resample=Image.Resampling.BILINEAR, center=(cx * s, cy * s))
    canvas.alpha_composite(layer)
    return canvas.convert("RGB").reduce(2), male


class SyntheticFaces(Dataset):
    """Procedurally drawn cartoon faces: NOT real people, for tests and as the default without a dataset.

    Each face has a head shape, skin tone, hair (length, colour, fringe; some bald), eyes with iris, pupil and
    highlight, brows, nose, mouth, optional beard, clothes and a gradient background, with random position,
    scale, yaw and roll. Face ``i`` is drawn from ``numpy.random.default_rng([seed, split, i])`` (split 0 =
    train, 1 = val), so it is identical on every call and machine. Gender is decided by the same generator:
    1 (male) faces mostly have short hair and sometimes a beard, 0 (female) faces mostly long hair.

    Items: ``(image (3, size, size) float32 in [-1, 1], gender int)``. About 1-2 ms per 128x128 face.
    """

    LABEL = "synthetic faces (procedurally drawn, not real)"
    name = "SyntheticFaces"

    def __init__(self, n: int = 512, size: int = 128, seed: int = 0, split: str = "train") -> None:
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        if not isinstance(size, int) or size < 8:
            raise ValueError(f"size must be an int >= 8 (pixels), got {size!r}")
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        self.n, self.size, self.seed, self.split = n, size, seed, split

    def __len__(self) -> int:
        return self.n

    def _rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, SPLITS.index(self.split), index])

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        """``(image (3, size, size) float32 in [-1, 1], gender int)``."""
        if not -self.n <= index < self.n:
            raise IndexError(f"index {index} out of range for SyntheticFaces with n={self.n}")
        img, gender = draw_synthetic_face(self._rng(index % self.n), self.size)
        return _pil_to_tensor(img), gender

    def gender_of(self, index: int) -> int:
        """The gender of face ``index`` without drawing it (the first draw of its generator)."""
        return int(self._rng(index).random() < 0.5)

    def counts(self) -> dict[str, int]:
        """Number of faces per gender name."""
        tally = Counter(self.gender_of(i) for i in range(self.n))
        return {name: tally.get(g, 0) for g, name in enumerate(GENDERS)}

    def __repr__(self) -> str:
        return f"SyntheticFaces(n={self.n}, size={self.size}, seed={self.seed}, split={self.split!r})"


# ------------------------------------------------------------------------------------------- resolve_faces
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

    repo = Path(repo_data) if repo_data is not None else REPO_DATA_DIR
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


# ------------------------------------------------------------------------------------- inpainting wrapper
class InpaintingDataset(Dataset):
    """Pairs every face with a hole mask.

    Args:
        faces: a dataset of ``(image (3, H, W) in [-1, 1], gender)``.
        masks: a mask generator ``gen(rng: numpy.random.Generator) -> Tensor (1, H, W)`` with values {0, 1},
            1 = hole (see facelib.masks).
        seed: the mask of item ``i`` in epoch ``e`` comes from ``numpy.random.default_rng([seed, e, i])``, so it
            is the same in every run, in every DataLoader worker and in any order; ``set_epoch`` changes it.

    Items: ``dict(image=(3, H, W) float32 in [-1, 1], mask=(1, H, W) float32 in {0, 1}, gender=int, index=int)``.
    """

    def __init__(self, faces: Dataset, masks: Callable[[np.random.Generator], Tensor], seed: int = 0) -> None:
        if not callable(masks):
            raise TypeError(f"masks must be a callable gen(rng) -> Tensor (1, H, W), got {type(masks).__name__}")
        if seed < 0:
            raise ValueError(f"seed must be >= 0 (numpy seed sequence), got {seed}")
        self.faces, self.masks, self.seed = faces, masks, seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Draw a different (still deterministic) set of masks for ``epoch``."""
        if epoch < 0:
            raise ValueError(f"epoch must be >= 0, got {epoch}")
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.faces)  # type: ignore[arg-type]

    def mask_for(self, index: int) -> Tensor:
        """The mask ``(1, H, W)`` float32 of item ``index`` in the current epoch."""
        rng = np.random.default_rng([self.seed, self.epoch, index])
        return torch.as_tensor(self.masks(rng), dtype=torch.float32)

    def __getitem__(self, index: int) -> dict[str, Tensor | int]:
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"index {index} out of range for InpaintingDataset with {n} items")
        index %= n
        image, gender = self.faces[index]
        mask = self.mask_for(index)
        expected = (1, *image.shape[-2:])
        if tuple(mask.shape) != expected:
            raise ValueError(
                f"mask generator {type(self.masks).__name__} gave a mask of shape {tuple(mask.shape)} but the face "
                f"images are {tuple(image.shape)}: expected {expected}. Build the masks with the image size "
                f"(e.g. make_masks(name, size={image.shape[-1]}))"
            )
        return {"image": image, "mask": mask, "gender": int(gender), "index": index}
