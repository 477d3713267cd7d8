"""The notebooks' parameters: the sizes injected by ``--small`` / ``--profile``, reading a notebook's
``parameters`` cell, validating values, and :func:`check_parameters` inside the kernel (part of
:mod:`facelib.series`)."""
from __future__ import annotations

import ast
import difflib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import nbformat
import papermill

from ..train import SMALL as TRAIN_SMALL

#: Parameters every notebook's ``parameters`` cell declares.
COMMON_PARAMETERS: tuple[str, ...] = ("data", "image_size", "n_images", "seed", "device", "figures_dir")

#: ``--small`` values for every notebook (a notebook's entry in :data:`SMALL` overrides them).
SMALL_COMMON: dict[str, Any] = {"image_size": 32, "n_images": 16}

#: ``--small`` values of the training notebooks 06-08: ``facelib.train.SMALL`` (config field names) and the
#: number of faces.
SMALL_TRAINING: dict[str, Any] = {**TRAIN_SMALL, "n_images": 32, "max_train_images": 32}

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
                      "fallback_steps": 8, "realism_min_cases": 4},
    "10_paint_a_hole": {"image_size": 64, "n_images": 1, "latency_repeats": 2},
    # 64: the classroom weights' size, and GMCNN's dilations fit the 16x16 bottleneck of 64 px images.
    "11_multi_column_gmcnn": {"image_size": 64, "n_images": 2, "rf_widths": [2, 4, 8], "n_pairs": 3,
                              "demo_size": 32, "demo_widths": [4, 8, 16], "demo_faces": 4, "batch_size": 2,
                              "epochs": 2, "stage2_epoch": 1, "d_base": 4},
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
        "06_training": {"epochs": 10, "batch_size": 32, "max_steps": None, "max_train_images": None, "gpu_cache": True},
        "07_gan_comparison": {"epochs": 10, "batch_size": 32, "max_steps": None, "max_train_images": None,
                              "retrain": True},
        "08_context_encoder_comparison": {"epochs": 10, "batch_size": 32, "max_steps": None, "max_train_images": None,
                                          "retrain": True},
        "09_evaluation": {"per_bin": 50},
        "10_paint_a_hole": {"image_size": 64},  # the classroom weights are 64x64
        "11_multi_column_gmcnn": {"image_size": 64},  # the classroom weights are 64x64
    },
}

class ParameterError(ValueError):
    """A parameter a notebook does not declare, or a value of the wrong type."""


class NotebookParameterError(ParameterError):
    """A papermill parameter the notebook does not declare, or of the wrong type, seen inside the kernel.

    Jupyter shows it as its one line (no traceback), so papermill's error summary reads it first.
    """

    def _render_traceback_(self) -> list[str]:  # IPython uses this instead of the traceback
        return [f"ParameterError: {self}"]



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
