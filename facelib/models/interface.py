"""The one interface of every inpainting model: (masked image, mask) in, full image out.

    output = model(mask_image(image, mask), mask)     # (N, 3, H, W) in [-1, 1]
    result = composite(output, image, mask)           # the known pixels kept exactly

Conventions: images are float tensors (N, 3, H, W) in [-1, 1]; masks are (N, 1, H, W) in {0, 1} with
**1 = hole**.

Training needs a little more than the full image: which tensor the pixel loss compares, with which per-pixel
weights, and what a discriminator judges. A model answers that itself through :class:`InpaintingModel`
(``predictor()`` and ``views()``), so the training step never asks which model it trains. The plain
generators predict the whole image; the Context Encoder predicts its centre square and overrides both methods
(``facelib.models.context_encoder``).
"""
from __future__ import annotations

from typing import NamedTuple

from torch import Tensor, nn

__all__ = ["mask_image", "composite", "check_inputs", "InpaintingViews", "InpaintingModel",
           "supported_mask_kinds"]


def mask_image(image: Tensor, mask: Tensor) -> Tensor:
    """Blank out the hole of ``image``.

    Args:
        image: (N, 3, H, W) or (3, H, W) in [-1, 1].
        mask: (N, 1, H, W) or (1, H, W), 1 = hole, broadcastable to ``image``.

    Returns:
        ``image * (1 - mask)``: the known pixels, and 0 (mid-grey) in the hole.
    """
    return image * (1 - mask)


def composite(output: Tensor, image: Tensor, mask: Tensor) -> Tensor:
    """Keep the known pixels of ``image`` and take the hole from ``output``.

    This is how an inpainting result is shown and scored: the network is only trusted inside the hole.

    Args:
        output: generator output (N, 3, H, W) in [-1, 1] (or anything broadcastable, e.g. a colour).
        image: the original (or masked) image (N, 3, H, W) in [-1, 1].
        mask: (N, 1, H, W), 1 = hole.

    Returns:
        ``mask * output + (1 - mask) * image``, (N, 3, H, W). Where ``mask == 0`` the result equals ``image``
        exactly (multiplying by 1.0 and adding 0.0 is exact in floating point).
    """
    return mask * output + (1 - mask) * image


def check_inputs(masked: Tensor, mask: Tensor, multiple: int = 1, name: str = "generator") -> None:
    """Validate a ``(masked, mask)`` pair, raising ``ValueError`` with the shapes and the fix.

    Args:
        masked: (N, C, H, W) image batch.
        mask: (N, 1, H, W) mask batch.
        multiple: H and W must be divisible by this (the total downsampling factor of the model).
        name: model name used in the messages.
    """
    if masked.dim() != 4:
        raise ValueError(
            f"{name}: expected a batch (N, 3, H, W) for `masked`, got shape {tuple(masked.shape)}; "
            "add a batch dimension with image.unsqueeze(0)"
        )
    if mask.dim() != 4 or mask.shape[1] != 1:
        raise ValueError(
            f"{name}: expected `mask` of shape (N, 1, H, W), got {tuple(mask.shape)}; "
            "masks have one channel with 1 = hole (use mask.unsqueeze(0) for a single mask)"
        )
    n, _, h, w = masked.shape
    if mask.shape[0] != n or mask.shape[2:] != masked.shape[2:]:
        raise ValueError(
            f"{name}: mask shape {tuple(mask.shape)} does not match image shape {tuple(masked.shape)}; "
            f"expected ({n}, 1, {h}, {w})"
        )
    if h % multiple or w % multiple:
        raise ValueError(
            f"{name}: height and width must be divisible by {multiple} (the model downsamples by {multiple}), "
            f"got {h}x{w}; resize or crop to e.g. {h - h % multiple or multiple}x{w - w % multiple or multiple}"
        )


class InpaintingViews(NamedTuple):
    """What a training step needs from one forward pass (all on the batch's device).

    Attributes:
        output: the full image (N, 3, H, W) in [-1, 1], what ``model(masked, mask)`` returns.
        composite: ``output`` in the hole, the real image elsewhere (N, 3, H, W).
        pixel_pred, pixel_target: the pair the pixel loss compares (full images, or the Context Encoder's
            centre square and the real centre).
        pixel_weights: per-pixel weights of the pixel loss over ``pixel_pred`` (broadcastable), or None for
            the mask's hole / valid weighting (``facelib.losses.masked_pixel_loss``).
        fake, real: what a discriminator judges as generated and as real.
    """

    output: Tensor
    composite: Tensor
    pixel_pred: Tensor
    pixel_target: Tensor
    pixel_weights: Tensor | None
    fake: Tensor
    real: Tensor


class InpaintingModel:
    """Mixin of the inpainting generators: the defaults for a model that predicts the whole image.

    ``predictor()`` is the module whose forward gives the raw prediction (what ``torch.compile`` compiles);
    ``views(prediction, image, mask, masked)`` turns it into :class:`InpaintingViews`. A model that predicts
    less than the image (the Context Encoder) overrides both, so callers need not know which model they hold.
    """

    #: Mask kinds (``facelib.masks.MASK_NAMES``) the model can fill; None: any hole.
    mask_kinds: tuple[str, ...] | None = None

    def predictor(self) -> nn.Module:
        """The module computing the raw prediction from ``(masked, mask)``: here the model itself."""
        return self  # type: ignore[return-value]

    def views(self, prediction: Tensor, image: Tensor, mask: Tensor, masked: Tensor) -> InpaintingViews:
        """Training views of a whole-image prediction (N, 3, H, W): the discriminator sees the composite."""
        comp = composite(prediction, image, mask)
        return InpaintingViews(output=prediction, composite=comp, pixel_pred=prediction, pixel_target=image,
                               pixel_weights=None, fake=comp, real=image)

    def supported_mask_kinds(self, image_size: int) -> tuple[str, ...] | None:
        """The mask kinds this model can be scored on at ``image_size``; None: all of them."""
        return self.mask_kinds


def supported_mask_kinds(method: object, image_size: int) -> tuple[str, ...] | None:
    """Mask kinds ``method`` can be scored on (None: all). Any callable method works; models may restrict it.

    Raises:
        ValueError: the model cannot be scored at ``image_size`` at all (e.g. a Context Encoder built for
            another size).
    """
    ask = getattr(method, "supported_mask_kinds", None)
    return ask(image_size) if callable(ask) else None
