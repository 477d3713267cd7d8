"""Scoring: every method sees ``mask_image(image, mask)`` and the mask, its output is composited with the known
pixels, and the composite is scored against the face (:mod:`facelib.metrics`): one record per (method, case).
Images (N, 3, H, W) in [-1, 1], masks (N, 1, H, W) in {0, 1} (1 = hole)."""
from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader

from ..progress import tqdm
from .. import metrics as M
from ..models import composite, mask_image, supported_mask_kinds
from ..protocol import KINDS, Faces, ProtocolDataset
from ..vgg import feature_distance

__all__ = ["Method", "evaluate", "evaluate_methods", "supported_kinds"]

Method = Callable[[Tensor, Tensor], Tensor]


def supported_kinds(method: Method, size: int) -> tuple[str, ...]:
    """The mask kinds a method can be scored on at ``size``: all, or those the model says it fills
    (``("center",)`` for a Context Encoder; ``facelib.models.supported_mask_kinds``).

    Raises ValueError when a model cannot be scored at ``size`` (e.g. a Context Encoder built for another image
    size or another hole than the protocol's centre square, a quarter of the image).
    """
    kinds = supported_mask_kinds(method, size)
    return KINDS if kinds is None else tuple(k for k in KINDS if k in kinds)


@torch.no_grad()
def _score(pred: Tensor, image: Tensor, mask: Tensor, vgg: nn.Module | None,
           image_features: Sequence[Tensor] | None = None) -> dict[str, Tensor]:
    """Per-image metrics of composited predictions: {name: (N,) cpu float32}.

    ``image_features``: ``vgg(image)`` when already computed (the faces' features are the same for every method,
    so :func:`evaluate_methods` computes them once per batch); the distance is ``M.perceptual_distance``'s.
    """
    if vgg is None:
        perceptual = torch.full((pred.shape[0],), math.nan)
    elif image_features is None:
        perceptual = M.perceptual_distance(pred, image, vgg)
    else:
        perceptual = feature_distance(vgg(pred.float()), image_features, per_image=True)
    out = {
        "hole_psnr": M.psnr(pred, image, mask), "hole_l1": M.l1(pred, image, mask), "hole_l2": M.l2(pred, image, mask),
        "psnr": M.psnr(pred, image), "l1": M.l1(pred, image), "ssim": M.ssim(pred, image), "perceptual": perceptual,
    }
    return {k: v.float().cpu() for k, v in out.items()}


