"""UTKFace "Aligned & Cropped Faces": labels parsed from the file names, the committed validation split and the
rule that made it; items ``(image (3, size, size) float32 in [-1, 1], gender)``."""
from __future__ import annotations

import os
import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .errors import DatasetNotFoundError
from .faces import _UTKFACE_HELP, GENDERS, IMAGE_EXTENSIONS, SPLITS, UTKFACE_VAL_LIST, _FaceFiles, folder_split

__all__ = [
    "UTKFACE_SPLIT_SEED",
    "UTKFace",
    "UTKFaceInfo",
    "make_utkface_split",
    "parse_utkface_name",
    "read_split_file",
]

UTKFACE_SPLIT_SEED = 2024


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
