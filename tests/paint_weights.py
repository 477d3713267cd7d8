"""A weights folder of small, randomly initialised models, as ``facelib.pretrained.export_weights`` writes it.

The paint tests (notebook 10, the browser test) and the notebooks' pretrained-path tests use this folder rather
than the committed classroom weights: the same manifest and fp16 safetensors format, every name notebook 10 paints
with by default (``facelib.paint.shipped_models``; the committed set holds only the models trained so far), models
small enough to run in milliseconds.

    python tests/paint_weights.py OUT_DIR [--size 64]
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch

from facelib.models import build_generator
from facelib.paint import shipped_models
from facelib.pretrained import export_weights

#: name -> (architecture, small constructor options); "gan" is an adversarially trained "generator".
SMALL_MODELS = {
    "generator": ("generator", {"widths": [8, 16, 32], "num_residual": 1}),
    "gated": ("gated", {"widths": [8, 16, 32], "num_residual": 1}),
    "gan": ("generator", {"widths": [8, 16, 32], "num_residual": 1}),
    "context_encoder": ("context_encoder", {"base": 8, "bottleneck_channels": 32}),
    "gmcnn": ("gmcnn", {"widths": [4, 8, 16]}),
}
#: What ``write_small_weights`` writes unless told otherwise: every model notebook 10 paints with.
DEFAULT_NAMES = shipped_models()


def write_small_weights(out_dir: str | Path, size: int = 64, names=DEFAULT_NAMES, seed: int = 0) -> Path:
    """Export randomly initialised small models ``names`` (keys of ``SMALL_MODELS``) to ``out_dir``; returns the
    folder."""
    out = Path(out_dir)
    for i, name in enumerate(names):
        arch, options = SMALL_MODELS[name]
        if arch == "context_encoder":
            options = {"image_size": size, "hole_size": size // 2, **options}
        if arch == "gmcnn":  # its dilations fit the bottleneck of this size (as the model registry builds it)
            options = {"bottleneck_size": min(16, size // 4), **options}
        torch.manual_seed(seed + i)
        model = build_generator(arch, **options)
        export_weights(model, name, out, architecture={"name": arch, "options": options}, image_size=size,
                       training={"note": "random initialisation, for tests only"})
    return out


if __name__ == "__main__":
    size = int(sys.argv[sys.argv.index("--size") + 1]) if "--size" in sys.argv else 64
    print(write_small_weights(sys.argv[1], size))
