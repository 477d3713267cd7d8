"""Hole masks for inpainting.

Every mask is a float32 tensor of shape (1, H, W) with values exactly 0. or 1.: **1 = hole (missing),
0 = known**. A *mask generator* is any callable ``gen(rng: numpy.random.Generator) -> Tensor (1, size, size)``
with an attribute ``size``; the same generator state always gives the same mask, so training and evaluation
are reproducible from a seed. The generators here also accept ``gen()`` with no rng: they then draw from their
own ``numpy.random.Generator`` seeded by the ``seed`` given at construction (handy in notebooks).

Families:

* :class:`CenterMask` - a centred square (the Context Encoder setting: a quarter of the image area).
* :class:`RandomRectangles` - a few axis-aligned boxes.
* :class:`FreeFormMask` - brush strokes, after Algorithm 1 of Yu et al., "Free-Form Image Inpainting with
  Gated Convolution" (DeepFill v2, ICCV 2019).
* :class:`IrregularMasks` - the NVIDIA irregular mask test set (Liu et al., ECCV 2018), 12,000 PNGs whose
  hole ratio rises with the file number: each block of 2,000 files is one bin, 0-10%, ..., 50-60%.
* :class:`MixedMasks` - one of several generators per call.

:func:`make_masks` builds any of them by name; :func:`check_mask`, :func:`hole_ratio` and :func:`load_mask`
validate, measure and read masks.
"""
from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Callable, Collection, Sequence

import cv2
import numpy as np
import torch
from torch import Tensor

from .mask_io import read_mask_array

IRREGULAR_BINS: tuple[str, ...] = ("0-10%", "10-20%", "20-30%", "30-40%", "40-50%", "50-60%")
#: Files per hole-ratio bin in NVIDIA's test set (00000-01999 is 0-10%, 02000-03999 is 10-20%, ...).
FILES_PER_BIN = 2000
MASKS_HELP = (
    "the NVIDIA irregular mask test set (Liu et al. 2018, 'Image Inpainting for Irregular Holes Using Partial "
    "Convolutions', https://nv-adlr.github.io/publication/partialconv-inpainting: 'Irregular Mask Dataset, "
    "testing set', the folder testing_mask_dataset/ with 00000.png..11999.png, white = hole); pass that folder "
    "as root (the tests and CI read it from the FACELIB_MASKS environment variable)"
)

#: Anything that maps a numpy Generator to a (1, size, size) mask and has a ``size`` attribute.
MaskFn = Callable[[np.random.Generator], Tensor]


def _to_tensor(mask: np.ndarray) -> Tensor:
    """(H, W) array (any dtype, > 0 = hole) -> (1, H, W) float32 tensor of exactly 0. and 1."""
    return torch.from_numpy(np.ascontiguousarray(mask > 0, dtype=np.float32))[None]


def _check_size(size: int) -> int:
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 4:
        raise ValueError(f"mask size must be an int >= 4 (pixels per side), got {size!r}")
    return int(size)


def hole_ratio(mask: Tensor) -> float | Tensor:
    """Fraction of hole pixels: a float for a (1, H, W) or (H, W) mask, a (N,) tensor for a (N, 1, H, W) batch."""
    if mask.dim() == 4:
        return mask.float().flatten(1).mean(1)
    return float(mask.double().mean())  # float64: a 25% mask reads exactly 0.25


