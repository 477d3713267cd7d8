"""Faces, stroke masks, the methods and their fills, and the picture helpers behind notebook 10 (part of
:mod:`facelib.paint`; the widget is :mod:`facelib.paint.painter`)."""
from __future__ import annotations

import io
import math
import os
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from PIL import Image
from torch import Tensor, nn

#: The bundled face: a 128x128 crop of the NASA astronaut portrait shipped by scikit-image (public domain).
ASTRONAUT_FACE = Path(__file__).resolve().parents[1] / "assets" / "astronaut_face.png"
ASTRONAUT_CREDIT = "astronaut Eileen Collins, NASA portrait (public domain), via scikit-image's astronaut.png"


# ------------------------------------------------------------------------------------------------- faces
def bundled_face(size: int = 64) -> Tensor:
    """The bundled public-domain face (:data:`ASTRONAUT_FACE`) as (3, size, size) in [-1, 1]."""
    from ..data import load_image

    return load_image(ASTRONAUT_FACE, size=size)


def pick_face(data: str | os.PathLike | None = None, index: int = 0, size: int = 64,
              seed: int = 0) -> tuple[Tensor, str]:
    """The face to paint on and one line saying what it is.

    A validation face (``split="val"``) of the configured dataset (``data``, else ``FACELIB_DATA``, else the
    repository's ``data/``: ``facelib.data.resolve_faces``); ``data="synthetic"`` gives a synthetic face; with
    no dataset configured, the bundled astronaut portrait (never the synthetic fallback). ``index`` picks the
    face (modulo the dataset's length).
    """
    from ..data import SyntheticFaces, describe_dataset, resolve_faces

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # resolve_faces warns before falling back to synthetic faces
        faces = resolve_faces(data, split="val", size=size, n_synthetic=max(index + 1, 1), seed=seed)
    explicit_synthetic = data is not None and str(data).strip().lower() == "synthetic"
    env_synthetic = data is None and os.environ.get("FACELIB_DATA", "").strip().lower() == "synthetic"
    if isinstance(faces, SyntheticFaces) and not (explicit_synthetic or env_synthetic):
        return bundled_face(size), f"{ASTRONAUT_CREDIT}, {size}x{size} (no face dataset configured)"
    i = index % len(faces)  # type: ignore[arg-type]
    return faces[i][0], f"face {i} of {describe_dataset(faces)}"


# ------------------------------------------------------------------------------------------------- masks
def stroke_mask(mask: np.ndarray, points: Sequence[tuple[float, float]], radius: float,
                erase: bool = False) -> np.ndarray:
    """Paint a brush stroke into a hole mask, in place, and return it.

    Args:
        mask: (H, W) uint8 array, 1 = hole (modified in place).
        points: the stroke, ``[(x, y), ...]`` in image pixels (x to the right, y down); one point is a dab.
        radius: brush radius in pixels (>= 0.5); the stroke covers every pixel whose centre lies within
            ``radius`` of the polyline (pixel (i, j) has its centre at x = j, y = i).
        erase: remove hole pixels (restore the face) instead of adding them.
    """
    if mask.ndim != 2 or mask.dtype != np.uint8:
        raise ValueError(f"stroke_mask: expected an (H, W) uint8 mask, got {mask.shape} {mask.dtype}")
    if radius < 0.5:
        raise ValueError(f"stroke_mask: radius must be >= 0.5 pixels, got {radius}")
    if not len(points):
        return mask
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    h, w = mask.shape
    for p, q in zip(pts, np.concatenate([pts[1:], pts[-1:]])):
        # only the bounding box of the segment, widened by the radius, can be reached
        x0, y0 = np.floor(np.minimum(p, q) - radius).astype(int)
        x1, y1 = np.ceil(np.maximum(p, q) + radius).astype(int)
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w - 1), min(y1, h - 1)
        if x0 > x1 or y0 > y1:
            continue
        ys, xs = np.mgrid[y0:y1 + 1, x0:x1 + 1]
        d = q - p
        t = np.clip(((xs - p[0]) * d[0] + (ys - p[1]) * d[1]) / max(float(d @ d), 1e-12), 0, 1)
        near = (xs - p[0] - t * d[0]) ** 2 + (ys - p[1] - t * d[1]) ** 2 <= radius ** 2
        mask[y0:y1 + 1, x0:x1 + 1][near] = 0 if erase else 1
    return mask


