"""The training options: ``TrainConfig``, the single source of every option (name, default, help, choices).

The command line (``facelib.train.cli``), the notebooks' parameter cells, the series' small sizes
(:data:`SMALL`), the experiment profiles and the benchmark's flags are all overrides of these fields. The
choices come from the registries: models (``facelib.models.MODELS``), mask kinds
(``facelib.masks.MASK_KINDS``), adversarial losses (``facelib.losses.ADVERSARIAL_LOSSES``). Presets
(:data:`PRESETS`) are named overrides too.
"""
from __future__ import annotations

import argparse
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from ..fast import AMP_CHOICES, COMPILE_CHOICES
from ..generator_checkpoint import LEGACY_DEFAULTS
from ..losses import ADVERSARIAL_KINDS, PIXEL_KINDS
from ..masks import MASK_NAMES
from ..models import MODELS
from ..vgg.features import DEFAULT_LAYERS

__all__ = ["TrainConfig", "Preset", "PRESETS", "label", "SMALL", "MODEL_NAMES", "ADVERSARIAL_CHOICES", "MASK_CHOICES"]

MODEL_NAMES: tuple[str, ...] = tuple(MODELS)
ADVERSARIAL_CHOICES: tuple[str, ...] = ("none", *ADVERSARIAL_KINDS)
MASK_CHOICES: tuple[str, ...] = ("auto", *MASK_NAMES)
PIXEL_LOSS_CHOICES: tuple[str, ...] = PIXEL_KINDS
VGG_WEIGHT_CHOICES = ("caffe", "torchvision", None)

@dataclass(frozen=True)
class Preset:
    """One entry of :data:`PRESETS`: a training recipe by name, and how tables, figures and notebooks call it.

    Attributes:
        label: the method's name in every results table, figure and notebook column (e.g. "ours, L1 + VGG").
        description: one line for ``--model list``, and the description of its exported weights.
        overrides: ``TrainConfig`` field overrides (``TrainConfig.preset(name)`` applies them).
        weights: the name its trained weights take in ``weights/`` (``facelib.pretrained``; what notebook 10
            shows when present), None for a recipe the series only trains for a table.
    """

    label: str
    description: str
    overrides: dict[str, Any]
    weights: str | None = None


#: Every training recipe by name (``--model``), in the order of the results tables and notebook columns.
PRESETS: dict[str, Preset] = {
    "pixel": Preset(
        "ours, L1 only",
        "the same generator trained with the L1 pixel loss only (no perceptual term): the ablation",
        {"model": "generator", "perceptual_weight": 0.0},
    ),
    "generator": Preset(
        "ours, L1 + VGG",
        "ResNet encoder-decoder (10.8 M params), L1 + 0.001 x VGG19 perceptual loss (the seed's pixel + perceptual setting)",
        {"model": "generator"},
        weights="generator",
    ),
    "gan": Preset(
        "ours, L1 + VGG + GAN",
        "'generator' + a spectral-norm PatchGAN discriminator on the composite (L1 + 0.001 VGG + 0.01 hinge GAN)",
        {"model": "generator", "adversarial": "hinge", "adv_weight": 0.01, "spectral_norm": True},
        weights="gan",
    ),
    "gated": Preset(
        "gated, L1 + VGG",
        "gated-convolution generator (DeepFill v2 layers, same plan and losses as 'generator')",
        {"model": "gated"},
        weights="gated",
    ),
    # Wang et al. 2018: stage 1 the confidence-driven L1 only; stage 2 adds 0.05 x ID-MRF and 0.001 x the hinge
    # loss of the global and local critics (the reference's PyTorch code: hinge, spectral norm, d_cnum 64).
    # lr 5e-5, not the BatchNorm generators' 2e-4: without normalisation the network collapsed at 2e-4 in its
    # classroom run (pixel loss 0.27 at step 250, back to a grey fill's 0.7 by step 300, never recovered), and
    # trained through 700 steps at 5e-5 in a pilot (README, GMCNN); the authors' code uses 1e-5.
    "gmcnn": Preset(
        "GMCNN, multi-column",
        "multi-column GMCNN (4.7 M params): confidence-driven L1, from epoch 3 on + 0.05 ID-MRF + 0.001 global/local "
        "hinge GAN; Adam lr 5e-5",
        {"model": "gmcnn", "widths": (24, 48, 96), "perceptual_weight": 0.0, "mrf_weight": 0.05,
         "adversarial": "hinge", "adv_weight": 0.001, "spectral_norm": True, "stage2_epoch": 2, "lr": 5e-5},
        weights="gmcnn",
    ),
    "context_encoder": Preset(
        "Context Encoder",
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
        weights="context_encoder",
    ),
}


def label(name: str) -> str:
    """The display label of a preset or OpenCV baseline (``facelib.baselines.BASELINES``); other names (a
    run folder, a checkpoint) are their own label."""
    from ..baselines import BASELINES

    entry = PRESETS.get(name) or BASELINES.get(name)
    return entry.label if entry is not None else name


