"""The commands: :func:`prepare` parameterised copies for nbval, :func:`run` the notebooks with papermill
(part of :mod:`facelib.series`)."""
from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import nbformat
import papermill
from papermill.exceptions import PapermillExecutionError
from papermill.iorw import load_notebook_node
from papermill.parameterize import parameterize_notebook

from .parameters import parameters_for
from .paths import notebook_paths, repo_root
from .solutions import solutions_to_code

KERNEL = "python3"


class NotebookFailedError(RuntimeError):
    """A cell of a notebook raised; the message names the notebook, the cell and the executed copy."""


# -------------------------------------------------------------------------------------------- commands
def prepare(
    out_dir: str | os.PathLike,
    small: bool = False,
    data: str | None = None,
    figures_dir: str | os.PathLike | None = None,
    only: Sequence[str] | str | None = None,
    extra: Mapping[str, Any] | None = None,
    profile: str | None = None,
) -> list[Path]:
    """Write parameterised, not executed, copies of the notebooks into ``out_dir`` (for ``pytest --nbval-lax``).

    The injected values sit in a cell tagged ``injected-parameters`` right after the ``parameters`` cell
    (papermill's ``parameterize_notebook``), and every solution cell becomes a code cell
    (:func:`solutions_to_code`) so that the tests execute the solutions. ``figures_dir`` defaults to
    ``out_dir/figures``. Returns the written paths, in series order.
    """
    out = Path(out_dir)
    paths = notebook_paths(only=only)
    figures_dir = figures_dir if figures_dir is not None else out / "figures"
    prepared = [(p, parameters_for(p, small, data, figures_dir, extra, profile)) for p in paths]  # validate first
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path, values in prepared:
        nb = load_notebook_node(str(path))  # as papermill reads it (every cell gets a `tags` list)
        nb = parameterize_notebook(nb, values, kernel_name=KERNEL, language="python")
        nb = solutions_to_code(nb)
        target = out / path.name
        nbformat.write(nb, target)
        written.append(target)
    return written


def _failure(path: Path, executed: Path, err: Exception) -> NotebookFailedError:
    cell = getattr(err, "cell_index", None)
    source = (getattr(err, "source", "") or "").strip().splitlines()
    where = f"cell {cell}" if cell is not None else "a cell"
    if getattr(err, "exec_count", None) is not None:
        where += f" (execution count {err.exec_count})"  # type: ignore[attr-defined]
    first = f", starting `{source[0][:80]}`" if source else ""
    what = f"{getattr(err, 'ename', type(err).__name__)}: {getattr(err, 'evalue', err)}"
    return NotebookFailedError(f"{path.name} failed in {where}{first}: {what}. Executed copy with the "
                               f"traceback: {executed}")


def run(
    out_dir: str | os.PathLike = "build/series",
    small: bool = False,
    data: str | None = None,
    figures_dir: str | os.PathLike | None = None,
    only: Sequence[str] | str | None = None,
    extra: Mapping[str, Any] | None = None,
    log: bool = True,
    profile: str | None = None,
) -> list[tuple[str, float]]:
    """Execute the notebooks in order with papermill (kernel ``python3``, working directory ``notebooks/``).

    Executed copies go to ``out_dir``. ``figures_dir`` defaults to the repository's ``figures/``, or to
    ``out_dir/figures`` when ``small``. Returns ``[(notebook name, seconds)]``.

    Raises:
        ParameterError: before anything runs, for a bad parameter of any selected notebook.
        NotebookFailedError: naming the notebook and cell that failed (later notebooks are not run).
    """
    out = Path(out_dir)
    if figures_dir is None:
        figures_dir = out / "figures" if small else repo_root() / "figures"
    paths = notebook_paths(only=only)
    prepared = [(p, parameters_for(p, small, data, figures_dir, extra, profile)) for p in paths]  # validate first
    out.mkdir(parents=True, exist_ok=True)
    times: list[tuple[str, float]] = []
    for path, values in prepared:
        executed = out / path.name
        if log:
            print(f"running {path.name} {values if values else ''}", flush=True)
        start = time.perf_counter()
        try:
            papermill.execute_notebook(str(path), str(executed), parameters=values, kernel_name=KERNEL,
                                       language="python", cwd=str(path.parent), progress_bar=False)
        except PapermillExecutionError as err:
            raise _failure(path, executed, err) from None
        times.append((path.name, time.perf_counter() - start))
        if log:
            print(f"  done in {times[-1][1]:.1f} s", flush=True)
    return times


def format_times(times: Sequence[tuple[str, float]]) -> str:
    """A markdown table of (notebook, seconds) with the total."""
    lines = ["| notebook | seconds |", "| --- | ---: |"]
    lines += [f"| {name} | {seconds:.1f} |" for name, seconds in times]
    lines.append(f"| total | {sum(s for _, s in times):.1f} |")
    return "\n".join(lines)
