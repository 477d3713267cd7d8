"""What the two GPU calls return -> the repository: weights, result tables, figures, the README block.

    python experiments/gpu_campaign.py unpack CALL1_DIR CALL2_DIR     # (this module, through the campaign CLI)

Writes, under the repository root:

* ``weights/generator_128.*``: the flagship's fp16 weights and manifest (with its protocol results); the other
  models' returned weights go to the ignored ``runs/gpu-campaign/weights/`` (each committed byte travels with
  every later device call, whose limit is 64 MiB);
* ``results/utkface-gpu/``: ``results.md``, ``results.csv`` and ``cases.csv.gz`` (all methods on the protocol
  cases, through ``facelib.evaluate.write_results``), ``fp16_check.md``, ``speed.md`` (benchmark output),
  ``histories/<model>.csv`` (per-epoch tables) and ``campaign.json`` (the calls' stage logs); the same tables
  for the CelebA-HQ sample in ``results/celeba-hq-sample-gpu/``;
* ``figures/utkface_gpu_{loss_curves,hole_psnr_by_bin,samples}.png``;
* the README block between ``<!-- gpu-campaign:start -->`` and ``<!-- gpu-campaign:end -->``.

Either call's output can be unpacked alone (the tables then hold what that call scored).
"""
from __future__ import annotations

import csv
import gzip
import json
import re
import shutil
import tarfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from facelib.report import epoch_table, plot_by_bin, plot_loss_curves, read_results, results_table
from utkface_setup import LABELS

START, END = "<!-- gpu-campaign:start -->", "<!-- gpu-campaign:end -->"


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
            log = d / f"{call}.log"
            if log.is_file():
                shutil.copyfile(log, staging / call / log.name)
            calls[call] = staging / call
    return dict(sorted(calls.items()))


def _records(calls: dict[str, Path], set_name: str) -> list[dict[str, Any]]:
    from facelib.metrics import METRICS

    out = []
    for folder in calls.values():
        path = folder / f"records_{set_name}.csv.gz"
        if not path.is_file():
            continue
        with gzip.open(path, "rt", encoding="utf-8", newline="") as f:
            for r in csv.DictReader(f):
                r.update({k: int(r[k]) for k in ("case_id", "mask_id")})
                r.update({k: float(r[k]) for k in ("hole_ratio", *METRICS)})
                out.append(r)
    # Methods in the order of the README's tables: ours, the variants, the Context Encoder, OpenCV.
    order = {label: i for i, label in enumerate([*LABELS.values(), "OpenCV telea", "OpenCV ns"])}
    return sorted(out, key=lambda r: (order.get(r["method"], 99), r["case_id"]))


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


def hole_psnr_table(results_csv: Path) -> str:
    """Markdown: hole PSNR (mean and 95% interval) per irregular bin, centre and free-form, one row a method."""
    return results_table(read_results(results_csv))


