"""Hole masks for inpainting.

Every mask is a float32 tensor of shape (1, H, W) with values exactly 0. or 1.: **1 = hole (missing),
0 = known**. A *mask generator* is any callable ``gen(rng: numpy.random.Generator) -> Tensor (1, size, size)``
with an attribute ``size``; the same generator state always gives the same mask, so training and evaluation
are reproducible from a seed.

Families:

* :class:`CenterMask` - a centred square (the Context Encoder setting: a quarter of the image area).
* :class:`RandomRectangles` - a few axis-aligned boxes.
* :class:`FreeFormMask` - brush strokes, after Algorithm 1 of Yu et al., "Free-Form Image Inpainting with
  Gated Convolution" (DeepFill v2, ICCV 2019).
* :class:`IrregularMasks` - the NVIDIA irregular mask test set (Liu et al., ECCV 2018), 12,000 PNGs whose
  hole ratio rises with the file number: each block of 2,000 files is one bin, 0-10%, ..., 50-60%.
* :class:`MixedMasks` - one of several generators per call.
"""
from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Callable, Sequence

import cv2
import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor

IRREGULAR_BINS: tuple[str, ...] = ("0-10%", "10-20%", "20-30%", "30-40%", "40-50%", "50-60%")
#: Files per hole-ratio bin in NVIDIA's test set (00000-01999 is 0-10%, 02000-03999 is 10-20%, ...).
FILES_PER_BIN = 2000
MASK_NAMES: tuple[str, ...] = ("center", "rectangles", "freeform", "irregular", "mixed")
MASKS_HELP = (
    "the NVIDIA irregular mask test set (Liu et al. 2018, 'Image Inpainting for Irregular Holes Using Partial "
    "Convolutions'; testing_mask_dataset/00000.png..11999.png, white = hole); pass its folder or set FACELIB_MASKS"
)

MaskGenerator = Callable[[np.random.Generator], Tensor]


def _to_tensor(mask: np.ndarray) -> Tensor:
    """(H, W) array of 0/1 (any dtype) -> (1, H, W) float32 tensor of exactly 0. and 1."""
    return torch.from_numpy((mask > 0).astype(np.float32))[None]


def hole_ratio(mask: Tensor) -> float | Tensor:
    """Fraction of hole pixels: a float for a (1, H, W) mask, a (N,) tensor for a (N, 1, H, W) batch."""
    if mask.dim() == 4:
        return mask.flatten(1).mean(1)
    return float(mask.mean())


def check_mask(mask: Tensor, size: int | None = None, name: str = "mask") -> Tensor:
    """Raise a clear ValueError unless ``mask`` is a (1, H, W) or (N, 1, H, W) float tensor of 0s and 1s.

    ``size`` (if given) is the expected H = W. Returns the mask unchanged.
    """
    if not isinstance(mask, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(mask).__name__}")
    if mask.dim() not in (3, 4) or mask.shape[-3] != 1:
        raise ValueError(
            f"{name} has shape {tuple(mask.shape)}; expected (1, H, W) or (N, 1, H, W): one channel, 1 = hole. "
            "For an RGB or (H, W) mask use mask[..., :1, :, :] or mask[None]."
        )
    if size is not None and tuple(mask.shape[-2:]) != (size, size):
        raise ValueError(f"{name} is {tuple(mask.shape[-2:])} pixels; the images are ({size}, {size}): resize it "
                         "with nearest-neighbour interpolation (never bilinear) so it stays binary")
    if not mask.is_floating_point():
        raise ValueError(f"{name} has dtype {mask.dtype}; expected a float tensor (use mask.float())")
    if not bool(((mask == 0) | (mask == 1)).all()):
        raise ValueError(f"{name} has values other than 0 and 1 (1 = hole, 0 = known): threshold it, "
                         "e.g. (mask > 0.5).float()")
    return mask


def load_mask(path: str | Path, size: int | None = None, threshold: int = 127) -> Tensor:
    """Read a mask image (white = hole) into a (1, size, size) float tensor of 0/1.

    Resizing uses nearest neighbour, so no grey values leak into the mask.
    """
    path = Path(path)
    try:
        with Image.open(path) as im:
            im = im.convert("L")
            if size is not None and im.size != (size, size):
                im = im.resize((size, size), Image.NEAREST)
            arr = np.asarray(im)
    except FileNotFoundError:
        raise FileNotFoundError(f"mask file {path} does not exist") from None
    except (UnidentifiedImageError, OSError) as err:
        raise ValueError(f"cannot read mask image {path} ({err}): replace or delete this file") from err
    return _to_tensor(arr > threshold)


