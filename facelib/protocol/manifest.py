"""The evaluation protocol's manifest: the seeded rule that gives every face its holes
(:func:`build_manifest`), the CSV's columns, writing and reading it byte for byte, the checks that keep per-bin
tables right, and deterministic subsets. Reads no image: rows are plain dicts (see :mod:`facelib.protocol`)."""
from __future__ import annotations

import csv
import io
import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from torch import Tensor
from torch.utils.data import Dataset

from ..checkpoint import atomic_write_text
from ..data import IMAGE_EXTENSIONS
from ..masks import FILES_PER_BIN, IRREGULAR_BINS, FreeFormMask
from ..paths import PROTOCOL_DIR, UTKFACE_MANIFEST

__all__ = [
    "PROTOCOL_SEED",
    "KINDS",
    "CENTER_BIN",
    "RATIO_BINS",
    "MANIFEST_FIELDS",
    "PROTOCOL_DIR",
    "UTKFACE_MANIFEST",
    "ratio_bin",
    "list_faces",
    "face_ids",
    "build_manifest",
    "write_manifest",
    "manifest_text",
    "read_manifest",
    "check_manifest",
    "select_cases",
    "count_cases",
    "group_order",
]

PROTOCOL_SEED = 2025
KINDS: tuple[str, ...] = ("irregular", "center", "freeform")
CENTER_BIN = "25%"
#: 10%-wide hole-ratio bins for free-form masks (the first six equal ``IRREGULAR_BINS``).
RATIO_BINS: tuple[str, ...] = tuple(f"{10 * i}-{10 * (i + 1)}%" for i in range(10))
MANIFEST_FIELDS: tuple[str, ...] = ("case_id", "face", "mask_kind", "mask_id", "bin", "size", "seed")