def centre_square(size: int) -> np.ndarray:
    """The centre square of a quarter of the image (``facelib.masks.CenterMask``, the Context Encoder's hole)."""
    from ..masks import CenterMask

    return CenterMask(size)(np.random.default_rng(0))[0].numpy().astype(np.uint8)


# ----------------------------------------------------------------------------------------------- methods
@dataclass
class Method:
    """One column of the comparison: a name, a title, and a model ``(masked, mask) -> (N, 3, H, W)``."""

    name: str
    label: str
    model: nn.Module
    centre_only: bool = False  # the Context Encoder: only for its own centre square
    learned: bool = True


@dataclass
class Fill:
    """What one method painted: the composite (3, H, W) (None when it did not run), its hole PSNR, its time."""

    name: str
    label: str
    composite: Tensor | None
    hole_psnr: float = math.nan
    seconds: float = 0.0
    note: str = ""

    def caption(self) -> str:
        if self.composite is None:
            return f"{self.label}: {self.note}"
        score = "no hole" if math.isnan(self.hole_psnr) else f"{self.hole_psnr:.1f} dB"
        return f"{self.label}: {score} ({self.seconds * 1000:.0f} ms)"


def shipped_models() -> tuple[str, ...]:
    """The weights names notebook 10 shows, in column order: every preset with weights
    (``facelib.train.PRESETS``)."""
    from ..train.config import PRESETS

    return tuple(p.weights for p in PRESETS.values() if p.weights)


def load_methods(weights_dir: str | os.PathLike | None = None, names: Iterable[str] | None = None,
                 image_size: int = 64, device: str | torch.device = "cpu", opencv: bool = True,
                 log: Callable[[str], Any] | None = print) -> list[Method]:
    """The pretrained models ``names`` (default: :func:`shipped_models`) found in ``weights_dir``
    (``facelib.pretrained``), then the OpenCV baselines (``facelib.baselines.BASELINES``); each titled by its
    label (``facelib.train.label``).

    A model missing from the folder, or whose files fail their checks, is skipped with one line to ``log``;
    so is a Context Encoder built for another image size than ``image_size``.
    """
    from ..baselines import BASELINES, OpenCVInpainter
    from ..models import ContextEncoder
    from ..train.config import label
    from ..pretrained import available_weights, load_pretrained, resolve_weights_dir

    say = log or (lambda _: None)
    folder = resolve_weights_dir(weights_dir)
    found = available_weights(folder)
    methods: list[Method] = []
    for name in shipped_models() if names is None else names:
        if name not in found:
            say(f"{name}: no weights in {folder}, skipped")
            continue
        try:
            model = load_pretrained(name, weights_dir=folder, device=device)
        except (OSError, ValueError, RuntimeError, KeyError) as err:
            say(f"{name}: cannot load ({type(err).__name__}: {str(err).splitlines()[0][:160]}), skipped")
            continue
        centre_only = isinstance(model, ContextEncoder)
        if centre_only and model.image_size != image_size:
            say(f"{name}: built for {model.image_size}x{model.image_size} faces, not {image_size}, skipped")
            continue
        trained_at = found[name].get("image_size")
        if trained_at and trained_at != image_size and not centre_only:
            say(f"{name}: trained at {trained_at}x{trained_at}, shown at {image_size}x{image_size}")
        methods.append(Method(name, label(name), model, centre_only=centre_only))
    if opencv:
        methods += [Method(m, b.label, OpenCVInpainter(m), learned=False) for m, b in BASELINES.items()]
    return methods