class CenterMask:
    """A centred square hole covering ``area`` of the image (0.25: a size/2 square, as in Pathak et al. 2016).

    Deterministic: the rng is ignored. Output (1, size, size).
    """

    def __init__(self, size: int, area: float = 0.25) -> None:
        if not 0 < area < 1:
            raise ValueError(f"area must be in (0, 1), got {area}")
        self.size, self.area = size, area
        self.side = int(round(size * math.sqrt(area)))
        self.top = (size - self.side) // 2

    def __call__(self, rng: np.random.Generator | None = None) -> Tensor:
        mask = np.zeros((self.size, self.size), np.uint8)
        mask[self.top:self.top + self.side, self.top:self.top + self.side] = 1
        return _to_tensor(mask)

    def __repr__(self) -> str:
        return f"CenterMask(size={self.size}, area={self.area})"


class RandomRectangles:
    """1 to ``max_boxes`` axis-aligned boxes, each side a random fraction of the image in [min_frac, max_frac]."""

    def __init__(self, size: int, max_boxes: int = 3, min_frac: float = 0.1, max_frac: float = 0.5) -> None:
        if not 0 < min_frac <= max_frac <= 1:
            raise ValueError(f"need 0 < min_frac <= max_frac <= 1, got {min_frac}, {max_frac}")
        self.size, self.max_boxes, self.min_frac, self.max_frac = size, max_boxes, min_frac, max_frac

    def __call__(self, rng: np.random.Generator) -> Tensor:
        mask = np.zeros((self.size, self.size), np.uint8)
        lo, hi = max(1, int(self.min_frac * self.size)), max(1, int(self.max_frac * self.size))
        for _ in range(int(rng.integers(1, self.max_boxes + 1))):
            h, w = (int(v) for v in rng.integers(lo, hi + 1, size=2))
            top, left = int(rng.integers(0, self.size - h + 1)), int(rng.integers(0, self.size - w + 1))
            mask[top:top + h, left:left + w] = 1
        return _to_tensor(mask)

    def __repr__(self) -> str:
        return f"RandomRectangles(size={self.size}, max_boxes={self.max_boxes})"


