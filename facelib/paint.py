"""Paint a hole, watch the models fill it: the logic behind notebook 10.

Three pieces, each usable on its own:

* **masks from strokes**: :func:`stroke_mask` rasterises a brush stroke (a polyline of image-pixel points and a
  brush radius) into a {0, 1} hole mask, adding (draw) or removing (erase) hole pixels;
* **every method on one hole**: :func:`load_methods` collects the pretrained models of a ``weights/`` folder
  (``facelib.pretrained``; a model that is not there is skipped with one printed line) and OpenCV's Telea and
  Navier-Stokes; :func:`run_methods` runs them all on one face and hole and scores each composite with the
  hole PSNR (``facelib.metrics.psnr`` with the mask). The Context Encoder only paints its centre square, so
  it runs only when the hole *is* that square;
* **the widget**: :class:`HolePainter` shows the face on an ``ipycanvas`` canvas (the mouse paints holes;
  brush-size slider, draw/erase, clear, centre square, a random NVIDIA mask) and every method's composite with
  its PSNR beside it, updated on mouse release. Without a browser (papermill, nbval, tests) the same object is
  driven by :meth:`HolePainter.stroke` and :meth:`HolePainter.update`, and :meth:`HolePainter.figure` draws a
  static picture of the current state.

Conventions as everywhere in facelib: images (3, H, W) in [-1, 1], masks (1, H, W) in {0, 1}, 1 = hole.
"""
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

__all__ = [
    "ASTRONAUT_FACE",
    "ASTRONAUT_CREDIT",
    "MODEL_NAMES",
    "LABELS",
    "bundled_face",
    "pick_face",
    "stroke_mask",
    "centre_square",
    "Method",
    "Fill",
    "load_methods",
    "run_methods",
    "HolePainter",
]

#: The bundled face: a 128x128 crop of the NASA astronaut portrait shipped by scikit-image (public domain).
ASTRONAUT_FACE = Path(__file__).resolve().parent / "assets" / "astronaut_face.png"
ASTRONAUT_CREDIT = "astronaut Eileen Collins, NASA portrait (public domain), via scikit-image's astronaut.png"
#: The pretrained models notebook 10 shows, in column order (names of ``facelib.pretrained``).
MODEL_NAMES: tuple[str, ...] = ("generator", "gated", "gan", "context_encoder")
#: Column titles.
LABELS: dict[str, str] = {"generator": "ours (L1 + VGG)", "gated": "gated (DeepFill v2)", "gan": "ours + GAN",
                          "context_encoder": "Context Encoder", "telea": "OpenCV Telea", "ns": "OpenCV NS"}


# ------------------------------------------------------------------------------------------------- faces
def bundled_face(size: int = 64) -> Tensor:
    """The bundled public-domain face (:data:`ASTRONAUT_FACE`) as (3, size, size) in [-1, 1]."""
    from .data import load_image

    return load_image(ASTRONAUT_FACE, size=size)


def pick_face(data: str | os.PathLike | None = None, index: int = 0, size: int = 64,
              seed: int = 0) -> tuple[Tensor, str]:
    """The face to paint on and one line saying what it is.

    A validation face (``split="val"``) of the configured dataset (``data``, else ``FACELIB_DATA``, else the
    repository's ``data/``: ``facelib.data.resolve_faces``); ``data="synthetic"`` gives a synthetic face; with
    no dataset configured, the bundled astronaut portrait (never the synthetic fallback). ``index`` picks the
    face (modulo the dataset's length).
    """
    from .data import SyntheticFaces, describe_dataset, resolve_faces

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
    from .masks import CenterMask

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


def load_methods(weights_dir: str | os.PathLike | None = None, names: Iterable[str] = MODEL_NAMES,
                 image_size: int = 64, device: str | torch.device = "cpu", opencv: bool = True,
                 log: Callable[[str], Any] | None = print) -> list[Method]:
    """The pretrained models found in ``weights_dir`` (``facelib.pretrained``), then OpenCV Telea and NS.

    A model missing from the folder, or whose files fail their checks, is skipped with one line to ``log``;
    so is a Context Encoder built for another image size than ``image_size``.
    """
    from .baselines import OpenCVInpainter
    from .models import ContextEncoder
    from .pretrained import available_weights, load_pretrained, resolve_weights_dir

    say = log or (lambda _: None)
    folder = resolve_weights_dir(weights_dir)
    found = available_weights(folder)
    methods: list[Method] = []
    for name in names:
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
        methods.append(Method(name, LABELS.get(name, name), model, centre_only=centre_only))
    if opencv:
        methods += [Method(m, LABELS[m], OpenCVInpainter(m), learned=False) for m in ("telea", "ns")]
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
    from .metrics import psnr
    from .models import composite, mask_image

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
    from .viz import tint_hole

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


