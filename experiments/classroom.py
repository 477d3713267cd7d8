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
sys.path.insert(0, str(ROOT))  # this checkout's facelib, also when run as a script from elsewhere

from experiments.utkface_setup import env_dir  # noqa: E402  (the same data folders as the UTKFace experiment)
from facelib.report import TABLE_GROUPS  # noqa: E402
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


def train_command(model: str) -> list[str]:
    """The exact ``python -m facelib.train`` command of a classroom model (``--resume`` continues a run)."""
    spec = MODELS[model]
    return [sys.executable, "-m", "facelib.train", "--model", model, "--data", env_dir("FACELIB_UTKFACE"),
            "--mask-root", env_dir("FACELIB_MASKS"), *COMMON, "--epochs", str(spec["epochs"]), *spec["extra"],
            "--out-dir", str(RUNS / model), "--resume"]


def printable(cmd: list[str]) -> str:
    """The command as one would type it from the repository root (paths to the data as given)."""
    return " ".join(["python" if c == sys.executable else shlex.quote(c) for c in cmd]).replace(str(ROOT) + "/", "")


def export(model: str, epoch: int | None, code_commit: str, device_note: str, runs: Path = RUNS) -> Path:
    """Export ``runs/MODEL/checkpoints/epoch_K.pt`` (or last.pt) to the weights folder (FACELIB_WEIGHTS or weights/)."""
    from facelib.export import checkpoint_to_weights
    from facelib.pretrained import resolve_weights_dir

    folder = runs / model / "checkpoints"
    ckpt = folder / (f"epoch_{epoch}.pt" if epoch else "last.pt")
    # The planned schedule next to what was exported: the learning rate is constant (no scheduler), so an
    # export after epoch K of the planned N is the same model a run of --epochs K would have written.
    planned = {"planned_epochs": MODELS[model]["epochs"], "exported_epoch": epoch or "last"}
    return checkpoint_to_weights(
        ckpt, model, resolve_weights_dir(), command=printable(train_command(model)), description=MODELS[model]["about"],
        data_note="UTKFace (Zhang et al. 2017), aligned and cropped faces at 64x64",
        split_note="train: the 21,708 faces not listed in data/splits/utkface_val.txt; val: the first 512 of "
                   "its 2,000 faces, fixed masks", device_note=device_note, code_commit=code_commit, extra=planned)


def evaluate(names: list[str], results: Path = RESULTS, per_bin: int | None = None) -> None:
    """Every named weights model and both OpenCV baselines on the whole UTKFace protocol and the CelebA sample
    (``per_bin``: only the first N cases of every group, for a preview; the README's table uses all)."""
    from facelib.evaluate import main as evaluate_main

    base = ["--size", str(EVAL_SIZE), "--baseline", "telea", "ns", "--pretrained", *names, "--batch-size", "32",
            "--overwrite"]  # this stage regenerates the committed tables
    subset = ["--per-bin", str(per_bin)] if per_bin else []
    runs = [(results, ["--faces", env_dir("FACELIB_UTKFACE"), *subset]),
            (celeba_dir(results), ["--faces", env_dir("FACELIB_CELEBA_HQ"), "--manifest", str(CELEBA_MANIFEST)])]
    for out, args in runs:
        if evaluate_main([*base, *args, "--masks", env_dir("FACELIB_MASKS"), "--out", str(out)]) != 0:
            sys.exit(f"evaluation into {out} failed")


# ============================================================================================ the report
GROUPS = TABLE_GROUPS


def celeba_dir(results: Path) -> Path:
    """Where the CelebA-HQ sample results of an evaluation into ``results`` go: ``<results>-celeba``."""
    return results.with_name(results.name + "-celeba")


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


