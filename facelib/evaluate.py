"""Score inpainting methods on the fixed protocol (:mod:`facelib.protocol`) and write the result tables.

    python -m facelib.evaluate --checkpoint ours=runs/g/checkpoints/last.pt --baseline telea ns \\
        --manifest data/protocol/utkface_val_128.csv --faces $FACELIB_UTKFACE --masks $FACELIB_MASKS \\
        --size 128 --per-bin 50 --out results/

How a case is scored: the method sees ``mask_image(image, mask)`` (hole pixels zeroed) and the mask, and its
output is **composited** with the known pixels, ``composite(output, image, mask)``, before any metric, so
every method is judged on what it paints into the hole, exactly as a user would see it. Metrics
(:mod:`facelib.metrics`): hole PSNR / L1 / L2 (hole pixels only), whole-image PSNR / L1, SSIM and the VGG19
perceptual distance, then per (method, mask kind, bin) the mean with a 95% percentile-bootstrap interval.

The **Context Encoder** (Pathak et al. 2016) only ever paints its fixed centre square, so it is scored on the
``center`` cases alone; its cells for irregular and free-form holes read ``n/a``. For the centre kind the hole
*is* the centre region, so the hole L1 / L2 / PSNR are the numbers of the paper's Table (also printed as their
own table, L1 and L2 in percent as the paper gives them).

The evaluation size is the manifest's unless ``--size`` says otherwise; a checkpoint trained at another size is
refused unless ``--allow-size-mismatch`` (e.g. a reduced-scale run: a 64x64 checkpoint with ``--size 64``
on the 128 manifest). The header of ``results.md`` states the data, cases, size, weights, device and date.

Outputs in ``--out``: ``results.md`` (tables), ``results.csv`` (one row per method x kind x bin x metric:
``mean, ci_lo, ci_hi, n``; bin ``all`` pools a kind's bins) and ``cases.csv`` (one row per method x case).
"""
from __future__ import annotations

import argparse
import csv
import io
import math
import os
import shlex
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader
from .progress import tqdm

from . import metrics as M
from .baselines import OPENCV_METHODS, OpenCVInpainter
from .checkpoint import load_checkpoint
from .models import composite, mask_image, supported_mask_kinds
from .protocol import (
    KINDS,
    UTKFACE_MANIFEST,
    Faces,
    ProtocolDataset,
    count_cases,
    group_order,
    read_manifest,
)
from .train import TrainConfig, load_generator

__all__ = [
    "TABLE_METRICS",
    "CENTER_METRICS",
    "supported_kinds",
    "compare_sentence",
    "find_checkpoints",
    "evaluate",
    "evaluate_methods",
    "summary_rows",
    "markdown_report",
    "write_results",
    "load_checkpoint_method",
    "load_pretrained_method",
    "main",
]

#: Metrics of the main Markdown tables: (record key, title).
TABLE_METRICS: tuple[tuple[str, str], ...] = (
    ("hole_psnr", "Hole PSNR (dB, higher is better)"),
    ("hole_l1", "Hole L1 ([0, 1] scale, lower is better)"),
    ("psnr", "Whole-image PSNR (dB, higher is better)"),
    ("ssim", "SSIM (whole image, higher is better)"),
    ("perceptual", "VGG19 perceptual distance (lower is better)"),
)
#: The Context Encoder paper's centre-region metrics: (record key, column title, scale factor).
CENTER_METRICS: tuple[tuple[str, str, float], ...] = (
    ("hole_l1", "mean L1 (%)", 100.0), ("hole_l2", "mean L2 (%)", 100.0), ("hole_psnr", "PSNR (dB)", 1.0))
CASE_FIELDS: tuple[str, ...] = ("method", "case_id", "face", "kind", "mask_id", "bin", "hole_ratio", *M.METRICS)

Method = Callable[[Tensor, Tensor], Tensor]


def supported_kinds(method: Method, size: int) -> tuple[str, ...]:
    """The mask kinds a method can be scored on at ``size``: all, or those the model says it fills
    (``("center",)`` for a Context Encoder; ``facelib.models.supported_mask_kinds``).

    Raises ValueError when a model cannot be scored at ``size`` (e.g. a Context Encoder built for another image
    size or another hole than the protocol's centre square, a quarter of the image).
    """
    kinds = supported_mask_kinds(method, size)
    return KINDS if kinds is None else tuple(k for k in KINDS if k in kinds)