def ratio_bin(mask: Tensor) -> str:
    """The 10%-bin label of a (1, H, W) mask's hole ratio, e.g. ``"20-30%"`` (exact integer arithmetic)."""
    holes, total = int((mask > 0.5).sum()), mask.shape[-1] * mask.shape[-2]
    return RATIO_BINS[min(9, 10 * holes // total)]


def list_faces(folder: str | os.PathLike) -> list[str]:
    """Sorted image paths under ``folder`` (recursive), relative to it, with ``/`` separators.

    For a StarGAN-v2 ``celeba_hq/val`` folder: ``["female/039913.jpg", ..., "male/005735.jpg", ...]``.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"faces folder {folder} does not exist (for CelebA-HQ pass the StarGAN-v2 "
                                "celeba_hq/val folder; for UTKFace use --split-list data/splits/utkface_val.txt)")
    names = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                   if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
    if not names:
        raise FileNotFoundError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) under {folder}")
    return names


def face_ids(faces: Dataset) -> list[str]:
    """The manifest ``face`` names of a face dataset, in dataset order.

    File-backed datasets (``UTKFace``, ``CelebAHQ``, ``ImageFolderFaces``): each file's path relative to
    ``dataset.root`` (UTKFace: the file name, as in the committed manifest). Others (``SyntheticFaces``): the
    index as text, ``"0"``, ``"1"``, ...
    """
    files, root = getattr(faces, "files", None), getattr(faces, "root", None)
    if files is not None and root is not None:
        return [Path(f).relative_to(root).as_posix() for f in files]
    return [str(i) for i in range(len(faces))]  # type: ignore[arg-type]


def _check_kinds(kinds: Sequence[str]) -> tuple[str, ...]:
    bad = [k for k in kinds if k not in KINDS]
    if bad or not kinds:
        raise ValueError(f"unknown mask kind(s) {bad or kinds}; choose from {KINDS}")
    return tuple(k for k in KINDS if k in kinds)  # canonical order, no duplicates


def build_manifest(faces: Sequence[str], size: int, kinds: Sequence[str] = KINDS,
                   seed: int = PROTOCOL_SEED) -> list[dict[str, Any]]:
    """The protocol's cases for ``faces`` (names; sorted here) at ``size`` pixels, by the module's rule.

    Returns a list of dicts with the keys of :data:`MANIFEST_FIELDS` (``case_id``, ``mask_id``, ``size``,
    ``seed`` are ints). Reads no file: irregular bins come from NVIDIA's numbering, free-form masks are drawn.
    """
    if isinstance(faces, (str, os.PathLike)):
        raise TypeError("build_manifest takes face names; use list_faces(folder) or read_split_file(path)")
    names = sorted(set(faces))
    if not names:
        raise ValueError("build_manifest: no faces given")
    if isinstance(size, bool) or not isinstance(size, int) or size < 16:
        raise ValueError(f"size must be an int >= 16 pixels, got {size!r}")
    kinds = _check_kinds(kinds)
    rows: list[dict[str, Any]] = []

    def add(face: str, kind: str, mask_id: int, bin_label: str) -> None:
        rows.append({"case_id": len(rows), "face": face, "mask_kind": kind, "mask_id": mask_id, "bin": bin_label,
                     "size": size, "seed": seed})

    n_bins = len(IRREGULAR_BINS)
    if "irregular" in kinds:
        rng = np.random.default_rng(seed)
        perms = [rng.permutation(FILES_PER_BIN) for _ in range(n_bins)]
        for i, face in enumerate(names):
            b, j = i % n_bins, (i // n_bins) % FILES_PER_BIN
            add(face, "irregular", FILES_PER_BIN * b + int(perms[b][j]), IRREGULAR_BINS[b])
    if "center" in kinds:
        for face in names:
            add(face, "center", 0, CENTER_BIN)
    if "freeform" in kinds:
        gen = FreeFormMask(size)
        for i, face in enumerate(names):
            add(face, "freeform", i, ratio_bin(gen(np.random.default_rng([seed, i]))))
    return rows


def manifest_text(rows: Sequence[dict[str, Any]]) -> str:
    """The CSV text of a manifest (header + rows, ``\\n`` line ends): what :func:`write_manifest` writes."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=MANIFEST_FIELDS, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def write_manifest(rows: Sequence[dict[str, Any]], path: str | os.PathLike) -> Path:
    """Write a manifest CSV (byte-for-byte reproducible: fixed column order, ``\\n`` line ends, UTF-8)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(manifest_text(rows).encode("utf-8"))
    return path


def read_manifest(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Read a manifest CSV back into rows (ints as ints); a clear error for a missing or malformed file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"manifest {path} not found; the committed ones are in {PROTOCOL_DIR} (build one "
                                "with `python -m facelib.protocol build ...`)")
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in MANIFEST_FIELDS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"manifest {path} lacks the column(s) {missing}; expected {list(MANIFEST_FIELDS)}")
        rows = []
        for line, raw in enumerate(reader, start=2):
            try:
                row = {k: raw[k] for k in MANIFEST_FIELDS}
                for k in ("case_id", "mask_id", "size", "seed"):
                    row[k] = int(row[k])
            except (TypeError, ValueError) as err:
                raise ValueError(f"manifest {path}, line {line}: bad value ({err}): {raw}") from None
            if row["mask_kind"] not in KINDS:
                raise ValueError(f"manifest {path}, line {line}: mask_kind {row['mask_kind']!r} not in {KINDS}")
            rows.append(row)
    if not rows:
        raise ValueError(f"manifest {path} has no cases")
    check_manifest(rows, f"manifest {path}", first_line=2)
    return rows


def check_manifest(rows: Sequence[dict[str, Any]], source: str = "the manifest",
                   first_line: int | None = None) -> None:
    """Refuse (ValueError, one line) a manifest whose per-bin tables would be wrong.

    Checked: ``case_id`` unique; an irregular row's ``mask_id`` is one of NVIDIA's 00000..11999 and its ``bin``
    is the hole-ratio bin of that number (each block of 2,000 numbers is one bin, 0-10% ... 50-60%); a centre
    row's bin is ``25%``; a free-form row's bin is a 10% label. ``first_line``: the file line of ``rows[0]``
    (for messages; rows of a list are named by their index otherwise).
    """
    rebuild = "fix the row or rebuild the manifest with `python -m facelib.protocol build`"
    seen: dict[int, int] = {}
    for i, row in enumerate(rows):
        where = f"{source}, line {first_line + i}" if first_line is not None else f"{source}, row {i}"
        case_id, kind, bin_label = int(row["case_id"]), row["mask_kind"], row["bin"]
        if case_id in seen:
            first = f"line {first_line + seen[case_id]}" if first_line is not None else f"row {seen[case_id]}"
            raise ValueError(f"{where}: case_id {case_id} appears again (first at {first}): every case needs its own "
                             f"id, or it is scored and counted twice; {rebuild}")
        seen[case_id] = i
        if kind == "irregular":
            mask_id = int(row["mask_id"])
            if not 0 <= mask_id < FILES_PER_BIN * len(IRREGULAR_BINS):
                raise ValueError(f"{where}: irregular mask_id {mask_id} is not one of NVIDIA's test masks 00000.."
                                 f"{FILES_PER_BIN * len(IRREGULAR_BINS) - 1:05d}; {rebuild}")
            expected = IRREGULAR_BINS[mask_id // FILES_PER_BIN]
            if bin_label != expected:
                raise ValueError(f"{where}: irregular mask {mask_id:05d} belongs to NVIDIA's hole-ratio bin {expected} "
                                 f"(each block of {FILES_PER_BIN:,} numbers is one bin) but the row says "
                                 f"{bin_label!r}; {rebuild}")
        elif kind == "center" and bin_label != CENTER_BIN:
            raise ValueError(f"{where}: a center case has bin {CENTER_BIN!r}, not {bin_label!r}; {rebuild}")
        elif kind == "freeform" and bin_label not in RATIO_BINS:
            raise ValueError(f"{where}: free-form bin {bin_label!r} is not one of {RATIO_BINS[0]} ... "
                             f"{RATIO_BINS[-1]}; {rebuild}")


def select_cases(rows: Sequence[dict[str, Any]], per_bin: int | None = None, limit: int | None = None,
                 kinds: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """A deterministic subset: rows of ``kinds`` (default all), the first ``per_bin`` of every (kind, bin) in
    manifest order, then the first ``limit`` of those. ``None`` keeps everything."""
    for name, value in (("per_bin", per_bin), ("limit", limit)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValueError(f"{name} must be None or an int >= 1, got {value!r}")
    keep = None if kinds is None else set(_check_kinds(kinds))
    seen: Counter = Counter()
    out = []
    for row in rows:
        if keep is not None and row["mask_kind"] not in keep:
            continue
        key = (row["mask_kind"], row["bin"])
        if per_bin is not None and seen[key] >= per_bin:
            continue
        seen[key] += 1
        out.append(row)
    return out if limit is None else out[:limit]


def count_cases(rows: Sequence[dict[str, Any]]) -> dict[tuple[str, str], int]:
    """``{(kind, bin): number of cases}``, kinds in :data:`KINDS` order, bins from small to large holes."""
    counts = Counter((r["mask_kind"], r["bin"]) for r in rows)
    return {key: counts[key] for key in sorted(counts, key=group_order)}


def group_order(key: tuple[str, str]) -> tuple[int, int, str]:
    """Sort key of a (kind, bin) pair: kinds in :data:`KINDS` order, then bins by hole ratio ("all" last)."""
    kind, bin_label = key
    k = KINDS.index(kind) if kind in KINDS else len(KINDS)
    b = RATIO_BINS.index(bin_label) if bin_label in RATIO_BINS else (len(RATIO_BINS) + (bin_label == "all"))
    return k, b, bin_label
