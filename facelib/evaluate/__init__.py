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

One concept per module: ``scoring`` (:func:`evaluate_methods`: methods on the protocol's cases, per-case
records), ``results`` (bootstrap summary, Markdown tables, ``results.md`` / ``results.csv`` / ``cases.csv``),
``methods`` (trained checkpoints and committed weights as methods), ``cli`` (``python -m facelib.evaluate``).
"""
from __future__ import annotations

from .cli import build_parser, main
from .methods import find_checkpoints, load_checkpoint_method, load_pretrained_method
from .results import (
    CASE_FIELDS,
    CENTER_METRICS,
    MANIFEST_METRICS,
    TABLE_METRICS,
    compare_sentence,
    kid_sentence,
    manifest_results,
    markdown_report,
    results_key,
    summary_rows,
    write_results,
)
from .scoring import Method, evaluate, evaluate_methods, supported_kinds

__all__ = [
    "TABLE_METRICS",
    "CENTER_METRICS",
    "supported_kinds",
    "compare_sentence",
    "kid_sentence",
    "find_checkpoints",
    "evaluate",
    "evaluate_methods",
    "summary_rows",
    "markdown_report",
    "manifest_results",
    "results_key",
    "MANIFEST_METRICS",
    "write_results",
    "load_checkpoint_method",
    "load_pretrained_method",
    "main",
]