@torch.no_grad()
def _score(pred: Tensor, image: Tensor, mask: Tensor, vgg: nn.Module | None) -> dict[str, Tensor]:
    """Per-image metrics of composited predictions: {name: (N,) cpu float32}."""
    out = {
        "hole_psnr": M.psnr(pred, image, mask), "hole_l1": M.l1(pred, image, mask), "hole_l2": M.l2(pred, image, mask),
        "psnr": M.psnr(pred, image), "l1": M.l1(pred, image), "ssim": M.ssim(pred, image),
        "perceptual": (M.perceptual_distance(pred, image, vgg) if vgg is not None
                       else torch.full((pred.shape[0],), math.nan)),
    }
    return {k: v.float().cpu() for k, v in out.items()}


@torch.no_grad()
def evaluate_methods(methods: Mapping[str, Method], rows: Sequence[dict[str, Any]] | ProtocolDataset,
                     faces: Faces | None = None, masks_root: str | os.PathLike | None = None,
                     size: int | None = None, device: str | torch.device = "cpu", batch_size: int = 16,
                     vgg: nn.Module | None = None, per_bin: int | None = None, limit: int | None = None,
                     num_workers: int = 0, progress: bool = True) -> list[dict[str, Any]]:
    """Score several methods on the same cases (each batch is loaded once and given to every method).

    Args:
        methods: display name -> ``f(masked (N, 3, H, W) in [-1, 1], mask (N, 1, H, W)) -> (N, 3, H, W)``
            (a generator, ``OpenCVInpainter``, a ``ContextEncoder``: scored on centre cases only).
        rows: manifest rows, or a ready :class:`ProtocolDataset` (then faces ... limit are ignored).
        faces, masks_root, size, per_bin, limit: see :class:`facelib.protocol.ProtocolDataset`.
        device: where the methods run (they are moved there and put in eval mode).
        vgg: a ``VGG19Features`` for the perceptual distance, or None (then ``perceptual`` is NaN).

    Returns:
        One dict per (method, case), methods in the given order, cases in manifest order: ``method``,
        ``case_id``, ``face``, ``kind``, ``mask_id``, ``bin``, ``hole_ratio`` and the floats of
        :data:`facelib.metrics.METRICS`.
    """
    if not methods:
        raise ValueError("no methods to evaluate: give a checkpoint or a baseline")
    if isinstance(rows, ProtocolDataset):
        dataset = rows
    else:
        if faces is None:
            raise ValueError("evaluate: faces (a folder or a face dataset) is required with manifest rows")
        dataset = ProtocolDataset(rows, faces, masks_root=masks_root, size=size, per_bin=per_bin, limit=limit)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    device = torch.device(device)
    kinds = {name: supported_kinds(m, dataset.size) for name, m in methods.items()}
    for m in methods.values():
        if isinstance(m, nn.Module):
            m.to(device).eval()
    if vgg is not None:
        vgg = vgg.to(device).eval()
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers)
    per_method: dict[str, list[dict[str, Any]]] = {name: [] for name in methods}
    for batch in tqdm(loader, desc=f"evaluating {len(methods)} method(s) on {len(dataset)} cases",
                      disable=not progress, unit="batch"):
        image, mask = batch["image"].to(device), batch["mask"].to(device)
        for name, method in methods.items():
            keep = [i for i, k in enumerate(batch["mask_kind"]) if k in kinds[name]]
            if not keep:
                continue
            idx = torch.tensor(keep, device=device)
            img, msk = image.index_select(0, idx), mask.index_select(0, idx)
            output = method(mask_image(img, msk), msk).float().clamp(-1, 1)
            pred = composite(output, img, msk)
            scores = _score(pred, img, msk, vgg)
            ratio = msk.flatten(1).mean(1).cpu()
            for j, i in enumerate(keep):
                per_method[name].append({
                    "method": name, "case_id": int(batch["case_id"][i]), "face": batch["face"][i],
                    "kind": batch["mask_kind"][i], "mask_id": int(batch["mask_id"][i]), "bin": batch["bin"][i],
                    "hole_ratio": float(ratio[j]), **{k: float(v[j]) for k, v in scores.items()}})
    return [r for name in methods for r in per_method[name]]