@torch.no_grad()
def evaluate_methods(methods: Mapping[str, Method], rows: Sequence[dict[str, Any]] | ProtocolDataset,
                     faces: Faces | None = None, masks_root: str | os.PathLike | None = None,
                     size: int | None = None, device: str | torch.device = "cpu", batch_size: int = 16,
                     vgg: nn.Module | None = None, per_bin: int | None = None, limit: int | None = None,
                     num_workers: int = 0, progress: bool = True,
                     observe: Callable[[str | None, list[int], Tensor], None] | None = None) -> list[dict[str, Any]]:
    """Score several methods on the same cases (each batch is loaded once and given to every method).

    Args:
        methods: display name -> ``f(masked (N, 3, H, W) in [-1, 1], mask (N, 1, H, W)) -> (N, 3, H, W)``
            (a generator, ``OpenCVInpainter``, a ``ContextEncoder``: scored on centre cases only).
        rows: manifest rows, or a ready :class:`ProtocolDataset` (then faces ... limit are ignored).
        faces, masks_root, size, per_bin, limit: see :class:`facelib.protocol.ProtocolDataset`.
        device: where the methods run (they are moved there and put in eval mode).
        vgg: a ``VGG19Features`` for the perceptual distance, or None (then ``perceptual`` is NaN).
        observe: called per batch as ``observe(None, case_ids, faces)`` and ``observe(name, case_ids, composite)``
            for each method (images in [-1, 1]): how ``facelib.realism.RealismCollector`` sees exactly the
            composited fills that the other metrics score.

    Returns:
        One dict per (method, case), methods in the given order, cases in manifest order: ``method``,
        ``case_id``, ``face``, ``kind``, ``mask_id``, ``bin``, ``hole_ratio`` and the floats of
        :data:`facelib.metrics.METRICS`.
    """
    if not methods:
        raise ValueError("no methods to evaluate: give a checkpoint or a baseline")
    if isinstance(rows, ProtocolDataset):
        dataset = rows
    else:
        if faces is None:
            raise ValueError("evaluate: faces (a folder or a face dataset) is required with manifest rows")
        dataset = ProtocolDataset(rows, faces, masks_root=masks_root, size=size, per_bin=per_bin, limit=limit)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    device = torch.device(device)
    kinds = {name: supported_kinds(m, dataset.size) for name, m in methods.items()}
    for m in methods.values():
        if isinstance(m, nn.Module):
            m.to(device).eval()
    if vgg is not None:
        vgg = vgg.to(device).eval()
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers)
    per_method: dict[str, list[dict[str, Any]]] = {name: [] for name in methods}
    for batch in tqdm(loader, desc=f"evaluating {len(methods)} method(s) on {len(dataset)} cases",
                      disable=not progress, unit="batch"):
        image, mask = batch["image"].to(device), batch["mask"].to(device)
        features = vgg(image.float()) if vgg is not None else None  # the faces' VGG features, shared by the methods
        if observe is not None:
            observe(None, [int(c) for c in batch["case_id"]], image)
        for name, method in methods.items():
            keep = [i for i, k in enumerate(batch["mask_kind"]) if k in kinds[name]]
            if not keep:
                continue
            idx = torch.tensor(keep, device=device)
            img, msk = image.index_select(0, idx), mask.index_select(0, idx)
            output = method(mask_image(img, msk), msk).float().clamp(-1, 1)
            pred = composite(output, img, msk)
            scores = _score(pred, img, msk, vgg, None if features is None else [f.index_select(0, idx) for f in features])
            if observe is not None:
                observe(name, [int(batch["case_id"][i]) for i in keep], pred)
            ratio = msk.flatten(1).mean(1).cpu()
            for j, i in enumerate(keep):
                per_method[name].append({
                    "method": name, "case_id": int(batch["case_id"][i]), "face": batch["face"][i],
                    "kind": batch["mask_kind"][i], "mask_id": int(batch["mask_id"][i]), "bin": batch["bin"][i],
                    "hole_ratio": float(ratio[j]), **{k: float(v[j]) for k, v in scores.items()}})
    records = [r for name in methods for r in per_method[name]]
    _check_hole_metrics(records)
    return records


def _check_hole_metrics(records: Sequence[dict[str, Any]]) -> None:
    """Refuse records whose hole metrics are NaN / inf: a case without hole pixels at the scored size (or an
    exact copy of the face) would otherwise be averaged into the tables as PSNR ``inf`` or NaN."""
    for r in records:
        bad = [k for k in ("hole_psnr", "hole_l1", "hole_l2") if not math.isfinite(r[k])]
        if bad:
            raise ValueError(
                f"case {r['case_id']} ({r['kind']} {r['bin']}, face {r['face']!r}) gives {bad[0]}={r[bad[0]]} for "
                f"{r['method']} (hole ratio {r['hole_ratio']:.4g} at this size): its mask has no hole there or the "
                "method copied the face; check the mask files (--masks) and the evaluation size (--size)")


def evaluate(method: Method, rows: Sequence[dict[str, Any]] | ProtocolDataset, faces: Faces | None = None,
             masks_root: str | os.PathLike | None = None, size: int | None = None,
             device: str | torch.device = "cpu", batch_size: int = 16, vgg: nn.Module | None = None,
             name: str = "method", **kwargs: Any) -> list[dict[str, Any]]:
    """Per-case records of one method (see :func:`evaluate_methods`, which this calls)."""
    return evaluate_methods({name: method}, rows, faces, masks_root, size, device, batch_size, vgg, **kwargs)