def check_mask(mask: Tensor, size: int | None = None, name: str = "mask") -> Tensor:
    """Raise a clear ValueError unless ``mask`` is a (1, H, W) or (N, 1, H, W) float tensor of 0s and 1s.

    ``size`` (if given) is the expected H = W. Returns the mask unchanged, so it can be used inline.
    """
    if not isinstance(mask, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(mask).__name__}")
    if mask.dim() not in (3, 4) or mask.shape[-3] != 1:
        raise ValueError(
            f"{name} has shape {tuple(mask.shape)}; expected (1, H, W) or (N, 1, H, W): one channel, 1 = hole. "
            "For an (H, W) mask use mask[None]; for an RGB mask keep one channel, mask[..., :1, :, :]."
        )
    if size is not None and tuple(mask.shape[-2:]) != (size, size):
        raise ValueError(f"{name} is {tuple(mask.shape[-2:])} pixels; the images are ({size}, {size}): resize it "
                         "with nearest-neighbour interpolation (never bilinear) so it stays binary")
    if not mask.is_floating_point():
        raise ValueError(f"{name} has dtype {mask.dtype}; expected a float tensor of 0. and 1. (use mask.float())")
    if not bool(((mask == 0) | (mask == 1)).all()):
        raise ValueError(f"{name} has values other than 0 and 1 (1 = hole, 0 = known): threshold it, "
                         "e.g. (mask > 0.5).float(); if your holes are black, use 1 - mask")
    return mask


def nvidia_bin_range(path: Path) -> tuple[float, float, str] | None:
    """``(low, high, label)`` hole ratio of a file named like NVIDIA's test set (``02345.png``: 10-20%), else None."""
    if not re.fullmatch(r"\d{5}", path.stem) or int(path.stem) >= FILES_PER_BIN * len(IRREGULAR_BINS):
        return None
    b = int(path.stem) // FILES_PER_BIN
    return b / 10, (b + 1) / 10, IRREGULAR_BINS[b]


def load_mask(path: str | Path, size: int | None = None, threshold: float | None = None,
              channel: str | None = None, nvidia_bin: bool = False) -> Tensor:
    """Read one mask image into a (1, size, size) float32 tensor of 0/1 (1 = hole).

    The hole is the brighter of the file's two levels (0/255, 0/1, grey on black), in the colour channels
    or, for a hole drawn on a transparent layer, the alpha channel; ``channel`` ('L', 'R', 'G', 'B', 'A')
    chooses the plane when that is ambiguous. ``threshold`` fixes the threshold instead (0..255). Files that
    are not two-level, blank or not square raise :class:`facelib.mask_io.MaskFileError` (a ValueError);
    with ``nvidia_bin=True`` so does a file named like NVIDIA's (``02345.png``) whose hole ratio is outside
    its bin (an inverted mask). ``size=None`` keeps the file's own size; resizing is nearest neighbour.
    """
    path = Path(path)
    expected = nvidia_bin_range(path) if nvidia_bin else None
    return _to_tensor(read_mask_array(path, None if size is None else _check_size(size), threshold, channel,
                                       expected))


class MaskGenerator:
    """Base of the generators here: ``gen(rng=None) -> Tensor (1, size, size)`` float32 in {0, 1}.

    Subclasses implement :meth:`draw`, which returns a (size, size) numpy array (> 0 = hole). With ``rng=None``
    the generator's own ``self.rng`` (seeded by ``seed``) is used.
    """

    def __init__(self, size: int, seed: int | None = None) -> None:
        self.size = _check_size(size)
        self.seed = seed
        self.rng = np.random.default_rng(seed)

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, rng: np.random.Generator | None = None) -> Tensor:
        return _to_tensor(self.draw(self.rng if rng is None else rng))


class CenterMask(MaskGenerator):
    """A centred square hole covering ``area`` of the image (0.25: a size/2 square, as in Pathak et al. 2016).

    Deterministic: the rng is ignored. Output (1, size, size); the side is ``round(size * sqrt(area))``.
    """

    def __init__(self, size: int, area: float = 0.25, seed: int | None = None) -> None:
        super().__init__(size, seed)
        if not 0 < area < 1:
            raise ValueError(f"area must be in (0, 1), got {area}")
        self.area = area
        self.side = int(round(self.size * math.sqrt(area)))
        self.top = (self.size - self.side) // 2

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        mask = np.zeros((self.size, self.size), np.uint8)
        mask[self.top:self.top + self.side, self.top:self.top + self.side] = 1
        return mask

    def __repr__(self) -> str:
        return f"CenterMask(size={self.size}, area={self.area})"


