"""The widget: :class:`HolePainter` (part of :mod:`facelib.paint`)."""
from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .methods import Fill, Method, _placeholder, _png, _rgb, _tinted, centre_square, run_methods, stroke_mask


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
        self.last_update_s = self.first_fill_s = math.nan
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

        Each picture is sent as soon as its method is done, and the methods run fastest first (by their time in
        the previous update), so the fast columns never wait for the slowest network. ``first_fill_s``: until
        the first picture was sent; ``last_update_s``: the whole update (all methods, their PSNR, and the PNGs
        sent to the browser). ``fills`` keeps the columns' order.
        """
        start = time.perf_counter()
        mask = self.mask_tensor()
        fills: dict[str, Fill] = {}
        self.first_fill_s = None
        previous = {n: f.seconds for n, f in self.fills.items()}
        for method in sorted(self.methods, key=lambda m: previous.get(m.name, 0.0)):  # stable: first time, in order
            fills.update(run_methods([method], self.image, mask, amp=self.amp))
            self.fills = {**self.fills, **fills}
            self._show_fill(method.name)
            if self.first_fill_s is None:
                self.first_fill_s = time.perf_counter() - start
        self.fills = {m.name: fills[m.name] for m in self.methods if m.name in fills}
        self.last_update_s = time.perf_counter() - start
        self.updates += 1
        if "status" in self._w:
            self._w["status"].value = self._status()
        return self.fills

    def measure_latency(self, repeats: int = 5) -> dict[str, float]:
        """Median seconds of :meth:`update` on the current hole (after one warm-up): ``total`` (every picture
        updated), ``first`` (the first picture updated) and per method name (its model alone)."""
        self.update()
        totals, firsts, per = [], [], {m.name: [] for m in self.methods}
        for _ in range(repeats):
            fills = self.update()
            totals.append(self.last_update_s)
            firsts.append(self.first_fill_s)
            for name, fill in fills.items():
                per[name].append(fill.seconds)
        return {"total": float(np.median(totals)), "first": float(np.median(firsts)),
                **{k: float(np.median(v)) for k, v in per.items() if v}}

    def _status(self) -> str:
        return (f"update {self.updates}: first picture in {self.first_fill_s * 1000:.0f} ms, all {len(self.fills)} "
                f"methods in {self.last_update_s * 1000:.0f} ms, hole {self.mask.mean():.0%} of the face")

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

        from ..viz import add_caption

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

    def _show_fill(self, name: str) -> None:
        """Send one method's picture and caption to the browser (nothing without the widget)."""
        if name not in self._w.get("outs", {}):
            return
        img, caption = self._w["outs"][name]
        img.value = _png(self.tile(name), 2)
        fill = self.fills.get(name)
        title = next((m.label for m in self.methods if m.name == name), name)
        head, _, rest = (fill.caption() if fill else title).partition(": ")
        caption.value = f"<div style='line-height:1.25;font-size:12px'><b>{head}</b><br>{rest}</div>"

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