def figures(results: Path, folder: Path, names: list[str], cases: str) -> list[Path]:
    """The classroom figures: per-epoch losses (from the manifests), hole PSNR per bin, and sample fills."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from facelib.baselines import OpenCVInpainter
    from facelib.pretrained import load_manifest, load_pretrained
    from facelib.report import inpaint_all, plot_by_bin, plot_loss_curves, read_results, sample_cases
    from facelib.viz import add_caption, save_inpainting_grid

    folder.mkdir(parents=True, exist_ok=True)
    manifests = {n: load_manifest(n) for n in names}
    about = "; ".join(f"{n}: {m['training']['epochs']} epochs ({m['training']['steps']} steps of batch "
                      f"{m['training']['batch_size']}) on {m['training']['device'] or 'CPU'}"
                      for n, m in manifests.items())
    made = [folder / "classroom_loss_curves.png", folder / "classroom_hole_psnr_by_bin.png",
            folder / "classroom_samples.png"]
    fig = plot_loss_curves({n: m["training"]["history"] for n, m in manifests.items()})
    add_caption(fig, f"Per-epoch train and validation (512 fixed UTKFace validation faces) losses of the classroom "
                     f"weights in weights/, 64x64. {about}.")
    fig.savefig(made[0], dpi=120, bbox_inches="tight")
    plt.close(fig)
    fig = plot_by_bin(read_results(results))
    add_caption(fig, f"Hole PSNR per mask bin (mean, 95% bootstrap interval), data/protocol/utkface_val_128.csv at "
                     f"64x64, {cases.split(':')[1].split('(')[0].strip()} cases, fp16 weights. {about}.")
    fig.savefig(made[1], dpi=120, bbox_inches="tight")
    plt.close(fig)
    image, mask = sample_cases(env_dir("FACELIB_UTKFACE"), env_dir("FACELIB_MASKS"), EVAL_SIZE)
    methods = {n: load_pretrained(n) for n in names} | {f"OpenCV {m}": OpenCVInpainter(m) for m in ("telea", "ns")}
    save_inpainting_grid(inpaint_all(methods, image, mask), made[2], n=image.shape[0],
                         title="protocol cases (irregular, centre, free-form) filled by the classroom weights and "
                               "OpenCV; composites keep the known pixels",
                         caption=f"UTKFace validation faces at 64x64. {about}. The Context Encoder only fills "
                                 "its centre square.")
    return made


def report(results: Path = RESULTS, figures_dir: Path = ROOT / "figures") -> Path:
    """Write ``results/summary.md``, the figures, and store each model's numbers in its weights manifest."""
    from facelib.pretrained import available_weights, update_results

    from facelib.report import read_results, results_table

    utk, celeba = read_results(results), read_results(celeba_dir(results))
    header = [line[2:] for line in (results / "results.md").read_text(encoding="utf-8").splitlines()
              if line.startswith(("- data:", "- cases scored", "- evaluation size", "- weights:", "- device:",
                                  "- date:", "- command:"))]
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
        "## Hole PSNR (dB, mean and 95% bootstrap interval)", results_table(utk, "hole_psnr"),
        "## VGG19 perceptual distance (lower is better)", results_table(utk, "perceptual", digits=1),
        "## The flagship against the goals", "\n".join(goal_check(utk)) if ("generator", "center", "25%",
                                                                            "hole_psnr") in utk else "no generator",
        "## Cross-dataset: the 56 CelebA-HQ sample faces (hole PSNR)", results_table(celeba, "hole_psnr", celeba_groups),
    ])
    names = [n for n in MODELS if n in available_weights()]
    pictures = figures(results, figures_dir, names, next(h for h in header if h.startswith("cases scored")))
    text += "\n\n" + "\n".join(f"![{p.stem}]({os.path.relpath(p, results)})" for p in pictures)
    path = results / "summary.md"
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
    ex.add_argument("--device-note", default="2-core AMD EPYC CPU (avx512_bf16, no AMX), 1-2 intra-op threads, "
                                             "bf16 autocast + channels_last")
    ev = sub.add_parser("evaluate")
    ev.add_argument("--models", nargs="+", default=None, help="weights names (default: all classroom weights)")
    ev.add_argument("--per-bin", type=int, default=None, help="first N cases per group only (a preview)")
    rep = sub.add_parser("report")
    rep.add_argument("--figures", type=Path, default=ROOT / "figures", help="figures folder (default: %(default)s)")
    for p in (ev, rep):
        p.add_argument("--results", type=Path, default=RESULTS, help="results folder (default: %(default)s)")
    ex.add_argument("--runs", type=Path, default=RUNS, help="folder of the training runs (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.stage == "command":
        print(printable(train_command(args.model)))
    elif args.stage == "train":
        return subprocess.call(train_command(args.model), cwd=ROOT)
    elif args.stage == "export":
        try:
            print(f"wrote {export(args.model, args.epoch, args.code_commit, args.device_note, args.runs)}")
        except (FileNotFoundError, ValueError) as err:
            sys.exit(f"error: {err}")
    elif args.stage == "evaluate":
        from facelib.pretrained import available_weights

        names = args.models or [n for n in MODELS if n in available_weights()]
        if not names:
            sys.exit("no classroom weights in weights/: export a trained model first (see --help)")
        evaluate(names, args.results, args.per_bin)
    else:
        print(report(args.results, args.figures).read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
