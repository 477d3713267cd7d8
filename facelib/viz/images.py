"""Image grids, display helpers and figure captions/saving (part of :mod:`facelib.viz`).

Conventions (``facelib.models.interface``): images are float tensors (3, H, W) / (N, 3, H, W) in [-1, 1]; masks are
(1, H, W) / (N, 1, H, W) with values {0, 1}, **1 = hole**.
"""
from __future__ import annotations

import os
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from torch import Tensor
from torchvision.utils import make_grid

from ..models import composite

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
