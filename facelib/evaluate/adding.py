"""Adding methods to an earlier evaluation (``python -m facelib.evaluate --add``).

A protocol run scores every method on the same seeded cases, and each method's numbers depend only on its own
cases: every bootstrap group uses the same seed, the FID/KID sample is drawn from the case ids alone and the
real faces' features are cached. So a model trained later can be scored alone and its rows added to the
earlier tables, giving exactly the numbers a run of all methods together would give, in the time of one method.
That holds only when both runs score the same cases in the same way, which :func:`check_joinable` checks
before the long part (size, case selection, bootstrap, perceptual and realism settings, the cases themselves)
and :func:`check_realism` again once the new FID/KID are known (the Inception and its preprocessing).
"""
from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Evaluation", "check_joinable", "check_realism", "header_lines", "markdown_header", "merged_header",
           "read_evaluation"]

#: The header lines (``results.md``, by their label) that must read the same in both runs.
SAME_SETTINGS = ("evaluation size", "cases scored", "perceptual", "scoring")
#: Where a realism line stops stating settings and starts stating this run's paths and counts.
_REALISM_TAIL = "; real-face features cached in"


@dataclass(frozen=True)
class Evaluation:
    """An evaluation folder as written by :func:`facelib.evaluate.write_results`: its header lines (from
    ``results.md``), its per-case rows (``cases.csv``, values as written) and its summary rows (``results.csv``,
    numbers as floats, ``n`` as int)."""

    folder: Path
    header: list[str]
    cases: list[dict[str, str]]
    summary: list[dict[str, Any]]

    @property
    def methods(self) -> list[str]:
        return list(dict.fromkeys(r["method"] for r in self.summary))

    def setting(self, label: str) -> str | None:
        """The header line labelled ``label`` (e.g. ``"evaluation size"``), or None."""
        return header_lines(self.header).get(label)


def header_lines(header: Iterable[str]) -> dict[str, str]:
    """``{label: line}`` of header lines such as ``"evaluation size: 64x64"`` (label: the text before ': ')."""
    return {line.split(": ", 1)[0]: line for line in header}


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _summary_row(row: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {k: row[k] for k in ("method", "kind", "bin", "metric")}
    for key in ("mean", "ci_lo", "ci_hi", "std"):
        if row.get(key) not in (None, ""):
            out[key] = float(row[key])
    out["n"] = int(row["n"])
    return out


def read_evaluation(folder: str | Path) -> Evaluation:
    """Read an evaluation folder; one-line FileNotFoundError when it holds none."""
    folder = Path(folder)
    files = [folder / n for n in ("results.md", "results.csv", "cases.csv")]
    missing = [p.name for p in files if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"--add: {folder} holds no earlier evaluation (missing {', '.join(missing)}): run "
                                "once without --add first")
    header = markdown_header(files[0].read_text(encoding="utf-8"))
    return Evaluation(folder, header, _read_csv(files[2]), [_summary_row(r) for r in _read_csv(files[1])])


def markdown_header(markdown: str) -> list[str]:
    """The header lines of a ``results.md`` text: its bullets before the first table section."""
    return [line[2:] for line in markdown.split("\n## ", 1)[0].splitlines() if line.startswith("- ")]


def _case_keys(rows: Iterable[Mapping[str, Any]], kind_key: str) -> set[tuple[str, str, str, str]]:
    return {(str(int(r["case_id"])), str(r["face"]), str(r[kind_key]), str(r["bin"])) for r in rows}


def check_joinable(previous: Evaluation, header: Sequence[str], rows: Sequence[Mapping[str, Any]],
                   methods: Iterable[str], realism_per_group: int, seed: int) -> None:
    """ValueError (one line) unless ``methods`` can be added to ``previous``: none of them is there yet, the
    settings lines in ``header`` (this run's, so far) read as the previous run's, this run's case ``rows``
    (ProtocolDataset rows: ``case_id``, ``face``, ``mask_kind``, ``bin``) are the cases it scored, and FID/KID
    are drawn the same way (``realism_per_group`` cases per group, ``seed``)."""
    where = previous.folder
    again = [m for m in methods if m in previous.methods]
    if again:
        raise ValueError(f"--add: {where} already has {', '.join(again)}: leave them out, or score every method "
                         "again without --add")
    now = header_lines(header)
    for label in SAME_SETTINGS:
        if previous.setting(label) != now.get(label):
            raise ValueError(f"--add: this run's '{label}' differs from {where}'s (there: "
                             f"{previous.setting(label)!r}; here: {now.get(label)!r}): use the same options as "
                             "that run, or score every method again without --add")
    theirs, ours = _case_keys(previous.cases, "kind"), _case_keys(rows, "mask_kind")
    if theirs != ours:
        raise ValueError(f"--add: {len(ours ^ theirs)} cases differ between this run and {where}'s cases.csv (same "
                         "ids with other faces or bins, or other cases): use the manifest, faces and masks of that run")
    before = previous.setting("realism") or ""
    if realism_per_group <= 0:
        drawn = "FID/KID off" in before
    else:
        drawn = (f"up to {realism_per_group} cases per (kind, bin), a seeded sample (seed {seed})" in before
                 or f"not computed (no (kind, bin)" in before and f"--realism-per-group {realism_per_group})" in before)
    if not drawn:
        raise ValueError(f"--add: {where} drew its FID/KID sample otherwise ({before!r}); pass the same "
                         "--realism-per-group and --seed, or score every method again without --add")


def check_realism(previous: Evaluation, realism_line: str) -> None:
    """ValueError (one line) unless this run measured FID/KID as ``previous`` did (Inception, precision, image
    size, sample, seed: the realism header line up to the run's own paths and counts)."""
    before = (previous.setting("realism") or "").split(_REALISM_TAIL)[0].split("; Inception images this run")[0]
    after = realism_line.split(_REALISM_TAIL)[0].split("; Inception images this run")[0]
    if before != after:
        raise ValueError(f"--add: FID/KID were measured otherwise in {previous.folder} (there: {before!r}; here: "
                         f"{after!r}): nothing was written; score every method again without --add")


def merged_header(previous: Evaluation, header: Sequence[str], methods: Sequence[str]) -> list[str]:
    """The previous run's header and one line saying what this run added (its weights, device, date, command)."""
    now = header_lines(header)
    parts = [now[k].split(": ", 1)[1] for k in ("weights", "device", "date", "command") if k in now]
    return [*previous.header, f"added by a later run ({', '.join(methods)}; python -m facelib.evaluate --add): "
            + "; ".join(parts)]

