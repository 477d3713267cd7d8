"""The classroom models: trained on this project's 2-core CPU at 64x64, committed to ``weights/``, scored in full.

    python experiments/classroom.py command generator     # the exact training command (resumable)
    python experiments/classroom.py train generator       # run it (continues runs/classroom/generator if there)
    python experiments/classroom.py export generator --epoch 6 --code-commit SHA   # -> weights/generator.*
    python experiments/classroom.py evaluate              # every weights/ model + OpenCV: 6,000 UTKFace cases
                                                          # and 168 CelebA-HQ sample cases, at 64x64
    python experiments/classroom.py report                # manifests' results, summary.md, figures/classroom_*

The recipe of every classroom model: all 21,708 UTKFace training faces (the committed split) at 64x64, batch
16, holes mixed from rectangles, DeepFill v2 strokes and the NVIDIA irregular masks (a bank of 8,192 drawn
once, x8 by flips and transposes), bf16 autocast and channels_last on the CPU, faces decoded once into a
uint8 tensor (``--gpu-cache``: on a CPU the same cache removes JPEG decoding from every step).

Needs FACELIB_UTKFACE, FACELIB_MASKS and (for the cross-dataset check) FACELIB_CELEBA_HQ.
"""
from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNS = ROOT / "runs" / "classroom"
RESULTS = ROOT / "results" / "classroom-64"
CELEBA_MANIFEST = ROOT / "data" / "protocol" / "celeba_hq_sample_128.csv"
EVAL_SIZE = 64

#: Options shared by every classroom run (``python -m facelib.train`` flags).
COMMON: tuple[str, ...] = (
    "--image-size", "64", "--batch-size", "16", "--amp", "bf16", "--channels-last", "true", "--gpu-cache",
    "--mask-bank-size", "8192", "--device", "cpu", "--max-val-images", "512", "--checkpoint-every", "100",
    "--save-epoch-checkpoints", "--log-every", "50",
)
#: Per model: the preset, the planned epochs, extra flags, and a one-line description for the manifest.
MODELS: dict[str, dict] = {
    "generator": {"epochs": 10, "extra": (), "about": "the flagship: L1 + 0.001 x VGG19 perceptual loss"},
    "gated": {"epochs": 2, "extra": (), "about": "gated convolutions (DeepFill v2 layers), same losses"},
    "gan": {"epochs": 2, "extra": (), "about": "L1 + VGG19 + 0.01 x hinge PatchGAN (spectral norm)"},
    "context_encoder": {"epochs": 2, "extra": (), "about": "Pathak et al. 2016: centre hole, L2 + 0.001 adversarial"},
}


def env_dir(name: str) -> str:
    value = os.environ.get(name)
    if not value or not Path(value).is_dir():
        sys.exit(f"set {name} to its folder (see data/README.md and ../shared/README.md); got {value!r}")
    return value


def train_command(model: str) -> list[str]:
    """The exact ``python -m facelib.train`` command of a classroom model (``--resume`` continues a run)."""
    spec = MODELS[model]
    return [sys.executable, "-m", "facelib.train", "--model", model, "--data", env_dir("FACELIB_UTKFACE"),
            "--mask-root", env_dir("FACELIB_MASKS"), *COMMON, "--epochs", str(spec["epochs"]), *spec["extra"],
            "--out-dir", str(RUNS / model), "--resume"]


def printable(cmd: list[str]) -> str:
    """The command as one would type it from the repository root (paths to the data as given)."""
    return " ".join(["python" if c == sys.executable else shlex.quote(c) for c in cmd]).replace(str(ROOT) + "/", "")


def export(model: str, epoch: int | None, code_commit: str, device_note: str) -> Path:
    from facelib.export import checkpoint_to_weights

    folder = RUNS / model / "checkpoints"
    ckpt = folder / (f"epoch_{epoch}.pt" if epoch else "last.pt")
    return checkpoint_to_weights(
        ckpt, model, ROOT / "weights", command=printable(train_command(model)), description=MODELS[model]["about"],
        data_note="UTKFace (Zhang et al. 2017), aligned and cropped faces at 64x64",
        split_note="train: the 21,708 faces not listed in data/splits/utkface_val.txt; val: the first 512 of "
                   "its 2,000 faces, fixed masks", device_note=device_note, code_commit=code_commit)