#: The test suite's small training sizes (notebooks 06-08 under ``python -m facelib.series --small``): a few
#: seconds per run on two CPU cores.
SMALL: dict[str, Any] = {"image_size": 32, "widths": (16, 32, 64), "num_residual": 2, "batch_size": 4,
                         "epochs": 2, "max_val_images": 8}


def _opt(default: Any, help: str, **meta: Any) -> Any:
    """A dataclass field carrying its CLI help text (and optional ``choices`` / ``parse``) as metadata."""
    return field(default=default, metadata={"help": help, **meta})


def _parse_optional_int(text: str) -> int | None:
    return None if text.lower() in ("none", "null", "") else int(text)


def _parse_optional_float(text: str) -> float | None:
    return None if text.lower() in ("none", "null", "") else float(text)


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
    # A folder without a split (not CelebA-HQ, not UTKFace) used to validate on its training images: now a
    # seeded share of it is held out (facelib.data.folder_split). Older checkpoints read 0.0 (as they trained).
    val_fraction: float = _opt(0.1, "share of a folder without a split (neither CelebA-HQ nor UTKFace) held out for "
                               "validation by a fixed seeded rule (facelib.data.folder_split; at least 1 image); 0 = "
                               "validate on the training images (with a warning)")
    utkface_subset: bool = _opt(False, "train on a UTKFace folder that lacks some of the committed validation faces "
                                "(data/splits/utkface_val.txt): the listed ones it holds validate and never train; "
                                "with none of them, val_fraction of the rest is held out")
    skip_corrupt: bool = _opt(False, "skip unreadable images (each replaced by the next readable one, with a warning) "
                              "instead of stopping")
    max_val_images: int | None = _opt(256, "validate on the first N validation faces (None = all)",
                                      parse=_parse_optional_int)
    masks: str = _opt("auto", "hole masks ('auto' = center for context_encoder, mixed otherwise)",
                      choices=MASK_CHOICES)
    mask_root: str | None = _opt(None, "NVIDIA irregular-mask folder: needed by masks=irregular, added to "
                                 "masks=mixed when given", parse=_parse_optional_str)
    # The NVIDIA set here is its *test* set, which the evaluation protocol also draws from: without the
    # hold-out a model could be scored on hole shapes it was trained on.
    holdout_protocol_masks: bool = _opt(True, "train without the NVIDIA masks that the committed evaluation "
                                        "manifests (data/protocol/*.csv) use")
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
                              parse=_parse_optional_float)
    max_steps: int | None = _opt(None, "stop after this many optimisation steps in total (None = all epochs)",
                                 parse=_parse_optional_int)
    max_minutes: float | None = _opt(None, "time budget: at the first step boundary past this many wall-clock minutes "
                                     "(counted from the start of the run, its model and data set-up included) save "
                                     "checkpoints/last.pt and stop; --resume continues (None = no budget)",
                                     parse=_parse_optional_float)
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
    perceptual_layers: tuple[int, ...] = _opt(DEFAULT_LAYERS, "VGG19 feature indices (relu1_1 ... relu5_1)",
                                              nargs="+", parse=int)
    style_weight: float = _opt(0.0, "weight of the Gram-matrix style loss on the same VGG features (0 = off)")
    tv_weight: float = _opt(0.0, "weight of the total-variation loss on the composite (0 = off)")
    vgg_weights: str | None = _opt("caffe", "VGG19 weights: caffe, torchvision or none (random: tests only)",
                                   parse=_parse_optional_str, choices=VGG_WEIGHT_CHOICES)
    mrf_weight: float = _opt(0.0, "weight of the ID-MRF loss on VGG19 relu3_2 / relu4_2 of the composite "
                             "(facelib.idmrf; second stage only; 0 = off)")
    adversarial: str = _opt("none", "GAN loss of a discriminator (none = no discriminator)",
                            choices=ADVERSARIAL_CHOICES)
    adv_weight: float = _opt(0.01, "weight of the generator's adversarial loss")
    spectral_norm: bool = _opt(False, "spectral normalisation in the PatchGAN discriminator")
    d_base: int = _opt(64, "width of the discriminator's first layer")
    stage2_epoch: int = _opt(0, "epoch (counting from 0) at which the second stage starts: before it the generator "
                             "learns from the pixel and perceptual losses alone, from it on the discriminator and the "
                             "ID-MRF loss join in (GMCNN's two stages; 0 = a single stage)")
    # --- run
    device: str = _opt("auto", "cpu, cuda, cuda:1 ... or auto (cuda when available)")
    out_dir: str = _opt("runs/default", "run folder: history, checkpoints, figures")
    checkpoint_every: int = _opt(100, "write checkpoints/last.pt every N steps (and at each epoch end)")
    save_epoch_checkpoints: bool = _opt(False, "also keep checkpoints/epoch_{k}.pt after each epoch")
    resume: bool = _opt(False, "continue from out_dir/checkpoints/last.pt (starts fresh only when out_dir holds no "
                        "run; without last.pt but with a history it stops: use resume_from or overwrite)")
    resume_from: str | None = _opt(None, "continue exactly from this checkpoint (e.g. out_dir/checkpoints/epoch_2.pt) "
                                   "and write on in out_dir", parse=_parse_optional_str)
    overwrite: bool = _opt(False, "start afresh in an out_dir that already holds a run (deletes its history, "
                           "last.pt and epoch_*.pt; other files stay)")
    init_from: str | None = _opt(None, "a fresh run's generator starts from these weights: a name of "
                                 "facelib.pretrained.available_weights() or a training checkpoint path (a resumed run "
                                 "restores its own)", parse=_parse_optional_str)
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
        if self.max_minutes is not None and (not isinstance(self.max_minutes, (int, float))
                                             or isinstance(self.max_minutes, bool)
                                             or not math.isfinite(self.max_minutes) or self.max_minutes <= 0):
            raise bad("max_minutes", "must be None (no budget) or a number of minutes > 0, e.g. 30")
        if not isinstance(self.num_workers, int) or self.num_workers < 0:
            raise bad("num_workers", "must be an integer >= 0")
        for name in ("seed", "stage2_epoch"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise bad(name, "must be an integer >= 0")
        if self.batch_size < 2:
            raise bad("batch_size", "must be >= 2 (BatchNorm needs more than one image per batch in training)")
        for name in ("pixel_weight", "hole_weight", "valid_weight", "perceptual_weight", "style_weight",
                     "tv_weight", "adv_weight", "mrf_weight"):
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
            raise bad("perceptual_layers", f"must be indices into vgg19().features (0-35), e.g. {DEFAULT_LAYERS}")
        spec = MODELS[self.model]
        problem = spec.check_size(self.image_size, self.adversarial != "none")
        if problem:
            raise bad("image_size", problem)
        if spec.mask_kinds is not None and self.masks not in ("auto", *spec.mask_kinds):
            raise bad("masks", f"{self.model} only fills {'/'.join(spec.mask_kinds)} holes: use masks='auto' or "
                               f"one of {spec.mask_kinds}")
        if isinstance(self.channels_last, str) and self.channels_last != "auto":
            raise bad("channels_last", "must be True, False or 'auto'")
        if isinstance(self.fused_adam, str) and self.fused_adam != "auto":
            raise bad("fused_adam", "must be True, False or 'auto'")
        if self.compile not in (True, False, None) and self.compile not in COMPILE_CHOICES:
            raise bad("compile", f"must be False, True or one of {COMPILE_CHOICES}")
        if not self.out_dir:
            raise bad("out_dir", "must be a folder path")
        if (not isinstance(self.val_fraction, (int, float)) or isinstance(self.val_fraction, bool)
                or not 0 <= self.val_fraction < 1):
            raise bad("val_fraction", "must be a number in [0, 1), e.g. 0.1 (0 = validate on the training images)")
        for name in ("resume_from", "init_from"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise bad(name, "must be None or a non-empty path / name")

    # ------------------------------------------------------------------------------------------ helpers
    @classmethod
    def preset(cls, name: str, **overrides: Any) -> TrainConfig:
        """A config from a preset of ``PRESETS`` (see ``python -m facelib.train --model list``) plus overrides."""
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; choose one of {tuple(PRESETS)}")
        return cls(**{**PRESETS[name].overrides, **overrides})

    @property
    def mask_kind(self) -> str:
        """``masks`` with "auto" resolved: the model's default mask kind (``MODELS[model].mask_kind``)."""
        return MODELS[self.model].mask_kind(self.masks)

    @property
    def uses_vgg(self) -> bool:
        return self.perceptual_weight > 0 or self.style_weight > 0

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (tuples become lists)."""
        return json.loads(json.dumps(asdict(self)))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        """Inverse of ``to_dict``; unknown keys raise ``ValueError`` (a config from another version).

        A field added after a checkpoint was written takes its value in
        :data:`facelib.generator_checkpoint.LEGACY_DEFAULTS`, the one that reproduces what that older run did, so
        the run resumes exactly as it trained.
        """
        names = {f.name for f in fields(cls)}
        d = {**LEGACY_DEFAULTS, **d}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown TrainConfig fields {sorted(unknown)}; known: {sorted(names)}")
        return cls(**d)

    def differences(self, other: TrainConfig, ignore: Sequence[str] = ()) -> dict[str, tuple[Any, Any]]:
        """``{field: (self value, other value)}`` for the fields that differ, except ``ignore``."""
        a, b = self.to_dict(), other.to_dict()
        return {k: (a[k], b[k]) for k in a if k not in ignore and a[k] != b[k]}

    @classmethod
    def fields_in(cls, namespace: Mapping[str, Any]) -> dict[str, Any]:
        """The entries of ``namespace`` named like a field, e.g. a notebook's parameters: ``globals()``."""
        names = {f.name for f in fields(cls)}
        return {k: v for k, v in namespace.items() if k in names}
