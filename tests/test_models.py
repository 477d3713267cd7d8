"""Tests for facelib.models: shapes, ranges, parameter counts, the building blocks, and that every generator
can actually learn (a few Adam steps on a fixed batch). Small widths and 32x32 inputs keep this to seconds."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from facelib.models import (
    GENERATORS,
    MODELS,
    ChannelWiseFC,
    ContextEncoder,
    ContextEncoderDiscriminator,
    Decoder,
    Encoder,
    GatedConv2d,
    GatedInpaintingGenerator,
    GatedResidualBlock,
    GatedUpConv2d,
    InpaintingGenerator,
    PatchDiscriminator,
    ResidualBlock,
    build_generator,
    center_box,
    composite,
    count_parameters,
    crop_center,
    mask_image,
    parameter_table,
)

SMALL = dict(widths=(8, 16, 32), num_residual=1)
SMALL_CE = dict(image_size=32, base=8, bottleneck_channels=32)


def smooth_batch(n: int = 4, size: int = 32, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Fixed, learnable images (upsampled 4x4 noise) in [-1, 1] and a centre-square mask."""
    g = torch.Generator().manual_seed(seed)
    image = F.interpolate(torch.rand(n, 3, 4, 4, generator=g) * 2 - 1, size=size, mode="bilinear")
    mask = torch.zeros(n, 1, size, size)
    mask[..., size // 4 : 3 * size // 4, size // 4 : 3 * size // 4] = 1
    return image, mask


def small_model(name: str) -> nn.Module:
    """A small model of the registry entry ``name`` for 32x32 images (``ModelSpec.build``)."""
    return MODELS[name].build(32, SMALL["widths"], SMALL["num_residual"])


# --------------------------------------------------------------------------------------------- generator


def test_default_generator_parameter_count():
    g = InpaintingGenerator()
    n = count_parameters(g)
    assert 10_500_000 <= n <= 11_000_000
    assert n == 10_779_331  # the number stated in the docstrings
    assert parameter_table(g) == [("encoder", 668_800), ("residual", 9_445_376), ("decoder", 665_155)]
    assert sum(c for _, c in parameter_table(g)) == n


def test_encoder_downsamples_and_decoder_upsamples_by_four():
    x = torch.randn(2, 4, 32, 24)
    h = Encoder(4, (8, 16, 32))(x)
    assert h.shape == (2, 32, 8, 6)
    y = Decoder((32, 16, 8), 3)(h)
    assert y.shape == (2, 3, 32, 24)
    assert y.min() >= -1 and y.max() <= 1


def test_residual_block_shape_and_identity_when_zeroed():
    block = ResidualBlock(8).eval()
    x = torch.randn(2, 8, 10, 10)
    assert block(x).shape == x.shape
    with torch.no_grad():
        for m in block.modules():
            if isinstance(m, nn.Conv2d):
                m.weight.zero_()
    # A zero conv followed by (eval) BatchNorm with zero running mean gives beta = 0: the body outputs 0.
    torch.testing.assert_close(block(x), x, rtol=0, atol=0)


@pytest.mark.parametrize("name", ["generator", "gated"])
@pytest.mark.parametrize("size", [32, 64])
def test_generator_shape_and_range(name, size):
    torch.manual_seed(0)
    g = small_model(name)
    image, mask = smooth_batch(2, size)
    out = g(mask_image(image, mask) * 5, mask)  # exaggerated input must still map into [-1, 1]
    assert out.shape == (2, 3, size, size)
    assert out.dtype == torch.float32
    assert out.min() >= -1 and out.max() <= 1
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", ["generator", "gated"])
def test_generator_rejects_bad_shapes(name):
    g = small_model(name)
    with pytest.raises(ValueError, match="divisible by 4"):
        g(torch.zeros(1, 3, 30, 32), torch.zeros(1, 1, 30, 32))
    with pytest.raises(ValueError, match="does not match"):
        g(torch.zeros(1, 3, 32, 32), torch.zeros(1, 1, 16, 16))
    with pytest.raises(ValueError, match=r"\(N, 1, H, W\)"):
        g(torch.zeros(1, 3, 32, 32), torch.zeros(1, 3, 32, 32))
    with pytest.raises(ValueError, match="batch"):
        g(torch.zeros(3, 32, 32), torch.zeros(1, 32, 32))


def test_mask_image_and_composite_keep_known_pixels_exactly():
    torch.manual_seed(0)
    image = torch.rand(2, 3, 16, 16) * 2 - 1
    mask = (torch.rand(2, 1, 16, 16) > 0.5).float()
    output = torch.rand(2, 3, 16, 16) * 2 - 1
    known = mask.expand_as(image) == 0
    masked = mask_image(image, mask)
    assert torch.equal(masked[known], image[known])
    assert (masked[~known] == 0).all()
    result = composite(output, image, mask)
    assert torch.equal(result[known], image[known])
    assert torch.equal(result[~known], output[~known])


# GMCNN has no normalisation layer (as in its paper): at 2e-3 its ELU features blow up and its output freezes;
# at 5e-4 it needs more steps.
@pytest.mark.parametrize("name, lr, steps", [("generator", 2e-3, 30), ("gated", 2e-3, 30),
                                             ("context_encoder", 2e-3, 30), ("gmcnn", 5e-4, 60)])
def test_few_adam_steps_reduce_l1(name, lr, steps):
    torch.manual_seed(0)
    model = small_model(name)
    image, mask = smooth_batch()
    opt = torch.optim.Adam(model.parameters(), lr=lr, betas=(0.5, 0.999))
    losses = []
    masked = mask_image(image, mask)
    for _ in range(steps):
        views = model.views(model.predictor()(masked, mask), image, mask, masked)
        loss = F.l1_loss(views.pixel_pred, views.pixel_target)  # the whole image, or the CE's centre
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], losses


