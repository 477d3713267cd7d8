"""Shared fixtures.

Real datasets are never copied into the project: tests find them through environment variables that
`.ci/run` sets (pointing at `../shared/data`), and skip with the reason when a variable is unset.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

# Two CI cores: one intra-op thread per test process keeps timings stable and avoids oversubscription.
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


def _env_dir(name: str, what: str) -> Path:
    value = os.environ.get(name)
    if not value:
        pytest.skip(f"{name} is not set: point it at {what} to run this real-data test")
    path = Path(value)
    if not path.is_dir():
        pytest.skip(f"{name}={value} is not a folder ({what})")
    return path


@pytest.fixture(scope="session")
def utkface_root() -> Path:
    return _env_dir("FACELIB_UTKFACE", "the flat UTKFace folder (e.g. ../shared/data/utkface)")


@pytest.fixture(scope="session")
def masks_root() -> Path:
    return _env_dir(
        "FACELIB_MASKS",
        "the NVIDIA irregular masks (e.g. ../shared/data/nvidia_irregular_masks/testing_mask_dataset)",
    )


@pytest.fixture(scope="session")
def celeba_root() -> Path:
    return _env_dir("FACELIB_CELEBA_HQ", "a StarGAN-v2 celeba_hq folder (e.g. ../shared/data/celeba_hq_sample)")
