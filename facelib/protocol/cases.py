"""A manifest row turned into tensors: its hole mask (:func:`case_mask`), its face and mask
(:func:`load_case`), and the rows of a manifest as a torch Dataset (:class:`ProtocolDataset`). Images
(3, S, S) float32 in [-1, 1]; masks (1, S, S) float32 in {0, 1}, 1 = hole."""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Union

import numpy as np
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import Dataset

from ..data import load_image
from ..masks import MASKS_HELP, CenterMask, FreeFormMask, load_mask
from .manifest import KINDS, check_manifest, face_ids, ratio_bin, read_manifest, select_cases

__all__ = ["Faces", "ProtocolDataset", "case_mask", "load_case", "rescored_bin"]

#: Where faces come from: a folder (manifest ``face`` = path relative to it) or a face dataset.
Faces = Union[str, os.PathLike, Dataset]


def case_mask(row: dict[str, Any], masks_root: str | os.PathLike | None = None, size: int | None = None) -> Tensor:
    """The (1, size, size) float32 {0, 1} hole mask of a manifest row (1 = hole); ``size`` default: the row's.

    Irregular masks are read from ``masks_root/{mask_id:05d}.png`` (nearest-neighbour resize, binary; a file in
    another convention is read or refused as :func:`facelib.masks.load_mask` does, one whose hole ratio is outside
    its NVIDIA bin, e.g. an inverted one, is refused).
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
    return load_mask(path, size, nvidia_bin=True)


def rescored_bin(row: dict[str, Any], size: int) -> dict[str, Any]:
    """The row with a free-form case's ``bin`` measured on its mask drawn at ``size`` (the scored size).

    Irregular bins are NVIDIA's (fixed by the mask's number) and the centre square is 25% at every size, so
    only free-form rows change; a row of another size is returned as a copy, one of its own size as it is.
    """
    if row["mask_kind"] != "freeform" or int(row["size"]) == int(size):
        return row
    return {**row, "bin": ratio_bin(case_mask(row, size=size))}


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
        if size is None:
            sizes = {int(r["size"]) for r in select_cases(rows, kinds=kinds)}
            if len(sizes) != 1:
                raise ValueError(f"{source} mixes sizes {sorted(sizes)}: pass size=")
            size = sizes.pop()
        self.size = int(size)
        # A free-form stroke drawn at another size covers another share of the image, so its bin is recomputed
        # at the size that is scored, before per_bin picks cases by bin.
        rows = [rescored_bin(r, self.size) for r in rows]
        self.rows = select_cases(rows, per_bin=per_bin, limit=limit, kinds=kinds)
        if not self.rows:
            raise ValueError(f"no cases selected from {source} (kinds={kinds}, per_bin={per_bin}, limit={limit})")
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
