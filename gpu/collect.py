"""What the two GPU calls return -> the repository: weights, result tables, figures, the README block.

    python -m gpu.campaign unpack CALL1_DIR CALL2_DIR     # (this module, through the campaign CLI)

Writes, under the repository root:

* ``weights/generator_<size>.*``: the flagship's fp16 weights and manifest, whose ``results["utkface_val_<size>"]``
  the device's ``python -m facelib.evaluate --record`` filled; the other models' returned weights go to the ignored
  ``runs/gpu-campaign/weights/`` (each committed byte travels with every later device call);
* ``results/utkface-gpu/<call>/``: each call's evaluation exactly as ``facelib.evaluate`` wrote it
  (``results.md``, ``results.csv``, ``cases.csv.gz``), the same for the CelebA-HQ sample in
  ``results/celeba-hq-sample-gpu/<call>/``; beside them ``fp16_check.md``, ``speed.md``, ``histories/<model>.csv``
  and ``campaign.json`` (the calls' stage logs);
* ``figures/utkface_gpu_{loss_curves,hole_psnr_by_bin,samples_<call>}.png``;
* the README block between ``<!-- gpu-campaign:start -->`` and ``<!-- gpu-campaign:end -->``.

Either call's output can be unpacked alone (the tables then hold what that call scored).
"""
from __future__ import annotations

import gzip
import json
import re
import shutil
import tarfile
from pathlib import Path
from typing import Any

from facelib.report import Results, epoch_table, plot_by_bin, plot_loss_curves, read_results, results_table
from facelib.viz import add_caption, save_figure

START, END = "<!-- gpu-campaign:start -->", "<!-- gpu-campaign:end -->"
FP32 = " [fp32]"  # the suffix of a checkpoint scored beside its fp16 weights (gpu.campaign.evaluate_argv)
SETS = {"utkface": "utkface-gpu", "celeba": "celeba-hq-sample-gpu"}


def _extract(dirs: list[Path], staging: Path) -> dict[str, Path]:
    """Unpack each ``callN-results.tar.gz`` into ``staging/callN`` and put the returned weight shards beside."""
    calls: dict[str, Path] = {}
    for d in dirs:
        tars = sorted(d.glob("call*-results.tar.gz"))
        if not tars:
            raise FileNotFoundError(f"no call*-results.tar.gz in {d}: pass the folders the device calls returned")
        for tar_path in tars:
            call = tar_path.name.split("-")[0]
            shutil.rmtree(staging / call, ignore_errors=True)
            with tarfile.open(tar_path) as tar:
                tar.extractall(staging, filter="data")
            for shard in d.glob("*.safetensors"):
                shutil.copyfile(shard, staging / call / "weights" / shard.name)
            if (d / f"{call}.log").is_file():
                shutil.copyfile(d / f"{call}.log", staging / call / f"{call}.log")
            calls[call] = staging / call
    return dict(sorted(calls.items()))


def _install_weights(calls: dict[str, Path], root: Path, size: int, flagship: str = "generator") -> list[str]:
    """The flagship into ``weights/``, the others into the ignored ``runs/gpu-campaign/weights/``."""
    from facelib.pretrained import load_state_dict

    installed = []
    for folder in calls.values():
        for manifest in sorted((folder / "weights").glob("*.json")):
            files = [folder / "weights" / f["path"] for f in json.loads(manifest.read_text())["files"]]
            if not all(p.is_file() for p in files):
                continue  # weights not returned (return limits): the manifest alone stays in the tar
            dest = root / ("weights" if manifest.stem == f"{flagship}_{size}" else "runs/gpu-campaign/weights")
            dest.mkdir(parents=True, exist_ok=True)
            for p in [*files, manifest]:
                shutil.copyfile(p, dest / p.name)
            load_state_dict(manifest.stem, dest)  # checks every sha256 against the manifest
            installed.append(str((dest / manifest.name).relative_to(root)))
    return installed


def _results(calls: dict[str, Path], root: Path, set_name: str) -> Results:
    """Copy each call's ``facelib.evaluate`` output of ``set_name`` into the repository; their rows together."""
    merged: Results = {}
    for call, folder in calls.items():
        src = folder / f"eval_{set_name}"
        if not (src / "results.csv").is_file():
            continue
        dest = root / "results" / SETS[set_name] / call
        dest.mkdir(parents=True, exist_ok=True)
        for name in ("results.md", "results.csv"):
            shutil.copyfile(src / name, dest / name)
        # 6,000 cases x several methods: compressed, since every committed byte travels to the device.
        with (src / "cases.csv").open("rb") as f, gzip.open(dest / "cases.csv.gz", "wb") as g:
            shutil.copyfileobj(f, g)
        merged |= read_results(dest)
    return merged


def fp16_check(results: Results, tolerance_db: float = 0.05) -> str:
    """Markdown: per model, the largest |fp16 - fp32| hole PSNR over the protocol groups, within ``tolerance_db``."""
    lines = ["fp16 weights against their fp32 checkpoints (hole PSNR, largest difference over the protocol groups):",
             "", f"| model | max abs difference (dB) | within {tolerance_db} dB |", "| --- | ---: | --- |"]
    psnr = {(m, k, b): r["mean"] for (m, k, b, metric), r in results.items() if metric == "hole_psnr" and b != "all"}
    for fp32 in dict.fromkeys(m for m, _, _ in psnr if m.endswith(FP32)):
        name = fp32[: -len(FP32)]
        worst = max(abs(v - psnr[(fp32, k, b)]) for (m, k, b), v in psnr.items() if m == name and (fp32, k, b) in psnr)
        lines.append(f"| {name} | {worst:.4f} | {'yes' if worst <= tolerance_db else 'NO'} |")
    return "\n".join(lines)


