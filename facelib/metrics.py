"""Per-image inpainting metrics and bootstrap confidence intervals.

Every metric takes facelib images, ``pred`` and ``target`` of shape (N, 3, H, W) with values in [-1, 1], and
refuses (ValueError, one line) images outside [-1, 1] beyond :data:`RANGE_TOLERANCE` (e.g. 0-255 images), NaN /
inf values and masks that are not binary. Images in [0, 1] lie inside [-1, 1]; they are refused when neither
``pred`` nor ``target`` has a value below 0 (no pixel darker than mid-grey in the whole batch, which faces in
[-1, 1] have: hair, eyes, shadows). Each metric returns one value per image, a float32 tensor of
shape (N,). Pixel metrics are computed on the [0, 1] scale (``(x + 1) / 2``), the scale papers report: an L1 of 0.05 is 5% of the intensity range (the Context Encoder
paper's "percent"), and PSNR uses a peak of 1.

* :func:`l1`, :func:`l2` (mean squared error), :func:`psnr`: over the whole image, or with ``mask``
  (N, 1, H, W), 1 = hole, over the **hole pixels only**. After compositing, the known pixels of a prediction
  equal the target, so whole-image numbers mix the method's work with free zeros and shrink with the hole;
  hole-only numbers measure just what the method painted. An image whose mask has no hole pixel gets NaN.
* :func:`ssim`: structural similarity over the whole image (torchmetrics, Gaussian window 11, sigma 1.5).
* :func:`perceptual_distance`: mean L1 distance of VGG19 feature maps (relu1_1 ... relu5_1 with the default
  :class:`facelib.vgg.VGG19Features`), averaged over layers; 0 for identical images.

Whole-image PSNR and SSIM come from ``torchmetrics.functional.image`` (``reduction="none"``: per image).
torchmetrics has no masked variants (its metrics reduce over whole axes), so the hole-only ones are written
here, in a few lines each: the same formulas restricted to the hole, ``sum(err * mask) / (3 * sum(mask))``.

:func:`bootstrap_ci` gives a seeded percentile-bootstrap interval of a mean; :func:`summarize` groups per-case
records (dicts, e.g. ``facelib.evaluate`` rows) and reports mean, 95% interval and count per group and metric.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure

from .vgg import vgg_feature_distance

__all__ = [
    "METRICS",
    "HIGHER_IS_BETTER",
    "l1",
    "l2",
    "psnr",
    "ssim",
    "perceptual_distance",
    "bootstrap_ci",
    "summarize",
]

#: The per-case metric names of ``facelib.evaluate`` records, in table order.
METRICS: tuple[str, ...] = ("hole_psnr", "hole_l1", "hole_l2", "psnr", "l1", "ssim", "perceptual")
#: Which direction is better, per metric (for ranking best / worst cases).
HIGHER_IS_BETTER: dict[str, bool] = {"hole_psnr": True, "hole_l1": False, "hole_l2": False, "psnr": True,
                                     "l1": False, "ssim": True, "perceptual": False}


#: How far outside [-1, 1] an image may stray (float rounding, bf16) before it is refused as mis-scaled.
RANGE_TOLERANCE = 1e-3


def _check_range(x: Tensor, name: str) -> None:
    """One clear line for images that are not facelib images in [-1, 1] (e.g. 0-255), or hold NaN / inf."""
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} holds NaN or inf values: metrics need finite images in [-1, 1] (check the "
                         "method's output, e.g. a diverged model)")
    lo, hi = float(x.min()), float(x.max())
    if lo < -1 - RANGE_TOLERANCE or hi > 1 + RANGE_TOLERANCE:
        raise ValueError(f"{name} has values in [{lo:.4g}, {hi:.4g}] but metrics take images in [-1, 1]: convert "
                         "0-255 images with x / 127.5 - 1 (and [0, 1] images with 2 * x - 1)")


def _check_mask(mask: Tensor) -> None:
    """One clear line for masks that are not binary (0 = known, 1 = hole)."""
    binary = (mask == 0) | (mask == 1)
    if not binary.all():
        bad = float(mask[~binary].flatten()[0])
        raise ValueError(f"mask holds values other than 0 and 1 (e.g. {bad:.4g}) but metrics take binary masks, "
                         "1 = hole: threshold it, e.g. (mask > 0.5).float() (or mask / 255 for 0/255 masks)")


def _check_pair(pred: Tensor, target: Tensor, mask: Tensor | None = None) -> None:
    if pred.dim() != 4 or pred.shape[1] != 3 or pred.shape != target.shape:
        raise ValueError(f"pred {tuple(pred.shape)} and target {tuple(target.shape)} must both be (N, 3, H, W) "
                         "images in [-1, 1]")
    if mask is not None and (mask.dim() != 4 or mask.shape[1] != 1 or mask.shape[0] != pred.shape[0]
                             or mask.shape[-2:] != pred.shape[-2:]):
        raise ValueError(f"mask {tuple(mask.shape)} must be (N, 1, H, W) matching the images "
                         f"{tuple(pred.shape)}, 1 = hole")
    # Scale and binarity: a 0-255 image would otherwise give e.g. a PSNR of 3 dB without a word.
    _check_range(pred, "pred")
    _check_range(target, "target")
    # [0, 1] images lie inside [-1, 1]; but a batch of faces in [-1, 1] has dark pixels (below 0, mid-grey), and
    # [0, 1] images never do: scored as [-1, 1] they would gain about 6 dB of PSNR without a word.
    if float(pred.min()) >= 0 and float(target.min()) >= 0:
        raise ValueError("pred and target have no value below 0 (mid-grey), as images in [0, 1] do, but metrics "
                         "take images in [-1, 1]: convert them with 2 * x - 1")
    if mask is not None:
        _check_mask(mask)


def _unit(x: Tensor) -> Tensor:
    """[-1, 1] -> [0, 1], float32 (metrics are never computed in bf16/fp16)."""
    return ((x.float() + 1) / 2).clamp(0, 1)


def _mean_error(err: Tensor, mask: Tensor | None) -> Tensor:
    """(N, 3, H, W) per-pixel error -> (N,) mean over all pixels, or over the hole pixels of ``mask``."""
    if mask is None:
        return err.flatten(1).mean(1)
    m = mask.float()
    hole = m.flatten(1).sum(1) * err.shape[1]  # every hole pixel counts once per colour channel
    total = (err * m).flatten(1).sum(1)
    return torch.where(hole > 0, total / hole.clamp_min(1), torch.full_like(total, math.nan))


@torch.no_grad()
def l1(pred: Tensor, target: Tensor, mask: Tensor | None = None) -> Tensor:
    """Mean absolute error on the [0, 1] scale: (N,), over the whole image or (with ``mask``) the hole only."""
    _check_pair(pred, target, mask)
    return _mean_error((_unit(pred) - _unit(target)).abs(), mask)


@torch.no_grad()
def l2(pred: Tensor, target: Tensor, mask: Tensor | None = None) -> Tensor:
    """Mean squared error on the [0, 1] scale: (N,), over the whole image or (with ``mask``) the hole only."""
    _check_pair(pred, target, mask)
    return _mean_error((_unit(pred) - _unit(target)) ** 2, mask)


@torch.no_grad()
def psnr(pred: Tensor, target: Tensor, mask: Tensor | None = None) -> Tensor:
    """Peak signal-to-noise ratio in dB on [0, 1] images (peak 1): (N,); ``inf`` for identical images.

    Without ``mask``: torchmetrics' ``peak_signal_noise_ratio`` per image. With ``mask``: ``10 log10(1 / MSE)``
    where the MSE runs over the hole pixels only (:func:`l2` with the mask).
    """
    _check_pair(pred, target, mask)
    if mask is None:
        return peak_signal_noise_ratio(_unit(pred), _unit(target), data_range=1.0, reduction="none",
                                       dim=(1, 2, 3))
    return -10 * torch.log10(l2(pred, target, mask))


@torch.no_grad()
def ssim(pred: Tensor, target: Tensor) -> Tensor:
    """Structural similarity (torchmetrics, Gaussian 11x11 window, sigma 1.5) on [0, 1] images: (N,) <= 1.

    The window needs images of at least 11x11 pixels.
    """
    _check_pair(pred, target)
    value = structural_similarity_index_measure(_unit(pred), _unit(target), data_range=1.0, reduction="none")
    return value.reshape(pred.shape[0])


@torch.no_grad()
def perceptual_distance(pred: Tensor, target: Tensor, vgg: torch.nn.Module) -> Tensor:
    """Per-image VGG19 feature distance: (N,) >= 0, 0 for identical images.

    ``vgg`` is a :class:`facelib.vgg.VGG19Features` (``weights="caffe"`` for reported numbers: the original
    VGG weights, whose features live on a 0-255 input scale). The distance is the mean absolute difference of
    each returned feature map, averaged over the layers: ``facelib.vgg.feature_distance``, the same distance
    the training's perceptual loss minimises.
    """
    _check_pair(pred, target)
    return vgg_feature_distance(pred.float(), target.float(), vgg).float()


def bootstrap_ci(values: Sequence[float] | np.ndarray | Tensor, n_boot: int = 1000, alpha: float = 0.05,
                 seed: int = 0) -> tuple[float, float, float]:
    """Mean and percentile-bootstrap ``1 - alpha`` confidence interval of the mean: ``(mean, lo, hi)``.

    Resample the values with replacement ``n_boot`` times (``numpy.random.default_rng(seed)``, so the interval
    is reproducible), take each resample's mean, and keep the ``alpha / 2`` and ``1 - alpha / 2`` quantiles.
    NaN values (e.g. a hole metric of a case without hole) are dropped first; no values give NaNs, one value
    a zero-width interval.
    """
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), e.g. 0.05 for a 95% interval, got {alpha}")
    v = values.detach().double().cpu().numpy() if isinstance(values, Tensor) else np.asarray(values, np.float64)
    v = v.reshape(-1)
    v = v[~np.isnan(v)]
    if v.size == 0:
        return math.nan, math.nan, math.nan
    mean = float(v.mean())
    if v.size == 1:
        return mean, mean, mean
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot)
    chunk = max(1, 2_000_000 // v.size)  # bound the (chunk, n) index matrix to ~16 MB
    for start in range(0, n_boot, chunk):
        stop = min(n_boot, start + chunk)
        means[start:stop] = v[rng.integers(0, v.size, size=(stop - start, v.size))].mean(1)
    lo, hi = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return mean, float(lo), float(hi)


def summarize(records: Iterable[Mapping[str, Any]], group_by: Sequence[str] = ("method", "bin"),
              metrics: Sequence[str] | None = None, n_boot: int = 1000, alpha: float = 0.05,
              seed: int = 0) -> list[dict[str, Any]]:
    """Mean and bootstrap interval per group and metric.

    Args:
        records: per-case dicts holding the ``group_by`` keys and numeric metric values.
        group_by: keys that define a group (e.g. ``("method", "kind", "bin")``).
        metrics: metric keys to summarise (default: those of :data:`METRICS` present in the first record).
        n_boot, alpha, seed: see :func:`bootstrap_ci` (every group uses the same seed).

    Returns:
        One dict per (group, metric), groups in first-seen order: the ``group_by`` keys, ``metric``, ``mean``,
        ``ci_lo``, ``ci_hi`` and ``n`` (number of non-NaN values).
    """
    records = list(records)
    if not records:
        return []
    if metrics is None:
        metrics = [m for m in METRICS if m in records[0]]
    groups: dict[tuple, list[Mapping[str, Any]]] = {}
    for r in records:
        missing = [k for k in group_by if k not in r]
        if missing:
            raise KeyError(f"record lacks the group key(s) {missing}: {dict(r)}")
        groups.setdefault(tuple(r[k] for k in group_by), []).append(r)
    rows = []
    for key, members in groups.items():
        for metric in metrics:
            values = np.array([float(r[metric]) for r in members if r.get(metric) is not None], np.float64)
            mean, lo, hi = bootstrap_ci(values, n_boot=n_boot, alpha=alpha, seed=seed)
            rows.append({**dict(zip(group_by, key)), "metric": metric, "mean": mean, "ci_lo": lo, "ci_hi": hi,
                         "n": int((~np.isnan(values)).sum())})
    return rows
