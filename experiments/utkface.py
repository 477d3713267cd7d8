"""The results of the series on real faces: train every model on UTKFace, then evaluate them on the protocol.

    python experiments/utkface.py train    --profile cpu   # reduced scale, runs on a 2-core CPU in ~40 min
    python experiments/utkface.py evaluate --profile cpu   # the table (results.md / results.csv) from checkpoints
    python experiments/utkface.py figures  --profile cpu   # loss curves, per-bin plots, sample grids -> figures/

Profiles (all models of a profile share data, masks, size, batch and step budget):

* ``gpu``: the protocol's 128x128, 10 epochs over the 21,708 UTKFace training faces, batch 32 (needs a GPU).
* ``cpu``: 64x64, the first 2,400 training faces, 4 epochs of 150 steps of batch 16, bf16 autocast: clearly a
  reduced-scale run (each model trains in about 10 minutes on one CPU core).

Needs FACELIB_UTKFACE (the flat UTKFace folder) and FACELIB_MASKS (NVIDIA irregular masks); runs go to
``runs/utkface-<profile>/<model>`` and are resumed if interrupted.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch

from facelib.train import TrainConfig, train

ROOT = Path(__file__).resolve().parents[1]
MODELS = ("pixel", "generator", "gan", "gated", "context_encoder")
# Evaluation per profile: the protocol's size and how many cases of every (mask kind, bin) are scored.
EVAL = {"cpu": dict(size=64, per_bin=60), "gpu": dict(size=128, per_bin=None)}
LABELS = {"pixel": "ours, L1 only", "generator": "ours, L1 + VGG", "gan": "ours, L1 + VGG + GAN",
          "gated": "gated, L1 + VGG", "context_encoder": "Context Encoder"}
PROFILES = {
    "cpu": dict(image_size=64, batch_size=16, epochs=4, max_train_images=2400, max_steps=None, amp="bf16",
                channels_last=True, max_val_images=256, checkpoint_every=50),
    "gpu": dict(image_size=128, batch_size=32, epochs=10, max_steps=None, amp="auto", channels_last="auto",
                max_val_images=2000, checkpoint_every=500, gpu_cache=True),
}


def env_dir(name: str) -> str:
    value = os.environ.get(name)
    if not value or not Path(value).is_dir():
        sys.exit(f"set {name} to the folder (see data/README.md); got {value!r}")
    return value


def run_dir(profile: str, model: str) -> Path:
    return ROOT / "runs" / f"utkface-{profile}" / model


def train_all(profile: str, models: tuple[str, ...]) -> None:
    faces, masks = env_dir("FACELIB_UTKFACE"), env_dir("FACELIB_MASKS")
    for model in models:
        out = run_dir(profile, model)
        config = TrainConfig.preset(model, data=faces, mask_root=masks, out_dir=str(out), resume=True,
                                    seed=0, **PROFILES[profile])
        print(f"=== {model} -> {out}", flush=True)
        train(config)


def results_dir(profile: str) -> Path:
    return ROOT / "results" / f"utkface-{profile}"


def _for_caller(path: Path) -> str:
    """``path`` (absolute, under ROOT) as the evaluation, which runs in the caller's cwd, must be given it.

    Every path handed to ``facelib.evaluate`` resolves against the caller's working directory, like the
    FACELIB_* folders the caller set; relative to the cwd where possible (short, and the same text as
    before when run from the repository root), else absolute.
    """
    try:
        return os.path.relpath(path)
    except ValueError:  # Windows: another drive than the cwd
        return str(path)


def evaluate_all(profile: str, models: tuple[str, ...]) -> None:
    """The table: every trained model and both OpenCV baselines on the same protocol cases."""
    from facelib.evaluate import main as evaluate_main

    args = ["--faces", env_dir("FACELIB_UTKFACE"), "--masks", env_dir("FACELIB_MASKS"),
            "--size", str(EVAL[profile]["size"]), "--out", str(results_dir(profile)), "--baseline", "telea", "ns"]
    if EVAL[profile]["per_bin"]:
        args += ["--per-bin", str(EVAL[profile]["per_bin"])]
    for model in models:
        ckpt = run_dir(profile, model) / "checkpoints" / "last.pt"
        if not ckpt.is_file():
            sys.exit(f"{ckpt} is missing: run `python experiments/utkface.py train --profile {profile}` first")
        args += ["--checkpoint", f"{LABELS[model]}={_for_caller(ckpt)}"]
    if evaluate_main(args) != 0:
        sys.exit("evaluation failed")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stage", choices=("train", "evaluate", "figures"))
    parser.add_argument("--profile", choices=tuple(PROFILES), default="cpu")
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    if args.stage == "train":
        train_all(args.profile, tuple(args.models))
    elif args.stage == "evaluate":
        evaluate_all(args.profile, tuple(args.models))
    else:
        from utkface_figures import make_figures  # beside this script

        make_figures(args.profile, tuple(args.models))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
