"""The training budget of a committed model, read from its weights manifest, and the fairness rule built on it.

The rule (issue 21 item 5): every comparison states each contestant's budget (data, image size, epochs, steps,
batch size, hence images seen, and the starting weights), and gives a verdict only between equal budgets from the
same start; otherwise it prints each number beside its budget and no "ahead/behind". Everything here reads the
manifest's ``training`` block (``facelib.pretrained.load_manifest``), so a notebook never types a budget.

    budget_line(manifest)                     # "generator: 6 epochs, 8,136 steps of 16 faces (130,176 faces seen)..."
    same_budget(manifest_a, manifest_b)       # True only when every part is known and equal
    budget_verdict("gan", a, stats_a, "generator", b, stats_b, "center 25%")   # a verdict, or both budgets
    verdict_lines("gmcnn", a, "generator", load_control("generator", 6))  # every group, PSNR and KID
"""
from __future__ import annotations

import json
import os
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .paths import RESULTS_DIR

__all__ = ["Budget", "budget", "budget_at_epoch", "budget_line", "same_budget", "budget_differences",
           "budget_verdict", "TRAIN_COMMAND", "missing_line", "CONTROLS_DIR", "control_path", "load_control",
           "verdict_lines"]

_EPOCH = re.compile(r"epoch[ _-]?(\d+)", re.I)


@dataclass(frozen=True)
class Budget:
    """What one model was trained with. ``None``: the manifest does not say (then no budget equals it)."""

    name: str
    data: str | None
    image_size: int | None
    epochs: int | None
    steps: int | None
    batch_size: int | None
    start: str  # "scratch", or the weights it started from (the manifest's init_from)

    @property
    def images_seen(self) -> int | None:
        """Training faces shown, counting repeats: steps x batch size."""
        return None if self.steps is None or self.batch_size is None else self.steps * self.batch_size

    def parts(self) -> dict[str, Any]:
        """The compared parts, in the order :func:`budget_differences` names them."""
        return {"data": self.data, "image size": self.image_size, "epochs": self.epochs, "steps": self.steps,
                "batch size": self.batch_size, "start": self.start}


def _int(value: Any) -> int | None:
    try:
        return None if value in (None, "") else int(value)
    except (TypeError, ValueError):
        return None


def budget(manifest: Mapping[str, Any]) -> Budget:
    """The budget of one weights manifest (``facelib.pretrained`` format: its ``training`` block)."""
    t = manifest.get("training") or {}
    return Budget(name=str(manifest.get("name", "?")), data=t.get("data") or None,
                  image_size=_int(manifest.get("image_size")), epochs=_int(t.get("epochs")),
                  steps=_int(t.get("steps")), batch_size=_int(t.get("batch_size")), start=_start(t))


def _start(training: Mapping[str, Any]) -> str:
    """Where the weights began. An export of a run continued from committed weights (``facelib.export``'s
    ``start`` block) names those weights by their budget and sha256: two such runs have the same start only when
    they began from the very same file, and "generator" never reads as the 10-epoch weights that now bear that name."""
    start = training.get("start")
    if isinstance(start, Mapping) and start.get("from") == "weights":
        sha = ",".join(str(s)[:12] for s in start.get("sha256") or []) or "sha256 unknown"
        return (f"{start.get('weights')} after {start.get('epochs', '?')} epochs (sha256 {sha}), fresh optimiser")
    init_from = training.get("init_from")
    return "scratch" if init_from in (None, "") else str(init_from)


def budget_at_epoch(manifest: Mapping[str, Any], epoch: int) -> Budget:
    """The budget of the same run after ``epoch`` complete epochs (its per-epoch history gives the steps), e.g. a
    checkpoint scored before the run went on. Steps are unknown when the history lacks that epoch."""
    b = budget(manifest)
    rows = [r for r in (manifest.get("training") or {}).get("history") or []
            if _int(r.get("epoch")) == epoch and r.get("complete", True)]
    steps = _int(rows[0].get("global_step")) if rows else None
    return Budget(b.name, b.data, b.image_size, epoch, steps, b.batch_size, b.start)


def _effective(b: Budget, other: Mapping[str, Any]) -> Budget:
    """``b`` counted from scratch when it started from ``other``'s own run at a named epoch (``init_from`` like
    "generator epoch 6"): that epoch's steps are added from ``other``'s history. Anything else is left as is."""
    match = _EPOCH.search(b.start)
    name = str(other.get("name", ""))
    if not match or not name or not re.search(rf"\b{re.escape(name)}\b", b.start) or b.epochs is None:
        return b
    base = budget_at_epoch(other, int(match.group(1)))
    if base.steps is None or b.steps is None or base.start != "scratch":
        return b
    return Budget(b.name, b.data, b.image_size, base.epochs + b.epochs, base.steps + b.steps, b.batch_size,
                  "scratch")


