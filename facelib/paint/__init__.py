"""Paint a hole, watch the models fill it: the logic behind notebook 10.

Three pieces, each usable on its own:

* **masks from strokes**: :func:`stroke_mask` rasterises a brush stroke (a polyline of image-pixel points and a
  brush radius) into a {0, 1} hole mask, adding (draw) or removing (erase) hole pixels;
* **every method on one hole**: :func:`load_methods` collects the pretrained models of a ``weights/`` folder
  (``facelib.pretrained``; a model that is not there is skipped with one printed line) and OpenCV's Telea and
  Navier-Stokes; :func:`run_methods` runs them all on one face and hole and scores each composite with the
  hole PSNR (``facelib.metrics.psnr`` with the mask). The Context Encoder only paints its centre square, so
  it runs only when the hole *is* that square;
* **the widget**: :class:`HolePainter` shows the face on an ``ipycanvas`` canvas (the mouse paints holes;
  brush-size slider, draw/erase, clear, centre square, a random NVIDIA mask) and every method's composite with
  its PSNR beside it, updated on mouse release. Without a browser (papermill, nbval, tests) the same object is
  driven by :meth:`HolePainter.stroke` and :meth:`HolePainter.update`, and :meth:`HolePainter.figure` draws a
  static picture of the current state.

Conventions as everywhere in facelib: images (3, H, W) in [-1, 1], masks (1, H, W) in {0, 1}, 1 = hole.
"""
from __future__ import annotations

from .methods import (
    ASTRONAUT_CREDIT,
    ASTRONAUT_FACE,
    Fill,
    Method,
    bundled_face,
    centre_square,
    load_methods,
    pick_face,
    run_methods,
    shipped_models,
    stroke_mask,
)
from .painter import HolePainter

__all__ = [
    "ASTRONAUT_FACE",
    "ASTRONAUT_CREDIT",
    "shipped_models",
    "bundled_face",
    "pick_face",
    "stroke_mask",
    "centre_square",
    "Method",
    "Fill",
    "load_methods",
    "run_methods",
    "HolePainter",
]