class RandomRectangles(MaskGenerator):
    """1 to ``max_boxes`` axis-aligned boxes, each side a random fraction in [min_frac, max_frac] of the image.

    Boxes lie fully inside the image and may overlap. Defaults give a mean hole ratio of about 16%.
    """

    def __init__(self, size: int, max_boxes: int = 3, min_frac: float = 0.1, max_frac: float = 0.5,
                 seed: int | None = None) -> None:
        super().__init__(size, seed)
        if max_boxes < 1:
            raise ValueError(f"max_boxes must be >= 1, got {max_boxes}")
        if not 0 < min_frac <= max_frac <= 1:
            raise ValueError(f"need 0 < min_frac <= max_frac <= 1, got {min_frac}, {max_frac}")
        self.max_boxes, self.min_frac, self.max_frac = max_boxes, min_frac, max_frac

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        s = self.size
        mask = np.zeros((s, s), np.uint8)
        lo, hi = max(1, round(self.min_frac * s)), max(1, round(self.max_frac * s))
        for _ in range(int(rng.integers(1, self.max_boxes + 1))):
            h, w = (int(v) for v in rng.integers(lo, hi + 1, size=2))
            top, left = int(rng.integers(0, s - h + 1)), int(rng.integers(0, s - w + 1))
            mask[top:top + h, left:left + w] = 1
        return mask

    def __repr__(self) -> str:
        return (f"RandomRectangles(size={self.size}, max_boxes={self.max_boxes}, min_frac={self.min_frac}, "
                f"max_frac={self.max_frac})")


