"""Loss curves: :func:`plot_history` for a finished run and :class:`LiveLossPlot` while one trains
(part of :mod:`facelib.viz`)."""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .images import add_caption, save_figure

# --------------------------------------------------------------------------------------------- curves
_LOSS_PANELS: tuple[tuple[str, str], ...] = (
    ("pixel", "pixel loss"),
    ("perceptual", "perceptual loss (VGG)"),
    ("style", "style loss"),
    ("tv", "total variation"),
    ("mrf", "ID-MRF loss"),
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
