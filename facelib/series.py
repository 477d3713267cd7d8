"""Run the notebook series with papermill, or prepare parameterised copies for nbval.

    python -m facelib.series run [--small] [--data PATH] [--out build/series] [--figures DIR] [--only 01,02]
                                 [-p NAME VALUE ...]
    python -m facelib.series prepare [--small] [--data PATH] [--figures DIR] [--only ...] OUT_DIR
    pytest --nbval-lax OUT_DIR                  # executes the prepared copies

Every notebook ``notebooks/NN_name.ipynb`` has one code cell tagged ``parameters`` holding plain assignments
(papermill's convention). All of them declare the :data:`COMMON_PARAMETERS` ``data``, ``image_size``,
``n_images``, ``seed``, ``device``, ``figures_dir``. ``--small`` injects :data:`SMALL_COMMON` plus the
notebook's entry of :data:`SMALL`, so the whole series runs in minutes on two CPU cores (the test suite uses
it). ``--profile laptop`` / ``--profile gpu`` inject the named :data:`PROFILES`. Unknown parameter names and
values of the wrong type are refused with the notebook's name before anything runs; plain ``papermill`` (which
itself only warns) is covered by :func:`check_parameters`, which every notebook calls right after its
parameters and which stops the run with one line.

Exercises: each solution is a collapsed **markdown** cell tagged ``solution`` (``**Solution**`` and one fenced
Python block), so JupyterLab's Run All never runs it. ``prepare`` (the test path) turns every such cell into a
code cell, so nbval executes the solutions and they stay correct; ``run`` leaves them as markdown.

Paths: notebooks run with ``notebooks/`` as their working directory (``run``) or from ``OUT_DIR``
(``prepare``). So that neither matters, the runner injects absolute paths for ``data`` and ``figures_dir``
and the notebooks locate the repository with :func:`repo_root` and their figures folder with
:func:`figures_path`. Default figures folder: ``figures/`` of the repository for a full ``run``;
``OUT/figures`` with ``--small`` or ``prepare`` (small runs never overwrite the committed figures).
"""
from __future__ import annotations

import argparse
import ast
import difflib
import os
import re
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import nbformat
import papermill
from papermill.exceptions import PapermillExecutionError
from papermill.iorw import load_notebook_node
from papermill.parameterize import parameterize_notebook

from .train import SMALL as TRAIN_SMALL

__all__ = [
    "COMMON_PARAMETERS",
    "SMALL_COMMON",
    "SMALL",
    "NOTEBOOKS",
    "PROFILES",
    "SOLUTION_TAG",
    "ParameterError",
    "NotebookFailedError",
    "repo_root",
    "figures_path",
    "notebook_paths",
    "notebook_parameters",
    "validate_parameters",
    "check_parameters",
    "solution_code",
    "solutions_to_code",
    "parameters_for",
    "prepare",
    "run",
    "main",
]

#: Parameters every notebook's ``parameters`` cell declares.
COMMON_PARAMETERS: tuple[str, ...] = ("data", "image_size", "n_images", "seed", "device", "figures_dir")

#: ``--small`` values for every notebook (a notebook's entry in :data:`SMALL` overrides them).
SMALL_COMMON: dict[str, Any] = {"image_size": 32, "n_images": 16}

#: ``--small`` values of the training notebooks 06-08: ``facelib.train.SMALL`` (config field names) and the
#: number of faces.
SMALL_TRAINING: dict[str, Any] = {**TRAIN_SMALL, "n_images": 32}

