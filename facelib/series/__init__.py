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

from .cli import build_parser, main
from .parameters import (
    COMMON_PARAMETERS,
    PROFILES,
    SMALL,
    SMALL_COMMON,
    SMALL_TRAINING,
    NotebookParameterError,
    ParameterError,
    check_parameters,
    notebook_parameters,
    parameters_for,
    validate_parameters,
)
from .paths import NOTEBOOKS, figures_path, notebook_paths, repo_root
from .runner import KERNEL, NotebookFailedError, format_times, prepare, run
from .solutions import SOLUTION_TAG, is_solution, solution_code, solutions_to_code

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
