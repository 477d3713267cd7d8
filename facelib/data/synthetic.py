"""Procedurally drawn cartoon faces (NOT real people): the default without a dataset, and the tests' faces;
items ``(image (3, size, size) float32 in [-1, 1], gender)``."""
from __future__ import annotations

from collections import Counter

import numpy as np
from PIL import Image, ImageDraw
from torch import Tensor
from torch.utils.data import Dataset

from .faces import GENDERS, SPLITS, _pil_to_tensor

__all__ = ["SyntheticFaces", "draw_synthetic_face"]

_SKIN = np.array([(255, 224, 196), (241, 194, 158), (224, 172, 125), (198, 140, 98), (161, 107, 70),
                  (127, 82, 52), (94, 60, 38), (234, 192, 160)], dtype=float)
_HAIR = np.array([(25, 20, 18), (60, 40, 28), (105, 70, 40), (150, 85, 45), (215, 180, 110),
                  (170, 165, 160), (235, 225, 200), (120, 30, 25)], dtype=float)
_IRIS = np.array([(80, 50, 25), (45, 30, 20), (70, 120, 170), (80, 130, 80), (130, 100, 50),
                  (110, 120, 130)], dtype=float)


def _colour(base: np.ndarray, rng: np.random.Generator, jitter: float = 12.0) -> tuple[int, int, int]:
    value = np.clip(base + rng.normal(0.0, jitter, 3), 0, 255)
    return tuple(int(v) for v in value)  # type: ignore[return-value]


def _shade(colour: tuple[int, int, int], factor: float) -> tuple[int, int, int]:
    return tuple(int(min(255, max(0, c * factor))) for c in colour)  # type: ignore[return-value]


def draw_synthetic_face(rng: np.random.Generator, size: int = 128) -> tuple[Image.Image, int]:
    """Draw one cartoon face (PIL RGB, ``size`` x ``size``) and return it with its gender (0 female, 1 male).

    Drawn at twice the size with PIL ImageDraw and downsampled 2x (which antialiases the edges).
    """
    s = 2 * size
    u = rng.uniform
    male = int(rng.random() < 0.5)

    # Background: a vertical two-colour gradient (a 1x2 image stretched is the cheapest way in PIL).
    top, bottom = _colour(rng.uniform(40, 230, 3), rng, 0), _colour(rng.uniform(40, 230, 3), rng, 0)
    strip = Image.new("RGB", (1, 2))
    strip.putdata([top, bottom])
    canvas = strip.resize((s, s), Image.Resampling.BILINEAR).convert("RGBA")

    layer = Image.new("RGBA", (s, s), (0, 0, 0, 0))
    d = ImageDraw.Draw(layer)

    def box(cx: float, cy: float, rx: float, ry: float) -> list[float]:
        return [(cx - rx) * s, (cy - ry) * s, (cx + rx) * s, (cy + ry) * s]

    scale = u(0.88, 1.06)
    cx, cy = 0.5 + u(-0.035, 0.035), 0.47 + u(-0.03, 0.03)
    rx, ry = 0.24 * scale * u(0.92, 1.06), 0.31 * scale * u(0.95, 1.05)
    skin = _colour(_SKIN[rng.integers(len(_SKIN))], rng, 8)
    hair = _colour(_HAIR[rng.integers(len(_HAIR))], rng, 10)
    clothes = _colour(rng.uniform(20, 235, 3), rng, 0)
    long_hair = rng.random() < (0.12 if male else 0.9)
    bald = male and rng.random() < 0.08
    beard = male and rng.random() < 0.4

    # Clothes and long hair sit behind the head.
    d.ellipse(box(cx, cy + ry + 0.36 * scale, 0.46 * scale, 0.26 * scale), fill=clothes)
    if long_hair:
        length = u(0.55, 1.05)
        d.rounded_rectangle(box(cx, cy + 0.15 * ry + 0.5 * length * ry, rx * 1.22, ry * (0.6 + 0.55 * length)),
                            radius=int(rx * s * 0.6), fill=_shade(hair, 0.85))
    d.rectangle(box(cx, cy + ry * 0.95, rx * 0.42, ry * 0.45), fill=_shade(skin, 0.9))  # neck
    for side in (-1, 1):  # ears
        d.ellipse(box(cx + side * rx * 0.98, cy + 0.02 * ry, rx * 0.14, ry * 0.16), fill=_shade(skin, 0.95))
    # Head with simple shading: a darker rim and a lighter ellipse towards the light.
    light = u(-0.3, 0.3)
    d.ellipse(box(cx, cy, rx, ry), fill=_shade(skin, 0.88))
    d.ellipse(box(cx + light * 0.12 * rx, cy - 0.04 * ry, rx * 0.9, ry * 0.93), fill=skin)
    if beard:
        beard_box = box(cx, cy + 0.05 * ry, rx * 1.0, ry * 0.97)
        d.chord(beard_box, 15, 165, fill=hair)
    if not bald:
        hairline = u(-0.05, 0.25)
        d.chord(box(cx, cy - 0.5 * ry + 0.5 * hairline * ry, rx * 1.07, ry * (0.62 + 0.5 * hairline)), 180, 360,
                fill=hair)
        if long_hair or rng.random() < 0.5:  # side locks over the temples
            for side in (-1, 1):
                d.ellipse(box(cx + side * rx * 0.9, cy - 0.25 * ry, rx * 0.2, ry * 0.35), fill=hair)
        if rng.random() < 0.45:  # fringe
            d.chord(box(cx + u(-0.3, 0.3) * rx, cy - 0.55 * ry, rx * 0.75, ry * 0.3), 0, 180, fill=hair)

    # Features follow a small yaw (horizontal shift) of the face.
    fx = cx + u(-0.1, 0.1) * rx
    ey = cy - u(0.0, 0.1) * ry
    eye_rx, eye_ry = rx * u(0.17, 0.22), ry * u(0.08, 0.11)
    iris = _colour(_IRIS[rng.integers(len(_IRIS))], rng, 10)
    gaze = u(-0.3, 0.3)
    line = max(1, round(s / 128))
    dark = (40, 28, 24)
    for side in (-1, 1):
        ex = fx + side * rx * u(0.38, 0.44)
        d.ellipse(box(ex, ey, eye_rx, eye_ry), fill=(245, 245, 240), outline=dark, width=line)
        ir = min(eye_rx, eye_ry) * 0.95
        ix = ex + gaze * eye_rx * 0.4
        d.ellipse(box(ix, ey, ir, ir), fill=iris)
        d.ellipse(box(ix, ey, ir * 0.45, ir * 0.45), fill=(10, 10, 10))
        d.ellipse(box(ix + ir * 0.3, ey - ir * 0.3, ir * 0.18, ir * 0.18), fill=(255, 255, 255))
        d.arc(box(ex, ey, eye_rx * 1.05, eye_ry * 1.1), 190, 350, fill=dark, width=line * (2 if not male else 1))
        brow_y = ey - ry * u(0.16, 0.22)
        brow_w = (3 if male else 2) * line
        tilt = u(-0.02, 0.02)
        d.line([((ex - eye_rx * 1.1) * s, (brow_y + tilt * side) * s), (ex * s, (brow_y - 0.012) * s),
                ((ex + eye_rx * 1.1) * s, (brow_y - tilt * side) * s)], fill=_shade(hair, 0.8), width=brow_w,
               joint="curve")

    # Nose: a shaded ridge and nostrils.
    nose_y = cy + ry * u(0.25, 0.33)
    nose_col = _shade(skin, 0.75)
    d.line([(fx * s, (ey + 0.05 * ry) * s), ((fx + 0.05 * rx) * s, nose_y * s)], fill=_shade(skin, 0.83),
           width=2 * line)
    d.arc(box(fx, nose_y - 0.02 * ry, rx * 0.13, ry * 0.06), 20, 160, fill=nose_col, width=2 * line)

    # Mouth: open smile with teeth, or closed lips.
    my = cy + ry * u(0.52, 0.6)
    mw, mh = rx * u(0.28, 0.42), ry * u(0.06, 0.12)
    lips = _colour(np.array((200, 80, 90) if not male else (170, 95, 90), dtype=float), rng, 12)
    if rng.random() < 0.5:
        d.chord(box(fx, my - mh * 0.6, mw, mh * 1.6), 0, 180, fill=(90, 20, 30), outline=lips, width=2 * line)
        d.chord(box(fx, my - mh * 0.6, mw * 0.85, mh * 0.9), 0, 180, fill=(245, 245, 240))
    else:
        d.ellipse(box(fx, my - mh * 0.35, mw, mh * 0.45), fill=_shade(lips, 0.9))
        d.ellipse(box(fx, my + mh * 0.3, mw * 0.85, mh * 0.55), fill=lips)
        d.line([((fx - mw) * s, (my - 0.0) * s), ((fx + mw) * s, my * s)], fill=_shade(lips, 0.5), width=line)

    # Roll the whole head by a few degrees around its centre, then paste it on the background.
    layer = layer.rotate(u(-9, 9), resample=Image.Resampling.BILINEAR, center=(cx * s, cy * s))
    canvas.alpha_composite(layer)
    return canvas.convert("RGB").reduce(2), male


