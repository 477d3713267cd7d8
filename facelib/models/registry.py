"""The model registry: every inpainting model by name, with what training needs to know about it.

``MODELS[name]`` is a :class:`ModelSpec`: how to build the generator and its discriminator from the training
options, which masks it can be trained on and which it takes by default, and which image sizes it accepts.
Code outside ``facelib.models`` (training, evaluation, the series, experiments, the benchmark) reads these
entries instead of asking for a model by name; ``python -m facelib.train --model`` takes its choices from here.
Add a model by adding an entry.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from torch import nn

from .context_encoder import ContextEncoder, ContextEncoderDiscriminator
from .discriminator import PatchDiscriminator
from .gated import GatedInpaintingGenerator
from .generator import InpaintingGenerator
from .gmcnn import GMCNN, GlobalLocalDiscriminator

__all__ = ["ModelSpec", "MODELS", "GENERATORS", "build_generator", "generator_options", "model_spec"]


@dataclass(frozen=True)
class ModelSpec:
    """One entry of :data:`MODELS`.

    Attributes:
        name: the name used on the command line and in configs.
        cls: the generator class (an ``InpaintingModel``: ``model(masked, mask) -> full image``).
        description: one line for listings.
        options: ``options(image_size, widths, num_residual) -> kwargs of cls`` from the training options
            (also what a weights manifest records, so ``facelib.pretrained`` rebuilds the same model).
        build_discriminator: ``(image_size, base, spectral_norm) -> discriminator`` judging ``views().fake``.
        default_mask: the mask kind that ``masks="auto"`` means for this model.
        mask_kinds: the mask kinds it can be trained on (None: all).
        check_size: ``(image_size, adversarial) -> None or the reason the size does not work``.
    """

    name: str
    cls: type[nn.Module]
    description: str
    options: Callable[[int, Sequence[int], int], dict]
    build_discriminator: Callable[[int, int, bool], nn.Module]
    default_mask: str = "mixed"
    mask_kinds: tuple[str, ...] | None = None
    check_size: Callable[[int, bool], str | None] = lambda size, adversarial: None

    def build(self, image_size: int, widths: Sequence[int], num_residual: int) -> nn.Module:
        """The generator for these training options: ``cls(**options(image_size, widths, num_residual))``."""
        return self.cls(**self.options(image_size, widths, num_residual))

    def mask_kind(self, masks: str) -> str:
        """The mask kind a run with ``masks`` trains on: ``masks``, or :attr:`default_mask` for ``"auto"``."""
        return self.default_mask if masks == "auto" else masks


def _patch_discriminator(image_size: int, base: int, spectral_norm: bool) -> nn.Module:
    return PatchDiscriminator(in_channels=3, base=base, num_layers=3, spectral_norm=spectral_norm)


def _check_resnet_size(image_size: int, adversarial: bool) -> str | None:
    if image_size % 4:
        return "must be a multiple of 4 (the generators downsample by 4)"
    if adversarial and image_size < 32:
        return "a PatchGAN discriminator (3 stride-2 layers) needs images >= 32 pixels"
    return None


def _check_gmcnn_size(image_size: int, adversarial: bool) -> str | None:
    if image_size % 4 or image_size < 32:
        return "gmcnn needs a multiple of 4 >= 32 (its columns downsample by 4; its local critic judges half the image)"
    return None


def _check_ce_size(image_size: int, adversarial: bool) -> str | None:
    if image_size < 32 or image_size & (image_size - 1):
        return "context_encoder needs a power of two >= 32 (e.g. 64 or 128)"
    return None


#: Every inpainting model by name (``--model``). The Context Encoder's base width is ``widths[0]`` and its
#: bottleneck ``2 * widths[-1]`` channels (64 and 512 in the paper); its hole is half the image.
MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec("generator", InpaintingGenerator, "ResNet encoder-decoder (10.8 M parameters)",
                  options=lambda size, widths, n_res: {"widths": list(widths), "num_residual": n_res},
                  build_discriminator=_patch_discriminator, check_size=_check_resnet_size),
        ModelSpec("gated", GatedInpaintingGenerator, "gated convolutions, DeepFill v2 (11.5 M parameters)",
                  options=lambda size, widths, n_res: {"widths": list(widths), "num_residual": n_res},
                  build_discriminator=_patch_discriminator, check_size=_check_resnet_size),
        ModelSpec("context_encoder", ContextEncoder, "Pathak et al. 2016, fixed centre hole (6.0 M parameters)",
                  options=lambda size, widths, n_res: {"image_size": size, "hole_size": size // 2,
                                                       "base": widths[0], "bottleneck_channels": 2 * widths[-1]},
                  build_discriminator=lambda size, base, sn: ContextEncoderDiscriminator(hole_size=size // 2,
                                                                                         base=base),
                  default_mask="center", mask_kinds=ContextEncoder.mask_kinds, check_size=_check_ce_size),
        # The dilations fit a 16x16 bottleneck (64 px and up), or the whole bottleneck of a smaller image.
        ModelSpec("gmcnn", GMCNN, "multi-column GMCNN, Wang et al. 2018 (4.7 M parameters at widths 24 48 96)",
                  options=lambda size, widths, n_res: {"widths": list(widths), "bottleneck_size": min(16, size // 4)},
                  build_discriminator=lambda size, base, sn: GlobalLocalDiscriminator(size, base, sn),
                  check_size=_check_gmcnn_size),
    )
}

#: Generator classes by name (the classes of :data:`MODELS`).
GENERATORS: dict[str, type[nn.Module]] = {name: spec.cls for name, spec in MODELS.items()}


def model_spec(name: str) -> ModelSpec:
    """``MODELS[name]``; ValueError listing the valid names otherwise."""
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(f"unknown generator {name!r}; choose one of {', '.join(MODELS)}") from None


def generator_options(name: str, image_size: int, widths: Sequence[int], num_residual: int) -> dict:
    """``build_generator(name, **options)``'s keyword arguments for these training options (what a weights
    manifest records), e.g. ``{"widths": [64, 128, 256], "num_residual": 8}`` for the generator at
    ``TrainConfig``'s defaults (the one place they are set)."""
    return model_spec(name).options(image_size, widths, num_residual)


def build_generator(name: str, **kwargs) -> nn.Module:
    """Build a generator by name with its class's own arguments, e.g. ``build_generator("gated", widths=(32, 64, 128))``.

    Raises:
        ValueError: unknown name (the message lists the valid ones).
    """
    return model_spec(name).cls(**kwargs)
