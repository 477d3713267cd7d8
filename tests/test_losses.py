"""Tests for facelib.losses on small hand-made tensors whose values can be worked out by hand."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from facelib.losses import (
    ADVERSARIAL_KINDS,
    discriminator_loss,
    generator_adversarial_loss,
    gram_matrix,
    masked_pixel_loss,
    style_loss,
    total_variation_loss,
)


# ---------------------------------------------------------------------------------------------- pixel loss
def _two_pixel_example():
    # One image, one channel, 1x4: errors |o - t| = [1, 3, 2, 2]; the first two pixels are the hole.
    output = torch.tensor([[[[1.0, 3.0, 0.0, -2.0]]]])
    target = torch.zeros_like(output)
    mask = torch.tensor([[[[1.0, 1.0, 0.0, 0.0]]]])
    return output, target, mask


def test_masked_l1_hand_computed():
    output, target, mask = _two_pixel_example()
    # hole mean = (1 + 3) / 2 = 2, valid mean = (0 + 2) / 2 = 1
    assert masked_pixel_loss(output, target, mask).item() == pytest.approx(3.0)
    assert masked_pixel_loss(output, target, mask, hole_weight=6.0, valid_weight=1.0).item() == pytest.approx(13.0)
    assert masked_pixel_loss(output, target, mask, hole_weight=1.0, valid_weight=0.0).item() == pytest.approx(2.0)


def test_masked_l2_hand_computed():
    output, target, mask = _two_pixel_example()
    # hole mean = (1 + 9) / 2 = 5, valid mean = (0 + 4) / 2 = 2
    assert masked_pixel_loss(output, target, mask, kind="l2").item() == pytest.approx(7.0)


def test_masked_loss_relation_to_plain_l1_and_l2():
    g = torch.Generator().manual_seed(0)
    output, target = torch.rand(2, 3, 8, 8, generator=g) * 2 - 1, torch.rand(2, 3, 8, 8, generator=g) * 2 - 1
    mask = (torch.rand(2, 1, 8, 8, generator=g) < 0.3).float()
    r = mask.mean().item()
    ours = masked_pixel_loss(output, target, mask, hole_weight=r, valid_weight=1 - r)
    assert ours.item() == pytest.approx(F.l1_loss(output, target).item(), rel=1e-5)
    ours2 = masked_pixel_loss(output, target, mask, kind="l2", hole_weight=r, valid_weight=1 - r)
    assert ours2.item() == pytest.approx(F.mse_loss(output, target).item(), rel=1e-5)
    # With the default weights the (smaller) hole counts as much as the known region: not the plain L1.
    assert masked_pixel_loss(output, target, mask).item() != pytest.approx(F.l1_loss(output, target).item(), rel=1e-3)


def test_masked_loss_empty_hole_and_full_hole_are_finite():
    output, target = torch.ones(1, 3, 4, 4), torch.zeros(1, 3, 4, 4)
    no_hole = masked_pixel_loss(output, target, torch.zeros(1, 1, 4, 4), hole_weight=5.0)
    assert no_hole.item() == pytest.approx(1.0)  # only the valid term, no 0/0
    all_hole = masked_pixel_loss(output, target, torch.ones(1, 1, 4, 4), hole_weight=5.0)
    assert all_hole.item() == pytest.approx(5.0)


def test_masked_loss_gradient_only_where_weighted():
    output = torch.zeros(1, 3, 2, 2, requires_grad=True)
    target = torch.ones(1, 3, 2, 2)
    mask = torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]]])
    masked_pixel_loss(output, target, mask, valid_weight=0.0).backward()
    grad = output.grad.abs().sum(1)[0]
    assert grad[0, 0] > 0 and grad.flatten()[1:].abs().sum() == 0


def test_masked_loss_bad_mask_shape_and_kind():
    x = torch.zeros(2, 3, 8, 8)
    with pytest.raises(ValueError, match=r"mask must have shape \(N, 1, H, W\) = \(2, 1, 8, 8\)"):
        masked_pixel_loss(x, x, torch.zeros(2, 1, 4, 4))
    with pytest.raises(ValueError, match="mask must have shape"):
        masked_pixel_loss(x, x, torch.zeros(1, 8, 8))
    with pytest.raises(ValueError, match="differ in shape"):
        masked_pixel_loss(x, torch.zeros(2, 3, 4, 4), torch.zeros(2, 1, 8, 8))
    with pytest.raises(ValueError, match="l1, l2"):
        masked_pixel_loss(x, x, torch.zeros(2, 1, 8, 8), kind="huber")


# ---------------------------------------------------------------------------------------------- gram / style
def test_gram_matrix_hand_computed():
    # C=2, H=1, W=2: channel 0 = [1, 2], channel 1 = [3, 4]; normaliser C*H*W = 4.
    feat = torch.tensor([[[[1.0, 2.0]], [[3.0, 4.0]]]])
    expected = torch.tensor([[[1 + 4, 3 + 8], [3 + 8, 9 + 16]]]) / 4.0
    gram = gram_matrix(feat)
    assert gram.shape == (1, 2, 2) and gram.dtype == torch.float32
    torch.testing.assert_close(gram, expected)


def test_gram_matrix_is_symmetric_and_batched():
    feat = torch.randn(3, 5, 4, 6, generator=torch.Generator().manual_seed(1))
    gram = gram_matrix(feat)
    assert gram.shape == (3, 5, 5)
    torch.testing.assert_close(gram, gram.transpose(1, 2))
    torch.testing.assert_close(gram[2], feat[2].reshape(5, -1) @ feat[2].reshape(5, -1).T / (5 * 4 * 6))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        gram_matrix(torch.zeros(5, 4, 6))


def test_style_loss_hand_computed():
    a = [torch.tensor([[[[1.0, 2.0]], [[3.0, 4.0]]]]), torch.ones(1, 1, 2, 2)]
    b = [torch.zeros(1, 2, 1, 2), torch.ones(1, 1, 2, 2)]
    # layer 0: mean |G| = (5 + 11 + 11 + 25) / 4 / 4 = 3.25; layer 1: 0 -> mean over layers 1.625
    assert style_loss(a, b).item() == pytest.approx(1.625)
    # l2: mean G^2 = (25 + 121 + 121 + 625) / 16 / 4 = 13.9375 -> / 2 layers
    assert style_loss(a, b, kind="l2").item() == pytest.approx(13.9375 / 2)
    assert style_loss(a, a).item() == 0.0
    with pytest.raises(ValueError, match="equally long"):
        style_loss(a, b[:1])


# ---------------------------------------------------------------------------------------------- TV
def test_total_variation_hand_computed():
    x = torch.tensor([[[[0.0, 1.0, 3.0], [0.0, 0.0, 0.0]]]])  # (1, 1, 2, 3)
    # horizontal pairs |1-0|, |3-1|, 0, 0 -> mean 0.75; vertical pairs 0, 1, 3 -> mean 4/3
    assert total_variation_loss(x).item() == pytest.approx(0.75 + 4 / 3)
    assert total_variation_loss(torch.full((2, 3, 5, 5), 0.3)).item() == 0.0


def test_total_variation_mask_uses_dilated_hole_only():
    x = torch.zeros(1, 1, 7, 7)
    x[..., 0, 0] = 10.0  # far from the hole: must not count
    x[..., 3, 5] = 1.0  # just outside the hole at (3, 3), but inside its one-pixel dilation? no: 2 away
    mask = torch.zeros(1, 1, 7, 7)
    mask[..., 3, 3] = 1.0  # dilated region = rows 2..4, cols 2..4
    assert total_variation_loss(x, mask).item() == 0.0
    x[..., 3, 4] = 1.0  # inside the dilated region
    # dilated 3x3 block: horizontal pairs inside it 3 rows x 2 = 6, one of them (3,3)-(3,4) differs by 1;
    # vertical pairs 2 x 3 = 6, two of them ((2,4)-(3,4), (3,4)-(4,4)) differ by 1.
    assert total_variation_loss(x, mask).item() == pytest.approx(1 / 6 + 2 / 6)
    # all-ones mask = plain TV; empty mask = 0
    assert total_variation_loss(x, torch.ones_like(mask)).item() == pytest.approx(total_variation_loss(x).item())
    assert total_variation_loss(x, torch.zeros_like(mask)).item() == 0.0
    with pytest.raises(ValueError, match="mask must have shape"):
        total_variation_loss(x, torch.ones(1, 1, 6, 7))


# ---------------------------------------------------------------------------------------------- adversarial
def test_hinge_values():
    real, fake = torch.tensor([1.5, 2.0]), torch.tensor([-1.2, -3.0])
    assert discriminator_loss(real, fake, "hinge").item() == 0.0  # confident and correct: no loss
    # real 0.5 -> 0.5, real 2 -> 0 (mean 0.25); fake 0 -> 1, fake -3 -> 0 (mean 0.5)
    assert discriminator_loss(torch.tensor([0.5, 2.0]), torch.tensor([0.0, -3.0]), "hinge").item() == pytest.approx(0.75)
    assert generator_adversarial_loss(fake, "hinge").item() == pytest.approx(2.1)


def test_bce_values_match_torch_and_signs():
    g = torch.Generator().manual_seed(0)
    real, fake = torch.randn(2, 1, 4, 4, generator=g), torch.randn(2, 1, 4, 4, generator=g)
    expected = F.binary_cross_entropy_with_logits(real, torch.ones_like(real)) + F.binary_cross_entropy_with_logits(
        fake, torch.zeros_like(fake)
    )
    torch.testing.assert_close(discriminator_loss(real, fake, "bce"), expected)
    torch.testing.assert_close(
        generator_adversarial_loss(fake, "bce"), F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake))
    )
    assert discriminator_loss(torch.zeros(3), torch.zeros(3), "bce").item() == pytest.approx(2 * math.log(2))
    # A discriminator that is right has a lower loss than one that is wrong; the generator the opposite.
    good = discriminator_loss(torch.full((4,), 5.0), torch.full((4,), -5.0), "bce")
    bad = discriminator_loss(torch.full((4,), -5.0), torch.full((4,), 5.0), "bce")
    assert good.item() == pytest.approx(2 * math.log1p(math.exp(-5.0)))  # 0.0134
    assert bad.item() == pytest.approx(2 * math.log1p(math.exp(5.0)))  # 10.013
    assert generator_adversarial_loss(torch.full((4,), 5.0), "bce") < generator_adversarial_loss(torch.full((4,), -5.0), "bce")


def test_lsgan_values():
    real, fake = torch.tensor([1.0, 3.0]), torch.tensor([0.0, 2.0])
    # real: (0 + 4) / 2 = 2; fake: (0 + 4) / 2 = 2
    assert discriminator_loss(real, fake, "lsgan").item() == pytest.approx(4.0)
    assert discriminator_loss(torch.ones(3), torch.zeros(3), "lsgan").item() == 0.0
    assert generator_adversarial_loss(fake, "lsgan").item() == pytest.approx((1 + 1) / 2)


@pytest.mark.parametrize("kind", ADVERSARIAL_KINDS)
def test_adversarial_gradients_point_the_right_way(kind):
    # 0.5: inside every loss's active range (lsgan's fake^2 would have zero gradient at 0).
    fake = torch.full((4,), 0.5, requires_grad=True)
    generator_adversarial_loss(fake, kind).backward()
    assert (fake.grad < 0).all()  # the generator wants D to score its images higher
    real, fake_d = torch.full((4,), 0.5, requires_grad=True), torch.full((4,), 0.5, requires_grad=True)
    discriminator_loss(real, fake_d, kind).backward()
    assert (real.grad < 0).all() and (fake_d.grad > 0).all()


def test_adversarial_bf16_logits_give_float32():
    logits = torch.randn(2, 1, 3, 3).bfloat16()
    for kind in ADVERSARIAL_KINDS:
        assert discriminator_loss(logits, logits, kind).dtype == torch.float32
        assert generator_adversarial_loss(logits, kind).dtype == torch.float32


def test_unknown_adversarial_kind_lists_the_kinds():
    with pytest.raises(ValueError, match="bce, lsgan, hinge"):
        discriminator_loss(torch.zeros(1), torch.zeros(1), "wgan")
    with pytest.raises(ValueError, match="bce, lsgan, hinge"):
        generator_adversarial_loss(torch.zeros(1), "wgan")