class SyntheticFaces(Dataset):
    """Procedurally drawn cartoon faces: NOT real people, for tests and as the default without a dataset.

    Each face has a head shape, skin tone, hair (length, colour, fringe; some bald), eyes with iris, pupil and
    highlight, brows, nose, mouth, optional beard, clothes and a gradient background, with random position,
    scale, yaw and roll. Face ``i`` is drawn from ``numpy.random.default_rng([seed, split, i])`` (split 0 =
    train, 1 = val), so it is identical on every call and machine. Gender is decided by the same generator:
    1 (male) faces mostly have short hair and sometimes a beard, 0 (female) faces mostly long hair.

    Items: ``(image (3, size, size) float32 in [-1, 1], gender int)``. About 1-2 ms per 128x128 face.
    """

    LABEL = "synthetic faces (procedurally drawn, not real)"
    name = "SyntheticFaces"

    def __init__(self, n: int = 512, size: int = 128, seed: int = 0, split: str = "train") -> None:
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        if not isinstance(size, int) or size < 8:
            raise ValueError(f"size must be an int >= 8 (pixels), got {size!r}")
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        self.n, self.size, self.seed, self.split = n, size, seed, split

    def __len__(self) -> int:
        return self.n

    def _rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, SPLITS.index(self.split), index])

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        """``(image (3, size, size) float32 in [-1, 1], gender int)``."""
        if not -self.n <= index < self.n:
            raise IndexError(f"index {index} out of range for SyntheticFaces with n={self.n}")
        img, gender = draw_synthetic_face(self._rng(index % self.n), self.size)
        return _pil_to_tensor(img), gender

    def gender_of(self, index: int) -> int:
        """The gender of face ``index`` without drawing it (the first draw of its generator)."""
        return int(self._rng(index).random() < 0.5)

    def counts(self) -> dict[str, int]:
        """Number of faces per gender name."""
        tally = Counter(self.gender_of(i) for i in range(self.n))
        return {name: tally.get(g, 0) for g, name in enumerate(GENDERS)}

    def __repr__(self) -> str:
        return f"SyntheticFaces(n={self.n}, size={self.size}, seed={self.seed}, split={self.split!r})"
