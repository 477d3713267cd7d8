"""Everything a run trains with, built from a ``TrainConfig``: models, optimisers, the mask generator.

The models come from the registry (``facelib.models.MODELS``), so nothing here knows one model from another.
Construction order is fixed (generator, discriminator, VGG, ID-MRF's VGG) and follows one
``torch.manual_seed(config.seed)``, so the initial weights are a function of the config.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..fast import FastPath
from ..idmrf import IDMRFLoss
from ..mask_holdout import protocol_mask_ids
from ..masks import MaskGenerator, make_masks
from ..models import MODELS
from ..vgg import VGG19Features
from .config import TrainConfig

__all__ = ["Models", "build_generator", "build_discriminator", "build_vgg", "build_mrf", "build_models", "build_masks"]


def build_generator(config: TrainConfig) -> nn.Module:
    """The generator of ``config.model`` with the config's sizes (``ModelSpec.build``)."""
    return MODELS[config.model].build(config.image_size, config.widths, config.num_residual)


def build_discriminator(config: TrainConfig) -> nn.Module | None:
    """The model's discriminator (``ModelSpec.build_discriminator``), or None when ``adversarial="none"``."""
    if config.adversarial == "none":
        return None
    return MODELS[config.model].build_discriminator(config.image_size, config.d_base, config.spectral_norm)


def build_vgg(config: TrainConfig) -> nn.Module | None:
    """The frozen VGG19 feature extractor of the perceptual and style losses, or None when both are off."""
    if not config.uses_vgg:
        return None
    return VGG19Features(layers=config.perceptual_layers, weights=config.vgg_weights)


def build_mrf(config: TrainConfig) -> nn.Module | None:
    """The ID-MRF loss (``facelib.idmrf.IDMRFLoss``, its own frozen VGG19 up to relu4_2), or None when
    ``mrf_weight`` is 0."""
    return IDMRFLoss(weights=config.vgg_weights) if config.mrf_weight > 0 else None


def build_masks(config: TrainConfig) -> MaskGenerator:
    """The hole generator of the data: ``facelib.masks.make_masks(config.mask_kind, ...)``, without the
    evaluation protocol's NVIDIA masks when ``config.holdout_protocol_masks``."""
    exclude = protocol_mask_ids() if config.holdout_protocol_masks and config.mask_root else frozenset()
    return make_masks(config.mask_kind, config.image_size, root=config.mask_root, exclude=exclude)


@dataclass
class Models:
    """The modules and optimisers of a run, on the device and prepared by the fast path.

    Attributes:
        generator, discriminator (or None), vgg (or None, in eval mode); g_opt, d_opt (or None): Adam;
        scaler: a ``torch.amp.GradScaler`` (enabled for fp16 only); mrf: the ID-MRF loss module (or None).
    """

    generator: nn.Module
    discriminator: nn.Module | None
    vgg: nn.Module | None
    g_opt: torch.optim.Optimizer
    d_opt: torch.optim.Optimizer | None
    scaler: torch.amp.GradScaler
    mrf: nn.Module | None = None


def build_models(config: TrainConfig, fast: FastPath) -> Models:
    """Build the generator, discriminator and VGG from one seed, then their optimisers and the grad scaler."""
    torch.manual_seed(config.seed)
    generator = fast.prepare_module(build_generator(config))
    disc = build_discriminator(config)
    discriminator = fast.prepare_module(disc) if disc is not None else None
    vgg = build_vgg(config)
    vgg = fast.prepare_module(vgg).eval() if vgg is not None else None
    mrf = build_mrf(config)
    mrf = fast.prepare_module(mrf).eval() if mrf is not None else None
    g_opt = fast.adam(generator.parameters(), config.lr, config.betas)
    d_opt = (fast.adam(discriminator.parameters(), config.d_lr or config.lr, config.betas)
             if discriminator is not None else None)
    scaler = torch.amp.GradScaler(fast.device.type, enabled=fast.needs_grad_scaler)
    return Models(generator, discriminator, vgg, g_opt, d_opt, scaler, mrf)
