"""Training of the inpainting generators: config, one training step, the loop, checkpoints and the CLI.

Usage::

    python -m facelib.train --model list                       # the models and presets
    python -m facelib.train --model generator --epochs 5 --out-dir runs/g
    python -m facelib.train --model gan --data /path/to/faces --out-dir runs/gan
    python -m facelib.train --out-dir runs/g --epochs 10 --resume   # continue (or extend) a run

    from facelib.train import TrainConfig, train
    history = train(TrainConfig.preset("generator", epochs=2, out_dir="runs/g"))["history"]

Outputs in ``out_dir``: ``history.csv`` / ``history.json`` (one row per epoch, rewritten atomically after each
epoch), ``checkpoints/last.pt`` (atomic; every ``checkpoint_every`` steps and at each epoch end),
``loss_curves.png`` and ``samples.png`` (masked / output / composite / real on fixed validation faces).

Reproducibility: on CPU a run is a deterministic function of its config. The data order of epoch ``e`` is a
permutation drawn from ``(seed, e)``, the mask of item ``i`` from ``(seed, e, i)`` (``InpaintingDataset``),
and a checkpoint stores the step inside the epoch, the running averages and every RNG state, so a run killed
at any point and resumed with ``resume=True`` ends with bit-identical weights to an uninterrupted run.

The step (``TrainStep``) is shared with ``benchmarks/train_throughput.py``: the benchmark measures the very
code that trains, switch by switch (``amp``, ``channels_last``, ``fused_adam``, ``compile``, ``cuda_graphs``,
``gpu_cache``; see ``facelib.fast``).
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import math
import shutil
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, Sampler, Subset
from tqdm.auto import tqdm

from .checkpoint import (
    CheckpointError,
    atomic_torch_save,
    atomic_write_json,
    atomic_write_text,
    capture_rng_state,
    load_checkpoint,
    restore_rng_state,
)
from .fast import AMP_CHOICES, COMPILE_CHOICES, DeviceFaceCache, DeviceMaskBank, FastPath, resolve_fast_path

__all__ = [
    "TrainConfig",
    "PRESETS",
    "MODEL_NAMES",
    "NonFiniteLossError",
    "Trainer",
    "TrainStep",
    "train",
    "load_generator",
    "build_parser",
    "main",
]

MODEL_NAMES = ("generator", "gated", "context_encoder")
ADVERSARIAL_CHOICES = ("none", "bce", "lsgan", "hinge")
MASK_CHOICES = ("auto", "center", "rectangles", "freeform", "irregular", "mixed")
PIXEL_LOSS_CHOICES = ("l1", "l2")
VGG_WEIGHT_CHOICES = ("caffe", "torchvision", None)

#: Presets for ``--model``: name -> (one-line description, field overrides of ``TrainConfig``).
PRESETS: dict[str, tuple[str, dict[str, Any]]] = {
    "generator": (
        "ResNet encoder-decoder (10.8 M params), L1 + 0.001 x VGG19 perceptual loss (the seed's pixel + perceptual setting)",
        {"model": "generator"},
    ),
    "pixel": (
        "the same generator trained with the L1 pixel loss only (no perceptual term): the ablation",
        {"model": "generator", "perceptual_weight": 0.0},
    ),
    "gated": (
        "gated-convolution generator (DeepFill v2 layers, same plan and losses as 'generator')",
        {"model": "gated"},
    ),
    "context_encoder": (
        "Pathak et al. 2016: centre hole, 0.999 x L2 on the centre + 0.001 x adversarial (its own discriminator)",
        {
            "model": "context_encoder",
            "masks": "center",
            "pixel_loss": "l2",
            "pixel_weight": 0.999,
            "perceptual_weight": 0.0,
            "adversarial": "bce",
            "adv_weight": 0.001,
        },
    ),
    "gan": (
        "'generator' + a spectral-norm PatchGAN discriminator on the composite (L1 + 0.001 VGG + 0.01 hinge GAN)",
        {"model": "generator", "adversarial": "hinge", "adv_weight": 0.01, "spectral_norm": True},
    ),
}

# Fields that may differ between a checkpoint and the config that resumes it: they change how long or where
# the run goes, not what it computes. Everything else must match (a clear error otherwise).
_RESUMABLE_FIELDS = frozenset(
    {"epochs", "max_steps", "resume", "overwrite", "checkpoint_every", "save_epoch_checkpoints", "log_every",
     "num_workers", "device", "out_dir", "compile", "cuda_graphs"}
)


def _opt(default: Any, help: str, **meta: Any) -> Any:
    """A dataclass field carrying its CLI help text (and optional ``choices`` / ``parse``) as metadata."""
    return field(default=default, metadata={"help": help, **meta})


def _parse_optional_int(text: str) -> int | None:
    return None if text.lower() in ("none", "null", "") else int(text)


def _parse_optional_str(text: str) -> str | None:
    return None if text.lower() in ("none", "null", "") else text


def _parse_auto_bool(text: str) -> bool | str:
    low = text.lower()
    if low == "auto":
        return "auto"
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true, false or auto, got {text!r}")


def _parse_compile(text: str) -> bool | str:
    low = text.lower()
    if low in ("0", "false", "no", "off", "none"):
        return False
    if low in ("1", "true", "yes", "on"):
        return True
    return text


@dataclass
class TrainConfig:
    """Everything a training run depends on. Invalid values raise ``ValueError`` naming the field.

    Build one directly, from a preset (``TrainConfig.preset("gan", epochs=3)``) or from the command line
    (``python -m facelib.train --help`` lists the same fields).
    """

    # --- data
    data: str | None = _opt(None, "face folder, 'synthetic', or None: FACELIB_DATA, repo data/, else synthetic")
    image_size: int = _opt(64, "square image size in pixels (multiple of 4; a power of two for context_encoder)")
    n_synthetic: int = _opt(512, "number of synthetic faces when no real data is configured")
    max_train_images: int | None = _opt(None, "use only the first N training faces (None = all)",
                                        parse=_parse_optional_int)
    max_val_images: int | None = _opt(256, "validate on the first N validation faces (None = all)",
                                      parse=_parse_optional_int)
    masks: str = _opt("auto", "hole masks ('auto' = center for context_encoder, mixed otherwise)",
                      choices=MASK_CHOICES)
    mask_root: str | None = _opt(None, "NVIDIA irregular-mask folder: needed by masks=irregular, added to "
                                 "masks=mixed when given", parse=_parse_optional_str)
    # --- model
    model: str = _opt("generator", "generator architecture", choices=MODEL_NAMES)
    widths: tuple[int, ...] = _opt((64, 128, 256), "encoder widths (context_encoder: base = widths[0], "
                                   "bottleneck = 2 * widths[-1])", nargs=3, parse=int)
    num_residual: int = _opt(8, "residual blocks at 1/4 resolution (generator, gated)")
    # --- optimisation
    epochs: int = _opt(1, "passes over the training set")
    batch_size: int = _opt(8, "images per step (the last incomplete batch of an epoch is dropped)")
    lr: float = _opt(2e-4, "Adam learning rate of the generator")
    betas: tuple[float, float] = _opt((0.5, 0.999), "Adam betas", nargs=2, parse=float)
    d_lr: float | None = _opt(None, "discriminator learning rate (None = lr)",
                              parse=lambda s: None if s.lower() == "none" else float(s))
    max_steps: int | None = _opt(None, "stop after this many optimisation steps in total (None = all epochs)",
                                 parse=_parse_optional_int)
    seed: int = _opt(0, "seed of initialisation, data order and masks")
    # --- losses
    pixel_loss: str = _opt("l1", "pixel reconstruction loss", choices=PIXEL_LOSS_CHOICES)
    pixel_weight: float = _opt(1.0, "weight of the pixel loss")
    hole_weight: float = _opt(1.0, "pixel-loss weight inside the hole")
    valid_weight: float = _opt(1.0, "pixel-loss weight on the known pixels")
    # Caffe VGG19 features see inputs on a 0-255 scale, so their L1 distance is about 200 at the start of
    # training against about 0.5 for the pixel L1: 0.001 makes the two terms comparable (papers' lambda ~0.05
    # on ImageNet-normalised features, whose scale is ~58x smaller).
    perceptual_weight: float = _opt(0.001, "weight of the VGG19 perceptual loss (0 = off)")
    perceptual_layers: tuple[int, ...] = _opt((1, 6, 11, 20, 29), "VGG19 feature indices (relu1_1 ... relu5_1)",
                                              nargs="+", parse=int)
    style_weight: float = _opt(0.0, "weight of the Gram-matrix style loss on the same VGG features (0 = off)")
    tv_weight: float = _opt(0.0, "weight of the total-variation loss on the composite (0 = off)")
    vgg_weights: str | None = _opt("caffe", "VGG19 weights: caffe, torchvision or none (random: tests only)",
                                   parse=_parse_optional_str, choices=VGG_WEIGHT_CHOICES)
    adversarial: str = _opt("none", "GAN loss of a discriminator (none = no discriminator)",
                            choices=ADVERSARIAL_CHOICES)
    adv_weight: float = _opt(0.01, "weight of the generator's adversarial loss")
    spectral_norm: bool = _opt(False, "spectral normalisation in the PatchGAN discriminator")
    d_base: int = _opt(64, "width of the discriminator's first layer")
    # --- run
    device: str = _opt("auto", "cpu, cuda, cuda:1 ... or auto (cuda when available)")
    out_dir: str = _opt("runs/default", "run folder: history, checkpoints, figures")
    checkpoint_every: int = _opt(100, "write checkpoints/last.pt every N steps (and at each epoch end)")
    save_epoch_checkpoints: bool = _opt(False, "also keep checkpoints/epoch_{k}.pt after each epoch")
    resume: bool = _opt(False, "continue from out_dir/checkpoints/last.pt (starts fresh if there is none)")
    overwrite: bool = _opt(False, "start afresh in an out_dir that already holds a run (deletes its checkpoints)")
    num_workers: int = _opt(0, "DataLoader worker processes (ignored with gpu_cache)")
    log_every: int = _opt(10, "update the progress bar (and check for NaN/inf on CUDA) every N steps")
    # --- fast path (facelib.fast)
    amp: str = _opt("auto", "autocast: auto (bf16 on CUDA, none on CPU), bf16, fp16 (with GradScaler), none",
                    choices=AMP_CHOICES)
    channels_last: bool | str = _opt("auto", "NHWC memory format (auto = on CUDA)", parse=_parse_auto_bool)
    fused_adam: bool | str = _opt("auto", "fused Adam kernel (auto = on CUDA)", parse=_parse_auto_bool)
    compile: bool | str = _opt(False, f"torch.compile: false, true or a mode {COMPILE_CHOICES[1:]}",
                               parse=_parse_compile)
    cuda_graphs: bool = _opt(False, "CUDA graphs via torch.compile mode 'reduce-overhead' (CUDA only)")
    gpu_cache: bool = _opt(False, "decode all faces once into a uint8 tensor on the device and draw masks "
                           "there from a pre-generated bank (no data stalls; masks differ from the CPU path)")
    mask_bank_size: int = _opt(2048, "masks pre-generated for gpu_cache (x8 with flips/transposes)")
    vgg_target_no_grad: bool = _opt(True, "VGG features of the real image once per batch under no_grad (False = "
                                    "the naive single pass over [output, real], for the benchmark's baseline)")

    def __post_init__(self) -> None:
        # JSON and argparse give lists: keep tuples so configs compare equal after a round trip.
        self.widths = tuple(int(w) for w in self.widths)
        self.betas = tuple(float(b) for b in self.betas)  # type: ignore[assignment]
        self.perceptual_layers = tuple(int(i) for i in self.perceptual_layers)
        if isinstance(self.vgg_weights, str) and self.vgg_weights.lower() == "none":
            self.vgg_weights = None
        self.validate()

    # -------------------------------------------------------------------------------------------- checks
    def validate(self) -> None:
        """Raise ``ValueError`` for the first invalid field, naming it and the allowed values."""

        def bad(name: str, allowed: str) -> ValueError:
            return ValueError(f"TrainConfig.{name}={getattr(self, name)!r} is invalid: {allowed}")

        if self.model in PRESETS and self.model not in MODEL_NAMES:
            raise ValueError(
                f"TrainConfig.model={self.model!r} is a preset, not an architecture: use "
                f"TrainConfig.preset({self.model!r}, ...) (or --model {self.model} on the command line), or "
                f"model in {MODEL_NAMES} with adversarial in {ADVERSARIAL_CHOICES}"
            )
        for name, choices in (("model", MODEL_NAMES), ("masks", MASK_CHOICES), ("pixel_loss", PIXEL_LOSS_CHOICES),
                              ("adversarial", ADVERSARIAL_CHOICES), ("amp", AMP_CHOICES),
                              ("vgg_weights", VGG_WEIGHT_CHOICES)):
            if getattr(self, name) not in choices:
                raise bad(name, f"choose one of {choices}")
        for name in ("image_size", "n_synthetic", "epochs", "batch_size", "checkpoint_every", "log_every",
                     "mask_bank_size", "d_base"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise bad(name, "must be an integer >= 1")
        for name in ("max_train_images", "max_val_images", "max_steps"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise bad(name, "must be None or an integer >= 1")
        if not isinstance(self.num_workers, int) or self.num_workers < 0:
            raise bad("num_workers", "must be an integer >= 0")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise bad("seed", "must be an integer >= 0")
        if self.batch_size < 2:
            raise bad("batch_size", "must be >= 2 (BatchNorm needs more than one image per batch in training)")
        for name in ("pixel_weight", "hole_weight", "valid_weight", "perceptual_weight", "style_weight",
                     "tv_weight", "adv_weight"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise bad(name, "must be a finite number >= 0")
        for name in ("lr", "d_lr"):
            value = getattr(self, name)
            if value is None and name == "d_lr":
                continue
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise bad(name, "must be a finite number > 0")
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise bad("betas", "must be two numbers in [0, 1), e.g. (0.5, 0.999)")
        if len(self.widths) != 3 or min(self.widths) < 1:
            raise bad("widths", "must be three positive integers, e.g. (64, 128, 256)")
        if self.num_residual < 0:
            raise bad("num_residual", "must be >= 0")
        if not self.perceptual_layers or not all(0 <= i <= 35 for i in self.perceptual_layers):
            raise bad("perceptual_layers", "must be indices into vgg19().features (0-35), e.g. (1, 6, 11, 20, 29)")
        if self.image_size % 4:
            raise bad("image_size", "must be a multiple of 4 (the generators downsample by 4)")
        if self.model == "context_encoder":
            if self.image_size < 32 or self.image_size & (self.image_size - 1):
                raise bad("image_size", "context_encoder needs a power of two >= 32 (e.g. 64 or 128)")
            if self.masks not in ("auto", "center"):
                raise bad("masks", "context_encoder only fills the centre square: use masks='center' or 'auto'")
        if self.adversarial != "none" and self.model != "context_encoder" and self.image_size < 32:
            raise bad("image_size", "a PatchGAN discriminator (3 stride-2 layers) needs images >= 32 pixels")
        if isinstance(self.channels_last, str) and self.channels_last != "auto":
            raise bad("channels_last", "must be True, False or 'auto'")
        if isinstance(self.fused_adam, str) and self.fused_adam != "auto":
            raise bad("fused_adam", "must be True, False or 'auto'")
        if self.compile not in (True, False, None) and self.compile not in COMPILE_CHOICES:
            raise bad("compile", f"must be False, True or one of {COMPILE_CHOICES}")
        if not self.out_dir:
            raise bad("out_dir", "must be a folder path")

    # ------------------------------------------------------------------------------------------ helpers
    @classmethod
    def preset(cls, name: str, **overrides: Any) -> TrainConfig:
        """A config from a preset of ``PRESETS`` (see ``python -m facelib.train --model list``) plus overrides."""
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; choose one of {tuple(PRESETS)}")
        return cls(**{**PRESETS[name][1], **overrides})

    @property
    def mask_kind(self) -> str:
        """``masks`` with "auto" resolved: "center" for context_encoder, "mixed" otherwise."""
        if self.masks != "auto":
            return self.masks
        return "center" if self.model == "context_encoder" else "mixed"

    @property
    def uses_vgg(self) -> bool:
        return self.perceptual_weight > 0 or self.style_weight > 0

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (tuples become lists)."""
        return json.loads(json.dumps(asdict(self)))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        """Inverse of ``to_dict``; unknown keys raise ``ValueError`` (a config from another version)."""
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown TrainConfig fields {sorted(unknown)}; known: {sorted(names)}")
        return cls(**d)

    def differences(self, other: TrainConfig, ignore: Sequence[str] = ()) -> dict[str, tuple[Any, Any]]:
        """``{field: (self value, other value)}`` for the fields that differ, except ``ignore``."""
        a, b = self.to_dict(), other.to_dict()
        return {k: (a[k], b[k]) for k in a if k not in ignore and a[k] != b[k]}


