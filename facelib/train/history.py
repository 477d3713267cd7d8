"""The per-epoch table of a run: its rows, ``history.csv`` / ``history.json``, the printed table, the figures.

A row holds ``epoch``, ``train_pixel``, ``train_perceptual``, ``val_pixel``, ``val_perceptual`` (None when the
VGG loss is off), ``train_style`` / ``val_style`` and ``train_tv`` / ``val_tv`` when those losses are on,
``train_mrf`` with the ID-MRF loss on (None in first-stage epochs), with a discriminator ``train_d_loss``,
``train_g_adv``, ``train_d_real_acc``, ``train_d_fake_acc`` (None in first-stage epochs), then ``train_total``,
``steps``, ``complete``, ``global_step``, ``images_per_s``, ``time_s``.
"""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
from torch import Tensor
from torch.utils.data import Dataset

from ..checkpoint import atomic_write_json, atomic_write_text
from ..data import describe_dataset
from ..models import composite, mask_image
from ..paths import history_file
from ..viz import plot_history, save_inpainting_grid
from .config import TrainConfig

__all__ = ["ROW_LABELS", "epoch_row", "write_history", "read_history", "print_row", "save_loss_curves",
           "save_samples", "describe"]

#: Columns of the printed table and their headers.
ROW_LABELS = {
    "epoch": "epoch", "train_pixel": "train pixel", "train_perceptual": "train perc.", "val_pixel": "val pixel",
    "val_perceptual": "val perc.", "train_style": "train style", "train_tv": "train tv", "train_mrf": "train mrf",
    "train_d_loss": "D loss", "train_g_adv": "G adv", "train_d_real_acc": "D acc real",
    "train_d_fake_acc": "D acc fake",
}


def epoch_row(config: TrainConfig, epoch: int, sums: Mapping[str, Tensor | float], steps: int,
              val: Mapping[str, float], complete: bool, global_step: int, seconds: float,
              adversarial: bool) -> dict[str, Any]:
    """The history row of an epoch from the summed training losses of its ``steps`` and the validation losses."""
    n = max(steps, 1)
    train = {k: float(v) / n for k, v in sums.items()}
    row: dict[str, Any] = {
        "epoch": epoch + 1,
        "train_pixel": train.get("pixel"),
        "train_perceptual": train.get("perceptual"),
        "val_pixel": val.get("pixel"),
        "val_perceptual": val.get("perceptual"),
    }
    if config.style_weight > 0:
        row["train_style"], row["val_style"] = train.get("style"), val.get("style")
    if config.tv_weight > 0:
        row["train_tv"], row["val_tv"] = train.get("tv"), val.get("tv")
    if config.mrf_weight > 0:  # None in the epochs of the first stage
        row["train_mrf"] = train.get("mrf")
    if adversarial:
        for k in ("d_loss", "g_adv", "d_real_acc", "d_fake_acc"):
            row[f"train_{k}"] = train.get(k)
    row.update({
        "train_total": train.get("total"),
        "steps": steps,
        "complete": complete,
        "global_step": global_step,
        "images_per_s": (steps * config.batch_size / seconds) if seconds else None,
        "time_s": round(seconds, 3),
    })
    return row


def write_history(config: TrainConfig, rows: list[dict[str, Any]], **summary: Any) -> None:
    """``history.json`` (config, rows and the ``summary`` items, e.g. the loop's ``stopped`` and
    ``minutes`` at the end of a run) and ``history.csv`` in ``config.out_dir``, both atomically."""
    atomic_write_json({"config": config.to_dict(), "history": rows, **summary}, history_file(config.out_dir, "json"))
    buf = io.StringIO()
    columns = list(dict.fromkeys(k for r in rows for k in r))
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: ("" if r.get(k) is None else r[k]) for k in columns})
    atomic_write_text(buf.getvalue(), history_file(config.out_dir, "csv"))


def read_history(out_dir: str | Path, default: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows of ``out_dir/history.json`` (including a partial last epoch), or ``default`` without one."""
    path = history_file(out_dir, "json")
    return json.loads(path.read_text())["history"] if path.exists() else list(default)


def print_row(row: dict[str, Any], header: bool, log: Callable[[str], None]) -> None:
    """Print a row of the per-epoch table through ``log`` (with the header line first when ``header``)."""
    keys = [k for k in ROW_LABELS if k in row]
    if header:
        log(" | ".join(f"{ROW_LABELS[k]:>11}" for k in keys))
    cells = [f"{row[k]:>11d}" if isinstance(row[k], int) else
             f"{'-':>11}" if row[k] is None else f"{row[k]:>11.4f}" for k in keys]
    log(" | ".join(cells) + ("" if row["complete"] else f"   (stopped after {row['steps']} steps)"))


def save_loss_curves(rows: list[dict[str, Any]], path: Path, title: str) -> Path:
    """Loss curves of a run (``facelib.viz.plot_history``) saved to ``path``."""
    fig = plot_history(rows, path=path, title=title)
    plt.close(fig)
    return path


def save_samples(image: Tensor, mask: Tensor, output: Tensor, path: Path, title: str) -> Path:
    """Image grid (``facelib.viz.save_inpainting_grid``) of masked / output / composite / real faces: image and
    output (N, 3, H, W) in [-1, 1], mask (N, 1, H, W) in {0, 1}, on the CPU."""
    rows = {"masked": mask_image(image, mask), "output": output, "composite": composite(output, image, mask),
            "real": image}
    return save_inpainting_grid(rows, path, title=title)


def describe(ds: Dataset) -> str:
    """``facelib.data.describe_dataset`` for titles and logs, never failing a run on it."""
    try:
        return describe_dataset(ds)
    except Exception:  # describe is cosmetic
        return f"{type(ds).__name__} ({len(ds)} items)"  # type: ignore[arg-type]
