"""The NVIDIA masks that the evaluation protocol scores on, which training leaves out.

The NVIDIA irregular masks available here are their *test* set, the same files the protocol's manifests
(``data/protocol/*.csv``, written by :mod:`facelib.protocol`) draw their irregular holes from. Training skips
those numbers (``TrainConfig.holdout_protocol_masks``, on by default), so a model is never scored on a hole it
trained on. This leaf reads the numbers from the manifests' ``mask_kind`` and ``mask_id`` columns; it sits
below both :mod:`facelib.protocol` and :mod:`facelib.train`, so training never imports the protocol.
"""
from __future__ import annotations

import csv
import os
from pathlib import Path

from .paths import PROTOCOL_DIR

__all__ = ["protocol_mask_ids"]


def protocol_mask_ids(folder: str | os.PathLike = PROTOCOL_DIR) -> frozenset[int]:
    """The NVIDIA mask numbers of the irregular cases of every manifest ``*.csv`` in ``folder``.

    Raises:
        ValueError: a manifest without the ``mask_kind`` / ``mask_id`` columns, or a number that is not one.
    """
    ids: set[int] = set()
    for path in sorted(Path(folder).glob("*.csv")):
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            if not {"mask_kind", "mask_id"} <= set(reader.fieldnames or ()):
                raise ValueError(f"manifest {path} lacks the mask_kind / mask_id columns; rebuild it with "
                                 "`python -m facelib.protocol build` or move it out of the folder")
            for line, row in enumerate(reader, start=2):
                if row["mask_kind"] != "irregular":
                    continue
                try:
                    ids.add(int(row["mask_id"]))
                except (TypeError, ValueError):
                    raise ValueError(f"manifest {path}, line {line}: mask_id {row['mask_id']!r} is not a number; "
                                     "rebuild it with `python -m facelib.protocol build`") from None
    return frozenset(ids)
