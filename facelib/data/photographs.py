"""Real photographs of faces that ship inside installed packages and may be redistributed, for showing trained
weights when no face dataset is configured (part of :mod:`facelib.data`).

The committed models were trained on real photographs (UTKFace); scoring them on the synthetic cartoon faces
would measure how they cope with drawings, not how they paint faces. So the sections of the notebooks that show
trained weights take :func:`faces_for_trained_models`: validation faces of the configured dataset, else these
photographs, with :data:`REAL_FACES_HINT` saying how to get the real lesson.

- the bundled crop of the NASA portrait of astronaut Eileen Collins (public domain; ``facelib/assets``, the same
  photograph as scikit-image's ``astronaut``, which is used instead when the bundled file is missing);
- matplotlib's ``grace_hopper.jpg`` sample (official U.S. Navy portrait of Grace Hopper, public domain).
"""
from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from PIL import Image
from torch import Tensor

__all__ = ["PHOTOGRAPHS", "REAL_FACES_HINT", "Photograph", "FaceSample", "photographs", "faces_for_trained_models",
           "faces_banner"]

ASSETS = Path(__file__).resolve().parents[1] / "assets"

#: How to get the real lesson (said once wherever the photographs stand in for a dataset).
REAL_FACES_HINT = ("The real lesson needs real faces: with internet, `python -m facelib.download data` "
                   "(facelib.data.download_celeba_hq: CelebA-HQ into data/celeba_hq), or a face folder such as "
                   "UTKFace in FACELIB_DATA (FACELIB_DATA=/path/to/faces).")


@dataclass(frozen=True)
class Photograph:
    """One photograph: how to open it (PIL image, any size), the face's box in it, and its credit line."""

    name: str
    credit: str
    open: Callable[[], Image.Image]
    box: tuple[int, int, int, int] | None = None  # (left, top, right, bottom) of a square around the face


def _astronaut() -> Image.Image:
    path = ASSETS / "astronaut_face.png"
    if path.is_file():
        return Image.open(path)
    from skimage import data  # the same NASA portrait, when the bundled crop is missing

    return Image.fromarray(data.astronaut()).crop((140, 14, 310, 184))


def _grace_hopper() -> Image.Image:
    from matplotlib.cbook import get_sample_data

    return Image.open(get_sample_data("grace_hopper.jpg", asfileobj=False))


#: The registry, in display order.
PHOTOGRAPHS: tuple[Photograph, ...] = (
    Photograph("astronaut", "astronaut Eileen Collins (NASA portrait, public domain; bundled in facelib/assets)",
               _astronaut),
    Photograph("grace_hopper", "Grace Hopper (U.S. Navy portrait, public domain; matplotlib's grace_hopper.jpg "
                               "sample)", _grace_hopper, box=(145, 105, 385, 345)),
)


def _to_tensor(img: Image.Image, size: int) -> Tensor:
    """RGB image -> (3, size, size) float32 in [-1, 1] (Lanczos resize; the box is already square)."""
    arr = np.asarray(img.convert("RGB").resize((size, size), Image.LANCZOS), dtype=np.float32)
    return torch.from_numpy(arr).permute(2, 0, 1) / 127.5 - 1


def photographs(size: int = 64) -> tuple[Tensor, list[str]]:
    """Every photograph of :data:`PHOTOGRAPHS` that can be opened here, cropped to its face.

    Returns:
        (images (N, 3, size, size) float32 in [-1, 1], their N credit lines).
    Raises:
        FileNotFoundError: none could be opened (the message says which package provides them).
    """
    images, credits = [], []
    for photo in PHOTOGRAPHS:
        try:
            img = photo.open()
        except (OSError, ImportError):
            continue  # an optional source that is not installed
        images.append(_to_tensor(img.crop(photo.box) if photo.box else img, size))
        credits.append(photo.credit)
    if not images:
        raise FileNotFoundError("no bundled photograph could be opened: restore facelib/assets/astronaut_face.png "
                                "(git checkout -- facelib/assets) or reinstall matplotlib")
    return torch.stack(images), credits


class FaceSample(NamedTuple):
    """Faces to show trained models: ``images`` (N, 3, size, size) in [-1, 1], one line saying what they are, and
    whether they are a face dataset's validation faces (False: the bundled photographs)."""

    images: Tensor
    note: str
    from_dataset: bool


def faces_for_trained_models(data: str | os.PathLike | None, size: int, n: int, seed: int = 0) -> FaceSample:
    """Up to ``n`` validation faces of the configured dataset (``resolve_faces``: ``data``, ``FACELIB_DATA``,
    ``data/``); when that is only the synthetic cartoon faces, the :func:`photographs` instead, because the
    committed models were trained on photographs and a cartoon would test another domain."""
    from .resolve import describe_dataset, resolve_faces
    from .synthetic import SyntheticFaces

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the synthetic-faces warning: replaced by the note below
        faces = resolve_faces(data, split="val", size=size, n_synthetic=max(n, 1), seed=seed)
    if isinstance(faces, SyntheticFaces):
        images, credits = photographs(size)
        note = (f"no real face dataset configured, so {len(images)} real photographs that ship with the installed "
                f"packages stand in: {'; '.join(credits)}. {REAL_FACES_HINT}")
        return FaceSample(images, note, False)
    count = min(n, len(faces))
    images = torch.stack([faces[i][0] for i in range(count)])
    return FaceSample(images, f"{count} validation faces of {describe_dataset(faces)}", True)


def faces_banner(data: str | os.PathLike | None = None) -> str:
    """The line ``python -m facelib.series run`` prints first: which faces the series will use, and, with only the
    synthetic cartoon faces, that the trained models are shown on the bundled photographs and how to get real faces."""
    from .resolve import describe_dataset, resolve_faces
    from .synthetic import SyntheticFaces

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        faces = resolve_faces(data, split="val", size=64, n_synthetic=1)
    if isinstance(faces, SyntheticFaces):
        return ("faces: the synthetic cartoon faces (drawn, not real; no face dataset configured). The notebooks train "
                "on them, and show the trained models on real photographs that ship with the installed packages. "
                + REAL_FACES_HINT)
    return f"faces: {describe_dataset(faces)}"
