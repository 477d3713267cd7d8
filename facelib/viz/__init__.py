"""Pictures for the series: image grids, loss curves, captions, and the VGG feature explorer.

Every figure of the repository says what produced it. :func:`provenance` builds that footnote (data, weights,
hardware) and :func:`add_caption` writes it under a figure; the grid and curve helpers take ``caption=``.

Conventions (``facelib.models.interface``): images are float tensors (3, H, W) / (N, 3, H, W) in [-1, 1]; masks are
(1, H, W) / (N, 1, H, W) with values {0, 1}, **1 = hole**.

Figures are created with :mod:`matplotlib.pyplot`, so in a notebook (inline backend) a returned figure
shows below the cell; in scripts close it with ``plt.close(fig)``. The ``save_*`` functions close theirs.
"""
from __future__ import annotations

from .curves import LiveLossPlot, plot_history
from .features import FeatureExplorer
from .images import (
    GRID_ROWS,
    HOLE_COLOUR,
    add_caption,
    inpainting_grid,
    inpainting_rows,
    save_figure,
    save_inpainting_grid,
    show_images,
    show_inpainting_grid,
    tint_hole,
    to_display,
)
from .provenance import describe_hardware, provenance

__all__ = [
    "to_display",
    "inpainting_rows",
    "tint_hole",
    "inpainting_grid",
    "show_inpainting_grid",
    "save_inpainting_grid",
    "show_images",
    "plot_history",
    "describe_hardware",
    "provenance",
    "add_caption",
    "save_figure",
    "FeatureExplorer",
    "LiveLossPlot",
]