def evaluate(names: list[str]) -> None:
    """Every named weights model and both OpenCV baselines on the whole UTKFace protocol and the CelebA sample."""
    from facelib.evaluate import main as evaluate_main

    base = ["--size", str(EVAL_SIZE), "--baseline", "telea", "ns", "--pretrained", *names, "--batch-size", "32"]
    runs = [(RESULTS, ["--faces", env_dir("FACELIB_UTKFACE")]),
            (RESULTS.with_name("classroom-64-celeba"), ["--faces", env_dir("FACELIB_CELEBA_HQ"), "--manifest",
                                                         str(CELEBA_MANIFEST)])]
    for out, args in runs:
        if evaluate_main([*base, *args, "--masks", env_dir("FACELIB_MASKS"), "--out", str(out)]) != 0:
            sys.exit(f"evaluation into {out} failed")


# ============================================================================================ the report
#: The README's columns: (kind, bin) groups of the protocol, in order.
GROUPS: tuple[tuple[str, str], ...] = (*(("irregular", f"{10 * i}-{10 * i + 10}%") for i in range(6)),
                                       ("center", "25%"), ("freeform", "all"))


def read_results(folder: Path) -> dict[tuple[str, str, str, str], dict[str, float]]:
    """``{(method, kind, bin, metric): {"mean", "ci_lo", "ci_hi", "n"}}`` from an evaluation's results.csv."""
    import csv

    with open(folder / "results.csv", newline="", encoding="utf-8") as f:
        return {(r["method"], r["kind"], r["bin"], r["metric"]): {k: float(r[k]) for k in ("mean", "ci_lo", "ci_hi", "n")}
                for r in csv.DictReader(f)}


def table(results: dict, metric: str, groups=GROUPS, digits: int = 2) -> str:
    """A Markdown table: one row per method, one column per group, "mean (95% interval)"."""
    methods = list(dict.fromkeys(m for m, *_ in results))
    head = "| method | " + " | ".join(f"{k} {b}" for k, b in groups) + " |"
    lines = [head, "| --- |" + " ---: |" * len(groups)]
    for m in methods:
        cells = []
        for k, b in groups:
            r = results.get((m, k, b, metric))
            cells.append("n/a" if r is None else f"{r['mean']:.{digits}f} ({r['ci_lo']:.{digits}f}-{r['ci_hi']:.{digits}f})")
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def goal_check(results: dict, model: str = "generator") -> list[str]:
    """The issue's goals for the flagship, each said with its numbers: ahead of the better OpenCV method in every
    group (by >= 1 dB hole PSNR from 10% holes up, on the centre square and on free-form strokes), ahead on the
    perceptual distance everywhere, and ahead of the Context Encoder on the centre square."""
    lines = []
    for k, b in GROUPS:
        ours = results[(model, k, b, "hole_psnr")]["mean"]
        best_cv = max(results[(f"OpenCV {cv}", k, b, "hole_psnr")]["mean"] for cv in ("telea", "ns"))
        need = 0.0 if (k, b) == ("irregular", "0-10%") else 1.0
        p_ours = results[(model, k, b, "perceptual")]["mean"]
        p_cv = min(results[(f"OpenCV {cv}", k, b, "perceptual")]["mean"] for cv in ("telea", "ns"))
        verdict = "met" if ours - best_cv > need and p_ours < p_cv else "NOT met"
        lines.append(f"- {k} {b}: hole PSNR {ours:.2f} vs the better OpenCV {best_cv:.2f} dB ({ours - best_cv:+.2f}, "
                     f"goal > +{need:.0f}); perceptual {p_ours:.1f} vs {p_cv:.1f}: {verdict}")
    ce = results.get(("context_encoder", "center", "25%", "hole_psnr"))
    if ce is not None:
        ours = results[(model, "center", "25%", "hole_psnr")]["mean"]
        lines.append(f"- centre square vs the Context Encoder: {ours:.2f} vs {ce['mean']:.2f} dB ({ours - ce['mean']:+.2f}):"
                     f" {'met' if ours > ce['mean'] else 'NOT met'}")
    return lines