class FreeFormMask(MaskGenerator):
    """Free-form brush strokes, after Algorithm 1 of DeepFill v2 (Yu et al., ICCV 2019).

    Each of 1..``max_strokes`` strokes starts at a random pixel and visits ``min_vertex..max_vertex`` vertices.
    Per stroke an angle interval ``mean_angle +- U(0, angle_range)`` and a brush width are drawn; each segment
    then heads at an angle from that interval, mirrored (2*pi - angle) on every other vertex so the stroke
    zig-zags like a hand-drawn scribble, with a length ~ Normal(mean_length, mean_length / 2) clipped to
    [0, 2 * mean_length]. Segments are thick lines with a disc at every vertex (round joints). Finally the mask
    is flipped left-right and top-bottom, each with probability 1/2, so strokes run in every direction.

    Lengths and widths are fractions of ``size``, so 64, 128 and 256 pixel masks look alike; the defaults are
    the paper's 256 px setting (mean length sqrt(2) * 256 / 8 ~ 45 px, brush width 12-40 px, 4-12 vertices,
    1-4 strokes), a mean hole ratio of roughly 20%. Output (1, size, size).
    """

    def __init__(self, size: int, max_strokes: int = 4, min_vertex: int = 4, max_vertex: int = 12,
                 mean_length: float = math.sqrt(2) / 8, min_width: float = 12 / 256, max_width: float = 40 / 256,
                 mean_angle: float = 2 * math.pi / 5, angle_range: float = 2 * math.pi / 15, flip: bool = True,
                 seed: int | None = None) -> None:
        super().__init__(size, seed)
        if max_strokes < 1 or not 1 <= min_vertex <= max_vertex:
            raise ValueError(f"need max_strokes >= 1 and 1 <= min_vertex <= max_vertex, got {max_strokes}, "
                             f"{min_vertex}, {max_vertex}")
        if not 0 < min_width <= max_width or mean_length <= 0:
            raise ValueError(f"need 0 < min_width <= max_width and mean_length > 0 (fractions of size), got "
                             f"{min_width}, {max_width}, {mean_length}")
        self.max_strokes, self.min_vertex, self.max_vertex = max_strokes, min_vertex, max_vertex
        self.mean_length, self.min_width, self.max_width = mean_length, min_width, max_width
        self.mean_angle, self.angle_range, self.flip = mean_angle, angle_range, flip

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        s = self.size
        mask = np.zeros((s, s), np.uint8)
        mean_len = self.mean_length * s
        for _ in range(int(rng.integers(1, self.max_strokes + 1))):
            n_vertex = int(rng.integers(self.min_vertex, self.max_vertex + 1))
            a_min = self.mean_angle - rng.uniform(0, self.angle_range)
            a_max = self.mean_angle + rng.uniform(0, self.angle_range)
            width = max(1, int(round(rng.uniform(self.min_width, self.max_width) * s)))
            points = [(float(rng.integers(0, s)), float(rng.integers(0, s)))]
            for i in range(n_vertex):
                angle = rng.uniform(a_min, a_max)
                if i % 2 == 0:
                    angle = 2 * math.pi - angle
                length = float(np.clip(rng.normal(mean_len, mean_len / 2), 0, 2 * mean_len))
                x, y = points[-1]
                points.append((float(np.clip(x + length * math.cos(angle), 0, s - 1)),
                               float(np.clip(y + length * math.sin(angle), 0, s - 1))))
            pts = [(int(round(x)), int(round(y))) for x, y in points]
            for a, b in zip(pts[:-1], pts[1:]):
                cv2.line(mask, a, b, 1, width)
            for p in pts:
                cv2.circle(mask, p, width // 2, 1, -1)
        if self.flip and rng.random() < 0.5:
            mask = mask[:, ::-1]
        if self.flip and rng.random() < 0.5:
            mask = mask[::-1, :]
        return mask

    def __repr__(self) -> str:
        return (f"FreeFormMask(size={self.size}, max_strokes={self.max_strokes}, vertex={self.min_vertex}.."
                f"{self.max_vertex}, width={self.min_width:.3f}..{self.max_width:.3f})")


def _file_number(path: Path) -> int | None:
    """The last run of digits in the file name ('00042.png' -> 42, 'mask_7.png' -> 7), or None."""
    digits = re.findall(r"\d+", path.stem)
    return int(digits[-1]) if digits else None


def _bin_index(b: int | str) -> int:
    if isinstance(b, str):
        if b not in IRREGULAR_BINS:
            raise ValueError(f"unknown bin {b!r}; choose from {IRREGULAR_BINS} or indices 0..5")
        return IRREGULAR_BINS.index(b)
    if isinstance(b, bool) or not isinstance(b, (int, np.integer)) or not 0 <= b < len(IRREGULAR_BINS):
        raise ValueError(f"bin {b!r} is not an index 0..{len(IRREGULAR_BINS) - 1} or a label in {IRREGULAR_BINS}")
    return int(b)


class IrregularMasks(MaskGenerator):
    """The NVIDIA irregular mask test set (Liu et al. 2018): ``root/00000.png .. 11999.png``, white = hole.

    Any folder of PNG masks works as a mask source. The hole-ratio bin of a file always comes from the number
    in its name, ``number // 2000`` (0: 0-10% hole, ..., 5: 50-60%), as NVIDIA numbered them, so a subset of
    the test set (any count, e.g. only 02000-02099.png) keeps correct bins. A file without a number in its
    name, or numbered 12000 or more, has no bin: :meth:`bin_of` and ``bins=`` then raise a ValueError.
    ``bins`` keeps only some bins (indices or labels such as "20-30%"); ``exclude`` drops files by number
    (training holds out the masks of the evaluation protocol this way).

    Files are read as :func:`load_mask` reads them (``threshold`` and ``channel`` as there); a file named like
    NVIDIA's (five digits below 12000) must also have a hole ratio inside its bin at its own size, as all of
    NVIDIA's do, so an inverted copy (black = hole) is refused. The first file is read at construction, so a
    folder in an unreadable convention fails there with one line.

    * ``masks[i]`` -> (1, size, size) float32 in {0, 1}: file i resized with nearest neighbour, then
      thresholded (no interpolation leaks). No augmentation: this is what evaluation uses.
    * ``masks(rng)`` -> a random file; with ``augment=True`` also random left-right / top-bottom flips, a
      rotation by a multiple of 90 degrees and a dilation by a random disc of up to ``size / 32`` pixels
      (training only; dilation can push a mask above its bin's upper bound).
    """

    def __init__(self, root: str | Path, size: int, bins: Sequence[int | str] | None = None,
                 augment: bool = False, threshold: float | None = None, seed: int | None = None,
                 exclude: Collection[int] = (), channel: str | None = None) -> None:
        super().__init__(size, seed)
        self.root, self.augment, self.threshold, self.channel = Path(root), augment, threshold, channel
        if not self.root.is_dir():
            raise FileNotFoundError(f"irregular mask folder {self.root} does not exist; expected {MASKS_HELP}")
        files = [p for p in self.root.iterdir() if p.suffix.lower() == ".png" and p.is_file()]
        if not files:
            raise FileNotFoundError(f"no PNG masks (00000.png ...) in {self.root}; expected {MASKS_HELP}")
        # Numbered files in numeric order (so '7.png' < '10.png'), then any unnumbered ones by name.
        files.sort(key=lambda p: (_file_number(p) is None, _file_number(p) or 0, p.name))
        self.bins = None if bins is None else sorted({_bin_index(b) for b in bins})
        if self.bins is not None:
            files = [p for p in files if self._bin_of_path(p) in self.bins]
            if not files:
                raise FileNotFoundError(f"no masks of bins {[IRREGULAR_BINS[b] for b in self.bins]} in "
                                        f"{self.root} (files {FILES_PER_BIN * self.bins[0]:05d}.png ...)")
        if exclude:
            # Held-out numbers (e.g. the evaluation protocol's masks, facelib.mask_holdout.protocol_mask_ids).
            n_all = len(files)
            files = [p for p in files if _file_number(p) not in exclude]
            if not files:
                raise FileNotFoundError(f"all {n_all} masks in {self.root} are held out (exclude=...): none is left "
                                        "to train on; use a folder with other masks, or hold out fewer")
        self.files: list[Path] = files
        self[0]  # a folder in another convention (inverted, 0/1 with a fixed threshold, ...) fails here, not mid-run
        k_max = max(1, self.size // 32)  # 4 px at 128: thickens strokes like NVIDIA's own training dilation
        self._kernels = [cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1))
                         for k in range(1, k_max + 1)]

    @staticmethod
    def _bin_of_path(path: Path) -> int:
        number = _file_number(path)
        if number is None or number >= FILES_PER_BIN * len(IRREGULAR_BINS):
            raise ValueError(
                f"cannot tell the hole-ratio bin of {path}: bins come from NVIDIA's numbering 00000..11999 "
                f"(number // {FILES_PER_BIN}); rename the file or use bins=None (every file, no bins)")
        return number // FILES_PER_BIN

    def __len__(self) -> int:
        return len(self.files)

    def bin_of(self, index: int) -> int:
        """Bin index 0..5 (see ``IRREGULAR_BINS``) of the ``index``-th file, from the number in its name."""
        return self._bin_of_path(self.files[index])

    def hole_ratio(self, index: int) -> float:
        """Hole fraction of ``self[index]`` (at ``size``)."""
        return hole_ratio(self[index])

    def _read(self, path: Path) -> np.ndarray:
        return read_mask_array(path, self.size, self.threshold, self.channel, nvidia_bin_range(path))

    def __getitem__(self, index: int) -> Tensor:
        return _to_tensor(self._read(self.files[index]))

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        mask = self._read(self.files[int(rng.integers(len(self.files)))])
        if not self.augment:
            return mask
        mask = mask.astype(np.uint8)
        if rng.random() < 0.5:
            mask = mask[:, ::-1]
        if rng.random() < 0.5:
            mask = mask[::-1, :]
        mask = np.ascontiguousarray(np.rot90(mask, int(rng.integers(4))))
        k = int(rng.integers(len(self._kernels) + 1))  # 0 = no dilation
        if k:
            mask = cv2.dilate(mask, self._kernels[k - 1])
        return mask

    def __repr__(self) -> str:
        bins = "all" if self.bins is None else [IRREGULAR_BINS[b] for b in self.bins]
        return (f"IrregularMasks(root={str(self.root)!r}, size={self.size}, n={len(self)}, bins={bins}, "
                f"augment={self.augment})")


