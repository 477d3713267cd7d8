"""Identity distance: does the filled face still look like the same person? (optional extra ``identity``)

The distance between dlib's ResNet face descriptors (128-d, ``dlib_face_recognition_resnet_model_v1.dat``,
CC0, shipped by PyPI ``face-recognition-models``; dlib from the ``dlib-bin`` wheels) of a composited fill and of
the real face of the same case; lower is better, 0 for the real face itself. dlib's own rule of thumb calls two
faces the same person below 0.6. The faces are already aligned crops, so no face detector runs: every image is
resized to dlib's 150x150 chip (bicubic) and its 5 landmarks are found in the whole frame.

Optional: ``pip install dlib-bin face-recognition-models`` (``pip install -e '.[identity]'``). Without them
:func:`identity_status` says so in one line and ``facelib.evaluate`` leaves the identity column out. The models
package is located without importing it (its ``__init__`` needs ``pkg_resources``, gone from recent
setuptools).
"""
from __future__ import annotations

import importlib.util
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

__all__ = ["CHIP", "INSTALL_HINT", "FaceDescriptor", "identity_markdown", "identity_rows", "identity_status"]

INSTALL_HINT = "pip install dlib-bin face-recognition-models (the optional extra: pip install -e '.[identity]')"
CHIP = 150  # dlib's face chip side: the descriptor network's input
_MODELS = {"landmarks": "shape_predictor_5_face_landmarks.dat", "resnet": "dlib_face_recognition_resnet_model_v1.dat"}


def _model_paths() -> dict[str, Path]:
    spec = importlib.util.find_spec("face_recognition_models")
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    paths = {k: Path(f) / "models" / name for k, name in _MODELS.items() for f in folders}
    if not folders or not all(p.is_file() for p in paths.values()):
        raise FileNotFoundError("face-recognition-models is not installed")
    return paths


def identity_status() -> str | None:
    """None when the descriptor can run, else one line naming what is missing and the fix."""
    missing = [name for name, module in (("dlib-bin", "dlib"), ("face-recognition-models", "face_recognition_models"))
               if importlib.util.find_spec(module) is None]
    if not missing:
        try:
            _model_paths()
        except FileNotFoundError:
            missing = ["face-recognition-models (its model files)"]
    return None if not missing else (f"identity distance not computed: the optional extra is missing "
                                      f"({', '.join(missing)}): {INSTALL_HINT}")


class FaceDescriptor:
    """dlib's ResNet face descriptor: ``(N, 3, H, W) uint8 -> (N, 128) float32``."""

    def __init__(self) -> None:
        import dlib

        paths = _model_paths()
        self.landmarks = dlib.shape_predictor(str(paths["landmarks"]))
        self.resnet = dlib.face_recognition_model_v1(str(paths["resnet"]))
        self.frame = dlib.rectangle(0, 0, CHIP - 1, CHIP - 1)

    def __call__(self, images: Tensor) -> Tensor:
        from PIL import Image

        out = []
        for image in images:
            chip = np.ascontiguousarray(np.asarray(Image.fromarray(image.permute(1, 2, 0).numpy()).resize(
                (CHIP, CHIP), Image.BICUBIC)))
            out.append(np.asarray(self.resnet.compute_face_descriptor(chip, self.landmarks(chip, self.frame))))
        return torch.from_numpy(np.stack(out)).float()

    @staticmethod
    def describe() -> str:
        return (f"dlib ResNet face descriptor ({_MODELS['resnet']}, face-recognition-models), faces resized to "
                f"{CHIP}x{CHIP}, 5 landmarks in the whole frame, no detector")


def identity_rows(collector: Any, descriptor: FaceDescriptor | Any, min_cases: int = 10, n_boot: int = 1000,
                  seed: int = 0) -> list[dict[str, Any]]:
    """Per method and group (every (kind, bin) and kind ``all`` with ``min_cases`` cases of the realism sample of
    ``collector``, a :class:`facelib.realism.RealismCollector`): the mean identity distance between the fill's
    and the real face's descriptors, with its 95% bootstrap interval; rows like ``summary_rows``' (metric
    ``identity``)."""
    from .metrics import bootstrap_ci

    real = collector.images.get(None, {})
    if not real:
        return []
    ids = sorted(real)
    faces = dict(zip(ids, descriptor(torch.stack([real[c] for c in ids]))))
    rows = []
    for method in (m for m in collector.images if m is not None):
        mine = sorted(c for c in collector.images[method] if c in faces)
        if not mine:
            continue
        fills = descriptor(torch.stack([collector.images[method][c] for c in mine]))
        dist = {c: float((f - faces[c]).norm()) for c, f in zip(mine, fills)}
        groups: dict[tuple[str, str], list[float]] = {}
        for c, d in dist.items():
            kind, bin_label = collector.sample[c]
            groups.setdefault((kind, bin_label), []).append(d)
            groups.setdefault((kind, "all"), []).append(d)
        for (kind, bin_label), values in groups.items():
            if len(values) >= min_cases:
                mean, lo, hi = bootstrap_ci(values, n_boot=n_boot, seed=seed)
                rows.append({"method": method, "kind": kind, "bin": bin_label, "metric": "identity", "mean": mean,
                             "ci_lo": lo, "ci_hi": hi, "n": len(values)})
    return rows


def identity_markdown(summary: Sequence[Mapping[str, Any]]) -> list[str]:
    """The identity table's Markdown lines (cells ``mean [95% CI] (n=...)``); [] when there is no identity row."""
    from .protocol import group_order

    rows = [r for r in summary if r["metric"] == "identity"]
    if not rows:
        return []
    columns = sorted({(r["kind"], r["bin"]) for r in rows}, key=group_order)
    index = {(r["method"], r["kind"], r["bin"]): r for r in rows}
    lines = ["", "## Identity distance (dlib face descriptors of fill and real face, lower is better)", "",
             "On the realism sample; dlib calls two faces the same person below 0.6.", "",
             "| method | " + " | ".join(f"{k} {b}" for k, b in columns) + " |", "| --- |" + " ---: |" * len(columns)]
    for m in dict.fromkeys(r["method"] for r in rows):
        cells = []
        for k, b in columns:
            r = index.get((m, k, b))
            cells.append("n/a" if r is None or math.isnan(r["mean"]) else
                         f"{r['mean']:.3f} [{r['ci_lo']:.3f}, {r['ci_hi']:.3f}] (n={r['n']})")
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return lines


def evaluate_identity(collector: Any, n_boot: int = 1000, seed: int = 0, min_cases: int = 10,
                      enabled: bool = True) -> tuple[list[dict[str, Any]], str]:
    """``python -m facelib.evaluate``'s identity step on the realism sample: (rows, header line). Without the
    optional extra the line says what is missing (one line) and there are no rows."""
    if not enabled:
        return [], "identity: off (--no-identity)"
    reason = identity_status()
    if reason is not None:
        return [], f"identity: {reason}"
    if collector is None or not collector.needs_network(min_cases):
        return [], f"identity: not computed (no (kind, bin) or kind had {min_cases} sampled cases)"
    rows = identity_rows(collector, FaceDescriptor(), min_cases=min_cases, n_boot=n_boot, seed=seed)
    return rows, (f"identity: distance of fill and real face descriptors, {FaceDescriptor.describe()}, on the "
                  f"FID/KID sample; 95% bootstrap intervals")