class NonFiniteLossError(FloatingPointError):
    """A loss became NaN or infinite; training stopped and the last good checkpoint was kept."""


# =============================================================================================== building
def _build_generator(config: TrainConfig) -> nn.Module:
    from .models import build_generator

    if config.model == "context_encoder":
        return build_generator("context_encoder", image_size=config.image_size, hole_size=config.image_size // 2,
                               base=config.widths[0], bottleneck_channels=2 * config.widths[-1])
    return build_generator(config.model, widths=config.widths, num_residual=config.num_residual)


def _build_discriminator(config: TrainConfig) -> nn.Module | None:
    if config.adversarial == "none":
        return None
    if config.model == "context_encoder":
        from .models import ContextEncoderDiscriminator

        return ContextEncoderDiscriminator(hole_size=config.image_size // 2, base=config.d_base)
    from .models import PatchDiscriminator

    return PatchDiscriminator(in_channels=3, base=config.d_base, num_layers=3, spectral_norm=config.spectral_norm)


def _build_vgg(config: TrainConfig) -> nn.Module | None:
    if not config.uses_vgg:
        return None
    from .vgg import VGG19Features

    return VGG19Features(layers=config.perceptual_layers, weights=config.vgg_weights)


def _mask_generator(config: TrainConfig, generator: nn.Module):
    """The hole generator of the CPU data path: ``facelib.masks.make_masks`` or the CE's fixed centre."""
    if config.model == "context_encoder":
        return _FixedMask(generator.center_mask())  # type: ignore[operator]
    from .masks import make_masks

    return make_masks(config.mask_kind, config.image_size, root=config.mask_root)


class _FixedMask:
    """A mask generator that always returns the same mask (picklable for DataLoader workers)."""

    def __init__(self, mask: Tensor) -> None:
        self.mask = mask.float()
        self.size = mask.shape[-1]

    def __call__(self, rng: np.random.Generator) -> Tensor:
        return self.mask.clone()


def _seed_int(*keys: int) -> int:
    """A 63-bit seed derived from a tuple of integers (NumPy's SeedSequence mixes them well)."""
    return int(np.random.SeedSequence([int(k) for k in keys]).generate_state(2, np.uint64)[0] >> np.uint64(1))


def epoch_order(n: int, seed: int, epoch: int) -> Tensor:
    """The data order of an epoch: a permutation of ``range(n)`` determined by ``(seed, epoch)``."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(_seed_int(seed, epoch, 1)))


class EpochSampler(Sampler[int]):
    """Shuffled indices whose order depends only on ``(seed, epoch)``, optionally starting at a batch.

    Unlike ``RandomSampler`` it draws nothing from the global RNG, and ``start`` lets a resumed run skip the
    batches already trained on in the interrupted epoch.
    """

    def __init__(self, n: int, seed: int) -> None:
        self.n, self.seed = n, seed
        self.epoch, self.start = 0, 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        self.epoch, self.start = epoch, start

    def __iter__(self) -> Iterator[int]:
        return iter(epoch_order(self.n, self.seed, self.epoch)[self.start:].tolist())

    def __len__(self) -> int:
        return self.n - self.start


# ================================================================================================ the step
def _feature_distance(a: Sequence[Tensor], b: Sequence[Tensor]) -> Tensor:
    """Mean over layers of the mean absolute feature difference (the perceptual loss of Johnson et al.; equal to
    ``facelib.vgg.PerceptualLoss`` with its default equal layer weights, computed here from features the step
    already has, so the style loss can share them)."""
    return sum(F.l1_loss(x.float(), y.float()) for x, y in zip(a, b)) / len(a)


class TrainStep:
    """One optimisation step (discriminator, then generator) and the validation losses.

    Shared by ``train()`` and ``benchmarks/train_throughput.py``: the fast-path switches live in ``fast``.

    Args:
        config: the run's ``TrainConfig`` (losses and weights).
        fast: resolved fast-path settings (``facelib.fast.resolve_fast_path``).
        generator, discriminator (or None), vgg (or None): modules already on the device (``fast.prepare_module``).
        g_opt, d_opt (or None): their Adam optimisers. scaler: a ``torch.amp.GradScaler`` (enabled for fp16 only).

    ``__call__(image, mask)`` takes (N, 3, H, W) in [-1, 1] and (N, 1, H, W) in {0, 1} on the device and returns
    detached scalar losses on the device (no host synchronisation): ``pixel``, ``perceptual``, ``style``, ``tv``,
    ``total`` and, with a discriminator, ``d_loss``, ``g_adv``, ``d_real_acc``, ``d_fake_acc``.
    """

    def __init__(self, config: TrainConfig, fast: FastPath, generator: nn.Module, discriminator: nn.Module | None,
                 vgg: nn.Module | None, g_opt: torch.optim.Optimizer, d_opt: torch.optim.Optimizer | None,
                 scaler: torch.amp.GradScaler) -> None:
        self.config, self.fast = config, fast
        self.generator, self.discriminator, self.vgg = generator, discriminator, vgg
        self.g_opt, self.d_opt, self.scaler = g_opt, d_opt, scaler
        self.is_ce = config.model == "context_encoder"
        if self.is_ce:
            self.hole = generator.hole_size  # type: ignore[union-attr]
            self._g_fwd = fast.compile_module(_CenterPredictor(generator))
            self.register_buffer_ce_weights()
        else:
            self._g_fwd = fast.compile_module(generator)
        self._d_fwd = fast.compile_module(discriminator) if discriminator is not None else None
        self._vgg_fwd = fast.compile_module(vgg) if vgg is not None else None
        # LSGAN's targets are 1/0, so its decision threshold is 0.5; BCE and hinge logits are split at 0.
        self._d_threshold = 0.5 if config.adversarial == "lsgan" else 0.0

    def register_buffer_ce_weights(self) -> None:
        self._ce_weights = self.generator.center_loss_weights().to(self.fast.device)  # type: ignore[operator]

    # ------------------------------------------------------------------------------------------ losses
    def _forward(self, image: Tensor, mask: Tensor, g_fwd: Callable) -> dict[str, Tensor]:
        """Generator forward: output (N,3,H,W), composite, and what the discriminator compares."""
        from .models import composite, crop_center, mask_image

        masked = mask_image(image, mask)
        if self.is_ce:
            center = g_fwd(masked, mask)
            output = self.generator.paste_center(masked, center)  # type: ignore[operator]
            return {"output": output, "composite": output, "fake": center, "real": crop_center(image, self.hole),
                    "center": center}
        output = g_fwd(masked, mask)
        comp = composite(output, image, mask)
        return {"output": output, "composite": comp, "fake": comp, "real": image}

    def _reconstruction_losses(self, image: Tensor, mask: Tensor, fwd: dict[str, Tensor],
                               vgg_fwd: Callable | None) -> dict[str, Tensor]:
        from .losses import masked_pixel_loss, style_loss, total_variation_loss

        c = self.config
        terms: dict[str, Tensor] = {}
        if self.is_ce:
            # Pathak et al.: squared error over the predicted centre (overlap band weighted by the model).
            err = (fwd["center"].float() - fwd["real"].float()) ** 2 if c.pixel_loss == "l2" else \
                (fwd["center"].float() - fwd["real"].float()).abs()
            terms["pixel"] = (err * self._ce_weights).mean()
        else:
            terms["pixel"] = masked_pixel_loss(fwd["output"].float(), image.float(), mask, kind=c.pixel_loss,
                                               hole_weight=c.hole_weight, valid_weight=c.valid_weight)
        if vgg_fwd is not None:
            out = fwd["output"]
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
            terms["perceptual"] = _feature_distance(feats_out, feats_real)
            if c.style_weight > 0:
                terms["style"] = style_loss(feats_out, feats_real)
        if c.tv_weight > 0:
            terms["tv"] = total_variation_loss(fwd["composite"].float(), mask)
        return terms

    def _weighted_total(self, terms: dict[str, Tensor]) -> Tensor:
        c = self.config
        weights = {"pixel": c.pixel_weight, "perceptual": c.perceptual_weight, "style": c.style_weight,
                   "tv": c.tv_weight, "g_adv": c.adv_weight}
        return sum(weights[k] * v for k, v in terms.items() if k in weights)

    # -------------------------------------------------------------------------------------------- step
    def __call__(self, image: Tensor, mask: Tensor) -> dict[str, Tensor]:
        from .losses import discriminator_loss, generator_adversarial_loss

        c, fast = self.config, self.fast
        if fast.compile_mode == "reduce-overhead":
            torch.compiler.cudagraph_mark_step_begin()
        image, mask = fast.prepare_input(image), fast.prepare_input(mask)
        logs: dict[str, Tensor] = {}
        with fast.autocast():
            fwd = self._forward(image, mask, self._g_fwd)

        if self._d_fwd is not None:
            # Discriminator step on the detached fake: no gradient reaches the generator.
            with fast.autocast():
                real_logits = self._d_fwd(fwd["real"])
                fake_logits = self._d_fwd(fwd["fake"].detach())
                d_loss = discriminator_loss(real_logits.float(), fake_logits.float(), kind=c.adversarial)
            self.d_opt.zero_grad(set_to_none=True)  # type: ignore[union-attr]
            self.scaler.scale(d_loss).backward()
            self.scaler.step(self.d_opt)
            logs["d_loss"] = d_loss.detach()
            logs["d_real_acc"] = (real_logits.detach().float() > self._d_threshold).float().mean()
            logs["d_fake_acc"] = (fake_logits.detach().float() < self._d_threshold).float().mean()

        with fast.autocast():
            terms = self._reconstruction_losses(image, mask, fwd, self._vgg_fwd)
            if self._d_fwd is not None:
                # The updated discriminator judges the fake; its own parameters also receive gradients here,
                # which its next zero_grad discards (cheaper than toggling requires_grad, which recompiles).
                terms["g_adv"] = generator_adversarial_loss(self._d_fwd(fwd["fake"]).float(), kind=c.adversarial)
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
        g_fwd = self.generator.predict_center if self.is_ce else self.generator  # type: ignore[union-attr]
        with self.fast.autocast():
            fwd = self._forward(image, mask, g_fwd)
            terms = self._reconstruction_losses(image, mask, fwd, self.vgg)
        return {k: v.float() for k, v in terms.items()}, fwd["output"].float()


class _CenterPredictor(nn.Module):
    """Wraps ``ContextEncoder.predict_center`` as a module's forward, so ``torch.compile`` can compile it."""

    def __init__(self, ce: nn.Module) -> None:
        super().__init__()
        self.ce = ce

    def forward(self, masked: Tensor, mask: Tensor) -> Tensor:
        return self.ce.predict_center(masked, mask)  # type: ignore[operator]


# ============================================================================================ data sources
class _LoaderSource:
    """The ordinary data path: ``InpaintingDataset`` (CPU decoding and masks) through a ``DataLoader``."""

    def __init__(self, dataset: Dataset, config: TrainConfig, pin_memory: bool) -> None:
        self.dataset = dataset
        self.sampler = EpochSampler(len(dataset), config.seed)
        self.batch_size = config.batch_size
        # A dedicated generator: the DataLoader then draws its worker base seed from it, not from the global
        # torch RNG, whose state the checkpoints track for the model.
        self.loader = DataLoader(dataset, batch_size=config.batch_size, sampler=self.sampler,
                                 num_workers=config.num_workers, drop_last=True, pin_memory=pin_memory,
                                 generator=torch.Generator().manual_seed(config.seed))

    def epoch(self, epoch: int, start_step: int) -> Iterator[tuple[Tensor, Tensor]]:
        self.dataset.set_epoch(epoch)  # type: ignore[attr-defined]
        self.sampler.set_epoch(epoch, start_step * self.batch_size)
        for batch in self.loader:
            yield batch["image"], batch["mask"]


class _DeviceSource:
    """The ``gpu_cache`` data path: uint8 faces and a mask bank on the device; masks of step ``i`` of epoch
    ``e`` come from a device generator seeded with ``(seed, e, i)``, so resuming stays deterministic."""

    def __init__(self, faces: Dataset, mask_gen, config: TrainConfig, device: torch.device, progress: bool) -> None:
        self.cache = DeviceFaceCache(faces, device, progress=progress)
        fixed = mask_gen.mask if isinstance(mask_gen, _FixedMask) else mask_gen
        self.bank = DeviceMaskBank(fixed, n=config.mask_bank_size, seed=config.seed, device=device,
                                   progress=progress)
        self.seed, self.batch_size, self.device = config.seed, config.batch_size, device
        self.gen = torch.Generator(device=device)

    def epoch(self, epoch: int, start_step: int) -> Iterator[tuple[Tensor, Tensor]]:
        order = epoch_order(len(self.cache), self.seed, epoch).to(self.device)
        for i in range(start_step, len(self.cache) // self.batch_size):
            idx = order[i * self.batch_size:(i + 1) * self.batch_size]
            self.gen.manual_seed(_seed_int(self.seed, epoch, i, 2))
            yield self.cache.batch(idx), self.bank.sample(self.batch_size, self.gen)


# ============================================================================================ the trainer
_ROW_LABELS = {
    "epoch": "epoch", "train_pixel": "train pixel", "train_perceptual": "train perc.", "val_pixel": "val pixel",
    "val_perceptual": "val perc.", "train_style": "train style", "train_tv": "train tv", "train_d_loss": "D loss",
    "train_g_adv": "G adv", "train_d_real_acc": "D acc real", "train_d_fake_acc": "D acc fake",
}


class Trainer:
    """Builds everything a run needs from a ``TrainConfig`` and runs the loop. ``train()`` is the front door.

    Attributes (after construction): config, fast (FastPath), generator, discriminator, vgg, g_opt, d_opt,
    scaler, step (TrainStep), train_faces, val_faces, out_dir, global_step, epoch, step_in_epoch, history.
    """

    def __init__(self, config: TrainConfig, progress: bool = True, build_data: bool = True) -> None:
        self.config, self.progress = config, progress
        self.fast = resolve_fast_path(config.device, config.amp, config.channels_last, config.fused_adam,
                                      config.compile, config.cuda_graphs, config.vgg_target_no_grad)
        # Fixed construction order from one seed: generator, discriminator, (random) VGG.
        torch.manual_seed(config.seed)
        self.generator = self.fast.prepare_module(_build_generator(config))
        disc = _build_discriminator(config)
        self.discriminator = self.fast.prepare_module(disc) if disc is not None else None
        vgg = _build_vgg(config)
        self.vgg = self.fast.prepare_module(vgg).eval() if vgg is not None else None
        self.g_opt = self.fast.adam(self.generator.parameters(), config.lr, config.betas)
        self.d_opt = (self.fast.adam(self.discriminator.parameters(), config.d_lr or config.lr, config.betas)
                      if self.discriminator is not None else None)
        self.scaler = torch.amp.GradScaler(self.fast.device.type, enabled=self.fast.needs_grad_scaler)
        self.step = TrainStep(config, self.fast, self.generator, self.discriminator, self.vgg, self.g_opt,
                              self.d_opt, self.scaler)
        self.out_dir = Path(config.out_dir)
        self.global_step, self.epoch, self.step_in_epoch = 0, 0, 0
        self.history: list[dict[str, Any]] = []
        self._sums: dict[str, Tensor] = {}
        self._epoch_steps = 0
        self._epoch_time = 0.0
        self.last_good_step: int | None = None
        if build_data:
            self._build_data()

    # ------------------------------------------------------------------------------------------ data
    def _build_data(self) -> None:
        from .data import InpaintingDataset, resolve_faces

        c = self.config
        with warnings.catch_warnings():
            warnings.simplefilter("always")  # show the "synthetic faces" warning on every run
            train_faces = resolve_faces(c.data, split="train", size=c.image_size, n_synthetic=c.n_synthetic,
                                        seed=c.seed)
            val_faces = resolve_faces(c.data, split="val", size=c.image_size,
                                      n_synthetic=min(c.n_synthetic, c.max_val_images or c.n_synthetic),
                                      seed=c.seed)
        if c.max_train_images is not None and c.max_train_images < len(train_faces):
            train_faces = Subset(train_faces, range(c.max_train_images))
        if c.max_val_images is not None and c.max_val_images < len(val_faces):
            val_faces = Subset(val_faces, range(c.max_val_images))
        if len(train_faces) < c.batch_size:
            raise ValueError(f"only {len(train_faces)} training faces for batch_size={c.batch_size}: lower "
                             "batch_size or use more images (max_train_images / n_synthetic)")
        self.train_faces, self.val_faces = train_faces, val_faces
        self.mask_gen = _mask_generator(c, self.generator)
        self.steps_per_epoch = len(train_faces) // c.batch_size
        if c.gpu_cache:
            self.source: _LoaderSource | _DeviceSource = _DeviceSource(train_faces, self.mask_gen, c,
                                                                       self.fast.device, self.progress)
        else:
            self.source = _LoaderSource(InpaintingDataset(train_faces, self.mask_gen, seed=c.seed), c,
                                        pin_memory=self.fast.device.type == "cuda")
        # Validation masks are fixed (epoch 0 of their own seed), so val losses compare across epochs.
        self.val_set = InpaintingDataset(val_faces, self.mask_gen, seed=c.seed + 1)

    # ----------------------------------------------------------------------------------- checkpoints
    @property
    def checkpoint_path(self) -> Path:
        return self.out_dir / "checkpoints" / "last.pt"

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume exactly (module states are of the uncompiled modules)."""
        return {
            "format": "facelib.train/1",
            "config": self.config.to_dict(),
            "generator": self.generator.state_dict(),
            "discriminator": self.discriminator.state_dict() if self.discriminator is not None else None,
            "g_opt": self.g_opt.state_dict(),
            "d_opt": self.d_opt.state_dict() if self.d_opt is not None else None,
            "scaler": self.scaler.state_dict(),
            "epoch": self.epoch,
            "step_in_epoch": self.step_in_epoch,
            "global_step": self.global_step,
            "epoch_sums": {k: v.detach().cpu() for k, v in self._sums.items()},
            "epoch_steps": self._epoch_steps,
            "epoch_time": self._epoch_time,
            "history": self.history,
            "rng": capture_rng_state(),
            "torch_version": torch.__version__,
        }

    def save_checkpoint(self, epoch_file: bool = False) -> Path:
        state = self.state_dict()
        path = atomic_torch_save(state, self.checkpoint_path)
        if epoch_file:
            atomic_torch_save(state, self.checkpoint_path.with_name(f"epoch_{self.epoch}.pt"))
        self.last_good_step = self.global_step
        return path

    def load_state_dict(self, ckpt: dict[str, Any]) -> None:
        saved = TrainConfig.from_dict(ckpt["config"])
        diff = saved.differences(self.config, ignore=_RESUMABLE_FIELDS)
        if diff:
            lines = "; ".join(f"{k}: checkpoint {a!r} vs now {b!r}" for k, a, b in
                              ((k, *v) for k, v in diff.items()))
            raise CheckpointError(
                f"cannot resume {self.checkpoint_path}: the configuration differs ({lines}). Use the checkpoint's "
                f"values, or start a new run with another out_dir (or overwrite=True / --overwrite)"
            )
        self.generator.load_state_dict(ckpt["generator"])
        if self.discriminator is not None:
            self.discriminator.load_state_dict(ckpt["discriminator"])
            self.d_opt.load_state_dict(ckpt["d_opt"])  # type: ignore[union-attr]
        self.g_opt.load_state_dict(ckpt["g_opt"])
        self.scaler.load_state_dict(ckpt["scaler"])
        self.epoch, self.step_in_epoch = ckpt["epoch"], ckpt["step_in_epoch"]
        self.global_step = ckpt["global_step"]
        self._sums = {k: v.to(self.fast.device) for k, v in ckpt["epoch_sums"].items()}
        self._epoch_steps, self._epoch_time = ckpt["epoch_steps"], ckpt["epoch_time"]
        self.history = list(ckpt["history"])
        restore_rng_state(ckpt["rng"])
        self.last_good_step = self.global_step

    def _prepare_out_dir(self) -> None:
        c = self.config
        existing = [p for p in (self.checkpoint_path, self.out_dir / "history.json") if p.exists()]
        if existing and not c.resume:
            if not c.overwrite:
                raise FileExistsError(
                    f"{self.out_dir} already holds a training run ({existing[0]}). Pass resume=True (--resume) to "
                    "continue it, overwrite=True (--overwrite) to start afresh there, or choose another out_dir"
                )
            shutil.rmtree(self.out_dir / "checkpoints", ignore_errors=True)
            for name in ("history.csv", "history.json"):
                (self.out_dir / name).unlink(missing_ok=True)
        (self.out_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
        if c.resume and self.checkpoint_path.exists():
            self.load_state_dict(load_checkpoint(self.checkpoint_path, map_location=self.fast.device))
            self._log(f"resumed {self.checkpoint_path}: epoch {self.epoch}, step {self.step_in_epoch} of the "
                      f"epoch, global step {self.global_step}")
        elif c.resume:
            self._log(f"resume=True but {self.checkpoint_path} does not exist: starting a new run")

    # ------------------------------------------------------------------------------------------ logging
    def _log(self, text: str) -> None:
        if self.progress:
            tqdm.write(text)

    def _check_finite(self, interval: dict[str, Tensor], first_step: int) -> None:
        values = {k: float(v) for k, v in interval.items()}
        bad = [k for k, v in values.items() if not math.isfinite(v)]
        if bad:
            where = (f"step {self.global_step}" if first_step == self.global_step
                     else f"steps {first_step}-{self.global_step}")
            kept = (f"the last good checkpoint {self.checkpoint_path} (global step {self.last_good_step}) was "
                    "kept untouched" if self.last_good_step is not None else "no checkpoint was written yet")
            raise NonFiniteLossError(
                f"non-finite loss at {where}: " + ", ".join(f"{k}={values[k]}" for k in bad)
                + f". Training stopped; {kept}. Lower the learning rate (lr={self.config.lr}), the loss weights, "
                "or use amp='none' / 'bf16' instead of fp16"
            )

    # ------------------------------------------------------------------------------------------ the loop
    def validate(self) -> dict[str, float]:
        """Average validation losses over ``val_faces`` with fixed masks (generator in eval mode)."""
        self.generator.eval()
        sums: dict[str, float] = {}
        count = 0
        loader = DataLoader(self.val_set, batch_size=self.config.batch_size, shuffle=False,
                            num_workers=self.config.num_workers)
        try:
            for batch in loader:
                terms, _ = self.step.evaluate(batch["image"], batch["mask"])
                n = batch["image"].shape[0]
                for k, v in terms.items():
                    sums[k] = sums.get(k, 0.0) + float(v) * n
                count += n
        finally:
            self.generator.train()
        return {k: v / count for k, v in sums.items()}

    def _row(self, val: dict[str, float], complete: bool) -> dict[str, Any]:
        n = max(self._epoch_steps, 1)
        train = {k: float(v) / n for k, v in self._sums.items()}
        c = self.config
        row: dict[str, Any] = {
            "epoch": self.epoch + 1,
            "train_pixel": train.get("pixel"),
            "train_perceptual": train.get("perceptual"),
            "val_pixel": val.get("pixel"),
            "val_perceptual": val.get("perceptual"),
        }
        if c.style_weight > 0:
            row["train_style"], row["val_style"] = train.get("style"), val.get("style")
        if c.tv_weight > 0:
            row["train_tv"], row["val_tv"] = train.get("tv"), val.get("tv")
        if self.discriminator is not None:
            for k in ("d_loss", "g_adv", "d_real_acc", "d_fake_acc"):
                row[f"train_{k}"] = train.get(k)
        row.update({
            "train_total": train.get("total"),
            "steps": self._epoch_steps,
            "complete": complete,
            "global_step": self.global_step,
            "images_per_s": (self._epoch_steps * c.batch_size / self._epoch_time) if self._epoch_time else None,
            "time_s": round(self._epoch_time, 3),
        })
        return row

    def _write_history(self, rows: list[dict[str, Any]]) -> None:
        atomic_write_json({"config": self.config.to_dict(), "history": rows}, self.out_dir / "history.json")
        buf = io.StringIO()
        columns = list(dict.fromkeys(k for r in rows for k in r))
        writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for r in rows:
            writer.writerow({k: ("" if r.get(k) is None else r[k]) for k in columns})
        atomic_write_text(buf.getvalue(), self.out_dir / "history.csv")

    def _print_row(self, row: dict[str, Any], header: bool) -> None:
        keys = [k for k in _ROW_LABELS if k in row]
        if header:
            self._log(" | ".join(f"{_ROW_LABELS[k]:>11}" for k in keys))
        cells = [f"{row[k]:>11d}" if isinstance(row[k], int) else
                 f"{'-':>11}" if row[k] is None else f"{row[k]:>11.4f}" for k in keys]
        self._log(" | ".join(cells) + ("" if row["complete"] else f"   (stopped after {row['steps']} steps)"))

    def run(self, figures: bool = True) -> dict[str, Any]:
        """Train until ``epochs`` (or ``max_steps``); returns ``train()``'s result dict."""
        c = self.config
        self._prepare_out_dir()
        self._log(f"training {c.model} on {_describe(self.train_faces)}; masks {c.mask_kind}; device "
                  f"{self.fast.device}, amp {self.fast.amp_dtype}, compile {self.fast.compile_mode}")
        stopped = "epochs"
        check_every = 1 if self.fast.device.type == "cpu" else c.log_every
        total_steps = c.epochs * self.steps_per_epoch
        if c.max_steps is not None:
            total_steps = min(total_steps, c.max_steps)
        bar = tqdm(total=total_steps, initial=min(self.global_step, total_steps), desc="training",
                   disable=not self.progress, dynamic_ncols=True)
        header = True
        try:
            while self.epoch < c.epochs:
                if c.max_steps is not None and self.global_step >= c.max_steps:
                    stopped = "max_steps"
                    break
                interval: dict[str, Tensor] = {}
                interval_start = self.global_step + 1
                t0 = time.perf_counter()
                for image, mask in self.source.epoch(self.epoch, self.step_in_epoch):
                    logs = self.step(image, mask)
                    self.global_step += 1
                    self.step_in_epoch += 1
                    self._epoch_steps += 1
                    for k, v in logs.items():
                        self._sums[k] = self._sums.get(k, 0) + v.float()
                        interval[k] = interval.get(k, 0) + v.float()
                    bar.update(1)
                    due_ckpt = self.global_step % c.checkpoint_every == 0
                    hit_max = c.max_steps is not None and self.global_step >= c.max_steps
                    if self.global_step % check_every == 0 or due_ckpt or hit_max or \
                            self.step_in_epoch == self.steps_per_epoch:
                        self._check_finite(interval, interval_start)
                        if self.global_step % c.log_every == 0 and self.progress:
                            n = self.global_step - interval_start + 1
                            bar.set_postfix({k: f"{float(v) / n:.4f}" for k, v in interval.items()
                                             if k in ("pixel", "perceptual", "d_loss", "g_adv")})
                        interval, interval_start = {}, self.global_step + 1
                    if due_ckpt or hit_max:
                        self._epoch_time += time.perf_counter() - t0
                        t0 = time.perf_counter()
                        self.save_checkpoint()
                    if hit_max:
                        break
                self._epoch_time += time.perf_counter() - t0
                complete = self.step_in_epoch >= self.steps_per_epoch
                row = self._row(self.validate(), complete)
                self._print_row(row, header)
                header = False
                if complete:
                    self.history.append(row)
                    self.epoch += 1
                    self.step_in_epoch, self._epoch_steps, self._epoch_time, self._sums = 0, 0, 0.0, {}
                    self.save_checkpoint(epoch_file=c.save_epoch_checkpoints)
                    self._write_history(self.history)
                else:  # stopped by max_steps inside the epoch: show the partial row, resume continues it
                    self._write_history(self.history + [row])
                    stopped = "max_steps"
                    break
        finally:
            bar.close()
        rows = self.history if stopped == "epochs" else self._read_history_rows()
        return {
            "history": rows,
            "out_dir": str(self.out_dir),
            "checkpoint": str(self.checkpoint_path),
            "global_step": self.global_step,
            "stopped": stopped,
            "config": self.config.to_dict(),
            "figures": self._figures(rows) if figures else {},
        }

    def _read_history_rows(self) -> list[dict[str, Any]]:
        path = self.out_dir / "history.json"
        return json.loads(path.read_text())["history"] if path.exists() else list(self.history)

    # ------------------------------------------------------------------------------------------ figures
    def _figures(self, rows: list[dict[str, Any]]) -> dict[str, str]:
        out: dict[str, str] = {}
        if rows:
            out["loss_curves"] = str(_plot_history(rows, self.out_dir / "loss_curves.png",
                                                   title=f"{self.config.model}: {_describe(self.train_faces)}"))
        out["samples"] = str(self._samples(self.out_dir / "samples.png"))
        return out

    def _samples(self, path: Path, n: int = 8) -> Path:
        from .models import composite, mask_image

        n = min(n, len(self.val_set))
        batch = [self.val_set[i] for i in range(n)]
        image = torch.stack([b["image"] for b in batch])
        mask = torch.stack([b["mask"] for b in batch])
        self.generator.eval()
        try:
            _, output = self.step.evaluate(image, mask)
        finally:
            self.generator.train()
        output = output.cpu().contiguous()
        rows = {"masked": mask_image(image, mask), "output": output, "composite": composite(output, image, mask),
                "real": image}
        return _save_grid(rows, path, title=f"{self.config.model}, global step {self.global_step}: fixed "
                                            f"validation faces ({_describe(self.val_faces)})")


def _describe(ds: Dataset) -> str:
    try:
        from .data import describe_dataset

        return describe_dataset(ds)
    except Exception:  # describe is cosmetic; never fail a run on it
        return f"{type(ds).__name__} ({len(ds)} items)"  # type: ignore[arg-type]


def _plot_history(rows: list[dict[str, Any]], path: Path, title: str) -> Path:
    """Loss curves of a run (``facelib.viz.plot_history``) saved to ``path``."""
    import matplotlib.pyplot as plt

    from .viz import plot_history

    fig = plot_history(rows, path=path, title=title)
    plt.close(fig)
    return path


def _save_grid(rows: dict[str, Tensor], path: Path, title: str) -> Path:
    """Image grid, one row per entry of ``rows`` (``facelib.viz.save_inpainting_grid``)."""
    from .viz import save_inpainting_grid

    return save_inpainting_grid(rows, path, title=title)


# ========================================================================================= public API
def train(config: TrainConfig, progress: bool = True, figures: bool = True) -> dict[str, Any]:
    """Train a generator as configured.

    Args:
        config: the run (see ``TrainConfig``); ``config.resume`` continues ``out_dir/checkpoints/last.pt``.
        progress: show the tqdm bar and print the per-epoch table.
        figures: write ``loss_curves.png`` and ``samples.png`` at the end.

    Returns:
        ``dict(history=[row per epoch], out_dir, checkpoint, global_step, stopped="epochs"|"max_steps", config,
        figures={"loss_curves": path, "samples": path})``. A row holds ``epoch``, ``train_pixel``,
        ``train_perceptual``, ``val_pixel``, ``val_perceptual`` (None when the VGG loss is off), with a
        discriminator ``train_d_loss``, ``train_g_adv``, ``train_d_real_acc``, ``train_d_fake_acc``, and
        ``train_total``, ``steps``, ``complete``, ``global_step``, ``images_per_s``, ``time_s``.

    Raises:
        FileExistsError: ``out_dir`` holds a run and neither ``resume`` nor ``overwrite`` is set.
        CheckpointError: resuming with a different configuration.
        NonFiniteLossError: a loss became NaN/inf (the last good checkpoint is kept).
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"train() expects a TrainConfig, got {type(config).__name__}")
    return Trainer(config, progress=progress).run(figures=figures)


def load_generator(checkpoint_path: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, TrainConfig]:
    """The trained generator of a checkpoint, in eval mode, and its ``TrainConfig``.

    Example::

        g, cfg = load_generator("runs/g/checkpoints/last.pt")
        out = g(mask_image(image, mask), mask)
    """
    ckpt = load_checkpoint(checkpoint_path, map_location="cpu")
    config = TrainConfig.from_dict(ckpt["config"])
    model = _build_generator(config)
    model.load_state_dict(ckpt["generator"])
    return model.to(device).eval(), config


# ================================================================================================ CLI
def build_parser() -> argparse.ArgumentParser:
    """The argparse parser: one ``--kebab-case`` option per ``TrainConfig`` field (defaults from the preset)."""
    parser = argparse.ArgumentParser(
        prog="python -m facelib.train",
        description="Train a face-inpainting generator. Options not given take the preset's value "
                    "(see --model list), else the TrainConfig default.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar / table output")
    defaults = TrainConfig.__dataclass_fields__
    for f in fields(TrainConfig):
        meta = f.metadata
        flag = "--" + f.name.replace("_", "-")
        help_text = f"{meta.get('help', '')} (default: {defaults[f.name].default!r})"
        kwargs: dict[str, Any] = {"dest": f.name, "default": argparse.SUPPRESS, "help": help_text}
        if f.name == "model":
            kwargs["choices"] = (*MODEL_NAMES, *[p for p in PRESETS if p not in MODEL_NAMES], "list")
            kwargs["help"] = "architecture or preset ('list' prints them); default: generator"
        elif isinstance(f.default, bool) and "parse" not in meta:
            kwargs["action"] = argparse.BooleanOptionalAction
        elif "nargs" in meta:
            kwargs["nargs"], kwargs["type"] = meta["nargs"], meta["parse"]
        else:
            if "parse" in meta:
                kwargs["type"] = meta["parse"]
            else:
                kwargs["type"] = str if f.default is None else type(f.default)
            if "choices" in meta and None not in meta["choices"]:
                kwargs["choices"] = meta["choices"]
        kwargs["help"] = kwargs["help"].replace("%", "%%")
        parser.add_argument(flag, **kwargs)
    return parser


def list_models() -> str:
    """One line per model / preset (what ``--model list`` prints)."""
    width = max(map(len, PRESETS))
    return "\n".join(f"{name:<{width}}  {desc}" for name, (desc, _) in PRESETS.items())


def config_from_args(argv: Sequence[str] | None = None) -> tuple[TrainConfig | None, bool]:
    """Parse the command line into ``(config, progress)``; ``config`` is None for ``--model list``."""
    args = vars(build_parser().parse_args(argv))
    progress = not args.pop("no_progress")
    name = args.pop("model", "generator")
    if name == "list":
        return None, progress
    return TrainConfig.preset(name, **args), progress


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m facelib.train`` / ``facelib-train``; returns the exit code."""
    try:
        config, progress = config_from_args(argv)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if config is None:
        print(list_models())
        return 0
    try:
        result = train(config, progress=progress)
    except (FileExistsError, CheckpointError, NonFiniteLossError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"done ({result['stopped']}): {result['global_step']} steps; history {config.out_dir}/history.csv, "
          f"checkpoint {result['checkpoint']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