def budget_differences(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    """What differs between two manifests' budgets, e.g. ``["epochs 10 vs 6", "steps 13,560 vs 8,136"]``; an unknown
    part counts as different. A run that continued the other model's run at epoch K counts K epochs (and their
    steps) of it as its own, so "the flagship's epoch 6 + 4 epochs" equals a 10-epoch flagship."""
    x, y = _effective(budget(a), b), _effective(budget(b), a)
    out = []
    for (key, u), v in zip(x.parts().items(), y.parts().values()):
        if u is None or v is None or u != v:
            fmt = lambda z: "unknown" if z is None else f"{z:,}" if isinstance(z, int) else str(z)
            out.append(f"{key} {fmt(u)} vs {fmt(v)}")
    return out


def same_budget(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """True when both manifests state every part of their budget and the parts are equal (the same data, size,
    epochs, steps, batch size and start; see :func:`budget_differences`)."""
    return not budget_differences(a, b)


def budget_line(manifest: Mapping[str, Any] | Budget) -> str:
    """One line, e.g. "generator: 6 epochs, 8,136 steps of 16 faces (130,176 faces seen) at 64x64 from scratch,
    on UTKFace (...)"; unknown parts are said to be unknown."""
    b = manifest if isinstance(manifest, Budget) else budget(manifest)
    n = lambda v, what: f"{what} unknown" if v is None else f"{v:,} {what}"
    seen = "faces seen unknown" if b.images_seen is None else f"{b.images_seen:,} faces seen"
    size = "size unknown" if b.image_size is None else f"{b.image_size}x{b.image_size}"
    start = "from scratch" if b.start == "scratch" else f"starting from {b.start}"
    return (f"{b.name}: {n(b.epochs, 'epochs')}, {n(b.steps, 'steps')} of {n(b.batch_size, 'faces')} ({seen}) at "
            f"{size} {start}, on {b.data or 'data unknown'}")


def budget_verdict(name_a: str, manifest_a: Mapping[str, Any], stats_a: Mapping[str, float], name_b: str,
                   manifest_b: Mapping[str, Any], stats_b: Mapping[str, float], where: str, unit: str = "dB") -> str:
    """A verdict between two models' protocol numbers (``mean``, ``ci_lo``, ``ci_hi``) only at equal budget
    (:func:`facelib.evaluate.compare_sentence`: the difference and whether the 95% intervals overlap); at
    different budgets both numbers with their intervals and what differs, and no verdict."""
    from .evaluate import compare_sentence

    differ = budget_differences(manifest_a, manifest_b)
    if not differ:
        return compare_sentence(name_a, stats_a, name_b, stats_b, where, unit=unit) + " at equal budget"
    num = lambda s: f"{s['mean']:.2f} {unit} [{s['ci_lo']:.2f}, {s['ci_hi']:.2f}]"
    return (f"{where}: {name_a} {num(stats_a)}, {name_b} {num(stats_b)}; no verdict, the budgets differ "
            f"({'; '.join(differ)})")


#: The one command that trains a classroom model NAME (``experiments/classroom.py``: resumable, then export).
TRAIN_COMMAND = "python experiments/classroom.py train {name}"


def missing_line(names: Sequence[str], found: Collection[str], folder: str | os.PathLike) -> str:
    """One line naming the models of ``names`` that are not in ``found`` (the weights folder's models) and the
    command that trains each; ``""`` when none is missing."""
    missing = [n for n in names if n not in found]
    if not missing:
        return ""
    return (f"not in {folder}: {', '.join(missing)}. Train each with: "
            + "; ".join(TRAIN_COMMAND.format(name=n) for n in missing))


# ============================================================================ controls and verdict lines
#: Equal-budget controls: the manifest (with its protocol numbers) of a committed model that a longer-trained
#: version later replaced in weights/, kept so that models trained as long as it was still get a verdict.
#: ``experiments/classroom.py control`` writes them from git history, after checking that the protocol still
#: scores as it did then.
CONTROLS_DIR = RESULTS_DIR / "controls"


def control_path(name: str, epochs: int, folder: str | os.PathLike | None = None) -> Path:
    """``results/controls/<name>-<epochs>-epochs.json``: where the control ``name`` after ``epochs`` epochs lives."""
    return Path(folder or CONTROLS_DIR) / f"{name}-{int(epochs)}-epochs.json"


def load_control(name: str, epochs: int, folder: str | os.PathLike | None = None) -> dict[str, Any] | None:
    """The control's manifest (``training`` and ``results`` as in a weights manifest, plus ``control``: where its
    weights and numbers come from), or None when there is none."""
    path = control_path(name, epochs, folder)
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def verdict_lines(name_a: str, manifest_a: Mapping[str, Any], name_b: str, manifest_b: Mapping[str, Any],
                  size: int | None = None) -> list[str]:
    """For every hole group both models were scored on (their manifests' protocol results at ``size``): the
    hole-PSNR line of :func:`budget_verdict`, then, at equal budget, the KID comparison
    (:func:`facelib.evaluate.kid_sentence`), indented. ``[]`` when the two share no scored group."""
    from .evaluate import kid_sentence
    from .pretrained import protocol_results
    from .report import headline

    runs = {n: protocol_results(m, size=size) for n, m in ((name_a, manifest_a), (name_b, manifest_b))}
    psnr = {n: headline(r) if r else {} for n, r in runs.items()}
    kid = {n: headline(r, "kid") if r else {} for n, r in runs.items()}
    fair = same_budget(manifest_a, manifest_b)
    lines = []
    for group in (g for g in psnr[name_a] if g in psnr[name_b]):
        lines.append(budget_verdict(name_a, manifest_a, psnr[name_a][group], name_b, manifest_b,
                                    psnr[name_b][group], group))
        k_a, k_b = kid[name_a].get(group), kid[name_b].get(group)
        if fair and k_a and k_b:
            lines.append("   " + kid_sentence(name_a, k_a, name_b, k_b, group))
    return lines
