"""One optimisation step: the discriminator, then the generator, readable in one place (``TrainStep.__call__``).

The model says what its losses compare (``InpaintingModel.views``: the full image for our generators, the
centre square for the Context Encoder), so the step has no branch on the model. Shared by ``train()`` and
``benchmarks/train_throughput.py``: the fast-path switches live in ``facelib.fast.FastPath``.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from ..fast import FastPath
from ..losses import (
    ADVERSARIAL_LOSSES,
    discriminator_loss,
    generator_adversarial_loss,
    masked_pixel_loss,
    style_loss,
    total_variation_loss,
    weighted_pixel_loss,
)
from ..models import InpaintingViews, mask_image
from ..vgg import feature_distance
from .config import TrainConfig

__all__ = ["TrainStep"]


class TrainStep:
    """One optimisation step (discriminator, then generator) and the validation losses.

    Args:
        config: the run's ``TrainConfig`` (losses and weights).
        fast: resolved fast-path settings (``facelib.fast.resolve_fast_path``).
        generator (an ``InpaintingModel``), discriminator (or None), vgg (or None): modules already on the
            device (``fast.prepare_module``).
        g_opt, d_opt (or None): their Adam optimisers. scaler: a ``torch.amp.GradScaler`` (enabled for fp16 only).
        mrf: the ID-MRF loss module (``facelib.idmrf.IDMRFLoss``) or None.

    Attributes:
        second_stage: whether the second-stage terms (the discriminator and its adversarial loss, ID-MRF) are on;
            ``Trainer`` sets it at each epoch from ``config.stage2_epoch`` (GMCNN trains on reconstruction first).

    ``__call__(image, mask)`` takes (N, 3, H, W) in [-1, 1] and (N, 1, H, W) in {0, 1} on the device and returns
    detached scalar losses on the device (no host synchronisation): ``pixel``, ``perceptual``, ``style``, ``tv``,
    ``total``, with ID-MRF ``mrf`` and, with a discriminator, ``d_loss``, ``g_adv``, ``d_real_acc``,
    ``d_fake_acc`` (the last two groups in the second stage only).
    """

    def __init__(self, config: TrainConfig, fast: FastPath, generator: nn.Module, discriminator: nn.Module | None,
                 vgg: nn.Module | None, g_opt: torch.optim.Optimizer, d_opt: torch.optim.Optimizer | None,
                 scaler: torch.amp.GradScaler, mrf: nn.Module | None = None) -> None:
        self.config, self.fast = config, fast
        self.generator, self.discriminator, self.vgg = generator, discriminator, vgg
        self.g_opt, self.d_opt, self.scaler = g_opt, d_opt, scaler
        self._g_eager = generator.predictor()  # type: ignore[operator]
        self._g_fwd = fast.compile_module(self._g_eager)
        self._d_fwd = fast.compile_module(discriminator) if discriminator is not None else None
        self._vgg_fwd = fast.compile_module(vgg) if vgg is not None else None
        self._d_threshold = ADVERSARIAL_LOSSES[config.adversarial].threshold if discriminator is not None else 0.0
        self._mrf_fwd = fast.compile_module(mrf) if mrf is not None else None
        self.second_stage = True

    # ------------------------------------------------------------------------------------------ losses
    def _forward(self, image: Tensor, mask: Tensor, g_fwd: Callable) -> InpaintingViews:
        """Generator forward and the model's views of it (output, composite, pixel pair, D's fake and real)."""
        masked = mask_image(image, mask)
        return self.generator.views(g_fwd(masked, mask), image, mask, masked)  # type: ignore[operator]

    def _reconstruction_losses(self, image: Tensor, mask: Tensor, views: InpaintingViews,
                               vgg_fwd: Callable | None) -> dict[str, Tensor]:
        c = self.config
        terms: dict[str, Tensor] = {}
        pred, target = views.pixel_pred.float(), views.pixel_target.float()
        if views.pixel_weights is None:
            terms["pixel"] = masked_pixel_loss(pred, target, mask, kind=c.pixel_loss, hole_weight=c.hole_weight,
                                               valid_weight=c.valid_weight)
        else:  # the model weights its own pixels (the Context Encoder's overlap band)
            terms["pixel"] = weighted_pixel_loss(pred, target, views.pixel_weights, kind=c.pixel_loss)
        if vgg_fwd is not None:
            out = views.output
            if self.fast.vgg_target_no_grad:
                # The real image's features are constants of the loss: one pass, no graph, no backward.
                with torch.no_grad():
                    feats_real = vgg_fwd(image)
                feats_out = vgg_fwd(out)
            else:
                # Naive: one VGG pass over both halves, so autograd also back-propagates through the real half.
                feats = vgg_fwd(torch.cat([out, image], dim=0))
                n = out.shape[0]
                feats_out, feats_real = [f[:n] for f in feats], [f[n:] for f in feats]
            terms["perceptual"] = feature_distance(feats_out, feats_real)
            if c.style_weight > 0:
                terms["style"] = style_loss(feats_out, feats_real)
        if c.tv_weight > 0:
            terms["tv"] = total_variation_loss(views.composite.float(), mask)
        return terms

    def _weighted_total(self, terms: dict[str, Tensor]) -> Tensor:
        c = self.config
        weights = {"pixel": c.pixel_weight, "perceptual": c.perceptual_weight, "style": c.style_weight,
                   "tv": c.tv_weight, "g_adv": c.adv_weight, "mrf": c.mrf_weight}
        return sum(weights[k] * v for k, v in terms.items() if k in weights)  # type: ignore[return-value]

    # -------------------------------------------------------------------------------------------- step
    def __call__(self, image: Tensor, mask: Tensor) -> dict[str, Tensor]:
        c, fast = self.config, self.fast
        if fast.compile_mode == "reduce-overhead":
            torch.compiler.cudagraph_mark_step_begin()
        image, mask = fast.prepare_input(image), fast.prepare_input(mask)
        logs: dict[str, Tensor] = {}
        d_fwd = self._d_fwd if self.second_stage else None
        mrf_fwd = self._mrf_fwd if self.second_stage else None
        with fast.autocast():
            views = self._forward(image, mask, self._g_fwd)

        if d_fwd is not None:
            # 1. Discriminator step on the detached fake: no gradient reaches the generator.
            with fast.autocast():
                real_logits = d_fwd(views.real)
                fake_logits = d_fwd(views.fake.detach())
                d_loss = discriminator_loss(real_logits.float(), fake_logits.float(), kind=c.adversarial)
            self.d_opt.zero_grad(set_to_none=True)  # type: ignore[union-attr]
            self.scaler.scale(d_loss).backward()
            self.scaler.step(self.d_opt)
            logs["d_loss"] = d_loss.detach()
            logs["d_real_acc"] = (real_logits.detach().float() > self._d_threshold).float().mean()
            logs["d_fake_acc"] = (fake_logits.detach().float() < self._d_threshold).float().mean()

        # 2. Generator step: reconstruction losses, plus the updated discriminator's judgement of the fake.
        with fast.autocast():
            terms = self._reconstruction_losses(image, mask, views, self._vgg_fwd)
            if mrf_fwd is not None:
                # On the composite: the known pixels are the real ones, so the hole's patches are what it judges.
                terms["mrf"] = mrf_fwd(views.composite, image)
            if d_fwd is not None:
                # The discriminator's own parameters also receive gradients here, which its next zero_grad
                # discards (cheaper than toggling requires_grad, which recompiles).
                terms["g_adv"] = generator_adversarial_loss(d_fwd(views.fake).float(), kind=c.adversarial)
            total = self._weighted_total(terms)
        self.g_opt.zero_grad(set_to_none=True)
        self.scaler.scale(total).backward()
        self.scaler.step(self.g_opt)
        self.scaler.update()
        logs.update({k: v.detach() for k, v in terms.items()})
        logs["total"] = total.detach()
        return logs

    @torch.no_grad()
    def evaluate(self, image: Tensor, mask: Tensor) -> tuple[dict[str, Tensor], Tensor]:
        """Validation losses (no adversarial term) and the output, with the eager modules in eval mode.

        Returns:
            (terms, output (N, 3, H, W) in [-1, 1]).
        """
        image, mask = self.fast.prepare_input(image), self.fast.prepare_input(mask)
        with self.fast.autocast():
            views = self._forward(image, mask, self._g_eager)
            terms = self._reconstruction_losses(image, mask, views, self.vgg)
        return {k: v.float() for k, v in terms.items()}, views.output.float()