class MixedMasks(MaskGenerator):
    """Draw one of ``generators`` per call (with probabilities ``weights``, uniform by default).

    The chosen generator gets the same rng, so the whole draw stays deterministic.
    """

    def __init__(self, generators: Sequence[MaskFn], weights: Sequence[float] | None = None,
                 seed: int | None = None) -> None:
        if not generators:
            raise ValueError("MixedMasks needs at least one generator")
        sizes = {getattr(g, "size", None) for g in generators}
        if None in sizes or len(sizes) != 1:
            raise ValueError(f"all generators must have the same `size` attribute, got {sorted(map(str, sizes))}")
        super().__init__(sizes.pop(), seed)
        self.generators = list(generators)
        w = np.ones(len(generators)) if weights is None else np.asarray(weights, float)
        if w.shape != (len(generators),) or not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
            raise ValueError(f"weights {weights} must be {len(generators)} non-negative numbers, not all 0")
        self.weights = w / w.sum()

    def __call__(self, rng: np.random.Generator | None = None) -> Tensor:
        rng = self.rng if rng is None else rng
        return self.generators[int(rng.choice(len(self.generators), p=self.weights))](rng)

    def __repr__(self) -> str:
        return f"MixedMasks({self.generators}, weights={np.round(self.weights, 3).tolist()})"


