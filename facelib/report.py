"""Tables and figures of results: what the README, the experiments and the notebooks show.

One place for the three views every results section uses, so the CPU, classroom and GPU reports cannot drift:

- ``results_table``: a Markdown table, one row per method, one column per (mask kind, bin) group, cells
  "mean (95% bootstrap interval)", read from an evaluation's ``results.csv`` (``python -m facelib.evaluate``);
- ``epoch_table``: the original work's per-epoch table (train/val pixel and perceptual loss) of a run's history;
- ``plot_loss_curves`` and ``plot_by_bin``: the same two things as figures;
- ``paired_verdict``: one sentence comparing two methods' per-face scores, worded by the numbers;
- ``sample_cases`` and ``inpaint_all``: a fixed set of protocol cases and every method's fill of them, for the
  sample grids (``facelib.viz.save_inpainting_grid``).
"""
from __future__ import annotations

import csv
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure
from torch import Tensor

from .models import composite, mask_image
from .protocol import UTKFACE_MANIFEST, ProtocolDataset, read_manifest
from .realism import REALISM_METRICS
from .viz import tint_hole

__all__ = ["TABLE_GROUPS", "Results", "headline", "read_results", "results_table", "epoch_table", "plot_loss_curves",
           "plot_by_bin", "sample_cases", "inpaint_all", "paired_verdict"]

#: The README's columns: every irregular bin, the centre square and all free-form strokes.
TABLE_GROUPS: tuple[tuple[str, str], ...] = (*(("irregular", f"{10 * i}-{10 * i + 10}%") for i in range(6)),
                                             ("center", "25%"), ("freeform", "all"))

def headline(entry: Mapping[str, Any], metric: str = "hole_psnr") -> dict[str, dict[str, float]]:
    """``{"irregular 0-10%": {"mean", "ci_lo", "ci_hi", "n"}, ...}``: the :data:`TABLE_GROUPS` of one protocol run
    in a weights manifest (``facelib.pretrained.protocol_results``), in table order; ``{}`` when not scored."""
    scored = entry.get(metric) or {}
    return {f"{k} {b}": scored[f"{k} {b}"] for k, b in TABLE_GROUPS if f"{k} {b}" in scored}


#: ``{(method, kind, bin, metric): {"mean", "ci_lo", "ci_hi", "n"}}`` (plus ``"std"`` for KID).
Results = dict[tuple[str, str, str, str], dict[str, float]]


def read_results(path: str | os.PathLike) -> Results:
    """An evaluation's summary: ``path`` is its ``results.csv`` or the folder holding it. KID rows (metric
    ``kid``, :mod:`facelib.realism`) also carry their subset ``std``; FID and KID have no bootstrap interval
    (``ci_lo`` / ``ci_hi`` NaN)."""
    path = Path(path)
    path = path / "results.csv" if path.is_dir() else path
    with path.open(newline="", encoding="utf-8") as f:
        return {(r["method"], r["kind"], r["bin"], r["metric"]): {k: float(r[k]) for k in ("mean", "ci_lo", "ci_hi", "n", "std")
                                                                  if r.get(k) not in (None, "")}
                for r in csv.DictReader(f)}


def _methods(results: Results) -> list[str]:
    return list(dict.fromkeys(m for m, *_ in results))


def results_table(results: Results, metric: str = "hole_psnr", groups: Sequence[tuple[str, str]] = TABLE_GROUPS,
                  digits: int = 2) -> str:
    """Markdown: one row per method, one column per group, "mean (lo-hi)"; "n/a" where a method has no case
    (the Context Encoder only paints the centre). KID reads "mean +- std (n=...)" and FID "mean (n=...)": they
    have no bootstrap interval, and their sample size matters (``metric="kid"``, ``digits=4``)."""
    lines = ["| method | " + " | ".join(f"{k} {b}" for k, b in groups) + " |", "| --- |" + " ---: |" * len(groups)]
    for m in _methods(results):
        cells = []
        for k, b in groups:
            r = results.get((m, k, b, metric))
            if r is not None and metric in REALISM_METRICS:
                spread = f" +- {r['std']:.{digits}f}" if "std" in r else ""
                cells.append(f"{r['mean']:.{digits}f}{spread} (n={int(r['n'])})")
                continue
            cells.append("n/a" if r is None else
                         f"{r['mean']:.{digits}f} ({r['ci_lo']:.{digits}f}-{r['ci_hi']:.{digits}f})")
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def epoch_table(history: Sequence[Mapping[str, Any]]) -> str:
    """The original work's per-epoch table (train/val pixel and perceptual loss); a partial epoch is marked."""
    def cell(v: Any, digits: int) -> str:
        return "-" if v in (None, "") else f"{float(v):.{digits}f}"

    lines = ["| epoch | train pixel | train perceptual | val pixel | val perceptual |",
             "| ---: | ---: | ---: | ---: | ---: |"]
    for r in history:
        mark = "" if r.get("complete", True) else f" ({r.get('steps')} steps)"
        lines.append(f"| {r['epoch']}{mark} | {cell(r.get('train_pixel'), 4)} | {cell(r.get('train_perceptual'), 2)}"
                     f" | {cell(r.get('val_pixel'), 4)} | {cell(r.get('val_perceptual'), 2)} |")
    return "\n".join(lines)


