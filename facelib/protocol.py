"""The fixed, seeded evaluation protocol: which face is scored with which hole.

A **manifest** is a CSV with one row per test case:

==========  =====================================================================================
column      meaning
==========  =====================================================================================
case_id     0, 1, 2, ... (row number)
face        the face's file path relative to the faces folder (UTKFace: the file name)
mask_kind   ``irregular`` (NVIDIA test mask), ``center`` (centre square) or ``freeform`` (strokes)
mask_id     irregular: the NVIDIA file number (``02345`` -> ``masks/02345.png``); freeform: the stroke
            seed; center: 0 (there is one centre mask)
bin         irregular: NVIDIA's hole-ratio bin of the file number (``number // 2000``: ``0-10%`` ...
            ``50-60%``); center: ``25%``; freeform: the 10%-bin of the mask's hole ratio at ``size``
size        the side (pixels) the manifest was built for (free-form masks and bins depend on it)
seed        the protocol seed
==========  =====================================================================================

**The rule** (:func:`build_manifest`; LaMa's and mmagic's evaluation masks are drawn unseeded, ours are not):

1. Faces: the face names sorted (for UTKFace the 2,000 names of ``data/splits/utkface_val.txt``; for CelebA-HQ
   the image paths found under the StarGAN-v2 ``val/`` folder, ``female/...`` then ``male/...``). Face ``i``
   is the ``i``-th name.
2. Irregular holes, one per face: face ``i`` goes to bin ``b = i % 6`` as its ``j = i // 6``-th case, so the
   bins get equal shares (2,000 faces: 334, 334, 333, 333, 333, 333) of faces spread evenly over the sorted
   list. ``rng = numpy.random.default_rng(seed)`` draws one permutation of the 2,000 numbers of every bin,
   bin 0 first (``perm_b = rng.permutation(2000)``); the ``j``-th case of bin ``b`` gets mask
   ``2000 * b + perm_b[j]``. A permutation per bin (rather than ``choice(k)``) makes the masks of ``k``
   cases the first ``k`` of those of any larger ``k``. More than 12,000 faces reuse masks cyclically. The
   NVIDIA numbering fixes the bins, so no mask file is read.
3. Centre holes, one per face: the centred square covering a quarter of the image (``CenterMask(size)``,
   the Context Encoder setting).
4. Free-form holes, one per face: face ``i`` gets ``FreeFormMask(size)(numpy.random.default_rng([seed, i]))``
   (DeepFill v2 strokes; ``mask_id = i``), regenerated exactly from that seed whenever a case is loaded.
5. Rows: all irregular cases (face order), then all centre cases, then all free-form cases.

Irregular masks are resized to ``size`` with nearest-neighbour interpolation and thresholded, so they stay
binary (:func:`facelib.masks.load_mask`). The committed manifests live in ``data/protocol/``:

* ``utkface_val_128.csv``: the 2,000 UTKFace validation faces at 128x128, 6,000 cases. Rebuild it with
  ``python -m facelib.protocol build --split-list data/splits/utkface_val.txt --size 128
  --out data/protocol/utkface_val_128.csv`` (a test checks the committed file equals a fresh build).
* CelebA-HQ (not shipped: build it from your copy, at 256x256):
  ``python -m facelib.protocol build --faces /path/to/celeba_hq/val --size 256
  --out data/protocol/celeba_hq_val_256.csv`` (2,000 faces, 6,000 cases).

:func:`load_case` turns a row into ``(image, mask)``; :class:`ProtocolDataset` serves a (sub)set of rows,
subset by :func:`select_cases` (the first ``per_bin`` cases of every (kind, bin), then the first ``limit``).
"""
from __future__ import annotations

import argparse
import csv
import io
import os
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import Dataset

from .data import IMAGE_EXTENSIONS, REPO_DATA_DIR, UTKFACE_VAL_LIST, load_image, read_split_file
from .masks import FILES_PER_BIN, IRREGULAR_BINS, MASKS_HELP, CenterMask, FreeFormMask, load_mask

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
    "protocol_mask_ids",
    "select_cases",
    "case_mask",
    "load_case",
    "ProtocolDataset",
    "count_cases",
    "group_order",
]

PROTOCOL_SEED = 2025
KINDS: tuple[str, ...] = ("irregular", "center", "freeform")
CENTER_BIN = "25%"
#: 10%-wide hole-ratio bins for free-form masks (the first six equal ``IRREGULAR_BINS``).
RATIO_BINS: tuple[str, ...] = tuple(f"{10 * i}-{10 * (i + 1)}%" for i in range(10))
MANIFEST_FIELDS: tuple[str, ...] = ("case_id", "face", "mask_kind", "mask_id", "bin", "size", "seed")
PROTOCOL_DIR: Path = REPO_DATA_DIR / "protocol"
UTKFACE_MANIFEST: Path = PROTOCOL_DIR / "utkface_val_128.csv"