#: ``--small`` values per notebook (file name without ``.ipynb``), merged over :data:`SMALL_COMMON`.
SMALL: dict[str, dict[str, Any]] = {
    "00_overview": {"image_size": 64, "n_images": 8},
    "01_data_and_masks": {"image_size": 64, "n_images": 16},
    "02_encoder": {"image_size": 64, "n_images": 4},
    "03_residual_blocks": {"image_size": 32, "n_images": 4, "depth": 12, "rf_blocks": 4, "train_steps": 5},
    "04_decoder": {"image_size": 64, "n_images": 4},
    "05_vgg_features": {"image_size": 64, "n_images": 4},
    "06_training": {**SMALL_TRAINING, "max_steps": 20, "n_show": 4},
    "07_gan_comparison": {**SMALL_TRAINING, "max_steps": 16, "gated_num_residual": 1, "d_base": 16, "n_show": 4},
    "08_context_encoder_comparison": {**SMALL_TRAINING, "max_steps": 16, "n_show": 4},
    "09_evaluation": {"image_size": 32, "n_images": 32, "per_bin": 2, "n_boot": 200, "n_cases": 2,
                      "fallback_steps": 8},
    "10_paint_a_hole": {"image_size": 64, "n_images": 1, "latency_repeats": 2},
}

#: Named sizes, as ``--profile NAME`` (per notebook, merged like :data:`SMALL`; ``"*"`` applies to every notebook
#: that declares the parameter):
#:
#: - ``laptop``: the notebooks' own defaults, which are sized for a laptop CPU (64x64 training, a few hundred
#:   steps, the classroom weights in 08-10 when ``weights/`` holds them): minutes per notebook;
#: - ``gpu``: full size on a CUDA GPU: the evaluation protocol's 128x128, every training face (``n_images``
#:   only counts synthetic faces), whole epochs, the protocol's 50 cases per bin.
PROFILES: dict[str, dict[str, dict[str, Any]]] = {
    "laptop": {},
    "gpu": {
        "*": {"device": "cuda", "image_size": 128},
        "06_training": {"epochs": 10, "batch_size": 32, "max_steps": None, "gpu_cache": True},
        "07_gan_comparison": {"epochs": 10, "batch_size": 32, "max_steps": None},
        "08_context_encoder_comparison": {"epochs": 10, "batch_size": 32, "max_steps": None},
        "09_evaluation": {"per_bin": 50},
        "10_paint_a_hole": {"image_size": 64},  # the classroom weights are 64x64
    },
}

KERNEL = "python3"
#: The tag of an exercise's solution cell (a collapsed markdown cell holding one fenced Python block).
SOLUTION_TAG = "solution"


class ParameterError(ValueError):
    """A parameter a notebook does not declare, or a value of the wrong type."""


class NotebookParameterError(ParameterError):
    """A papermill parameter the notebook does not declare, or of the wrong type, seen inside the kernel.

    Jupyter shows it as its one line (no traceback), so papermill's error summary reads it first.
    """

    def _render_traceback_(self) -> list[str]:  # IPython uses this instead of the traceback
        return [f"ParameterError: {self}"]


class NotebookFailedError(RuntimeError):
    """A cell of a notebook raised; the message names the notebook, the cell and the executed copy."""


# ------------------------------------------------------------------------------------------------ paths
def repo_root() -> Path:
    """The repository folder (holding ``notebooks/`` and ``facelib/``), whatever the working directory.

    Order: the environment variable ``FACELIB_REPO``; the folder above this package (editable install, the
    normal case); the working directory or one of its parents.
    """
    candidates = [Path(os.environ["FACELIB_REPO"])] if os.environ.get("FACELIB_REPO") else []
    candidates += [Path(__file__).resolve().parents[1], Path.cwd(), *Path.cwd().parents]
    for folder in candidates:
        if (folder / "notebooks").is_dir() and (folder / "facelib").is_dir():
            return folder.resolve()
    raise FileNotFoundError(
        "cannot find the facelib repository (a folder with notebooks/ and facelib/): install facelib with "
        "`pip install -e .` from the repository, run from inside it, or set FACELIB_REPO=/path/to/repo"
    )


