"""GMCNN (facelib.models.gmcnn), its confidence-driven weights (facelib.confidence), ID-MRF (facelib.idmrf) and its
two-stage training: shapes, sizes, the losses' defining properties, a tiny CPU run and an exact resume."""
from __future__ import annotations

import math

import pytest
import torch

from facelib.checkpoint import load_checkpoint
from facelib.confidence import confidence_map, confidence_weights
from facelib.idmrf import IDMRFLoss, id_mrf, nearest_patches
from facelib.losses import masked_pixel_loss, weighted_pixel_loss
from facelib.models import GMCNN, MODELS, GlobalLocalDiscriminator, count_parameters, hole_boxes, mask_image
from facelib.train import Trainer, TrainConfig, train


def centre_mask(n: int = 2, size: int = 64, hole: int = 32) -> torch.Tensor:
    mask = torch.zeros(n, 1, size, size)
    a = (size - hole) // 2
    mask[..., a:a + hole, a:a + hole] = 1
    return mask


# ------------------------------------------------------------------------------------------------- model
@pytest.mark.parametrize("size", [32, 64, 128])
def test_gmcnn_output_shape_and_range(size):
    model = MODELS["gmcnn"].build(size, (8, 16, 32), 0).eval()
    image = torch.rand(2, 3, size, size) * 2 - 1
    mask = centre_mask(2, size, size // 2)
    with torch.no_grad():
        out = model(mask_image(image, mask), mask)
    assert out.shape == image.shape
    assert out.min() >= -1 and out.max() <= 1
    feats = model.column_features(mask_image(image, mask), mask)
    assert [f.shape[1] for f in feats] == [32, 16, 8] and all(f.shape[-2:] == (size, size) for f in feats)


def test_gmcnn_default_size_and_dilations():
    model = GMCNN()
    assert count_parameters(model) == 4_689_651  # "a few million"
    # Kernels 7, 5, 3; each dilation capped so that (k - 1) * d <= 16, the side of a 64 px image's bottleneck.
    assert [(c.kernel_size, c.dilations) for c in model.columns] == [(7, (2, 2, 2)), (5, (2, 4, 4)), (3, (2, 4, 8))]


def test_gmcnn_rejects_images_smaller_than_its_bottleneck():
    model = GMCNN(widths=(8, 16, 32))  # fitted to a 16x16 bottleneck: 64 px and up
    x = torch.zeros(1, 3, 32, 32)
    with pytest.raises(ValueError, match="bottleneck_size=8"):
        model(x, torch.zeros(1, 1, 32, 32))


def test_hole_boxes_cover_the_hole_and_stay_inside():
    mask = torch.zeros(3, 1, 64, 64)
    mask[0, :, 2:10, 50:60] = 1  # near the top-right corner: the box is moved inside
    mask[1, :, 20:40, 24:34] = 1
    corners = hole_boxes(mask, 32)
    assert corners.tolist() == [[0, 32], [14, 13], [16, 16]]  # the empty mask: the centre
    for (top, left), m in zip(corners.tolist(), mask[:2]):
        rows, cols = m[0].nonzero(as_tuple=True)
        assert top <= rows.min() and rows.max() < top + 32 and left <= cols.min() and cols.max() < left + 32


@pytest.mark.parametrize("size", [32, 64, 128])
def test_global_local_discriminator_shapes_and_crops(size):
    d = GlobalLocalDiscriminator(size, base=8, spectral_norm=True)
    image = torch.rand(2, 3, size, size) * 2 - 1
    mask = torch.zeros(2, 1, size, size)
    mask[0, :, 1:5, 1:5] = 1
    logits = d(torch.cat([image, mask], 1))
    assert logits.shape == (2, 2)  # (global, local) per image
    crops = d.local_crops(image, mask)
    assert crops.shape == (2, 3, size // 2, size // 2)
    assert torch.equal(crops[0], image[0, :, : size // 2, : size // 2])
    with pytest.raises(ValueError, match="4th channel"):
        d(image)


# -------------------------------------------------------------------------------------------- confidence
def test_confidence_is_one_outside_the_hole_and_decays_inward():
    mask = centre_mask()
    conf = confidence_map(mask)
    assert torch.equal(conf[mask == 0], torch.ones_like(conf[mask == 0]))
    inside = conf[mask == 1]
    assert inside.min() > 0 and inside.max() < 1
    # Along a middle row, from the hole's left border (column 16) to its centre (31-32): strictly decreasing.
    row = conf[0, 0, 32, 16:32]
    assert (row[1:] < row[:-1]).all(), row
    # Monotone in the distance from the border: the mean confidence of each square ring of the hole falls.
    def ring(r: int) -> torch.Tensor:
        outer, inner = torch.zeros(64, 64, dtype=torch.bool), torch.zeros(64, 64, dtype=torch.bool)
        outer[16 + r:48 - r, 16 + r:48 - r] = True
        inner[17 + r:47 - r, 17 + r:47 - r] = True
        return conf[0, 0][outer & ~inner].mean()

    rings = [float(ring(r)) for r in range(16)]
    assert all(b < a for a, b in zip(rings, rings[1:])), rings
    # More blur rounds carry confidence deeper into the hole.
    assert confidence_map(mask, iterations=14)[0, 0, 32, 32] > conf[0, 0, 32, 32]


def test_confidence_edge_cases():
    assert torch.equal(confidence_map(torch.zeros(1, 1, 16, 16)), torch.ones(1, 1, 16, 16))
    assert torch.equal(confidence_map(torch.ones(1, 1, 16, 16)), torch.zeros(1, 1, 16, 16))
    with pytest.raises(ValueError, match="1 = hole"):
        confidence_map(torch.zeros(1, 3, 16, 16))


def test_confidence_weights_average_each_region_over_its_own_pixels():
    torch.manual_seed(0)
    mask = centre_mask()
    mask[1] = 0
    mask[1, :, 5:20, 40:60] = 1
    pred, target = torch.rand(2, 3, 64, 64), torch.rand(2, 3, 64, 64)
    error = (pred - target).abs()
    conf = confidence_map(mask).expand_as(error)
    hole = mask.expand_as(error) > 0
    expected = (conf[hole] * error[hole]).sum() / hole.sum() + error[~hole].mean()
    got = weighted_pixel_loss(pred, target, confidence_weights(mask))
    assert torch.allclose(got, expected, rtol=1e-5)
    # Without a hole it is masked_pixel_loss (= plain L1).
    none = torch.zeros_like(mask)
    assert torch.allclose(weighted_pixel_loss(pred, target, confidence_weights(none)),
                          masked_pixel_loss(pred, target, none), rtol=1e-6)


# ------------------------------------------------------------------------------------------------ ID-MRF
def test_id_mrf_is_zero_for_identical_features_and_ignores_positions():
    torch.manual_seed(0)
    real = torch.relu(torch.randn(2, 64, 8, 8))
    assert id_mrf(real, real).abs().max() < 1e-6
    shuffled = real.flatten(2)[:, :, torch.randperm(64)].view_as(real)
    assert id_mrf(shuffled, real).abs().max() < 1e-6  # a set of patches: where a patch sits does not matter
    assert (nearest_patches(real, real) == torch.arange(64)).all()


def test_id_mrf_grows_as_patches_lose_their_nearest_neighbours():
    """Replace more and more generated patches by copies of one patch: the real patches they stood for lose
    their match, and the loss grows at every step (to -log(1/64) when a single patch is left)."""
    torch.manual_seed(0)
    real = torch.relu(torch.randn(2, 64, 8, 8))
    flat = real.flatten(2)
    losses = []
    for k in range(0, 64, 8):
        gen = flat.clone()
        gen[:, :, :k] = flat[:, :, 63:64]
        losses.append(float(id_mrf(gen.view_as(real), real).mean()))
    assert all(b > a + 0.05 for a, b in zip(losses, losses[1:])), losses
    collapsed = flat[:, :, :1].expand_as(flat).reshape_as(real)
    assert math.isclose(float(id_mrf(collapsed, real).mean()), math.log(64), rel_tol=1e-3)


def test_id_mrf_loss_on_images_is_float32_and_differentiable():
    torch.manual_seed(0)
    loss = IDMRFLoss(weights=None)  # random VGG: the property, not the values, matters here
    real = torch.rand(2, 3, 32, 32) * 2 - 1
    assert float(loss(real, real)) < 1e-4
    fake = (real + 0.5 * torch.randn_like(real)).clamp(-1, 1).requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        value = loss(fake, real)
    assert value.dtype == torch.float32 and value > 0.01
    value.backward()
    assert fake.grad is not None and fake.grad.abs().sum() > 0


# -------------------------------------------------------------------------------------------- training
def tiny(out_dir, **overrides) -> TrainConfig:
    """The gmcnn preset at 32x32 on 8 synthetic faces: 2 steps per epoch, the second stage from epoch 1."""
    kw = dict(data="synthetic", image_size=32, n_synthetic=8, max_val_images=4, widths=(8, 16, 32), batch_size=4,
              epochs=2, vgg_weights=None, masks="rectangles", d_base=8, device="cpu", out_dir=str(out_dir),
              checkpoint_every=1, log_every=1, stage2_epoch=1)
    kw.update(overrides)
    return TrainConfig.preset("gmcnn", **kw)


def last(out_dir) -> dict:
    return load_checkpoint(out_dir / "checkpoints" / "last.pt", map_location="cpu")


def test_gmcnn_trains_in_two_stages(tmp_path):
    critic = Trainer(tiny(tmp_path / "run"), progress=False).discriminator
    d_start = {k: v.clone() for k, v in critic.state_dict().items()}
    rows = train(tiny(tmp_path / "run"), progress=False, figures=False)["history"]
    first, second = rows
    # Stage 1: reconstruction only; stage 2: + 0.05 ID-MRF + 0.001 adversarial (the preset's weights).
    assert first["train_mrf"] is None and first["train_d_loss"] is None and first["train_g_adv"] is None
    assert math.isclose(first["train_total"], first["train_pixel"], rel_tol=1e-6)
    assert second["train_mrf"] > 0 and math.isfinite(second["train_d_loss"])
    expected = second["train_pixel"] + 0.05 * second["train_mrf"] + 0.001 * second["train_g_adv"]
    assert math.isclose(second["train_total"], expected, rel_tol=1e-5)
    ckpt = last(tmp_path / "run")
    assert ckpt["global_step"] == 4
    assert any(not torch.equal(d_start[k], ckpt["discriminator"][k]) for k in d_start)


def test_gmcnn_stage_one_leaves_the_critics_alone(tmp_path):
    cfg = tiny(tmp_path / "run", max_steps=2)  # exactly the first epoch
    d_start = {k: v.clone() for k, v in Trainer(cfg, progress=False).discriminator.state_dict().items()}
    train(cfg, progress=False, figures=False)
    ckpt = last(tmp_path / "run")
    assert ckpt["global_step"] == 2 and ckpt["d_opt"]["state"] == {}
    assert all(torch.equal(d_start[k], ckpt["discriminator"][k]) for k in d_start)


@pytest.mark.parametrize("stop", [1, 3], ids=["in-stage-1", "in-stage-2"])
def test_gmcnn_resume_is_bit_identical(tmp_path, stop):
    train(tiny(tmp_path / "a"), progress=False, figures=False)
    train(tiny(tmp_path / "b", max_steps=stop), progress=False, figures=False)
    train(tiny(tmp_path / "b", resume=True), progress=False, figures=False)
    a, b = last(tmp_path / "a"), last(tmp_path / "b")
    assert a["global_step"] == b["global_step"] == 4
    for part in ("generator", "discriminator"):
        for k in a[part]:
            assert torch.equal(a[part][k], b[part][k]), (part, k)
