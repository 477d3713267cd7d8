"""Inpainting networks: generators, discriminators and small helpers to build and inspect them.

Every generator has the same interface (``interface.InpaintingModel``), so training and evaluation code
treat them alike::

    output = generator(masked, mask)   # masked (N,3,H,W) in [-1,1], mask (N,1,H,W) 1 = hole -> (N,3,H,W) in [-1,1]
    result = composite(output, image, mask)

``MODELS`` (``registry``) holds each model by name with what training needs: how to build it and its
discriminator from the options, its default and supported mask kinds, the image sizes it accepts.

================  =============================  ==========================================
name              class                          default parameters
================  =============================  ==========================================
generator         InpaintingGenerator            10,779,331 (ResNet encoder-decoder)
gated             GatedInpaintingGenerator       11,527,747 (gated convolutions, DeepFill v2)
context_encoder   ContextEncoder                 5,973,827  (Pathak et al. 2016, fixed centre hole)
gmcnn             GMCNN                          4,689,651  (three columns, Wang et al. 2018; widths 24 48 96)
================  =============================  ==========================================
"""
from __future__ import annotations

from torch import nn

from .context_encoder import (
    CenterPredictor,
    ChannelWiseFC,
    ContextEncoder,
    ContextEncoderDiscriminator,
    center_box,
    crop_center,
)
from .discriminator import PatchDiscriminator
from .gated import GatedConv2d, GatedInpaintingGenerator, GatedResidualBlock, GatedUpConv2d
from .generator import ConvBlock, Decoder, Encoder, InpaintingGenerator, ResidualBlock
from .gmcnn import GMCNN, Column, GlobalLocalDiscriminator, hole_boxes
from .interface import (
    InpaintingModel,
    InpaintingViews,
    check_inputs,
    composite,
    mask_image,
    supported_mask_kinds,
)
from .registry import GENERATORS, MODELS, ModelSpec, build_generator, generator_options, model_spec

__all__ = [
    "ConvBlock",
    "Encoder",
    "ResidualBlock",
    "Decoder",
    "InpaintingGenerator",
    "mask_image",
    "composite",
    "check_inputs",
    "InpaintingModel",
    "InpaintingViews",
    "supported_mask_kinds",
    "GatedConv2d",
    "GatedUpConv2d",
    "GatedResidualBlock",
    "GatedInpaintingGenerator",
    "ChannelWiseFC",
    "ContextEncoder",
    "ContextEncoderDiscriminator",
    "CenterPredictor",
    "center_box",
    "crop_center",
    "PatchDiscriminator",
    "GMCNN",
    "Column",
    "GlobalLocalDiscriminator",
    "hole_boxes",
    "GENERATORS",
    "MODELS",
    "ModelSpec",
    "model_spec",
    "build_generator",
    "generator_options",
    "count_parameters",
    "parameter_table",
]


def count_parameters(module: nn.Module, trainable_only: bool = True) -> int:
    """Number of parameters of ``module`` (only those with ``requires_grad`` unless ``trainable_only=False``)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def parameter_table(model: nn.Module, trainable_only: bool = True) -> list[tuple[str, int]]:
    """Parameters per top-level part, e.g. ``[("encoder", 668800), ("residual", 9445376), ("decoder", 665155)]``.

    Parameters registered directly on ``model`` (not in a child) appear as ``("(own)", n)``. The counts add
    up to ``count_parameters(model, trainable_only)``.
    """
    rows = [(name, count_parameters(child, trainable_only)) for name, child in model.named_children()]
    own = sum(p.numel() for p in model.parameters(recurse=False) if p.requires_grad or not trainable_only)
    if own:
        rows.append(("(own)", own))
    return rows