def _irregular(size: int, root: str | Path | None, augment: bool, seed: int | None,
               exclude: Collection[int]) -> MaskGenerator:
    if root is None:
        raise ValueError(f"masks 'irregular' need a mask folder (root=...): {MASKS_HELP}")
    return IrregularMasks(root, size, augment=augment, seed=seed, exclude=exclude)


def _mixed(size: int, root: str | Path | None, augment: bool, seed: int | None,
           exclude: Collection[int]) -> MaskGenerator:
    gens: list[MaskFn] = [RandomRectangles(size), FreeFormMask(size)]
    if root is not None:
        gens.append(IrregularMasks(root, size, augment=augment, exclude=exclude))
    return MixedMasks(gens, seed=seed)


#: The mask kinds by name: ``factory(size, root, augment, seed, exclude) -> MaskGenerator`` (see
#: :func:`make_masks`; ``exclude`` only concerns the irregular masks).
MASK_KINDS: dict[str, Callable[..., MaskGenerator]] = {
    "center": lambda size, root, augment, seed, exclude: CenterMask(size, seed=seed),
    "rectangles": lambda size, root, augment, seed, exclude: RandomRectangles(size, seed=seed),
    "freeform": lambda size, root, augment, seed, exclude: FreeFormMask(size, seed=seed),
    "irregular": _irregular,
    "mixed": _mixed,
}
#: The names of :data:`MASK_KINDS`, in order.
MASK_NAMES: tuple[str, ...] = tuple(MASK_KINDS)


def make_masks(name: str, size: int, root: str | Path | None = None, augment: bool = False,
               seed: int | None = None, exclude: Collection[int] = ()) -> MaskGenerator:
    """A mask generator by name (:data:`MASK_KINDS`): ``center | rectangles | freeform | irregular | mixed``.

    ``irregular`` needs ``root`` (the NVIDIA test-mask folder); ``mixed`` is rectangles + free-form strokes in
    equal parts, plus the irregular masks when ``root`` is given. ``augment`` applies to the irregular masks.
    ``seed`` seeds the generator's own rng, used when it is called without one (``gen()``); ``exclude`` holds
    irregular masks out by number.
    """
    if name not in MASK_KINDS:
        raise ValueError(f"unknown mask family {name!r}; choose from {', '.join(MASK_NAMES)}")
    return MASK_KINDS[name](size, root, augment, seed, exclude)