#: Where faces come from: a folder (manifest ``face`` = path relative to it) or a face dataset.
Faces = Union[str, os.PathLike, Dataset]


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


def protocol_mask_ids(folder: str | os.PathLike = PROTOCOL_DIR) -> frozenset[int]:
    """The NVIDIA mask numbers that the manifests in ``folder`` (the committed ``data/protocol/*.csv``) score on.

    Training leaves these out (``TrainConfig.holdout_protocol_masks``): the NVIDIA masks available here are
    their *test* set, the same files the protocol draws its irregular holes from.
    """
    return frozenset(int(r["mask_id"]) for path in sorted(Path(folder).glob("*.csv"))
                     for r in read_manifest(path) if r["mask_kind"] == "irregular")


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


def case_mask(row: dict[str, Any], masks_root: str | os.PathLike | None = None, size: int | None = None) -> Tensor:
    """The (1, size, size) float32 {0, 1} hole mask of a manifest row (1 = hole); ``size`` default: the row's.

    Irregular masks are read from ``masks_root/{mask_id:05d}.png`` (nearest-neighbour resize, binary).
    """
    size = int(row["size"]) if size is None else int(size)
    kind = row["mask_kind"]
    if kind == "center":
        return CenterMask(size)()
    if kind == "freeform":
        return FreeFormMask(size)(np.random.default_rng([int(row["seed"]), int(row["mask_id"])]))
    if kind != "irregular":
        raise ValueError(f"case {row.get('case_id')}: unknown mask_kind {kind!r}; expected one of {KINDS}")
    if masks_root is None:
        raise FileNotFoundError(f"case {row.get('case_id')} needs an NVIDIA irregular mask but no masks folder "
                                f"was given: pass masks_root (--masks, or env FACELIB_MASKS): {MASKS_HELP}")
    root = Path(masks_root)
    if not root.is_dir():
        raise FileNotFoundError(f"masks folder {root} does not exist; expected {MASKS_HELP}")
    path = root / f"{int(row['mask_id']):05d}.png"
    if not path.is_file():
        raise FileNotFoundError(f"mask {path.name} (case {row.get('case_id')}) is not in {root}; expected {MASKS_HELP}")
    return load_mask(path, size)


class _FaceSource:
    """Manifest face name -> (3, size, size) image in [-1, 1], from a folder or a face dataset."""

    def __init__(self, faces: Faces) -> None:
        self.faces = faces
        if isinstance(faces, (str, os.PathLike)):
            self.folder: Path | None = Path(faces)
            if not self.folder.is_dir():
                raise FileNotFoundError(f"faces folder {self.folder} does not exist: pass the folder the manifest "
                                        "was built from (UTKFace: the flat folder of *.jpg.chip.jpg; CelebA-HQ: "
                                        "celeba_hq/val)")
            self.index: dict[str, int] = {}
        else:
            self.folder = None
            self.index = {name: i for i, name in enumerate(face_ids(faces))}

    def describe(self) -> str:
        return str(self.folder) if self.folder is not None else type(self.faces).__name__

    def check(self, rows: Sequence[dict[str, Any]], manifest: str = "the manifest") -> None:
        """Raise FileNotFoundError naming the first face of ``rows`` that is not available."""
        for row in rows:
            face = row["face"]
            present = (self.folder / face).is_file() if self.folder is not None else face in self.index
            if not present:
                where = self.folder if self.folder is not None else f"the {self.describe()} dataset"
                raise FileNotFoundError(
                    f"face {face!r} of {manifest} (case {row['case_id']}) is not in {where}: pass the faces the "
                    "manifest was built from (UTKFace: the flat folder with the val names of "
                    "data/splits/utkface_val.txt; CelebA-HQ: the celeba_hq/val folder), or build a manifest for "
                    "these faces with `python -m facelib.protocol build`")

    def load(self, face: str, size: int) -> Tensor:
        if self.folder is not None:
            path = self.folder / face
            if not path.is_file():
                raise FileNotFoundError(f"face {face!r} of the manifest is not in {self.folder}")
            return load_image(path, size)
        if face not in self.index:
            raise FileNotFoundError(f"face {face!r} of the manifest is not in the {self.describe()} dataset")
        i = self.index[face]
        files = getattr(self.faces, "files", None)
        if files is not None and getattr(self.faces, "size", None) != size:
            return load_image(files[i], size)  # read at the protocol's size, not the dataset's
        image = self.faces[i][0]
        if image.shape[-1] != size:
            image = F.interpolate(image[None], size=(size, size), mode="bicubic", antialias=True,
                                  align_corners=False)[0].clamp(-1, 1)
        return image