def _autocast(amp: str, device: torch.device):
    """bf16 autocast for the networks: "bf16", "none", or "auto" (bf16 on CUDA and on CPUs with native bf16)."""
    if amp == "auto":
        native = device.type == "cuda" or (device.type == "cpu" and (
            getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)()
            or getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)()))
        amp = "bf16" if native else "none"
    if amp not in ("bf16", "none"):
        raise ValueError(f"amp must be 'auto', 'bf16' or 'none', got {amp!r}")
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp == "bf16")


@torch.inference_mode()
def run_methods(methods: Sequence[Method], image: Tensor, mask: Tensor, amp: str = "auto",
                only: Iterable[str] | None = None) -> dict[str, Fill]:
    """Run every method on one face and hole; returns ``{name: Fill}`` in the order of ``methods``.

    Args:
        image: (3, H, W) in [-1, 1], the original face (the methods see only its known pixels).
        mask: (1, H, W) in {0, 1}, 1 = hole.
        amp: precision of the networks (see :func:`_autocast`); OpenCV always works on 8-bit pixels.
        only: names to run (default: all).

    Each result is the composite (the method's pixels in the hole, the original elsewhere) and its PSNR over
    the hole pixels (NaN for an empty hole). A centre-only method runs only when ``mask`` is exactly its
    centre square (``model.center_mask()``); otherwise its Fill has ``composite=None`` and a note.
    """
    from ..metrics import psnr
    from ..models import composite, mask_image

    if image.dim() != 3 or image.shape[0] != 3 or mask.shape != (1, *image.shape[1:]):
        raise ValueError(f"run_methods: expected image (3, H, W) and mask (1, H, W), got {tuple(image.shape)} "
                         f"and {tuple(mask.shape)}")
    wanted = None if only is None else set(only)
    fills: dict[str, Fill] = {}
    for method in methods:
        if wanted is not None and method.name not in wanted:
            continue
        device = next((p.device for p in method.model.parameters()), torch.device("cpu"))
        img, msk = image[None].float().to(device), mask[None].float().to(device)
        if method.centre_only and not torch.equal(msk[0].cpu(), method.model.center_mask()):
            fills[method.name] = Fill(method.name, method.label, None, note="paints the centre square only")
            continue
        start = time.perf_counter()
        with _autocast(amp if method.learned else "none", device):
            out = method.model(mask_image(img, msk), msk)
        result = composite(out.float().clamp(-1, 1), img, msk)
        seconds = time.perf_counter() - start
        score = float(psnr(result, img, msk)[0]) if bool(msk.any()) else math.nan
        fills[method.name] = Fill(method.name, method.label, result[0].cpu(), score, seconds)
    return fills


# --------------------------------------------------------------------------------------------- pictures
def _rgb(image: Tensor) -> np.ndarray:
    """(3, H, W) in [-1, 1] -> (H, W, 3) uint8."""
    return ((image.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()


def _tinted(image: Tensor, mask: np.ndarray) -> np.ndarray:
    """The face with its hole painted the series' hole colour, (H, W, 3) uint8."""
    from ..viz import tint_hole

    m = torch.from_numpy(mask.astype(np.float32))[None, None]
    return _rgb(tint_hole(image[None].float(), m)[0])


def _png(rgb: np.ndarray, scale: int) -> bytes:
    img = Image.fromarray(rgb)
    if scale != 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)  # big pixels, no blur
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def _placeholder(size: int, text: str) -> np.ndarray:
    """A grey tile with a short note (for a method that does not run on this hole)."""
    tile = np.full((size, size, 3), 200, np.uint8)
    for i, line in enumerate(text.split("\n")):
        cv2.putText(tile, line, (2, 10 + 10 * i), cv2.FONT_HERSHEY_PLAIN, 0.6, (60, 60, 60), 1, cv2.LINE_AA)
    return tile
