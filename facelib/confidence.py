"""The confidence-driven reconstruction weights of GMCNN (Wang et al., NeurIPS 2018, Sec. 3.2).

A pixel deep inside a hole has many plausible fills; a hole pixel next to the known border has few. A plain
L1 loss inside the hole asks the same certainty of both, which pushes the network towards the blurry average
in the middle. GMCNN weights the hole's pixel loss by a *confidence* that is propagated from the known pixels
inwards: start from 1 on the known pixels and 0 in the hole, blur with a Gaussian, keep the blurred values only
inside the hole, put the known pixels back to 1, and repeat (7 times in the paper)::

    c_0 = 1 - M,     c_{i+1} = (1 - M) + M * (g * c_i)        (M = mask, 1 = hole; g = Gaussian kernel)

The result is 1 outside the hole and decays with the distance from the hole's border (:func:`confidence_map`).

The kernel: the reference code blurs 256 px images with a 65x65 kernel whose ``sigma=1/40`` is measured in a
unit that makes it almost flat (its smallest tap is 0.9995 of its largest: a box filter). Here the blur is a
true Gaussian (the paper's wording) with the *standard deviation* of that box scaled to the image: a box of
width ``w`` has ``w / sqrt(12)``, so ``sigma = H * 65 / (256 * sqrt(12))`` (4.7 px at 64 px). With it, a 32x32
centre hole in a 64x64 image gets 0.835 on its border row and 0.472 in its centre, against 0.851 and 0.495
with the reference's kernel for the same geometry at 256 px (a 128x128 hole).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["SIGMA_PER_PIXEL", "gaussian_kernel1d", "confidence_map", "confidence_weights"]

#: Gaussian standard deviation per pixel of image side: the reference's 65-tap box at 256 px, as a std.
SIGMA_PER_PIXEL: float = 65 / (256 * math.sqrt(12))


def gaussian_kernel1d(sigma: float, device: torch.device | None = None) -> Tensor:
    """Normalised 1-D Gaussian taps (2r + 1,) with ``r = ceil(3 sigma)``; sums to 1."""
    if not sigma > 0:
        raise ValueError(f"gaussian_kernel1d: sigma must be > 0, got {sigma}")
    r = math.ceil(3 * sigma)
    x = torch.arange(-r, r + 1, dtype=torch.float32, device=device)
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def _blur(x: Tensor, g: Tensor) -> Tensor:
    """Separable Gaussian blur of (N, 1, H, W); replicate padding: beyond the image the map continues flat."""
    r = g.numel() // 2
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="replicate"), g.view(1, 1, 1, -1))
    return F.conv2d(F.pad(x, (0, 0, r, r), mode="replicate"), g.view(1, 1, -1, 1))


@torch.no_grad()
def confidence_map(mask: Tensor, sigma: float | None = None, iterations: int = 7) -> Tensor:
    """Confidence of each pixel: 1 on the known pixels, decaying from the hole's border into the hole.

    Args:
        mask: (N, 1, H, W) in {0, 1}, 1 = hole.
        sigma: Gaussian standard deviation in pixels (default ``SIGMA_PER_PIXEL * min(H, W)``).
        iterations: blur-and-reset rounds (7 in the paper); more rounds carry confidence deeper.

    Returns:
        (N, 1, H, W) float32 without gradient: exactly 1 where ``mask == 0``, in [0, 1) in the hole (0 only
        farther than ``iterations * ceil(3 sigma)`` pixels, the blurs' reach, from any known pixel; all 0 for a
        mask that is all hole).
    """
    if mask.dim() != 4 or mask.shape[1] != 1:
        raise ValueError(f"confidence_map: expected a mask (N, 1, H, W) with 1 = hole, got {tuple(mask.shape)}")
    if iterations < 1:
        raise ValueError(f"confidence_map: iterations must be >= 1, got {iterations}")
    # float32 even under autocast: a bf16 blur would round the slow decay into steps.
    with torch.autocast(mask.device.type, enabled=False):
        hole = mask.float()
        known = 1.0 - hole
        g = gaussian_kernel1d(sigma or SIGMA_PER_PIXEL * min(mask.shape[-2:]), device=mask.device)
        conf = known
        for _ in range(iterations):
            conf = known + hole * _blur(conf, g)
    return conf


@torch.no_grad()
def confidence_weights(mask: Tensor, sigma: float | None = None, iterations: int = 7) -> Tensor:
    """Per-pixel weights of the confidence-driven pixel loss, for ``facelib.losses.weighted_pixel_loss``.

    ``mean(weights * |output - target|)`` is the mean error of the known pixels plus the
    confidence-weighted mean error of the hole, each region averaged over its own pixels of the batch as in
    ``facelib.losses.masked_pixel_loss`` (the reference code divides the two terms by the same areas):
    ``weights = conf * M / mean(M) + (1 - M) / mean(1 - M)``. With a confidence of 1 everywhere it equals
    ``masked_pixel_loss`` with hole and valid weights 1.

    Args:
        mask: (N, 1, H, W) in {0, 1}, 1 = hole. sigma, iterations: as in :func:`confidence_map`.

    Returns:
        (N, 1, H, W) float32 without gradient (broadcasts over the channels).
    """
    conf = confidence_map(mask, sigma, iterations)
    hole = mask.float()
    pixels = hole[:, 0].numel()
    # clamp: an empty region contributes 0 instead of dividing by 0 (as masked_pixel_loss does).
    hole_share = hole.sum().clamp(min=1.0) / pixels
    known_share = (1.0 - hole).sum().clamp(min=1.0) / pixels
    return conf * hole / hole_share + (1.0 - hole) / known_share
