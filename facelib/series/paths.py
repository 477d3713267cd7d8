"""Where things are: the repository, its notebooks and a notebook's figures folder (part of
:mod:`facelib.series`)."""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

# ------------------------------------------------------------------------------------------------ paths
def repo_root() -> Path:
    """The repository folder (holding ``notebooks/`` and ``facelib/``), whatever the working directory.

    Order: the environment variable ``FACELIB_REPO``; the folder above this package (editable install, the
    normal case); the working directory or one of its parents.
    """
    candidates = [Path(os.environ["FACELIB_REPO"])] if os.environ.get("FACELIB_REPO") else []
    candidates += [Path(__file__).resolve().parents[2], Path.cwd(), *Path.cwd().parents]
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