def load_case(row: dict[str, Any], faces: Faces, masks_root: str | os.PathLike | None = None,
              size: int | None = None) -> tuple[Tensor, Tensor]:
    """``(image (3, size, size) float32 in [-1, 1], mask (1, size, size) float32 {0, 1}, 1 = hole)`` of a row.

    ``faces``: the folder the manifest's face names are relative to, or a face dataset (see :func:`face_ids`).
    ``size`` defaults to the row's. The same row always gives the same tensors.
    """
    size = int(row["size"]) if size is None else int(size)
    return _FaceSource(faces).load(row["face"], size), case_mask(row, masks_root, size)


class ProtocolDataset(Dataset):
    """The cases of a manifest as a torch Dataset.

    Args:
        rows: manifest rows (:func:`read_manifest` / :func:`build_manifest`) or a manifest path.
        faces: faces folder or face dataset (see :func:`load_case`).
        masks_root: NVIDIA test-mask folder (needed only when irregular cases are selected).
        size: image side; default the manifest's (all selected rows must agree then).
        per_bin, limit, kinds: deterministic subset, see :func:`select_cases`.

    Items: ``dict(image (3, S, S) in [-1, 1], mask (1, S, S) {0, 1}, index int)`` plus the row's fields
    (``case_id``, ``face``, ``mask_kind``, ``mask_id``, ``bin``). The rows are checked (:func:`check_manifest`:
    unique case ids, bins consistent with mask ids), and faces and masks upfront, so a bad manifest or a missing
    face or mask folder fails at construction with one line naming it.
    """

    def __init__(self, rows: Sequence[dict[str, Any]] | str | os.PathLike, faces: Faces,
                 masks_root: str | os.PathLike | None = None, size: int | None = None,
                 per_bin: int | None = None, limit: int | None = None, kinds: Sequence[str] | None = None) -> None:
        source = "the manifest"
        if isinstance(rows, (str, os.PathLike)):
            source = f"manifest {rows}"
            rows = read_manifest(rows)
        else:
            check_manifest(rows, source)  # rows built or edited in memory get the same checks as a file's
        self.rows = select_cases(rows, per_bin=per_bin, limit=limit, kinds=kinds)
        if not self.rows:
            raise ValueError(f"no cases selected from {source} (kinds={kinds}, per_bin={per_bin}, limit={limit})")
        if size is None:
            sizes = {int(r["size"]) for r in self.rows}
            if len(sizes) != 1:
                raise ValueError(f"{source} mixes sizes {sorted(sizes)}: pass size=")
            size = sizes.pop()
        self.size = int(size)
        self.masks_root = None if masks_root is None else Path(masks_root)
        self.source = _FaceSource(faces)
        self.source.check(self.rows, source)
        if any(r["mask_kind"] == "irregular" for r in self.rows):
            if self.masks_root is None or not self.masks_root.is_dir():
                raise FileNotFoundError(
                    f"{source} has irregular-mask cases but the masks folder "
                    f"{'was not given' if self.masks_root is None else str(self.masks_root) + ' does not exist'}"
                    f": pass masks_root (--masks, env FACELIB_MASKS): {MASKS_HELP}; or keep only "
                    "kinds=('center', 'freeform')")

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict[str, Any]:
        row = self.rows[index]
        image = self.source.load(row["face"], self.size)
        mask = case_mask(row, self.masks_root, self.size)
        return {"image": image, "mask": mask, "index": index,
                **{k: row[k] for k in ("case_id", "face", "mask_kind", "mask_id", "bin")}}


# ================================================================================================ CLI
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m facelib.protocol",
        description="Build or summarise an evaluation manifest (see the facelib.protocol docstring for the rule).")
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="write a manifest CSV")
    src = b.add_mutually_exclusive_group(required=True)
    src.add_argument("--split-list", help="a split file of face names (UTKFace: data/splits/utkface_val.txt)")
    src.add_argument("--faces", help="a folder of faces, searched recursively (CelebA-HQ: celeba_hq/val)")
    b.add_argument("--size", type=int, required=True, help="image side in pixels (UTKFace 128, CelebA-HQ 256)")
    b.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS, help="mask kinds (default all)")
    b.add_argument("--seed", type=int, default=PROTOCOL_SEED, help=f"protocol seed (default {PROTOCOL_SEED})")
    b.add_argument("--out", required=True, help="manifest CSV to write")
    s = sub.add_parser("summary", help="print the number of cases per (kind, bin)")
    s.add_argument("manifest")
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            names = read_split_file(args.split_list) if args.split_list else list_faces(args.faces)
            rows = build_manifest(names, args.size, kinds=args.kinds, seed=args.seed)
            path = write_manifest(rows, args.out)
            print(f"wrote {path}: {len(rows)} cases over {len(set(names))} faces at {args.size}x{args.size}")
        else:
            rows = read_manifest(args.manifest)
        for (kind, bin_label), n in count_cases(rows).items():
            print(f"  {kind:9s} {bin_label:7s} {n}")
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