def evaluate(method: Method, rows: Sequence[dict[str, Any]] | ProtocolDataset, faces: Faces | None = None,
             masks_root: str | os.PathLike | None = None, size: int | None = None,
             device: str | torch.device = "cpu", batch_size: int = 16, vgg: nn.Module | None = None,
             name: str = "method", **kwargs: Any) -> list[dict[str, Any]]:
    """Per-case records of one method (see :func:`evaluate_methods`, which this calls)."""
    return evaluate_methods({name: method}, rows, faces, masks_root, size, device, batch_size, vgg, **kwargs)


def summary_rows(records: Sequence[dict[str, Any]], n_boot: int = 1000, seed: int = 0,
                 alpha: float = 0.05) -> list[dict[str, Any]]:
    """Mean, bootstrap interval and n per (method, kind, bin, metric), plus bin ``"all"`` pooling each kind.

    Rows come method by method (in record order), then kind and bin from small to large holes, then metric.
    """
    records = list(records)
    pooled = [{**r, "bin": "all"} for r in records]
    rows = M.summarize(records + pooled, group_by=("method", "kind", "bin"), metrics=M.METRICS, n_boot=n_boot,
                       alpha=alpha, seed=seed)
    method_order = {m: i for i, m in enumerate(dict.fromkeys(r["method"] for r in records))}
    metric_order = {m: i for i, m in enumerate(M.METRICS)}
    return sorted(rows, key=lambda r: (method_order[r["method"]], group_order((r["kind"], r["bin"])),
                                       metric_order[r["metric"]]))


def _cell(row: dict[str, Any] | None, scale: float = 1.0) -> str:
    if row is None or row["n"] == 0:
        return "n/a"
    mean, lo, hi = (scale * row[k] for k in ("mean", "ci_lo", "ci_hi"))
    return f"{mean:.4g} [{lo:.4g}, {hi:.4g}]"


def markdown_report(summary: Sequence[dict[str, Any]], header: Sequence[str] = (),
                    title: str = "Inpainting evaluation") -> str:
    """The Markdown of ``results.md``: title, header lines (as a bullet list), one table per metric of
    :data:`TABLE_METRICS` (rows methods, columns (kind, bin), cells ``mean [95% CI]``, ``n/a`` where a method
    has no case), and the Context Encoder paper's centre-region table when there are centre cases."""
    index = {(r["method"], r["kind"], r["bin"], r["metric"]): r for r in summary}
    methods = list(dict.fromkeys(r["method"] for r in summary))
    columns = sorted({(r["kind"], r["bin"]) for r in summary if r["bin"] != "all"}, key=group_order)
    # Cases per column: SSIM is defined for every scored case, so its n is the number of cases.
    n_cases = {c: max((r["n"] for r in summary if (r["kind"], r["bin"]) == c and r["metric"] == "ssim"), default=0)
               for c in columns}
    lines = [f"# {title}", ""] + [f"- {h}" for h in header] + [""]
    lines.append("Cells: mean [95% percentile-bootstrap interval] over the cases of the column; n/a: the method "
                 "was not scored on that kind (the Context Encoder fills only its centre square).")
    for metric, name in TABLE_METRICS:
        if all(index.get((m, c[0], c[1], metric), {"n": 0})["n"] == 0 for m in methods for c in columns):
            lines += ["", f"## {name}", "", "n/a (not computed: run with a VGG19, --vgg-weights caffe)"]
            continue
        lines += ["", f"## {name}", "",
                  "| method | " + " | ".join(f"{k} {b} (n={n_cases[(k, b)]})" for k, b in columns) + " |",
                  "| --- |" + " ---: |" * len(columns)]
        for m in methods:
            lines.append(f"| {m} | " + " | ".join(_cell(index.get((m, k, b, metric))) for k, b in columns) + " |")
    if any(k == "center" for k, _ in columns):
        lines += ["", "## Centre region (the Context Encoder setting, Pathak et al. 2016)", "",
                  "The hole is the centred square of a quarter of the image, so hole metrics are the paper's "
                  "centre-region metrics ([0, 1] pixel scale).", "",
                  "| method | " + " | ".join(t for _, t, _ in CENTER_METRICS) + " |",
                  "| --- |" + " ---: |" * len(CENTER_METRICS)]
        for m in methods:
            lines.append(f"| {m} | " + " | ".join(_cell(index.get((m, "center", "all", key)), scale)
                                                  for key, _, scale in CENTER_METRICS) + " |")
    return "\n".join(lines) + "\n"


