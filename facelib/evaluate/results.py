"""The result tables of an evaluation: mean and 95% bootstrap interval per (method, kind, bin, metric), the
Markdown report, and ``results.md`` / ``results.csv`` / ``cases.csv`` written atomically."""
from __future__ import annotations

import csv
import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .. import metrics as M
from ..checkpoint import atomic_write_text
from ..protocol import group_order
from ..identity import identity_markdown
from ..realism import REALISM_METRICS, realism_markdown

__all__ = ["CASE_FIELDS", "CENTER_METRICS", "MANIFEST_METRICS", "TABLE_METRICS", "compare_sentence", "kid_sentence",
           "manifest_results", "markdown_report", "results_key", "summary_rows", "write_results"]

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
#: The metrics a weights manifest keeps for each protocol group (see :func:`manifest_results`).
MANIFEST_METRICS: tuple[str, ...] = ("hole_psnr", "hole_l1", "ssim", "perceptual", "identity")
CASE_FIELDS: tuple[str, ...] = ("method", "case_id", "face", "kind", "mask_id", "bin", "hole_ratio", *M.METRICS)


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
    lines += realism_markdown(summary)  # FID/KID rows (facelib.realism), when the run computed them
    lines += identity_markdown(summary)  # identity rows (facelib.identity, an optional extra), likewise
    return "\n".join(lines) + "\n"


def _csv_text(rows: Sequence[dict[str, Any]], fields: Sequence[str]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(fields), lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def write_results(records: Sequence[dict[str, Any]], out_dir: str | os.PathLike, header: Sequence[str] = (),
                  n_boot: int = 1000, seed: int = 0,
                  summary: Sequence[dict[str, Any]] | None = None) -> dict[str, Path]:
    """Write ``results.md``, ``results.csv`` and ``cases.csv`` into ``out_dir``; returns their paths.

    All three texts are built in memory first, so an error (or Ctrl-C) while computing them leaves the previous
    files untouched; then each file is replaced atomically (``facelib.checkpoint.atomic_write_text``): a reader
    never sees a half-written file, only the old or the new one. ``summary``: :func:`summary_rows` of
    ``records`` when the caller has it already (the bootstrap is not run twice).
    """
    if not records:
        raise ValueError("no records to write (no case was scored)")
    out = Path(out_dir)
    summary = summary_rows(records, n_boot=n_boot, seed=seed) if summary is None else summary
    texts = {
        "markdown": (out / "results.md", markdown_report(summary, header)),
        "csv": (out / "results.csv",
                _csv_text(summary, ("method", "kind", "bin", "metric", "mean", "ci_lo", "ci_hi", "n", "std"))),
        "cases": (out / "cases.csv", _csv_text(records, CASE_FIELDS)),
    }
    return {key: atomic_write_text(text, path) for key, (path, text) in texts.items()}


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


def kid_sentence(a: str, a_stats: Mapping[str, float], b: str, b_stats: Mapping[str, float], where: str) -> str:
    """One sentence comparing two KIDs (``mean``, ``std`` over random subsets, ``n`` sampled cases; lower is more
    realistic), e.g. "center 25%: KID gan 0.0021 +- 0.0030, generator 0.0027 +- 0.0028 (n=100, 100): gan lower by
    0.0006, within the two spreads (this sample does not separate them)". KID has no bootstrap interval, so the
    difference counts as clear only when it exceeds both standard deviations added together."""
    num = lambda s: f"{s['mean']:.4f} +- {s['std']:.4f}"
    head = f"{where}: KID {a} {num(a_stats)}, {b} {num(b_stats)} (n={int(a_stats['n'])}, {int(b_stats['n'])})"
    diff = a_stats["mean"] - b_stats["mean"]
    if diff == 0:
        return f"{head}: a tie"
    lower = a if diff < 0 else b
    clear = abs(diff) > a_stats["std"] + b_stats["std"]
    verdict = ("more than the two spreads together" if clear else
               "within the two spreads (this sample does not separate them)")
    # below the printed precision, the difference in scientific notation (not "lower by 0.0000")
    by = f"{abs(diff):.4f}" if abs(diff) >= 5e-5 else f"{abs(diff):.1e}"
    return f"{head}: {lower} lower by {by}, {verdict}"


def results_key(manifest: str | os.PathLike, size: int) -> str:
    """The key of a protocol run in a weights manifest's ``results``: the protocol manifest's name without its
    build size, then the evaluation size (``data/protocol/utkface_val_128.csv`` at 64 -> ``utkface_val_64``)."""
    stem = Path(manifest).stem
    base, _, tail = stem.rpartition("_")
    return f"{base if tail.isdigit() and base else stem}_{int(size)}"


def manifest_results(summary: Sequence[dict[str, Any]], method: str, *, manifest: str | os.PathLike, size: int,
                     header: Sequence[str] = (), metrics: Sequence[str] = MANIFEST_METRICS) -> dict[str, Any]:
    """One protocol run of ``method`` in the single layout every weights manifest uses under ``results[key]``
    (``key`` from :func:`results_key`; ``python -m facelib.evaluate --record`` is what writes it)::

        {"manifest": "data/protocol/utkface_val_128.csv", "evaluated_at": 64, "cases": 6000,
         "header": [...the evaluation's header lines: data, weights, device, date, command...],
         "hole_psnr": {"irregular 0-10%": {"mean", "ci_lo", "ci_hi", "n"}, ..., "center 25%": ..., "freeform all": ...},
         "hole_l1": {...}, "ssim": {...}, "perceptual": {...}}

    Groups are ``"<kind> <bin>"`` for every bin scored plus ``"<kind> all"``; a metric the run did not compute
    (no VGG19: no perceptual) is left out. FID and KID (:mod:`facelib.realism`), when computed, are kept as
    ``"fid": {group: {"mean", "n"}}`` and ``"kid": {group: {"mean", "std", "n", "subsets", "subset_size"}}``
    (n: the cases of the seeded sample). Raises ValueError when ``method`` is not in ``summary``.
    """
    rows = [r for r in summary if r["method"] == method and r["n"]]
    if not rows:
        raise ValueError(f"no results for method {method!r} in this evaluation (methods: "
                         f"{', '.join(dict.fromkeys(r['method'] for r in summary))})")
    entry: dict[str, Any] = {"manifest": Path(manifest).as_posix(), "evaluated_at": int(size),
                             "cases": int(sum(r["n"] for r in rows if r["metric"] == "ssim" and r["bin"] == "all")),
                             "header": list(header)}
    for metric in metrics:
        groups = {f"{r['kind']} {r['bin']}": {k: float(r[k]) for k in ("mean", "ci_lo", "ci_hi", "n")}
                  for r in rows if r["metric"] == metric}
        if groups:
            entry[metric] = groups
    for metric in REALISM_METRICS:
        groups = {f"{r['kind']} {r['bin']}": {k: (int(r[k]) if k in ("n", "subsets", "subset_size") else float(r[k]))
                                              for k in ("mean", "std", "n", "subsets", "subset_size") if k in r}
                  for r in rows if r["metric"] == metric}
        if groups:
            entry[metric] = groups
    return entry