# --------------------------------------------------------------------------------------------- the widget
class HolePainter:
    """Draw holes into a face with the mouse and see what every method paints.

    Args:
        image: the face, (3, H, W) in [-1, 1] (64x64 for the classroom weights).
        methods: from :func:`load_methods`.
        masks: a ``facelib.masks.IrregularMasks`` (the NVIDIA masks at H) for the "random NVIDIA mask" button,
            or None (the button is disabled).
        scale: canvas pixels per image pixel (the canvas is ``H * scale`` wide).
        brush: initial brush radius in image pixels.
        amp: precision of the networks (``run_methods``).
        seed: seeds the random NVIDIA mask draws.

    Headless use (what the notebook does under papermill)::

        painter = HolePainter(face, load_methods("weights"))
        painter.stroke([(10, 20), (40, 30)])      # image pixels
        fills = painter.update()                  # {name: Fill}
        painter.figure()
    """

    def __init__(self, image: Tensor, methods: Sequence[Method], masks: Any = None, scale: int = 4,
                 brush: float = 3, amp: str = "auto", seed: int = 0) -> None:
        if image.dim() != 3 or image.shape[0] != 3 or image.shape[1] != image.shape[2]:
            raise ValueError(f"HolePainter: expected a square face (3, H, H), got {tuple(image.shape)}")
        self.image = image.detach().float().cpu()
        self.size = int(image.shape[-1])
        self.methods = list(methods)
        self.masks = masks
        self.scale = int(scale)
        self.brush = float(brush)
        self.erase = False
        self.amp = amp
        self.rng = np.random.default_rng(seed)
        self.mask = np.zeros((self.size, self.size), np.uint8)
        self.fills: dict[str, Fill] = {}
        self.updates = 0
        self.last_update_s = math.nan
        self._stroke: list[tuple[float, float]] | None = None
        self._w: dict[str, Any] = {}  # widgets, once widget() was called

    # ---------------------------------------------------------------- the mask
    def mask_tensor(self) -> Tensor:
        """The current hole, (1, H, W) float32 in {0, 1}."""
        return torch.from_numpy(self.mask.astype(np.float32))[None]

    def stroke(self, points: Sequence[tuple[float, float]], erase: bool | None = None,
               brush: float | None = None) -> None:
        """Paint (or with ``erase`` remove) a stroke through ``points`` (image pixels) into the hole."""
        stroke_mask(self.mask, points, self.brush if brush is None else brush,
                    self.erase if erase is None else erase)
        self._draw_canvas()

    def clear(self) -> None:
        self.mask[:] = 0
        self._draw_canvas()

    def centre(self) -> None:
        """The centre square (the only hole the Context Encoder paints)."""
        self.mask[:] = centre_square(self.size)
        self._draw_canvas()

    def random_mask(self) -> None:
        """A random NVIDIA irregular mask (needs ``masks``)."""
        if self.masks is None:
            raise RuntimeError("no NVIDIA mask folder given (set FACELIB_MASKS or the masks parameter)")
        self.mask[:] = self.masks(self.rng)[0].numpy().astype(np.uint8)
        self._draw_canvas()

    # ---------------------------------------------------------------- the methods
    def update(self) -> dict[str, Fill]:
        """Run every method on the current hole, refresh the pictures; returns ``{name: Fill}``.

        ``last_update_s`` is the whole update: all methods, their PSNR, and the PNGs sent to the browser.
        """
        start = time.perf_counter()
        self.fills = run_methods(self.methods, self.image, self.mask_tensor(), amp=self.amp)
        self._show_fills()
        self.last_update_s = time.perf_counter() - start
        self.updates += 1
        if "status" in self._w:
            self._w["status"].value = self._status()
        return self.fills

    def measure_latency(self, repeats: int = 5) -> dict[str, float]:
        """Median seconds of :meth:`update` on the current hole (after one warm-up), in total and per method."""
        self.update()
        totals, per = [], {m.name: [] for m in self.methods}
        for _ in range(repeats):
            fills = self.update()
            totals.append(self.last_update_s)
            for name, fill in fills.items():
                per[name].append(fill.seconds)
        return {"total": float(np.median(totals)), **{k: float(np.median(v)) for k, v in per.items() if v}}

    def _status(self) -> str:
        return (f"update {self.updates}: all {len(self.fills)} methods in {self.last_update_s * 1000:.0f} ms, "
                f"hole {self.mask.mean():.0%} of the face")

    # ---------------------------------------------------------------- pictures
    def tile(self, name: str) -> np.ndarray:
        """(H, W, 3) uint8 picture of one method's current fill (a grey note when it did not run)."""
        fill = self.fills.get(name)
        if fill is None or fill.composite is None:
            note = fill.note if fill is not None else "not run yet"
            return _placeholder(self.size, "centre\nsquare\nonly" if "centre" in note else "not run")
        return _rgb(fill.composite)

    def figure(self, title: str | None = None, caption: str | None = None):
        """A static matplotlib figure of the current state: the face, the input, and every method's fill."""
        import matplotlib.pyplot as plt

        from .viz import add_caption

        names = [m.name for m in self.methods]
        panels = [("original", _rgb(self.image)), (f"input: hole {self.mask.mean():.0%}",
                                                    _tinted(self.image, self.mask))]
        panels += [(self.fills[n].caption().replace(": ", "\n", 1) if n in self.fills else n, self.tile(n))
                   for n in names]
        fig, axes = plt.subplots(1, len(panels), figsize=(1.7 * len(panels), 2.3))
        for ax, (text, rgb) in zip(np.atleast_1d(axes), panels):
            ax.imshow(rgb, interpolation="nearest")
            ax.set_title(text, fontsize=7)
            ax.axis("off")
        if title:
            fig.suptitle(title, fontsize=9)
        fig.tight_layout()
        if caption:
            add_caption(fig, caption)
        return fig

    # ---------------------------------------------------------------- the widget
    def widget(self):
        """The interactive version: canvas, controls, and one picture per method (needs a live kernel)."""
        import ipywidgets as W
        from ipycanvas import Canvas

        side = self.size * self.scale
        canvas = Canvas(width=side, height=side, layout=W.Layout(width=f"{side}px", height=f"{side}px"))
        canvas.add_class("facelib-paint-canvas")
        canvas.on_mouse_down(self._on_down)
        canvas.on_mouse_move(self._on_move)
        canvas.on_mouse_up(self._on_up)
        canvas.on_mouse_out(self._on_up)
        brush = W.IntSlider(value=int(self.brush), min=1, max=max(2, self.size // 6), description="brush",
                            continuous_update=False, layout=W.Layout(width=f"{side}px"))
        brush.observe(lambda change: setattr(self, "brush", float(change["new"])), names="value")
        mode = W.ToggleButtons(options=["draw", "erase"], value="draw", style={"button_width": "60px"})
        mode.observe(lambda change: setattr(self, "erase", change["new"] == "erase"), names="value")
        buttons = []
        for text, action, enabled in (("clear", self.clear, True), ("centre square", self.centre, True),
                                      ("random NVIDIA mask", self.random_mask, self.masks is not None)):
            b = W.Button(description=text, disabled=not enabled, layout=W.Layout(width="auto"),
                         tooltip="" if enabled else "set FACELIB_MASKS (the NVIDIA test masks) to enable")
            b.on_click(lambda _, act=action: (act(), self.update()))
            buttons.append(b)
        status = W.HTML(value="draw on the face with the mouse")
        status.add_class("facelib-paint-status")
        outs = {}
        for m in self.methods:
            img = W.Image(format="png", layout=W.Layout(width=f"{self.size * 2}px", height=f"{self.size * 2}px"))
            img.add_class(f"facelib-paint-out-{m.name}")
            label = W.HTML(value=f"<b>{m.label}</b>", layout=W.Layout(width=f"{self.size * 2 + 20}px", margin="0"))
            label.add_class(f"facelib-paint-label-{m.name}")
            outs[m.name] = (img, label)
        self._w = {"canvas": canvas, "status": status, "outs": outs, "brush": brush, "mode": mode}
        grid = W.GridBox([W.VBox([img, label]) for img, label in outs.values()],
                         layout=W.Layout(grid_template_columns=f"repeat(3, {self.size * 2 + 24}px)"))
        controls = W.VBox([brush, W.HBox([mode, *buttons]), status])
        self._draw_canvas()
        self.update()  # every picture shows the current hole from the start
        return W.HBox([W.VBox([canvas, controls]), grid])

    def _draw_canvas(self) -> None:
        canvas = self._w.get("canvas")
        if canvas is not None:
            rgb = _tinted(self.image, self.mask)
            canvas.put_image_data(np.repeat(np.repeat(rgb, self.scale, 0), self.scale, 1), 0, 0)

    def _show_fills(self) -> None:
        for name, (img, label) in self._w.get("outs", {}).items():
            img.value = _png(self.tile(name), 2)
            fill = self.fills.get(name)
            head, _, rest = (fill.caption() if fill else LABELS.get(name, name)).partition(": ")
            label.value = f"<div style='line-height:1.25;font-size:12px'><b>{head}</b><br>{rest}</div>"

    def _on_down(self, x: float, y: float) -> None:
        self._stroke = [(x / self.scale, y / self.scale)]
        self.stroke(self._stroke)

    def _on_move(self, x: float, y: float) -> None:
        if self._stroke is not None:
            point = (x / self.scale, y / self.scale)
            self.stroke([self._stroke[-1], point])
            self._stroke.append(point)

    def _on_up(self, x: float, y: float) -> None:
        if self._stroke is not None:
            self._stroke = None
            self.update()
