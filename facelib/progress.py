"""Progress bars decided in one place: a live widget in JupyterLab, plain text everywhere else.

``tqdm.auto`` draws an ipywidgets bar in any Jupyter kernel. That is right in a live JupyterLab, but in a
notebook executed by papermill or nbval nobody renders the widget, so the saved copy shows a frozen "0%".
:func:`tqdm` here picks the front end once:

- **interactive** (:func:`interactive_frontend`): a kernel started by a Jupyter server (JupyterLab, Notebook:
  the server sets ``JPY_SESSION_NAME``) -> ``tqdm.notebook``'s widget;
- otherwise (a terminal, papermill, nbval, a script) -> the plain text bar, which an executed notebook
  stores as ordinary text; inside a kernel it redraws at most every 10 s so the saved output stays short.

``FACELIB_PROGRESS`` overrides the choice: ``widget``, ``text`` or ``off``.

    from facelib.progress import tqdm
    for batch in tqdm(loader, desc="evaluating"): ...
"""
from __future__ import annotations

import os
import sys
from typing import Any

from tqdm.std import tqdm as _text_tqdm

__all__ = ["interactive_frontend", "in_kernel", "progress_mode", "tqdm"]


def in_kernel() -> bool:
    """True inside a Jupyter (ipykernel) kernel, whoever drives it."""
    if "ipykernel" not in sys.modules:
        return False
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - ipykernel without IPython does not exist
        return False
    shell = get_ipython()
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def interactive_frontend() -> bool:
    """True in a kernel that a Jupyter server started for a person (JupyterLab, Notebook), where a widget
    renders; False under papermill, nbval, in a terminal or a script."""
    return in_kernel() and bool(os.environ.get("JPY_SESSION_NAME"))


def progress_mode() -> str:
    """``"widget"``, ``"text"`` or ``"off"``: ``FACELIB_PROGRESS`` if set, else widget only where it renders."""
    forced = os.environ.get("FACELIB_PROGRESS", "").strip().lower()
    if forced in ("widget", "text", "off"):
        return forced
    return "widget" if interactive_frontend() else "text"


def tqdm(*args: Any, **kwargs: Any):
    """A ``tqdm`` bar in the front end of :func:`progress_mode` (same arguments as ``tqdm.tqdm``)."""
    mode = progress_mode()
    if mode == "off":
        kwargs["disable"] = True
    if mode == "widget":
        try:
            from tqdm.notebook import tqdm as _widget_tqdm

            return _widget_tqdm(*args, **kwargs)
        except ImportError:  # no ipywidgets: fall back to text
            pass
    if in_kernel():
        kwargs.setdefault("mininterval", 10.0)  # an executed notebook keeps every redraw of a text bar
    return _text_tqdm(*args, **kwargs)


# ``tqdm.write(text)`` prints a line above any open bar (widget or text: both subclass tqdm.std.tqdm), as
# ``tqdm.auto.tqdm.write`` does, so code can swap ``tqdm.auto`` for this module unchanged.
tqdm.write = _text_tqdm.write  # type: ignore[attr-defined]