def _figures(calls: dict[str, Path], results: Path, figures: Path, caption: str) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from facelib.viz import add_caption, save_inpainting_grid, tint_hole

    figures.mkdir(parents=True, exist_ok=True)
    made = []
    histories = {LABELS[h.parent.name]: json.loads(h.read_text())["history"]
                 for folder in calls.values() for h in sorted((folder / "runs").glob("*/history.json"))}
    fig = plot_loss_curves(histories, pixel_title="pixel loss (L1; Context Encoder: L2 on the centre)")
    add_caption(fig, caption)
    made.append(figures / "utkface_gpu_loss_curves.png")
    fig.savefig(made[-1], dpi=120, bbox_inches="tight")
    plt.close(fig)

    fig = plot_by_bin(read_results(results))
    add_caption(fig, "Hole PSNR per mask bin, mean and 95% bootstrap interval (fp16 weights). " + caption)
    made.append(figures / "utkface_gpu_hole_psnr_by_bin.png")
    fig.savefig(made[-1], dpi=120, bbox_inches="tight")
    plt.close(fig)

    samples = [np.load(folder / "samples_utkface.npz") for folder in calls.values()
               if (folder / "samples_utkface.npz").is_file()]
    if samples:
        def t(a: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(a).float() / 127.5 - 1

        base = samples[0]
        image, mask = t(base["real"]), torch.from_numpy(base["mask"]).float()
        grid = {"masked input": tint_hole(image, mask)}
        for s in samples:
            grid.update({k: t(s[k]) for k in s.files if k not in ("real", "mask", "case_ids")})
        grid["real"] = image
        made.append(figures / "utkface_gpu_samples.png")
        save_inpainting_grid(grid, made[-1], n=image.shape[0], title="the same protocol cases (irregular, centre, "
                             "free-form) inpainted by every method; composites keep the known pixels",
                             caption=caption + " The Context Encoder only fills its centre square.")
    return made


def readme_block(calls: dict[str, Path], root: Path, summaries: dict[str, dict]) -> str:
    """The README's GPU results: main table, fp16 check, the flagship's per-epoch table, speed, figures."""
    first = next(iter(summaries.values()))
    device = next((s["evaluation"]["device"] for s in summaries.values() if "evaluation" in s), "?")
    lines = [START, "", f"Measured by `experiments/gpu_campaign.py` on {device} ({', '.join(sorted(summaries))}, "
             f"{first['started'][:10]}, code {first.get('code_commit') or '?'}). Hole PSNR in dB, mean and 95% "
             "bootstrap interval, fp16 weights, all protocol cases (`results/utkface-gpu/results.md` has every "
             "metric):", "", hole_psnr_table(root / "results/utkface-gpu/results.csv"), ""]
    for call, s in summaries.items():
        for stage in s.get("stages", []):
            if "report" in stage:
                lines.append(f"- {call}, {stage['stage']}: {stage['report']}")
    lines.append("")
    check = root / "results/utkface-gpu/fp16_check.md"
    if check.is_file():
        lines += [check.read_text(encoding="utf-8").strip(), ""]
    hist = root / "results/utkface-gpu/histories/generator.json"
    if hist.is_file():
        lines += ["The original work's per-epoch table for the flagship (`generator`, L1 + 0.001 x VGG19):", "",
                  epoch_table(json.loads(hist.read_text())["history"]), ""]
    speed = root / "results/utkface-gpu/speed.md"
    if speed.is_file():
        lines += [speed.read_text(encoding="utf-8").strip(), ""]
    for fig in ("loss_curves", "hole_psnr_by_bin", "samples"):
        if (root / f"figures/utkface_gpu_{fig}.png").is_file():
            lines.append(f"![{fig.replace('_', ' ')}](figures/utkface_gpu_{fig}.png)")
    lines += ["", END]
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
    from facelib.evaluate import write_results

    staging = root / "runs" / "gpu-campaign" / "returned"
    calls = _extract(dirs, staging)
    summaries = {c: json.loads((f / "campaign.json").read_text()) for c, f in calls.items()}
    size = next(iter(summaries.values()))["pack"]["size"]
    written = _install_weights(calls, root, size)
    results = root / "results" / "utkface-gpu"
    (results / "histories").mkdir(parents=True, exist_ok=True)
    for folder in calls.values():
        for hist in (folder / "runs").glob("*/history.json"):
            shutil.copyfile(hist, results / "histories" / f"{hist.parent.name}.json")
            shutil.copyfile(hist.with_suffix(".csv"), results / "histories" / f"{hist.parent.name}.csv")
    (results / "campaign.json").write_text(json.dumps(summaries, indent=1), encoding="utf-8")
    header = [f"{c}: {s['command']} (code {s.get('code_commit')}, {s['started']}, device "
              f"{s.get('evaluation', {}).get('device', '?')})" for c, s in summaries.items()]
    pack = next(iter(summaries.values()))["pack"]
    header.append(f"faces: the data pack of {pack['created']} (val WebP q{pack['encoding_cost']['val']['quality']}, "
                  f"{pack['encoding_cost']['val']['psnr_pooled_db']:.1f} dB against the originals); methods scored "
                  "with their fp16 weights")
    for set_name, folder in (("utkface", results), ("celeba", root / "results" / "celeba-hq-sample-gpu")):
        records = _records(calls, set_name)
        if records:
            paths = write_results(records, folder, header)
            # 6,000 cases x 7 methods: compressed, since every committed byte travels to the device.
            with paths["cases"].open("rb") as src, gzip.open(folder / "cases.csv.gz", "wb") as dst:
                shutil.copyfileobj(src, dst)
            paths["cases"].unlink()
            written += [str(p.relative_to(root)) for p in (paths["markdown"], paths["csv"])]
    lines = ["fp16 weights against their fp32 checkpoints (hole PSNR, largest difference over the protocol bins):",
             "", "| model | protocol set | max abs difference (dB) | within 0.05 dB |", "| --- | --- | ---: | --- |"]
    for s in summaries.values():
        for model, sets in s.get("fp16_check", {}).items():
            for set_name, c in sets.items():
                lines.append(f"| {LABELS[model]} | {set_name} | {c['max_abs_db']:.4f} | "
                             f"{'yes' if c['pass_0.05_db'] else 'NO'} |")
    (results / "fp16_check.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    benches = sorted(p for f in calls.values() for p in f.glob("bench_*.txt"))
    if benches:
        (results / "speed.md").write_text("Training speed (`benchmarks/train_throughput.py`):\n\n" + "\n\n".join(
            "```\n" + p.read_text(encoding="utf-8").strip() + "\n```" for p in benches) + "\n", encoding="utf-8")
    device = next((s["evaluation"]["device"] for s in summaries.values() if "evaluation" in s), "?")
    caption = (f"UTKFace at {size}x{size}, trained on {device} "
               "by experiments/gpu_campaign.py under per-stage time budgets (see results/utkface-gpu/campaign.json).")
    if (results / "results.csv").is_file():
        written += [str(p.relative_to(root)) for p in _figures(calls, results, root / "figures", caption)]
        readme = root / "README.md"
        update_readme(readme, readme_block(calls, root, summaries))
        written.append("README.md")
    return "wrote:\n  " + "\n  ".join(written)
