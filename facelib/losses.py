"""Loss functions for inpainting: masked pixel loss, style (Gram) loss, total variation, adversarial losses.

Conventions (``facelib.models.interface``): images (N, 3, H, W) in [-1, 1]; masks (N, 1, H, W) with 1 = hole (missing),
0 = known. Every loss returns a scalar float32 tensor (computed in float32 even under bf16 autocast, because
small differences of bf16 numbers lose most of their digits). The perceptual loss lives in
:mod:`facelib.vgg` next to the VGG19 it needs.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "PIXEL_KINDS",
    "ADVERSARIAL_KINDS",
    "ADVERSARIAL_LOSSES",
    "AdversarialLoss",
    "masked_pixel_loss",
    "weighted_pixel_loss",
    "gram_matrix",
    "style_loss",
    "total_variation_loss",
    "discriminator_loss",
    "generator_adversarial_loss",
]

PIXEL_KINDS: tuple[str, ...] = ("l1", "l2")


def _check_kind(kind: str, kinds: tuple[str, ...], what: str) -> None:
    if kind not in kinds:
        raise ValueError(f"Unknown {what} kind {kind!r}: choose one of {', '.join(kinds)}")


def _pixel_error(a: Tensor, b: Tensor, kind: str) -> Tensor:
    diff = a.float() - b.float()
    return diff.abs() if kind == "l1" else diff.square()


def _region_mean(error: Tensor, weight: Tensor) -> Tensor:
    """sum(weight * error) / sum(weight broadcast to error's shape); 0 when the region is empty."""
    weight = weight.expand_as(error)
    total = weight.sum()
    # clamp keeps the empty-region case finite (0 / 1 = 0) and differentiable.
    return (weight * error).sum() / total.clamp(min=1.0)


def masked_pixel_loss(
    output: Tensor,
    target: Tensor,
    mask: Tensor,
    kind: str = "l1",
    hole_weight: float = 1.0,
    valid_weight: float = 1.0,
) -> Tensor:
    """Pixel reconstruction loss with separate weights for the hole and the known region.

    ``loss = hole_weight * mean_{hole}(e) + valid_weight * mean_{valid}(e)`` where ``e = |output - target|``
    (``kind="l1"``) or ``(output - target)^2`` (``"l2"``), and each mean runs over all channels of all pixels
    of that region, pooled over the whole batch. An empty region (no hole, or no known pixel) contributes 0.

    Relation to plain L1/L2: with hole ratio ``r = mask.mean()``, ``F.l1_loss(output, target) =
    r * mean_hole + (1 - r) * mean_valid``, i.e. this loss with ``hole_weight=r, valid_weight=1-r``. With
    the default weights (1, 1) the hole counts as much as the (usually much larger) known region, whatever
    its size. Note Liu et al. 2018 (partial convolutions) divide both terms by the *total* pixel count
    instead, with weights 6 (hole) and 1 (valid); that equals ``hole_weight=6r, valid_weight=1-r`` here.

    Args:
        output, target: (N, C, H, W), any range (facelib images are in [-1, 1]).
        mask: (N, 1, H, W) or (N, C, H, W), 1 = hole, 0 = known (soft values act as weights).
        kind: ``"l1"`` or ``"l2"``.
        hole_weight, valid_weight: weights of the two region means.

    Returns:
        scalar float32 tensor.
    """
    _check_kind(kind, PIXEL_KINDS, "pixel loss")
    if output.shape != target.shape:
        raise ValueError(f"output {tuple(output.shape)} and target {tuple(target.shape)} differ in shape")
    if output.dim() != 4:
        raise ValueError(f"output must be (N, C, H, W), got shape {tuple(output.shape)}")
    n, c, h, w = output.shape
    if mask.dim() != 4 or mask.shape[0] != n or mask.shape[1] not in (1, c) or mask.shape[2:] != (h, w):
        raise ValueError(
            f"mask must have shape (N, 1, H, W) = ({n}, 1, {h}, {w}) to match output {tuple(output.shape)}, "
            f"got {tuple(mask.shape)} (1 = hole, 0 = known)"
        )
    error = _pixel_error(output, target, kind)
    mask = mask.float()
    return hole_weight * _region_mean(error, mask) + valid_weight * _region_mean(error, 1.0 - mask)


def weighted_pixel_loss(output: Tensor, target: Tensor, weights: Tensor, kind: str = "l1") -> Tensor:
    """``mean(weights * error)``: a pixel loss with given per-pixel weights (e.g. the Context Encoder's 10x
    overlap band, ``ContextEncoder.center_loss_weights``). ``weights`` broadcasts to ``output``; scalar float32."""
    _check_kind(kind, PIXEL_KINDS, "pixel loss")
    return (_pixel_error(output, target, kind) * weights).mean()


def gram_matrix(feat: Tensor) -> Tensor:
    """Gram matrix of feature maps, normalised by the number of elements.

    Args:
        feat: (N, C, H, W).

    Returns:
        (N, C, C) float32, ``G[n, i, j] = sum_{h,w} feat[n,i,h,w] * feat[n,j,h,w] / (C * H * W)``.
    """
    if feat.dim() != 4:
        raise ValueError(f"gram_matrix expects (N, C, H, W) features, got shape {tuple(feat.shape)}")
    n, c, h, w = feat.shape
    f = feat.float().reshape(n, c, h * w)
    return torch.bmm(f, f.transpose(1, 2)) / (c * h * w)


def style_loss(feats_a: Sequence[Tensor], feats_b: Sequence[Tensor], kind: str = "l1") -> Tensor:
    """Style loss (Gatys et al. 2016; L1 as in Liu et al. 2018): mean over layers of the mean Gram error.

    ``loss = mean_i mean(|G(a_i) - G(b_i)|)`` (``kind="l1"``) or with squared errors (``"l2"``).

    Args:
        feats_a, feats_b: equally long sequences of (N, C_i, H_i, W_i) feature maps, e.g. the outputs of
            :class:`facelib.vgg.VGG19Features` for the output and the target image.

    Returns:
        scalar float32 tensor.
    """
    _check_kind(kind, PIXEL_KINDS, "style loss")
    feats_a, feats_b = list(feats_a), list(feats_b)
    if len(feats_a) != len(feats_b) or not feats_a:
        raise ValueError(f"style_loss needs two equally long, non-empty lists, got {len(feats_a)} and {len(feats_b)}")
    terms = [_pixel_error(gram_matrix(a), gram_matrix(b), kind).mean() for a, b in zip(feats_a, feats_b)]
    return torch.stack(terms).mean()


def total_variation_loss(x: Tensor, mask: Tensor | None = None) -> Tensor:
    """Anisotropic total variation (mean absolute difference of neighbouring pixels).

    ``loss = mean_{pairs}|x[..., i, j+1] - x[..., i, j]| + mean_{pairs}|x[..., i+1, j] - x[..., i, j]|``.
    With a mask, only the pairs whose two pixels both lie in the hole region dilated by one pixel (3x3)
    count, as in Liu et al. 2018 (the seam between hole and known pixels is smoothed too); an empty region
    gives 0. An all-ones mask gives the same value as no mask.

    Args:
        x: (N, C, H, W).
        mask: optional (N, 1, H, W), 1 = hole.

    Returns:
        scalar float32 tensor.
    """
    if x.dim() != 4:
        raise ValueError(f"total_variation_loss expects (N, C, H, W), got shape {tuple(x.shape)}")
    x = x.float()
    dh = (x[..., :, 1:] - x[..., :, :-1]).abs()  # horizontal neighbours (N, C, H, W-1)
    dv = (x[..., 1:, :] - x[..., :-1, :]).abs()  # vertical neighbours   (N, C, H-1, W)
    if mask is None:
        return dh.mean() + dv.mean()
    if mask.dim() != 4 or mask.shape[0] != x.shape[0] or mask.shape[1] != 1 or mask.shape[2:] != x.shape[2:]:
        raise ValueError(
            f"mask must have shape ({x.shape[0]}, 1, {x.shape[2]}, {x.shape[3]}) to match x {tuple(x.shape)}, "
            f"got {tuple(mask.shape)}"
        )
    region = F.max_pool2d(mask.float(), kernel_size=3, stride=1, padding=1)  # 1-pixel dilation of the hole
    wh = region[..., :, 1:] * region[..., :, :-1]
    wv = region[..., 1:, :] * region[..., :-1, :]
    return _region_mean(dh, wh) + _region_mean(dv, wv)


class AdversarialLoss(NamedTuple):
    """One entry of :data:`ADVERSARIAL_LOSSES` (logits in, scalar float32 out).

    Attributes:
        discriminator: ``(real_logits, fake_logits) -> loss`` of the discriminator.
        generator: ``fake_logits -> loss`` of the generator.
        threshold: the logit that separates "real" from "fake" when counting the discriminator's accuracy.
    """

    discriminator: Callable[[Tensor, Tensor], Tensor]
    generator: Callable[[Tensor], Tensor]
    threshold: float


#: The adversarial losses by name (``--adversarial``; "none" means no discriminator).
ADVERSARIAL_LOSSES: dict[str, AdversarialLoss] = {
    # Goodfellow et al. 2014 (non-saturating generator loss): BCE-with-logits against 1 / 0.
    "bce": AdversarialLoss(lambda real, fake: F.softplus(-real).mean() + F.softplus(fake).mean(),
                           lambda fake: F.softplus(-fake).mean(), 0.0),
    # Mao et al. 2017: least squares to the targets 1 / 0, so the decision threshold is 0.5.
    "lsgan": AdversarialLoss(lambda real, fake: (real - 1.0).square().mean() + fake.square().mean(),
                             lambda fake: (fake - 1.0).square().mean(), 0.5),
    # Miyato et al. 2018.
    "hinge": AdversarialLoss(lambda real, fake: F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean(),
                             lambda fake: -fake.mean(), 0.0),
}
ADVERSARIAL_KINDS: tuple[str, ...] = tuple(ADVERSARIAL_LOSSES)


def discriminator_loss(real_logits: Tensor, fake_logits: Tensor, kind: str = "bce") -> Tensor:
    """Discriminator loss on raw logits (any shape, e.g. PatchGAN (N, 1, h, w)); lower is better for D.

    * ``"bce"``:   ``softplus(-real).mean() + softplus(fake).mean()``
      = BCE-with-logits(real, 1) + BCE-with-logits(fake, 0) (Goodfellow et al. 2014).
    * ``"lsgan"``: ``((real - 1)^2).mean() + (fake^2).mean()`` (Mao et al. 2017, targets 1/0; pix2pix
      halves this sum).
    * ``"hinge"``: ``relu(1 - real).mean() + relu(1 + fake).mean()`` (Miyato et al. 2018); zero once
      real >= 1 and fake <= -1.

    Returns:
        scalar float32 tensor. ``fake_logits`` should come from a detached generator output.
    """
    _check_kind(kind, ADVERSARIAL_KINDS, "adversarial loss")
    return ADVERSARIAL_LOSSES[kind].discriminator(real_logits.float(), fake_logits.float())


def generator_adversarial_loss(fake_logits: Tensor, kind: str = "bce") -> Tensor:
    """Generator's adversarial loss on the discriminator's logits for generated images.

    * ``"bce"``:   non-saturating ``softplus(-fake).mean()`` = BCE-with-logits(fake, 1).
    * ``"lsgan"``: ``((fake - 1)^2).mean()``.
    * ``"hinge"``: ``-fake.mean()``.

    Returns:
        scalar float32 tensor; gradients flow through ``fake_logits`` to the generator.
    """
    _check_kind(kind, ADVERSARIAL_KINDS, "adversarial loss")
    return ADVERSARIAL_LOSSES[kind].generator(fake_logits.float())