def figures_path(figures_dir: str | os.PathLike, create: bool = True) -> Path:
    """Where a notebook saves its figures: ``figures_dir`` if absolute, else relative to ``notebooks/``.

    The notebooks' default ``"../figures"`` is therefore always the repository's ``figures/``, whether the
    notebook runs from ``notebooks/`` (Jupyter, ``run``) or from a prepared copy elsewhere (nbval).
    """
    path = Path(figures_dir).expanduser()
    if not path.is_absolute():
        path = (repo_root() / "notebooks" / path).resolve()
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def notebook_paths(root: Path | None = None, only: Sequence[str] | str | None = None) -> list[Path]:
    """``notebooks/NN_*.ipynb`` in order; ``only`` keeps those whose name starts with one of the prefixes
    (``["01", "05"]`` or ``"01,05"``)."""
    paths = sorted((root or repo_root()).joinpath("notebooks").glob("[0-9][0-9]_*.ipynb"))
    if isinstance(only, str):
        only = [only]
    prefixes = [p.strip() for item in (only or []) for p in str(item).split(",") if p.strip()]
    if prefixes:
        paths = [p for p in paths if any(p.stem.startswith(o) for o in prefixes)]
        if not paths:
            raise ValueError(f"no notebook in notebooks/ matches {prefixes}")
    return paths


def _list_notebooks() -> list[Path]:
    try:
        return notebook_paths()
    except FileNotFoundError:  # facelib installed without the repository
        return []


#: The series, in order (``notebooks/NN_*.ipynb`` at import time).
NOTEBOOKS: list[Path] = _list_notebooks()


# ------------------------------------------------------------------------------------------- parameters
def notebook_parameters(path: str | os.PathLike) -> dict[str, Any]:
    """``{name: default value}`` of the notebook's cell tagged ``parameters`` (``papermill.inspect_notebook``
    reads the cell; the defaults must be literals so they can be checked and injected).

    Raises:
        ParameterError: no such cell, more than one, or a default that is not a literal.
    """
    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    cells = [c for c in nb.cells if c.cell_type == "code" and "parameters" in c.metadata.get("tags", [])]
    if len(cells) != 1:
        raise ParameterError(f"{path.name}: expected exactly one code cell tagged 'parameters', found {len(cells)}")
    values: dict[str, Any] = {}
    for name, info in papermill.inspect_notebook(str(path)).items():
        try:
            values[name] = ast.literal_eval(info["default"])
        except (ValueError, SyntaxError):
            raise ParameterError(
                f"{path.name}: parameter {name!r} must have a literal default (number, string, list, dict, "
                f"True/False/None), got {info['default']!r}"
            ) from None
    return values


def _type_ok(value: Any, default: Any) -> bool:
    if default is None or value is None:  # None means "off" / "automatic" in the notebooks (e.g. max_steps)
        return True
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(default, (list, tuple)):
        return isinstance(value, (list, tuple))
    return isinstance(value, type(default))


def validate_parameters(path: str | os.PathLike, values: Mapping[str, Any]) -> None:
    """Refuse names the notebook does not declare, and values whose type differs from the default's.

    A ``None`` default accepts any value and ``None`` is accepted for any parameter; an int is accepted for a float; list and tuple are interchangeable.

    Raises:
        ParameterError: naming the notebook, the parameter and what was expected.
    """
    path = Path(path)
    declared = notebook_parameters(path)
    for name, value in values.items():
        if name not in declared:
            raise ParameterError(_unknown_message(name, list(declared), f"{path.name}: "))
        default = declared[name]
        if not _type_ok(value, default):
            raise ParameterError(_type_message(name, value, default, f"{path.name}: "))