def readme_block(root: Path, table: str, summaries: dict[str, dict], figures: list[str]) -> str:
    """The README's GPU results: main table, stage reports, fp16 check, flagship per-epoch table, speed, figures."""
    first = next(iter(summaries.values()))
    lines = [START, "", f"Measured by `python -m gpu.campaign` ({', '.join(sorted(summaries))}, "
             f"{first['started'][:10]}, code {first.get('code_commit') or '?'}). Hole PSNR in dB, mean and 95% "
             "bootstrap interval, fp16 weights, all protocol cases (`results/utkface-gpu/<call>/results.md` has "
             "every metric and the device):", "", table, ""]
    lines += [f"- {call}, {s['stage']}: {s['report']}" for call, summary in summaries.items()
              for s in summary.get("stages", []) if "report" in s]
    lines.append("")
    for extra in ("fp16_check.md", "speed.md"):
        if (root / "results/utkface-gpu" / extra).is_file():
            lines += [(root / "results/utkface-gpu" / extra).read_text(encoding="utf-8").strip(), ""]
    hist = root / "results/utkface-gpu/histories/generator.json"
    if hist.is_file():
        lines += ["The flagship's per-epoch table (`generator`, L1 + 0.001 x VGG19):", "",
                  epoch_table(json.loads(hist.read_text())["history"]), ""]
    lines += [f"![{Path(f).stem}]({f})" for f in figures] + ["", END]
    return "\n".join(lines)


def update_readme(readme: Path, block: str) -> None:
    """Replace the text between the markers (the markers included) by ``block``."""
    text = readme.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        raise ValueError(f"{readme} has no {START} ... {END} block to fill")
    readme.write_text(pattern.sub(lambda _: block, text, count=1), encoding="utf-8")


def collect(dirs: list[Path], root: Path) -> str:
    """Unpack the returned folders into the repository at ``root``; returns a report of what was written."""
    calls = _extract(dirs, root / "runs" / "gpu-campaign" / "returned")
    summaries = {c: json.loads((f / "campaign.json").read_text()) for c, f in calls.items()}
    size = next(iter(summaries.values()))["pack"]["size"]
    written = _install_weights(calls, root, size)
    out = root / "results" / SETS["utkface"]
    (out / "histories").mkdir(parents=True, exist_ok=True)
    histories: dict[str, Any] = {}
    for folder in calls.values():
        for hist in sorted((folder / "runs").glob("*/history.json")):
            shutil.copyfile(hist, out / "histories" / f"{hist.parent.name}.json")
            shutil.copyfile(hist.with_suffix(".csv"), out / "histories" / f"{hist.parent.name}.csv")
            histories[hist.parent.name] = json.loads(hist.read_text())["history"]
    (out / "campaign.json").write_text(json.dumps(summaries, indent=1), encoding="utf-8")
    results = _results(calls, root, "utkface")
    _results(calls, root, "celeba")
    benches = sorted(p for f in calls.values() for p in f.glob("bench_*.txt"))
    if benches:
        (out / "speed.md").write_text("Training speed (`benchmarks/train_throughput.py`):\n\n" + "\n\n".join(
            "```\n" + p.read_text(encoding="utf-8").strip() + "\n```" for p in benches) + "\n", encoding="utf-8")
    if not results:
        return "wrote (no evaluation came back):\n  " + "\n  ".join(written)
    (out / "fp16_check.md").write_text(fp16_check(results) + "\n", encoding="utf-8")
    shipped = {k: v for k, v in results.items() if not k[0].endswith(FP32)}
    caption = (f"UTKFace at {size}x{size} (gpu/datapack.py pack), trained under per-stage time limits by "
               "python -m gpu.campaign; the device is named in results/utkface-gpu/<call>/results.md.")
    figures = root / "figures"
    made = [save_figure(add_caption(plot_loss_curves(histories, pixel_title="pixel loss (L1; Context Encoder: L2 "
                                                     "on the centre)"), caption),
                        figures / "utkface_gpu_loss_curves.png", close=True),
            save_figure(add_caption(plot_by_bin(shipped), "Hole PSNR per mask bin, mean and 95% bootstrap interval "
                                    "(fp16 weights). " + caption), figures / "utkface_gpu_hole_psnr_by_bin.png",
                        close=True)]
    for call, folder in calls.items():
        if (folder / "samples.png").is_file():
            made.append(figures / f"utkface_gpu_samples_{call}.png")
            shutil.copyfile(folder / "samples.png", made[-1])
    rel = [str(p.relative_to(root)) for p in made]
    update_readme(root / "README.md", readme_block(root, results_table(shipped), summaries, rel))
    written += [str((out / c).relative_to(root)) + "/" for c in calls] + rel + ["README.md"]
    return "wrote:\n  " + "\n  ".join(written)
