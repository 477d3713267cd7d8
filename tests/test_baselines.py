"""Tests for facelib.baselines (OpenCV Telea / Navier-Stokes inpainting behind the generator interface)."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from facelib.baselines import BASELINES, OpenCVInpainter, opencv_inpaint
from facelib.models import count_parameters, mask_image


def batch(n: int = 2, size: int = 32, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Smooth random images in [-1, 1] (not multiples of 1/127.5, so any 8-bit round trip would show) and
    a mask with a square hole plus a thin stroke."""
    g = torch.Generator().manual_seed(seed)
    image = F.interpolate(torch.rand(n, 3, 4, 4, generator=g) * 1.8 - 0.9, size=size, mode="bilinear")
    mask = torch.zeros(n, 1, size, size)
    mask[..., 8:18, 10:20] = 1
    mask[..., 24, 2:30] = 1
    return image, mask


@pytest.mark.parametrize("method", sorted(BASELINES))
def test_known_pixels_untouched_and_hole_filled(method):
    image, mask = batch()
    masked = mask_image(image, mask)
    out = opencv_inpaint(masked, mask, method=method)
    assert out.shape == image.shape and out.dtype == image.dtype
    known = mask.expand_as(image) == 0
    assert torch.equal(out[known], image[known])  # bit-exact, no 8-bit rounding
    hole = ~known
    assert (out[hole] != 0).any()  # the blank hole was filled
    assert out.min() >= -1 and out.max() <= 1
    # smooth images: diffusion from the border gets close to the truth, far closer than leaving it blank
    err_filled = (out[hole] - image[hole]).abs().mean()
    err_blank = image[hole].abs().mean()
    assert err_filled < 0.5 * err_blank


def test_ignores_hole_content():
    image, mask = batch()
    noisy = image + mask * torch.randn_like(image)  # garbage in the hole must not matter
    torch.testing.assert_close(opencv_inpaint(noisy.clamp(-1, 1), mask), opencv_inpaint(mask_image(image, mask), mask))


def test_telea_and_ns_differ():
    image, mask = batch()
    telea = opencv_inpaint(image, mask, "telea")
    ns = opencv_inpaint(image, mask, "ns")
    assert not torch.equal(telea, ns)


def test_single_image_and_batch_agree():
    image, mask = batch()
    single = opencv_inpaint(image[1], mask[1], "ns", radius=5)
    assert single.shape == (3, 32, 32)
    torch.testing.assert_close(single, opencv_inpaint(image, mask, "ns", radius=5)[1])


def test_bad_inputs():
    image, mask = batch()
    with pytest.raises(ValueError, match="telea, ns"):
        opencv_inpaint(image, mask, method="patchmatch")
    with pytest.raises(ValueError, match="does not match"):
        opencv_inpaint(image, mask[..., :16, :16])
    with pytest.raises(ValueError, match="does not match"):
        opencv_inpaint(image, mask.expand(2, 3, 32, 32))
    with pytest.raises(ValueError, match="0 .*or 1"):
        opencv_inpaint(image, mask * 0.5)
    with pytest.raises(ValueError, match="radius"):
        opencv_inpaint(image, mask, radius=0)
    with pytest.raises(ValueError, match=r"\(3, H, W\)"):
        opencv_inpaint(torch.zeros(2, 1, 32, 32), mask)
    with pytest.raises(ValueError, match="telea, ns"):
        OpenCVInpainter("fast")


def test_inpainter_behaves_like_a_generator():
    image, mask = batch()
    model = OpenCVInpainter("telea")
    assert model.eval() is model and model.to("cpu") is model and not model.training
    assert count_parameters(model) == 0
    masked = mask_image(image, mask)
    torch.testing.assert_close(model(masked, mask), opencv_inpaint(masked, mask, "telea"), rtol=0, atol=0)
    assert "telea" in repr(model) and model.name == "opencv_telea"