def _literal_assignments(source: str) -> dict[str, Any] | None:
    """``{name: value}`` of the top-level ``name = value`` lines of a cell; a value that is not a literal reads as
    :data:`_ANY`. None when the cell is not plain assignments (then it is not a parameters cell)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    values: dict[str, Any] = {}
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            return None
        try:
            values[node.targets[0].id] = ast.literal_eval(node.value)
        except (ValueError, SyntaxError):
            values[node.targets[0].id] = _ANY
    return values


_ANY = object()  # a default that is not a literal: any value is accepted
#: papermill's injected cell starts with this comment (its ``injected-parameters`` cell, Python translator).
INJECTED_MARK = "# Parameters"


def _unknown_message(name: str, declared: Sequence[str], where: str) -> str:
    close = difflib.get_close_matches(name, list(declared), n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"{where}unknown parameter {name!r}: {hint}The parameters are {', '.join(declared)}."


def _type_message(name: str, value: Any, default: Any, where: str) -> str:
    return (f"{where}parameter {name!r} must be of type {type(default).__name__} like its default {default!r}, "
            f"got {value!r} ({type(value).__name__})")


def check_parameters(history: Sequence[str] | None = None) -> None:
    """Stop a notebook run by plain papermill when a ``-p`` parameter is misspelt or of the wrong type.

    Called in every notebook's setup cell, right after the parameters. papermill only logs a warning for a
    name the notebook does not declare and then runs with the defaults; this compares what papermill's injected
    cell (the executed cell starting with ``# Parameters``, tagged ``injected-parameters``) assigned with the
    names and literal types of the notebook's ``parameters`` cell, which the kernel executed just before it.
    Both are read from IPython's input history ``In`` (``history`` overrides it, for tests). Nothing happens in
    an interactive session or under nbval (no injected cell in the history; ``facelib.series`` has validated
    the values before), or outside IPython.

    Raises:
        ParameterError: one line naming the unknown parameter with the closest declared name, or the type
            expected; Jupyter shows it without a traceback.
    """
    if history is None:
        try:
            from IPython import get_ipython
        except ImportError:
            return
        shell = get_ipython()
        if shell is None:
            return
        history = shell.user_ns.get("In", [])
    sources = [s for s in history if isinstance(s, str)]
    marks = [i for i, s in enumerate(sources) if s.lstrip().startswith(INJECTED_MARK)]
    if not marks or marks[-1] == 0:
        return
    injected = _literal_assignments(sources[marks[-1]])
    declared = _literal_assignments(sources[marks[-1] - 1])
    if not injected or not declared:  # no parameters cell right before the injected one: nothing to compare
        return
    where = ""
    for name, value in injected.items():
        if name not in declared:
            raise NotebookParameterError(_unknown_message(name, list(declared), where))
        default = declared[name]
        if default is not _ANY and value is not _ANY and not _type_ok(value, default):
            raise NotebookParameterError(_type_message(name, value, default, where))


# ------------------------------------------------------------------------------------------- solutions
_FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)


def is_solution(cell: Mapping[str, Any]) -> bool:
    """A cell tagged :data:`SOLUTION_TAG`."""
    return SOLUTION_TAG in cell.get("metadata", {}).get("tags", [])


def solution_code(cell: Mapping[str, Any]) -> str:
    """The Python of a solution cell: the one fenced ```python block of a markdown cell starting
    ``**Solution**``.

    Raises:
        ValueError: not a markdown cell, no ``**Solution**`` heading, or not exactly one ```python block.
    """
    source = cell.get("source", "")
    source = "".join(source) if isinstance(source, list) else source
    if cell.get("cell_type") != "markdown" or not source.lstrip().startswith("**Solution**"):
        raise ValueError(f"a solution is a markdown cell starting with **Solution**, got: {source[:60]!r}")
    blocks = _FENCE.findall(source)
    if len(blocks) != 1:
        raise ValueError(f"a solution cell holds exactly one ```python block, found {len(blocks)}: {source[:60]!r}")
    return blocks[0].rstrip("\n")


def solutions_to_code(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Turn every solution markdown cell into a (collapsed, tagged) code cell holding its Python, in place."""
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown" and is_solution(cell):
            metadata = dict(cell.metadata)
            nb.cells[i] = nbformat.v4.new_code_cell(solution_code(cell), metadata=metadata)
            if "id" in cell:
                nb.cells[i]["id"] = cell["id"]
    return nb


def _absolute_data(data: str | None) -> str | None:
    """A data folder as an absolute path (the notebooks run from another folder); 'synthetic' as is."""
    if data is None or str(data).strip().lower() == "synthetic":
        return data
    return str(Path(data).expanduser().resolve())


def parameters_for(
    path: str | os.PathLike,
    small: bool = False,
    data: str | None = None,
    figures_dir: str | os.PathLike | None = None,
    extra: Mapping[str, Any] | None = None,
    profile: str | None = None,
) -> dict[str, Any]:
    """The values to inject into one notebook, validated.

    Args:
        path: the notebook.
        small: merge :data:`SMALL_COMMON` and ``SMALL[notebook]``.
        data: face folder or ``"synthetic"`` (made absolute); None: the notebook's own default.
        figures_dir: injected as an absolute path; None: the notebook's default.
        extra: further ``{name: value}`` (e.g. from ``-p``); they must be declared by the notebook.
        profile: a name of :data:`PROFILES` (its ``"*"`` values go to the notebooks that declare them).
    """
    path = Path(path)
    values: dict[str, Any] = {}
    if profile is not None:
        if profile not in PROFILES:
            raise ParameterError(f"unknown profile {profile!r}: the profiles are {', '.join(PROFILES)}")
        declared = notebook_parameters(path)
        values.update({k: v for k, v in PROFILES[profile].get("*", {}).items() if k in declared})
        values.update(PROFILES[profile].get(path.stem, {}))
    if small:
        values.update(SMALL_COMMON)
        values.update(SMALL.get(path.stem, {}))
    if data is not None:
        values["data"] = _absolute_data(data)
    if figures_dir is not None:
        values["figures_dir"] = str(Path(figures_dir).expanduser().resolve())
    values.update(extra or {})
    # papermill writes a tuple as a string: inject lists (the notebooks and TrainConfig accept both).
    values = {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}
    validate_parameters(path, values)
    return values


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


def _literal(text: str) -> Any:
    """``-p`` values: Python literals (``64``, ``[16, 32]``, ``None``, ``True``), anything else a string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m facelib.series", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("run", "prepare"):
        p = sub.add_parser(name, help=f"{name} the notebooks")
        p.add_argument("--small", action="store_true", help="inject the test sizes (facelib.series.SMALL)")
        p.add_argument("--profile", choices=sorted(PROFILES),
                       help="named sizes: laptop (the defaults, minutes on a CPU) or gpu (full size, CUDA)")
        p.add_argument("--data", help="face folder or 'synthetic' (default: FACELIB_DATA, data/, then synthetic)")
        p.add_argument("--figures", help="figures folder (default: figures/ of the repo; OUT/figures with "
                                         "--small or prepare)")
        p.add_argument("--only", action="append", help="notebook name prefixes, e.g. `01,05` (repeatable)")
        p.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                       help="set a parameter in every selected notebook that declares it (Python literal)")
    sub.choices["run"].add_argument("--out", default="build/series", help="executed notebooks go here")
    sub.choices["prepare"].add_argument("out_dir", help="parameterised copies go here")
    return parser


def _extra_for(paths: Sequence[Path], pairs: Sequence[Sequence[str]]) -> dict[Path, dict[str, Any]]:
    """``-p`` values per notebook: only notebooks that declare the name get it; a name nobody declares fails."""
    extra: dict[Path, dict[str, Any]] = {p: {} for p in paths}
    for name, text in pairs:
        takers = [p for p in paths if name in notebook_parameters(p)]
        if not takers:
            raise ParameterError(f"-p {name}: no selected notebook has a parameter called {name!r}")
        for p in takers:
            extra[p][name] = _literal(text)
    return extra


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        paths = notebook_paths(only=args.only)
        extra = _extra_for(paths, args.parameter)
        for path in paths:  # refuse a bad parameter before anything runs
            parameters_for(path, args.small, args.data, args.figures or "figures", extra[path], args.profile)
        if args.command == "prepare":
            for path in paths:
                prepare(args.out_dir, args.small, args.data, args.figures, [path.stem], extra[path], args.profile)
                print(Path(args.out_dir) / path.name)
            return 0
        times: list[tuple[str, float]] = []
        try:
            for path in paths:
                times += run(args.out, args.small, args.data, args.figures, [path.stem], extra[path],
                             profile=args.profile)
        finally:
            if times:
                print("\n" + format_times(times))
    except (ParameterError, NotebookFailedError, FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