def test_registry_and_build_generator():
    assert set(GENERATORS) == {"generator", "gated", "context_encoder", "gmcnn"}
    assert GENERATORS == {name: spec.cls for name, spec in MODELS.items()}
    assert isinstance(build_generator("gated", **SMALL), GatedInpaintingGenerator)
    with pytest.raises(ValueError, match="generator, gated, context_encoder, gmcnn"):
        build_generator("unet")


def test_count_parameters_trainable_only():
    g = small_model("generator")
    total = count_parameters(g)
    for p in g.encoder.parameters():
        p.requires_grad_(False)
    frozen = count_parameters(g.encoder, trainable_only=False)
    assert frozen > 0
    assert count_parameters(g) == total - frozen
    assert count_parameters(g, trainable_only=False) == total


def test_parameter_table_counts_own_parameters():
    class WithOwn(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(torch.ones(5))
            self.body = nn.Linear(2, 3)

    assert parameter_table(WithOwn()) == [("body", 9), ("(own)", 5)]


# ------------------------------------------------------------------------------------------------- gated


def test_gated_conv_gate_strictly_in_unit_interval_and_exposed():
    torch.manual_seed(0)
    layer = GatedConv2d(4, 6, 3)
    x = torch.randn(2, 4, 12, 12) * 3
    out, gate = layer(x, return_gate=True)
    assert out.shape == gate.shape == (2, 6, 12, 12)
    assert (gate > 0).all() and (gate < 1).all()
    assert layer.last_gate is None  # recording is opt-in
    layer.record_gate = True
    layer(x)
    torch.testing.assert_close(layer.last_gate, gate.detach())
    # output really is features * gate: forcing the gate towards 0 silences the layer
    with torch.no_grad():
        layer.gate_conv.bias.fill_(-100.0)
        layer.gate_conv.weight.zero_()
    assert layer(x).abs().max() < 1e-30


def test_gated_layers_shapes():
    x = torch.randn(2, 8, 8, 8)
    assert GatedConv2d(8, 16, 4, stride=2)(x).shape == (2, 16, 4, 4)
    assert GatedConv2d(8, 16, 3, dilation=2)(x).shape == (2, 16, 8, 8)
    assert GatedUpConv2d(8, 4)(x).shape == (2, 4, 16, 16)
    assert GatedResidualBlock(8)(x).shape == x.shape


def test_gated_generator_parameter_count_and_gates():
    g = GatedInpaintingGenerator()
    n = count_parameters(g)
    assert n == 11_527_747  # stated in the docstrings: same scale as InpaintingGenerator
    assert abs(n - count_parameters(InpaintingGenerator())) / n < 0.1
    small = small_model("gated")
    image, mask = smooth_batch(2)
    out, gates = small(mask_image(image, mask), mask, return_gates=True)
    assert out.shape == image.shape
    assert list(gates)[:3] == ["encoder.0", "encoder.1", "encoder.2"]
    assert gates["encoder.0"].shape == (2, 8, 32, 32)
    assert all(((g > 0) & (g < 1)).all() for g in gates.values())
    assert all(layer.last_gate is None and not layer.record_gate for layer in small.gated_layers().values())


# --------------------------------------------------------------------------------------- context encoder


def test_center_box_and_crop_center():
    assert center_box(128, 64) == (32, 32, 64, 64)
    assert center_box(32, 16) == (8, 8, 16, 16)
    x = torch.arange(64.0).reshape(1, 1, 8, 8)
    torch.testing.assert_close(crop_center(x, 4), x[..., 2:6, 2:6])
    with pytest.raises(ValueError):
        crop_center(x, 10)
    with pytest.raises(ValueError):
        center_box(32, 64)


def test_context_encoder_default_architecture():
    ce = ContextEncoder()
    assert ce.hole_size == 64
    convs = [m for m in ce.encoder if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 64, 128, 256, 512]  # Pathak et al.'s encoder widths
    assert count_parameters(ce) == 5_973_827
    fc = ce.bottleneck[0]
    assert isinstance(fc, ChannelWiseFC)
    assert count_parameters(fc) == 512 * 16 * 16
    x = torch.zeros(1, 3, 128, 128)
    with torch.no_grad():
        assert ce.eval().encoder(x).shape == (1, 512, 4, 4)


def test_context_encoder_outputs_and_outside_equals_input():
    torch.manual_seed(0)
    ce = ContextEncoder(**SMALL_CE)
    image, _ = smooth_batch(2)
    mask = ce.center_mask().expand(2, 1, 32, 32)
    masked = mask_image(image, mask)
    center = ce.predict_center(masked, mask)
    assert center.shape == (2, 3, 16, 16)
    assert center.min() >= -1 and center.max() <= 1
    out = ce(masked, mask)
    assert out.shape == (2, 3, 32, 32)
    outside = mask.expand_as(out) == 0
    assert torch.equal(out[outside], masked[outside])
    torch.testing.assert_close(crop_center(out, 16), ce.predict_center(masked, mask))


def test_context_encoder_overlap():
    torch.manual_seed(0)
    ce = ContextEncoder(image_size=32, hole_size=16, base=8, bottleneck_channels=32, overlap=2).eval()
    assert ce.hole_box == (10, 10, 12, 12)
    assert ce.center_mask().sum() == 12 * 12
    weights = ce.center_loss_weights()
    assert weights.shape == (1, 1, 16, 16)
    assert weights.sum() == 12 * 12 * 1 + (16 * 16 - 12 * 12) * 10
    image, _ = smooth_batch(2)
    mask = ce.center_mask().expand(2, 1, 32, 32)
    masked = mask_image(image, mask)
    out = ce(masked, mask)
    outside = mask.expand_as(out) == 0  # includes the overlap band: known pixels stay untouched
    assert torch.equal(out[outside], masked[outside])
    torch.testing.assert_close(out[..., 10:22, 10:22], ce.predict_center(masked, mask)[..., 2:14, 2:14])


def test_channel_wise_fc_is_channel_wise():
    torch.manual_seed(0)
    fc = ChannelWiseFC(6, size=4)
    assert fc.weight.shape == (6, 16, 16)
    assert count_parameters(fc) == 6 * 16 * 16
    x = torch.randn(3, 6, 4, 4)
    y = fc(x)
    x2 = x.clone()
    x2[:, 2, 1, 3] += 1.0
    changed = (fc(x2) - y).abs().amax(dim=(0, 2, 3))
    assert changed[2] > 0
    assert (changed[[0, 1, 3, 4, 5]] == 0).all()
    # within a channel it is fully connected: one input position moves every output position
    assert ((fc(x2) - y)[:, 2].abs() > 0).all()
    # and it matches an explicit per-channel matrix product
    expected = torch.stack([x[:, c].reshape(3, 16) @ fc.weight[c] for c in range(6)], 1).reshape(3, 6, 4, 4)
    torch.testing.assert_close(y, expected)


def test_context_encoder_rejects_bad_configs_and_inputs():
    with pytest.raises(ValueError, match="power of two"):
        ContextEncoder(image_size=96)
    with pytest.raises(ValueError, match="power of two"):
        ContextEncoder(image_size=16)
    with pytest.raises(ValueError, match="hole_size"):
        ContextEncoder(image_size=64, hole_size=24)
    with pytest.raises(ValueError, match="overlap"):
        ContextEncoder(image_size=32, hole_size=16, overlap=8)
    ce = ContextEncoder(**SMALL_CE)
    with pytest.raises(ValueError, match="image_size"):
        ce(torch.zeros(1, 3, 64, 64), torch.zeros(1, 1, 64, 64))
    with pytest.raises(ValueError, match="does not match"):
        ce(torch.zeros(1, 3, 32, 32), torch.zeros(1, 1, 16, 16))


def test_context_encoder_discriminator():
    d = ContextEncoderDiscriminator(hole_size=16, base=8)
    assert d(torch.randn(3, 3, 16, 16)).shape == (3, 1)
    d64 = ContextEncoderDiscriminator()
    convs = [m for m in d64.net if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 128, 256, 512, 1]
    with pytest.raises(ValueError, match="crop_center"):
        d(torch.randn(1, 3, 32, 32))


# ---------------------------------------------------------------------------------------- discriminator


@pytest.mark.parametrize("size, grid", [(64, 6), (128, 14)])
def test_patch_discriminator_shapes(size, grid):
    d = PatchDiscriminator(base=8)
    assert d(torch.randn(2, 3, size, size)).shape == (2, 1, grid, grid)


def test_patch_discriminator_default_is_pix2pix_70x70():
    d = PatchDiscriminator()
    convs = [m for m in d.net if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 128, 256, 512, 1]
    assert [c.stride[0] for c in convs] == [2, 2, 2, 1, 1]
    assert count_parameters(d) == 2_765_633


def test_patch_discriminator_spectral_norm_and_mask_channel():
    torch.manual_seed(0)
    d = PatchDiscriminator(in_channels=4, base=8, spectral_norm=True)
    assert not any(isinstance(m, (nn.BatchNorm2d, nn.InstanceNorm2d)) for m in d.modules())
    convs = [m for m in d.modules() if isinstance(m, nn.Conv2d)]
    assert all(nn.utils.parametrize.is_parametrized(c, "weight") for c in convs)
    x = torch.randn(2, 4, 64, 64)
    for _ in range(5):  # power iteration converges; the effective weight then has spectral norm ~1
        d(x)
    w = convs[1].weight.flatten(1)
    assert torch.linalg.matrix_norm(w.detach(), ord=2).item() == pytest.approx(1.0, abs=0.1)
    assert d(x).shape == (2, 1, 6, 6)
    inst = PatchDiscriminator(base=8, norm="instance")
    assert any(isinstance(m, nn.InstanceNorm2d) for m in inst.modules())


def test_patch_discriminator_bad_inputs():
    with pytest.raises(ValueError, match="norm"):
        PatchDiscriminator(norm="layer")
    d = PatchDiscriminator(base=8)
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        d(torch.randn(1, 4, 64, 64))
    with pytest.raises(ValueError, match="too small"):
        d(torch.randn(1, 3, 16, 16))


# ------------------------------------------------------------------------------- the one interface (registry)
@pytest.mark.parametrize("name", list(MODELS))
def test_every_model_fills_the_whole_image_and_its_views_agree(name):
    """(masked, mask) in, full image out; ``views`` of the raw prediction give that same image, a composite
    that keeps the known pixels exactly, and a fake/real pair the model's own discriminator accepts."""
    spec = MODELS[name]
    model = spec.build(32, SMALL["widths"], SMALL["num_residual"]).eval()
    assert isinstance(model, spec.cls)
    image, mask = smooth_batch()
    masked = mask_image(image, mask)
    with torch.no_grad():
        output = model(masked, mask)
        views = model.views(model.predictor()(masked, mask), image, mask, masked)
    assert output.shape == image.shape
    assert torch.equal(views.output, output)
    known = (mask == 0).expand_as(image)
    assert torch.equal(views.composite[known], image[known])
    assert views.fake.shape == views.real.shape
    assert views.pixel_pred.shape == views.pixel_target.shape
    if views.pixel_weights is not None:
        assert views.pixel_weights.shape[-2:] == views.pixel_pred.shape[-2:]
    disc = spec.build_discriminator(32, 8, False)
    assert disc(views.fake).shape == disc(views.real).shape
    assert spec.mask_kinds is None or spec.default_mask in spec.mask_kinds
    assert model.supported_mask_kinds(32) == spec.mask_kinds


def test_context_encoder_supported_kinds_check_size_and_hole():
    ce = ContextEncoder(image_size=32, base=8, bottleneck_channels=32)
    assert ce.supported_mask_kinds(32) == ("center",)
    with pytest.raises(ValueError, match="built for 32x32"):
        ce.supported_mask_kinds(64)
    with pytest.raises(ValueError, match="hole_size/overlap"):
        ContextEncoder(image_size=32, base=8, bottleneck_channels=32, overlap=2).supported_mask_kinds(32)


@pytest.mark.parametrize("size", [32, 64, 128, 256])
def test_patch_discriminator_receptive_field_and_grid(size):
    """70x70 receptive field and jump 8 for the default stack, at every size; the grid matches forward()."""
    d = PatchDiscriminator(base=4)
    assert d.receptive_field() == (70, 8)
    assert d.output_size(size) == size // 8 - 2 == d(torch.zeros(1, 3, size, size)).shape[-1]
    # Measured: the centre logit's gradient reaches exactly a 70-pixel-wide square of a 256x256 input.
    if size == 256:
        d2 = PatchDiscriminator(base=4, norm="none")
        x = torch.randn(1, 3, size, size, requires_grad=True)
        out = d2(x)
        out[0, 0, out.shape[-2] // 2, out.shape[-1] // 2].backward()
        cols = (x.grad.abs().sum((0, 1, 2)) > 0).nonzero().flatten()
        assert int(cols.max() - cols.min() + 1) == 70
    assert PatchDiscriminator(base=4, num_layers=2).receptive_field() == (34, 4)
