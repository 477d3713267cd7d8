"""facelib.metrics: values on hand-made tensors, agreement with torchmetrics, hole-only behaviour, bootstrap."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torchmetrics.image import PeakSignalNoiseRatio, StructuralSimilarityIndexMeasure
from torchmetrics.regression import MeanAbsoluteError

from facelib import metrics as M
from facelib.vgg import VGG19Features


def _images(n: int = 3, size: int = 24, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    target = torch.rand(n, 3, size, size, generator=g) * 2 - 1
    pred = (target + 0.3 * torch.randn(n, 3, size, size, generator=g)).clamp(-1, 1)
    return pred, target


def _half_mask(n: int, size: int) -> torch.Tensor:
    mask = torch.zeros(n, 1, size, size)
    mask[..., : size // 2, :] = 1  # top half is the hole
    return mask


def test_hand_made_values():
    target = -torch.ones(2, 3, 8, 8)  # 0 on the [0, 1] scale
    pred = torch.zeros(2, 3, 8, 8)  # 0.5
    assert torch.allclose(M.l1(pred, target), torch.full((2,), 0.5))
    assert torch.allclose(M.l2(pred, target), torch.full((2,), 0.25))
    assert torch.allclose(M.psnr(pred, target), torch.full((2,), 10 * math.log10(4)), atol=1e-4)
    assert torch.isinf(M.psnr(target, target)).all()


def test_hole_metrics_on_hand_made_mask():
    target = -torch.ones(1, 3, 8, 8)
    mask = _half_mask(1, 8)
    pred = target + 2 * 0.2 * mask  # +0.2 on the [0, 1] scale inside the hole only
    assert M.l1(pred, target, mask).item() == pytest.approx(0.2, abs=1e-6)
    assert M.l1(pred, target).item() == pytest.approx(0.1, abs=1e-6)  # half the pixels
    assert M.l2(pred, target, mask).item() == pytest.approx(0.04, abs=1e-6)
    assert M.psnr(pred, target, mask).item() == pytest.approx(10 * math.log10(1 / 0.04), abs=1e-3)


def test_hole_metrics_ignore_the_known_pixels():
    pred, target = _images()
    mask = _half_mask(3, 24)
    other = pred.clone()
    other[..., 12:, :] = torch.rand_like(other[..., 12:, :]) * 2 - 1  # change only outside the hole
    for fn in (M.l1, M.l2, M.psnr):
        assert torch.allclose(fn(pred, target, mask), fn(other, target, mask))
        assert not torch.allclose(fn(pred, target), fn(other, target))  # whole-image ones do see it


def test_empty_hole_gives_nan_and_shapes_are_checked():
    pred, target = _images(2)
    mask = torch.zeros(2, 1, 24, 24)
    mask[0, :, :4, :4] = 1
    values = M.l1(pred, target, mask)
    assert not math.isnan(values[0]) and math.isnan(values[1])
    with pytest.raises(ValueError, match="mask"):
        M.l1(pred, target, mask[:, :, :8])
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        M.psnr(pred[:, :1], target[:, :1])


def test_whole_image_metrics_agree_with_torchmetrics_modules():
    pred, target = _images(3, 32)
    p01, t01 = (pred + 1) / 2, (target + 1) / 2
    for i in range(3):
        psnr_mod = PeakSignalNoiseRatio(data_range=1.0)
        ssim_mod = StructuralSimilarityIndexMeasure(data_range=1.0)
        mae_mod = MeanAbsoluteError()
        assert M.psnr(pred, target)[i].item() == pytest.approx(psnr_mod(p01[i:i + 1], t01[i:i + 1]).item(), abs=1e-4)
        assert M.ssim(pred, target)[i].item() == pytest.approx(ssim_mod(p01[i:i + 1], t01[i:i + 1]).item(), abs=1e-5)
        assert M.l1(pred, target)[i].item() == pytest.approx(mae_mod(p01[i:i + 1], t01[i:i + 1]).item(), abs=1e-6)
    assert M.ssim(target, target).allclose(torch.ones(3))


def test_perceptual_distance_per_image():
    vgg = VGG19Features(layers=(1, 6), weights=None)
    pred, target = _images(2, 16)
    d = M.perceptual_distance(pred, target, vgg)
    assert d.shape == (2,) and (d > 0).all()
    assert torch.allclose(M.perceptual_distance(target, target, vgg), torch.zeros(2))
    # per image: the distance of image 0 does not depend on image 1
    assert M.perceptual_distance(pred[:1], target[:1], vgg).item() == pytest.approx(d[0].item(), rel=1e-4)


def test_bootstrap_ci_contains_mean_is_seeded_and_narrows():
    rng = np.random.default_rng(1)
    small, large = rng.normal(5, 2, 25), rng.normal(5, 2, 900)
    mean, lo, hi = M.bootstrap_ci(small, seed=3)
    assert lo < mean < hi and mean == pytest.approx(small.mean())
    assert M.bootstrap_ci(small, seed=3) == (mean, lo, hi)
    assert M.bootstrap_ci(small, seed=4) != (mean, lo, hi)
    _, lo2, hi2 = M.bootstrap_ci(large, seed=3)
    assert hi2 - lo2 < (hi - lo) / 3  # ~ 1 / sqrt(n): 6x fewer -> width / 6
    # percentile bootstrap of a mean ~ normal theory: half-width 1.96 * sd / sqrt(n)
    assert (hi2 - lo2) / 2 == pytest.approx(1.96 * large.std() / math.sqrt(large.size), rel=0.15)


def test_bootstrap_ci_edge_cases():
    assert M.bootstrap_ci([2.0]) == (2.0, 2.0, 2.0)
    assert all(math.isnan(v) for v in M.bootstrap_ci([]))
    assert M.bootstrap_ci(torch.tensor([1.0, float("nan"), 3.0]))[0] == pytest.approx(2.0)
    with pytest.raises(ValueError, match="alpha"):
        M.bootstrap_ci([1.0, 2.0], alpha=1.5)
    with pytest.raises(ValueError, match="n_boot"):
        M.bootstrap_ci([1.0, 2.0], n_boot=0)


def test_summarize_groups_and_counts():
    records = [{"method": m, "bin": b, "hole_l1": v, "ssim": 1 - v}
               for m in ("a", "b") for b in ("0-10%", "10-20%") for v in (0.1, 0.2, 0.3)]
    records.append({"method": "a", "bin": "0-10%", "hole_l1": float("nan"), "ssim": 0.5})
    rows = M.summarize(records, group_by=("method", "bin"), n_boot=200)
    assert len(rows) == 2 * 2 * 2  # methods x bins x metrics
    first = {r["metric"]: r for r in rows if r["method"] == "a" and r["bin"] == "0-10%"}
    assert first["hole_l1"]["n"] == 3 and first["hole_l1"]["mean"] == pytest.approx(0.2)
    assert first["ssim"]["n"] == 4
    assert first["hole_l1"]["ci_lo"] <= 0.2 <= first["hole_l1"]["ci_hi"]
    with pytest.raises(KeyError, match="kind"):
        M.summarize(records, group_by=("method", "kind"))