def report() -> Path:
    """Write results/classroom-64/summary.md and store each model's numbers in its weights manifest."""
    from facelib.pretrained import available_weights, update_results

    utk, celeba = read_results(RESULTS), read_results(RESULTS.with_name("classroom-64-celeba"))
    header = [line for line in (RESULTS / "results.md").read_text(encoding="utf-8").splitlines()
              if line.startswith(("data:", "cases scored", "evaluation size", "device:", "date:", "command:"))]
    for name in available_weights():
        if name not in MODELS:
            continue
        pick = lambda res, metric: {f"{k} {b}": res[(name, k, b, metric)] for k, b in GROUPS
                                    if (name, k, b, metric) in res}
        update_results(name, {
            "utkface_protocol_64": {"manifest": "data/protocol/utkface_val_128.csv", "evaluated_at": EVAL_SIZE,
                                    "hole_psnr": pick(utk, "hole_psnr"), "perceptual": pick(utk, "perceptual"),
                                    "ssim": pick(utk, "ssim")},
            "celeba_hq_sample_64": {"manifest": str(CELEBA_MANIFEST.relative_to(ROOT)), "evaluated_at": EVAL_SIZE,
                                    "hole_psnr": {f"{k} all": celeba[(name, k, "all", "hole_psnr")]
                                                  for k in ("irregular", "center", "freeform")
                                                  if (name, k, "all", "hole_psnr") in celeba}},
            "command": "python experiments/classroom.py evaluate && python experiments/classroom.py report",
            "header": header,
        })
    celeba_groups = (("irregular", "all"), ("center", "25%"), ("freeform", "all"))
    text = "\n\n".join([
        "# Classroom models at 64x64: the whole protocol", "\n".join(f"- {h}" for h in header),
        "## Hole PSNR (dB, mean and 95% bootstrap interval)", table(utk, "hole_psnr"),
        "## VGG19 perceptual distance (lower is better)", table(utk, "perceptual", digits=1),
        "## The flagship against the goals", "\n".join(goal_check(utk)) if ("generator", "center", "25%",
                                                                            "hole_psnr") in utk else "no generator",
        "## Cross-dataset: the 56 CelebA-HQ sample faces (hole PSNR)", table(celeba, "hole_psnr", celeba_groups),
    ])
    path = RESULTS / "summary.md"
    path.write_text(text + "\n", encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="stage", required=True)
    for stage in ("command", "train"):
        sub.add_parser(stage).add_argument("model", choices=tuple(MODELS))
    ex = sub.add_parser("export")
    ex.add_argument("model", choices=tuple(MODELS))
    ex.add_argument("--epoch", type=int, default=None, help="export checkpoints/epoch_K.pt (default: last.pt)")
    ex.add_argument("--code-commit", required=True, help="the commit the training code ran at")
    ex.add_argument("--device-note", default="2-core AMD EPYC CPU (avx512_bf16), one intra-op thread, bf16")
    ev = sub.add_parser("evaluate")
    ev.add_argument("--models", nargs="+", default=None, help="weights names (default: all classroom weights)")
    sub.add_parser("report")
    args = parser.parse_args(argv)
    if args.stage == "command":
        print(printable(train_command(args.model)))
    elif args.stage == "train":
        return subprocess.call(train_command(args.model), cwd=ROOT)
    elif args.stage == "export":
        print(f"wrote {export(args.model, args.epoch, args.code_commit, args.device_note)}")
    elif args.stage == "evaluate":
        from facelib.pretrained import available_weights

        names = args.models or [n for n in MODELS if n in available_weights()]
        if not names:
            sys.exit("no classroom weights in weights/: export a trained model first (see --help)")
        evaluate(names)
    else:
        print(report().read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
