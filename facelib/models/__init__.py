"""Inpainting networks: generators, discriminators and small helpers to build and inspect them.

Every generator has the same interface, so training and evaluation code treat them alike::

    output = generator(masked, mask)   # masked (N,3,H,W) in [-1,1], mask (N,1,H,W) 1 = hole -> (N,3,H,W) in [-1,1]
    result = composite(output, image, mask)

================  =============================  ==========================================
name              class                          default parameters
================  =============================  ==========================================
generator         InpaintingGenerator            10,779,331 (ResNet encoder-decoder)
gated             GatedInpaintingGenerator       11,527,747 (gated convolutions, DeepFill v2)
context_encoder   ContextEncoder                 5,973,827  (Pathak et al. 2016, fixed centre hole)
================  =============================  ==========================================
"""
from __future__ import annotations

from torch import nn

from .context_encoder import ChannelWiseFC, ContextEncoder, ContextEncoderDiscriminator, center_box, crop_center
from .discriminator import PatchDiscriminator
from .gated import GatedConv2d, GatedInpaintingGenerator, GatedResidualBlock, GatedUpConv2d
from .generator import (
    ConvBlock,
    Decoder,
    Encoder,
    InpaintingGenerator,
    ResidualBlock,
    check_inputs,
    composite,
    mask_image,
)

__all__ = [
    "ConvBlock",
    "Encoder",
    "ResidualBlock",
    "Decoder",
    "InpaintingGenerator",
    "mask_image",
    "composite",
    "check_inputs",
    "GatedConv2d",
    "GatedUpConv2d",
    "GatedResidualBlock",
    "GatedInpaintingGenerator",
    "ChannelWiseFC",
    "ContextEncoder",
    "ContextEncoderDiscriminator",
    "center_box",
    "crop_center",
    "PatchDiscriminator",
    "GENERATORS",
    "MODELS",
    "build_generator",
    "generator_options",
    "count_parameters",
    "parameter_table",
]

#: Generator classes by the name used on the command line (``--model``) and in configs.
GENERATORS: dict[str, type[nn.Module]] = {
    "generator": InpaintingGenerator,
    "gated": GatedInpaintingGenerator,
    "context_encoder": ContextEncoder,
}
#: Alias of ``GENERATORS`` (the name used in CONTRACT.md).
MODELS = GENERATORS


def build_generator(name: str, **kwargs) -> nn.Module:
    """Build a generator by name, e.g. ``build_generator("gated", widths=(32, 64, 128))``.

    Raises:
        ValueError: unknown name (the message lists the valid ones).
    """
    try:
        cls = GENERATORS[name]
    except KeyError:
        raise ValueError(f"unknown generator {name!r}; choose one of {', '.join(GENERATORS)}") from None
    return cls(**kwargs)


def generator_options(name: str, image_size: int, widths: tuple[int, ...] = (64, 128, 256),
                      num_residual: int = 8) -> dict:
    """The ``build_generator(name, **options)`` keyword arguments of a training configuration's model.

    The Context Encoder is built for one image size (its hole is the centre half) and takes a base width and a
    bottleneck width; the other generators take the encoder widths and the number of residual blocks.
    """
    if name not in GENERATORS:
        raise ValueError(f"unknown generator {name!r}; choose one of {', '.join(GENERATORS)}")
    if GENERATORS[name] is ContextEncoder:
        return {"image_size": image_size, "hole_size": image_size // 2, "base": widths[0],
                "bottleneck_channels": 2 * widths[-1]}
    return {"widths": list(widths), "num_residual": num_residual}


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
