"""The results of the series on real faces: train every model on UTKFace, then evaluate them on the protocol.

    python experiments/utkface.py train    --profile cpu   # reduced scale, runs on a 2-core CPU in ~40 min
    python experiments/utkface.py evaluate --profile cpu   # the table (results.md / results.csv) from checkpoints
    python experiments/utkface.py figures  --profile cpu   # loss curves, per-bin plots, sample grids -> figures/

Profiles (``experiments/utkface_setup.py``; all models of a profile share data, masks, size, batch and step
budget):

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

# Run against the checkout this file lives in, as a script (python experiments/utkface.py) or a module.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from experiments.utkface_figures import make_figures  # noqa: E402
from experiments.utkface_setup import (  # noqa: E402
    EVAL,
    LABELS,
    MODELS,
    PROFILES,
    ROOT,
    env_dir,
    results_dir,
    run_dir,
)
from facelib.evaluate import main as evaluate_main  # noqa: E402
from facelib.train import TrainConfig, train  # noqa: E402


def train_all(profile: str, models: tuple[str, ...]) -> None:
    faces, masks = env_dir("FACELIB_UTKFACE"), env_dir("FACELIB_MASKS")
    for model in models:
        out = run_dir(profile, model)
        config = TrainConfig.preset(model, data=faces, mask_root=masks, out_dir=str(out), resume=True,
                                    seed=0, **PROFILES[profile])
        print(f"=== {model} -> {out}", flush=True)
        train(config)


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
    args = ["--faces", env_dir("FACELIB_UTKFACE"), "--masks", env_dir("FACELIB_MASKS"),
            "--size", str(EVAL[profile]["size"]), "--out", str(results_dir(profile)), "--overwrite",  # regenerates it
            "--baseline", "telea", "ns"]
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
        make_figures(args.profile, tuple(args.models))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