def _csv_text(rows: Sequence[dict[str, Any]], fields: Sequence[str]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(fields), lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def write_results(records: Sequence[dict[str, Any]], out_dir: str | os.PathLike, header: Sequence[str] = (),
                  n_boot: int = 1000, seed: int = 0) -> dict[str, Path]:
    """Write ``results.md``, ``results.csv`` and ``cases.csv`` into ``out_dir``; returns their paths.

    All three texts are built in memory first, so an error (or Ctrl-C) while computing them leaves the previous
    files untouched; then each file is replaced atomically (``facelib.checkpoint.atomic_write_text``): a reader
    never sees a half-written file, only the old or the new one.
    """
    from .checkpoint import atomic_write_text

    if not records:
        raise ValueError("no records to write (no case was scored)")
    out = Path(out_dir)
    summary = summary_rows(records, n_boot=n_boot, seed=seed)
    texts = {
        "markdown": (out / "results.md", markdown_report(summary, header)),
        "csv": (out / "results.csv",
                _csv_text(summary, ("method", "kind", "bin", "metric", "mean", "ci_lo", "ci_hi", "n"))),
        "cases": (out / "cases.csv", _csv_text(records, CASE_FIELDS)),
    }
    return {key: atomic_write_text(text, path) for key, (path, text) in texts.items()}


# ============================================================================================ loading
def load_checkpoint_method(path: str | os.PathLike, size: int, device: str | torch.device = "cpu",
                           allow_size_mismatch: bool = False) -> tuple[nn.Module, str]:
    """A trained generator from a ``facelib.train`` checkpoint and a one-line description for the header.

    Raises FileNotFoundError for a missing file and ValueError when it was trained at another size than
    ``size`` (unless ``allow_size_mismatch``).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} not found: training writes <out_dir>/checkpoints/last.pt "
                                "(python -m facelib.train --out-dir ...); pass --checkpoint NAME=PATH")
    step = load_checkpoint(path).get("global_step")
    model, config = load_generator(path, device=device)
    if config.image_size != size and not allow_size_mismatch:
        raise ValueError(
            f"checkpoint {path} was trained at {config.image_size}x{config.image_size} but the evaluation is at "
            f"{size}x{size}: evaluate it with --size {config.image_size} (a reduced-scale run; the table header "
            "states the size), or pass --allow-size-mismatch to score it at this size anyway")
    about = (f"{path} ({config.model}, widths {list(config.widths)}, trained at {config.image_size}x"
             f"{config.image_size} on {config.data or 'the default faces (FACELIB_DATA, data/, else synthetic)'} with {config.mask_kind} masks, step {step})")
    return model, about


def load_pretrained_method(name: str, size: int, weights_dir: str | os.PathLike | None = None,
                           device: str | torch.device = "cpu",
                           allow_size_mismatch: bool = False) -> tuple[nn.Module, str]:
    """A model from the committed weights (``facelib.pretrained``) and a one-line description for the header.

    Raises ``facelib.pretrained.WeightsNotFoundError`` (a FileNotFoundError listing the available names) and
    ValueError when the weights were trained at another size than ``size`` (unless ``allow_size_mismatch``).
    """
    from .pretrained import load_manifest, load_pretrained

    manifest = load_manifest(name, weights_dir)
    trained = manifest["image_size"]
    if trained != size and not allow_size_mismatch:
        raise ValueError(f"weights {name!r} were trained at {trained}x{trained} but the evaluation is at {size}x{size}:"
                         f" evaluate them with --size {trained}, or pass --allow-size-mismatch")
    model = load_pretrained(name, weights_dir=weights_dir, device=device)
    t = manifest.get("training", {})
    digest = ",".join(f["sha256"][:12] for f in manifest["files"])
    about = (f"weights {name} ({manifest['architecture']['class']}, fp16 safetensors sha256 {digest}; trained at "
             f"{trained}x{trained}, {t.get('epochs', '?')} epochs / {t.get('steps', '?')} steps on "
             f"{t.get('data', '?')})")
    return model, about


def compare_sentence(a: str, a_stats: Mapping[str, float], b: str, b_stats: Mapping[str, float], where: str,
                     unit: str = "dB", higher_is_better: bool = True) -> str:
    """One sentence comparing two methods' means (``mean``, ``ci_lo``, ``ci_hi``), worded by the sign of the
    difference and by whether the 95% intervals overlap, e.g. "on irregular 40-50%: gated is ahead of OpenCV ns
    by 0.70 dB (the 95% intervals do not overlap)". Notebooks print it, so prose cannot contradict the table."""
    diff = a_stats["mean"] - b_stats["mean"]
    if diff == 0:
        return f"{where}: {a} and {b} tie at {a_stats['mean']:.2f} {unit}"
    a_better = diff > 0 if higher_is_better else diff < 0
    lead, trail = (a, b) if a_better else (b, a)
    overlap = a_stats["ci_lo"] <= b_stats["ci_hi"] and b_stats["ci_lo"] <= a_stats["ci_hi"]
    verdict = ("the 95% intervals overlap: this test set does not separate them" if overlap
               else "the 95% intervals do not overlap")
    return f"{where}: {lead} is ahead of {trail} by {abs(diff):.2f} {unit} ({verdict})"


def find_checkpoints(folder: str | os.PathLike, size: int,
                     exclude: str | os.PathLike | None = None) -> dict[str, Path]:
    """``{run name: last.pt}`` of the ``facelib.train`` runs under ``folder`` that were trained at ``size``.

    The name is the run folder relative to ``folder``; runs under ``exclude`` are skipped (e.g. a notebook's
    own fallback run).
    """
    folder = Path(folder)
    skip = Path(exclude).resolve() if exclude is not None else None
    found: dict[str, Path] = {}
    for path in sorted(folder.glob("**/checkpoints/last.pt")):
        if skip is not None and skip in path.resolve().parents:
            continue
        if TrainConfig.from_dict(load_checkpoint(path)["config"]).image_size == size:
            found[str(path.parent.parent.relative_to(folder))] = path
    return found


def _parse_checkpoint(spec: str) -> tuple[str, Path]:
    """``name=path`` -> (name, path); a bare path is named after its run folder (``runs/g/checkpoints/last.pt``
    -> ``g``)."""
    if "=" in spec:
        name, path = spec.split("=", 1)
        if not name or not path:
            raise ValueError(f"--checkpoint {spec!r}: expected NAME=PATH")
        return name, Path(path)
    path = Path(spec)
    name = path.parent.parent.name if path.parent.name == "checkpoints" else path.stem
    return name or str(path), path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m facelib.evaluate", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Score checkpoints and OpenCV baselines on a fixed protocol manifest; write results.md, "
                    "results.csv and cases.csv.")
    parser.add_argument("--checkpoint", action="append", default=[], metavar="NAME=PATH",
                        help="a facelib.train checkpoint (repeatable)")
    parser.add_argument("--pretrained", action="append", default=[], nargs="+", metavar="NAME",
                        help="committed weights by name (facelib.pretrained; repeatable), e.g. generator gated")
    parser.add_argument("--weights-dir", default=None, help="folder of --pretrained weights (default: weights/)")
    parser.add_argument("--baseline", action="append", default=[], nargs="+", choices=sorted(OPENCV_METHODS),
                        help="OpenCV baseline(s): telea, ns (repeatable)")
    parser.add_argument("--manifest", default=str(UTKFACE_MANIFEST), help="protocol manifest CSV (default: the "
                        "committed UTKFace val manifest at 128)")
    parser.add_argument("--faces", default=os.environ.get("FACELIB_UTKFACE"),
                        help="the faces folder the manifest names are relative to (default: env FACELIB_UTKFACE)")
    parser.add_argument("--masks", default=os.environ.get("FACELIB_MASKS"),
                        help="NVIDIA testing_mask_dataset folder (default: env FACELIB_MASKS)")
    parser.add_argument("--size", type=int, default=None, help="evaluation size (default: the manifest's)")
    parser.add_argument("--allow-size-mismatch", action="store_true",
                        help="score checkpoints trained at another size than --size")
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=None, help="mask kinds (default all)")
    parser.add_argument("--per-bin", type=int, default=None, help="first N cases of every (kind, bin)")
    parser.add_argument("--limit", type=int, default=None, help="at most N cases in all")
    parser.add_argument("--out", default="results", help="output folder")
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:1 ... or auto")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--num-workers", type=int, default=0, help="DataLoader worker processes")
    parser.add_argument("--vgg-weights", default="caffe", choices=("caffe", "torchvision", "off"),
                        help="VGG19 of the perceptual distance (off: no perceptual column)")
    parser.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples for the 95%% intervals")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        from .fast import resolve_device
        from .viz import describe_hardware

        device = resolve_device(args.device)
        baselines = list(dict.fromkeys(b for group in args.baseline for b in group))
        pretrained = list(dict.fromkeys(n for group in args.pretrained for n in group))
        if not args.checkpoint and not baselines and not pretrained:
            raise ValueError("nothing to evaluate: pass --pretrained NAME, --checkpoint NAME=PATH and/or "
                             "--baseline telea ns")
        if args.faces is None:
            raise ValueError("no faces folder: pass --faces (or set FACELIB_UTKFACE for the UTKFace manifest)")
        rows = read_manifest(args.manifest)
        dataset = ProtocolDataset(rows, args.faces, masks_root=args.masks, size=args.size, per_bin=args.per_bin,
                                  limit=args.limit, kinds=args.kinds)
        methods: dict[str, Method] = {}
        weights = []
        for spec in args.checkpoint:
            name, path = _parse_checkpoint(spec)
            if name in methods:
                raise ValueError(f"two methods are named {name!r}: use --checkpoint NAME=PATH with distinct names")
            methods[name], about = load_checkpoint_method(path, dataset.size, device, args.allow_size_mismatch)
            weights.append(f"{name}: {about}")
        for name in pretrained:
            if name in methods:
                raise ValueError(f"two methods are named {name!r}: name the checkpoint differently")
            methods[name], about = load_pretrained_method(name, dataset.size, args.weights_dir, device,
                                                          args.allow_size_mismatch)
            weights.append(f"{name}: {about}")
        for b in baselines:
            methods[f"OpenCV {b}"] = OpenCVInpainter(b)
            weights.append(f"OpenCV {b}: cv2.inpaint (no weights), radius 3")
        vgg = None
        if args.vgg_weights != "off":
            from .vgg import VGG19Features

            vgg = VGG19Features(weights=args.vgg_weights)
        records = evaluate_methods(methods, dataset, device=device, batch_size=args.batch_size, vgg=vgg,
                                   num_workers=args.num_workers, progress=not args.no_progress)
        counts = ", ".join(f"{k} {b}: {n}" for (k, b), n in count_cases(dataset.rows).items())
        manifest_size = sorted({int(r["size"]) for r in rows})
        header = [
            f"data: faces {args.faces}; manifest {args.manifest} ({len(rows)} cases, built at "
            f"{'/'.join(map(str, manifest_size))} px, protocol seed {rows[0]['seed']}); masks {args.masks or 'none'}",
            f"cases scored: {len(dataset)} (per_bin={args.per_bin}, limit={args.limit}, kinds="
            f"{args.kinds or 'all'}): {counts}",
            f"evaluation size: {dataset.size}x{dataset.size}",
            "weights: " + "; ".join(weights),
            f"perceptual: VGG19 {args.vgg_weights} (mean L1 of relu1_1..relu5_1 features)",
            f"scoring: methods see mask_image(image, mask) + mask; outputs are composited with the known pixels "
            f"before scoring; 95% percentile bootstrap, {args.n_boot} resamples, seed {args.seed}",
            f"device: {describe_hardware(device)}",
            f"date: {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
            "command: python -m facelib.evaluate " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:])),
        ]
        paths = write_results(records, args.out, header, n_boot=args.n_boot, seed=args.seed)
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(paths["markdown"].read_text(encoding="utf-8"))
    print("wrote " + ", ".join(str(p) for p in paths.values()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
