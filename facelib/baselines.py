"""Classical (non-learned) inpainting with OpenCV, to compare the networks against.

* ``"telea"``: Telea 2004, "An Image Inpainting Technique Based on the Fast Marching Method" - fills the hole
  from its border inwards, each pixel a weighted average of its known neighbourhood.
* ``"ns"``: Bertalmio, Bertozzi & Sapiro 2001, "Navier-Stokes, Fluid Dynamics, and Image and Video Inpainting" -
  continues the image's isophotes (lines of equal brightness) into the hole.

Both diffuse what is around the hole: fine for scratches and thin strokes, blurry for a missing eye, which is
the point of the comparison with the learned generators. They take the same tensors as the generators
(images in [-1, 1], masks with 1 = hole) so evaluation code can swap them in.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
from torch import Tensor, nn

from .models import composite

__all__ = ["Baseline", "BASELINES", "opencv_inpaint", "OpenCVInpainter"]


@dataclass(frozen=True)
class Baseline:
    """One entry of :data:`BASELINES`: the ``cv2.inpaint`` flag and the method's label in tables and figures."""

    flag: int
    label: str


#: The OpenCV methods by name (``--baseline``), the classical baselines of every table and notebook 10.
BASELINES: dict[str, Baseline] = {"telea": Baseline(cv2.INPAINT_TELEA, "OpenCV telea"),
                                  "ns": Baseline(cv2.INPAINT_NS, "OpenCV ns")}


def _check(image: Tensor, mask: Tensor, method: str, radius: float) -> None:
    if method not in BASELINES:
        raise ValueError(f"opencv_inpaint: unknown method {method!r}; choose one of {', '.join(BASELINES)}")
    if radius <= 0:
        raise ValueError(f"opencv_inpaint: radius must be > 0 pixels, got {radius}")
    if image.dim() not in (3, 4) or image.shape[-3] != 3:
        raise ValueError(f"opencv_inpaint: expected image (3, H, W) or (N, 3, H, W), got {tuple(image.shape)}")
    expected = (*image.shape[:-3], 1, *image.shape[-2:])
    if tuple(mask.shape) != expected:
        raise ValueError(
            f"opencv_inpaint: mask shape {tuple(mask.shape)} does not match image {tuple(image.shape)}; "
            f"expected {expected} with 1 = hole"
        )
    if not torch.all((mask == 0) | (mask == 1)):
        raise ValueError("opencv_inpaint: mask values must be exactly 0 (known) or 1 (hole)")


@torch.no_grad()
def opencv_inpaint(image: Tensor, mask: Tensor, method: str = "telea", radius: float = 3) -> Tensor:
    """Inpaint with ``cv2.inpaint``.

    Args:
        image: (N, 3, H, W) or (3, H, W) in [-1, 1], RGB. Pixels under the hole are ignored (may be blanked).
        mask: (N, 1, H, W) or (1, H, W), values in {0, 1}, 1 = hole.
        method: ``"telea"`` or ``"ns"``.
        radius: neighbourhood radius in pixels that OpenCV considers around each hole pixel.

    Returns:
        Same shape, dtype and device as ``image``, in [-1, 1]. Known pixels are exactly those of ``image``
        (the 8-bit OpenCV result is used only inside the hole, so its rounding never touches them).
    """
    _check(image, mask, method, radius)
    batched = image.dim() == 4
    images = image if batched else image.unsqueeze(0)
    masks = mask if batched else mask.unsqueeze(0)

    # OpenCV wants 8-bit, HWC, BGR images and an 8-bit single-channel mask (non-zero = inpaint).
    pixels = ((images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    pixels = pixels.permute(0, 2, 3, 1).numpy()[..., ::-1]
    holes = (masks.detach().cpu()[:, 0] > 0.5).numpy().astype(np.uint8) * 255
    filled = np.stack(
        [
            cv2.inpaint(np.ascontiguousarray(p), h, float(radius), BASELINES[method].flag)
            for p, h in zip(pixels, holes)
        ]
    )
    result = torch.from_numpy(np.ascontiguousarray(filled[..., ::-1])).permute(0, 3, 1, 2)
    result = (result.float() / 127.5 - 1).to(device=image.device, dtype=image.dtype)
    masks = masks.to(dtype=image.dtype)
    out = composite(result, images, masks)
    return out if batched else out[0]


class OpenCVInpainter(nn.Module):
    """OpenCV inpainting behind the generator interface: ``inpainter(masked, mask) -> (N, 3, H, W)``.

    An ``nn.Module`` without parameters, so ``.eval()``, ``.train()`` and ``.to(device)`` are harmless no-ops
    and ``count_parameters`` gives 0; the output is on the input's device.

    Args:
        method: ``"telea"`` or ``"ns"``.
        radius: inpainting radius in pixels.
    """

    def __init__(self, method: str = "telea", radius: float = 3) -> None:
        super().__init__()
        if method not in BASELINES:
            raise ValueError(f"OpenCVInpainter: unknown method {method!r}; choose one of {', '.join(BASELINES)}")
        self.method = method
        self.radius = radius
        self.name = f"opencv_{method}"

    def forward(self, masked: Tensor, mask: Tensor) -> Tensor:
        """masked: (N, 3, H, W) in [-1, 1]; mask: (N, 1, H, W), 1 = hole -> (N, 3, H, W) in [-1, 1]."""
        return opencv_inpaint(masked, mask, self.method, self.radius)

    def extra_repr(self) -> str:
        return f"method={self.method!r}, radius={self.radius}"