class FreeFormMask:
    """Free-form brush strokes, after Algorithm 1 of DeepFill v2 (Yu et al., ICCV 2019).

    Each of 1..``max_strokes`` strokes starts at a random point and makes 1..``max_vertex`` moves; each move
    turns by a random angle (alternating direction so strokes curl back like hand drawing), goes a random
    length and is drawn as a thick line of a random brush width with round ends. Lengths and widths are
    fractions of ``size`` so 64, 128 and 256 pixel masks look alike (the paper's 256 px setting: max length
    ~40 px, brush width 12-40 px). Random flips follow the paper. Output (1, size, size).
    """

    def __init__(self, size: int, max_strokes: int = 5, max_vertex: int = 12, max_length: float = 0.2,
                 min_width: float = 0.05, max_width: float = 0.14, max_angle: float = 2 * math.pi / 5) -> None:
        self.size, self.max_strokes, self.max_vertex = size, max_strokes, max_vertex
        self.max_length, self.min_width, self.max_width, self.max_angle = max_length, min_width, max_width, max_angle

    def __call__(self, rng: np.random.Generator) -> Tensor:
        s = self.size
        mask = np.zeros((s, s), np.uint8)
        for _ in range(int(rng.integers(1, self.max_strokes + 1))):
            x, y = float(rng.uniform(0, s)), float(rng.uniform(0, s))
            width = max(1, int(rng.uniform(self.min_width, self.max_width) * s))
            base = float(rng.uniform(0, 2 * math.pi))
            for j in range(int(rng.integers(1, self.max_vertex + 1))):
                angle = base + float(rng.uniform(-self.max_angle, self.max_angle))
                if j % 2 == 0:  # alternate the turning direction (Algorithm 1: 2*pi - angle on even vertices)
                    angle = 2 * math.pi - angle
                length = float(rng.uniform(0.1, 1.0)) * self.max_length * s
                nx = float(np.clip(x + length * math.cos(angle), 0, s - 1))
                ny = float(np.clip(y + length * math.sin(angle), 0, s - 1))
                cv2.line(mask, (int(x), int(y)), (int(nx), int(ny)), 1, width)
                cv2.circle(mask, (int(nx), int(ny)), width // 2, 1, -1)  # round joint
                x, y = nx, ny
        if rng.random() < 0.5:
            mask = mask[:, ::-1]
        if rng.random() < 0.5:
            mask = mask[::-1, :]
        return _to_tensor(np.ascontiguousarray(mask))

    def __repr__(self) -> str:
        return f"FreeFormMask(size={self.size}, max_strokes={self.max_strokes}, max_vertex={self.max_vertex})"


def _file_number(path: Path) -> int | None:
    match = re.fullmatch(r"(\d+)", path.stem)
    return int(match.group(1)) if match else None


class IrregularMasks:
    """The NVIDIA irregular mask test set (Liu et al. 2018): ``root/00000.png .. 11999.png``, white = hole.

    The bin of a file comes from its number: ``number // 2000`` (0: 0-10% hole, ..., 5: 50-60%), as NVIDIA
    numbered them. ``bins`` keeps only some bins (indices or labels such as "20-30%").

    * ``masks[i]`` -> (1, size, size): file i resized with nearest neighbour and binarised (no interpolation
      leaks); no augmentation, so this is what evaluation uses.
    * ``masks(rng)`` -> a random file; with ``augment=True`` also random flips, a rotation by a multiple of 90
      degrees and a random dilation (training only).
    """

    def __init__(self, root: str | Path, size: int, bins: Sequence[int | str] | None = None,
                 augment: bool = False, threshold: int = 127) -> None:
        self.root, self.size, self.augment, self.threshold = Path(root), size, augment, threshold
        if not self.root.is_dir():
            raise FileNotFoundError(f"irregular mask folder {self.root} does not exist; expected {MASKS_HELP}")
        files = sorted(p for p in self.root.iterdir() if p.suffix.lower() == ".png" and _file_number(p) is not None)
        if not files:
            raise FileNotFoundError(f"no numbered PNG masks (00000.png ...) in {self.root}; expected {MASKS_HELP}")
        wanted = None if bins is None else {self._bin_index(b) for b in bins}
        self.files = [p for p in files if wanted is None or self._bin_of_path(p) in wanted]
        if not self.files:
            raise FileNotFoundError(f"no masks of bins {list(bins or [])} in {self.root}")

    @staticmethod
    def _bin_index(b: int | str) -> int:
        if isinstance(b, str):
            if b not in IRREGULAR_BINS:
                raise ValueError(f"unknown bin {b!r}; choose from {IRREGULAR_BINS}")
            return IRREGULAR_BINS.index(b)
        if not 0 <= int(b) < len(IRREGULAR_BINS):
            raise ValueError(f"bin index {b} out of range 0..{len(IRREGULAR_BINS) - 1}")
        return int(b)

    @staticmethod
    def _bin_of_path(path: Path) -> int:
        return min(_file_number(path) // FILES_PER_BIN, len(IRREGULAR_BINS) - 1)

    def __len__(self) -> int:
        return len(self.files)

    def bin_of(self, index: int) -> int:
        """Bin index (0..5) of the ``index``-th file of this collection."""
        return self._bin_of_path(self.files[index])

    def __getitem__(self, index: int) -> Tensor:
        return load_mask(self.files[index], self.size, self.threshold)

    def __call__(self, rng: np.random.Generator) -> Tensor:
        mask = self[int(rng.integers(len(self.files)))]
        if not self.augment:
            return mask
        m = mask[0].numpy()
        if rng.random() < 0.5:
            m = m[:, ::-1]
        if rng.random() < 0.5:
            m = m[::-1, :]
        m = np.rot90(m, int(rng.integers(4)))
        k = int(rng.integers(1, max(2, self.size // 32) + 1))  # dilation kernel grows with the image
        if k > 1:
            m = cv2.dilate(np.ascontiguousarray(m).astype(np.uint8), np.ones((k, k), np.uint8))
        return _to_tensor(np.ascontiguousarray(m))

    def __repr__(self) -> str:
        return f"IrregularMasks(root={str(self.root)!r}, size={self.size}, n={len(self)}, augment={self.augment})"


class MixedMasks:
    """Draw one of ``generators`` per call (with probabilities ``weights``, uniform by default)."""

    def __init__(self, generators: Sequence[MaskGenerator], weights: Sequence[float] | None = None) -> None:
        if not generators:
            raise ValueError("MixedMasks needs at least one generator")
        sizes = {g.size for g in generators}
        if len(sizes) != 1:
            raise ValueError(f"all generators must have the same size, got {sorted(sizes)}")
        self.generators, self.size = list(generators), sizes.pop()
        w = np.ones(len(generators)) if weights is None else np.asarray(weights, float)
        if len(w) != len(generators) or (w < 0).any() or w.sum() <= 0:
            raise ValueError(f"weights {weights} must be {len(generators)} non-negative numbers, not all 0")
        self.weights = w / w.sum()

    def __call__(self, rng: np.random.Generator) -> Tensor:
        return self.generators[int(rng.choice(len(self.generators), p=self.weights))](rng)

    def __repr__(self) -> str:
        return f"MixedMasks({self.generators})"


def make_masks(name: str, size: int, root: str | Path | None = None, augment: bool = False) -> MaskGenerator:
    """A mask generator by name: ``center | rectangles | freeform | irregular | mixed``.

    ``irregular`` needs ``root`` (the NVIDIA test-mask folder); ``mixed`` is rectangles + free-form strokes,
    plus the irregular masks when ``root`` is given.
    """
    if name == "center":
        return CenterMask(size)
    if name == "rectangles":
        return RandomRectangles(size)
    if name == "freeform":
        return FreeFormMask(size)
    if name == "irregular":
        if root is None:
            raise ValueError(f"masks='irregular' needs a mask folder: {MASKS_HELP}")
        return IrregularMasks(root, size, augment=augment)
    if name == "mixed":
        gens: list[MaskGenerator] = [RandomRectangles(size), FreeFormMask(size)]
        if root is not None:
            gens.append(IrregularMasks(root, size, augment=augment))
        return MixedMasks(gens)
    raise ValueError(f"unknown mask family {name!r}; choose from {MASK_NAMES}")