def plot_loss_curves(histories: Mapping[str, Sequence[Mapping[str, Any]]],
                     pixel_title: str = "pixel loss", figsize: tuple[float, float] = (10, 3.6)) -> Figure:
    """Train (solid) and validation (dashed) pixel and perceptual loss per epoch, one colour per run.

    Args:
        histories: run label -> its ``history.json`` rows (a run without a perceptual term is left out there).
    """
    fig, axes = plt.subplots(1, 2, figsize=figsize)
    for label, rows in histories.items():
        epochs = [r["epoch"] for r in rows]
        for ax, key in zip(axes, ("pixel", "perceptual")):
            train = [r.get(f"train_{key}") for r in rows]
            if not rows or any(v is None for v in train):
                continue
            line, = ax.plot(epochs, train, marker="o", ms=3, label=f"{label} (train)")
            ax.plot(epochs, [r.get(f"val_{key}") for r in rows], marker="s", ms=3, ls="--", color=line.get_color(),
                    label=f"{label} (val)")
    for ax, name in zip(axes, (pixel_title, "VGG19 perceptual loss")):
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("epoch")
        ax.legend(fontsize=6)
    fig.tight_layout()
    return fig


def plot_by_bin(results: Results, metric: str = "hole_psnr", ylabel: str = "hole PSNR (dB)",
                kinds: Sequence[str] = ("irregular", "freeform", "center")) -> Figure:
    """``metric`` per mask bin, mean and 95% bootstrap interval, methods side by side; one panel per kind."""
    cells = {key: v for key, v in results.items() if key[3] == metric and key[2] != "all"}
    methods = _methods(cells)
    ratios = [6 if any(k == kind and b != "25%" for _, k, b, _ in cells) else 1.6 for kind in kinds]
    fig, axes = plt.subplots(1, len(kinds), figsize=(13, 3.8), gridspec_kw={"width_ratios": ratios})
    labelled: set[str] = set()
    for ax, kind in zip(axes, kinds):
        bins = list(dict.fromkeys(b for _, k, b, _ in cells if k == kind))
        for i, method in enumerate(methods):
            have = [b for b in bins if (method, kind, b, metric) in cells]
            rs = [cells[(method, kind, b, metric)] for b in have]
            xs = [bins.index(b) + (i - (len(methods) - 1) / 2) * 0.8 / len(methods) for b in have]
            if not have:  # e.g. the Context Encoder outside the centre square
                continue
            err = [[r["mean"] - r["ci_lo"] for r in rs], [r["ci_hi"] - r["mean"] for r in rs]]
            # One colour per method in every panel, one legend entry per method for the figure.
            ax.errorbar(xs, [r["mean"] for r in rs], yerr=err, fmt="o", ms=3, capsize=2, color=f"C{i}",
                        label=method if method not in labelled else None)
            labelled.add(method)
        ax.set_xticks(range(len(bins)), bins, fontsize=7)
        ax.set_title(f"{kind} holes", fontsize=9)
    axes[0].set_ylabel(ylabel)
    fig.tight_layout()
    fig.legend(fontsize=7, loc="lower center", ncol=min(len(methods), 6), bbox_to_anchor=(0.5, 1.0))
    return fig


def sample_cases(faces: str | os.PathLike, masks_root: str | os.PathLike | None, size: int, per_kind: int = 3,
                 manifest: str | os.PathLike = UTKFACE_MANIFEST) -> tuple[Tensor, Tensor]:
    """Fixed protocol cases for sample grids: the first irregular cases of 30-50% holes, the first centre cases
    and the first free-form cases of 20-30%, ``per_kind`` of each.

    Returns:
        (image (N, 3, size, size) in [-1, 1], mask (N, 1, size, size) in {0, 1}).
    """
    rows = read_manifest(manifest)
    picks = ([r for r in rows if r["mask_kind"] == "irregular" and r["bin"] in ("30-40%", "40-50%")][:per_kind]
             + [r for r in rows if r["mask_kind"] == "center"][:per_kind]
             + [r for r in rows if r["mask_kind"] == "freeform" and r["bin"] == "20-30%"][:per_kind])
    data = ProtocolDataset(picks, faces, masks_root=masks_root, size=size)
    items = [data[i] for i in range(len(data))]
    return torch.stack([it["image"] for it in items]), torch.stack([it["mask"] for it in items])


@torch.no_grad()
def inpaint_all(methods: Mapping[str, torch.nn.Module], image: Tensor, mask: Tensor) -> dict[str, Tensor]:
    """The rows of a sample grid: the masked input, each method's composite (known pixels kept), the real face."""
    grid = {"masked input": tint_hole(image, mask)}
    for name, method in methods.items():
        method.eval()
        grid[name] = composite(method(mask_image(image, mask), mask).clamp(-1, 1), image, mask)
    grid["real"] = image
    return grid


def paired_verdict(name_a: str, a: Tensor, name_b: str, b: Tensor, unit: str = " dB",
                   ahead: str = "is ahead of", noun: str = "faces") -> str:
    """One sentence comparing paired per-face scores (higher is better) of two methods on the same faces.

    The words follow the numbers: the two are called *level* unless the mean difference exceeds twice its
    standard error (the *noise*: with a handful of faces a small difference is luck); otherwise the sentence
    names the method ahead and by how much. ``a`` and ``b``: (N,) scores of the same N faces; ``noun`` names
    them in the sentence (e.g. "face-and-hole cases" when a few photographs carry several holes each).
    """
    d = (a - b).double()
    mean = float(d.mean())
    noise = 2 * float(d.std()) / len(d) ** 0.5 if len(d) > 1 else float("inf")
    if abs(mean) <= noise:
        return (f"{name_a} and {name_b} are level within the noise on these {len(d)} {noun} "
                f"(difference {mean:+.2f}{unit}, noise +-{noise:.2f}{unit})")
    first, second = (name_a, name_b) if mean > 0 else (name_b, name_a)
    return f"{first} {ahead} {second} by {abs(mean):.2f}{unit} on these {len(d)} {noun} (noise +-{noise:.2f}{unit})"
