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

One concept per module:

- ``errors``: :class:`CorruptImageError`, :class:`DatasetNotFoundError`;
- ``faces``: the shared names (``GENDERS``, ``IMAGE_EXTENSIONS``, ``UTKFACE_VAL_LIST``, ...), :func:`load_image`, the
  file-backed base class, :class:`ImageFolderFaces` and :func:`folder_split`;
- ``celeba_hq``: :class:`CelebAHQ`;
- ``utkface``: :class:`UTKFace`, its file-name labels and the committed validation split;
- ``synthetic``: :class:`SyntheticFaces`, :func:`draw_synthetic_face`;
- ``inpainting``: :class:`InpaintingDataset`;
- ``resolve``: :func:`resolve_faces`, :func:`detect_layout`, :func:`describe_dataset`.

The downloader (:mod:`facelib.download`) is re-exported here: it belongs to the data API.
"""
from __future__ import annotations

from facelib.download import (  # re-exported: the downloader belongs to the data API
    CELEBA_HQ_URL,
    ChecksumError,
    DownloadError,
    download_celeba_hq,
)

from .celeba_hq import CelebAHQ
from .errors import CorruptImageError, DatasetNotFoundError
from .faces import (
    FOLDER_SPLIT_SEED,
    GENDERS,
    IMAGE_EXTENSIONS,
    SPLITS,
    UTKFACE_URL,
    UTKFACE_VAL_LIST,
    ImageFolderFaces,
    folder_split,
    load_image,
)
from .inpainting import InpaintingDataset
from .resolve import SyntheticFacesWarning, describe_dataset, detect_layout, resolve_faces
from .synthetic import SyntheticFaces, draw_synthetic_face
from .utkface import UTKFACE_SPLIT_SEED, UTKFace, UTKFaceInfo, make_utkface_split, parse_utkface_name, read_split_file

__all__ = [
    "CELEBA_HQ_URL",
    "FOLDER_SPLIT_SEED",
    "GENDERS",
    "IMAGE_EXTENSIONS",
    "SPLITS",
    "SyntheticFacesWarning",
    "UTKFACE_SPLIT_SEED",
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
