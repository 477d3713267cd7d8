"""What the UTKFace experiment's stages share: the models, the profiles and the folders.

Profiles are overrides of ``facelib.train.TrainConfig`` (field names, nothing restated); every model of a
profile shares data, masks, size, batch and step budget. Labels come from the presets (``facelib.train.label``).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's facelib, also when run as a script from elsewhere

from facelib.paths import RESULTS_DIR, RUNS_DIR  # noqa: E402
from facelib.train.config import label  # noqa: E402

#: The presets trained (``facelib.train.PRESETS``), in the order of the result tables.
MODELS = ("pixel", "generator", "gan", "gated", "context_encoder")
#: Evaluation per profile: the protocol's size and how many cases of every (mask kind, bin) are scored.
EVAL = {"cpu": dict(size=64, per_bin=60), "gpu": dict(size=128, per_bin=None)}
#: Method names in the tables and figures: each preset's label.
LABELS = {model: label(model) for model in MODELS}
#: TrainConfig overrides per profile.
PROFILES = {
    "cpu": dict(image_size=64, batch_size=16, epochs=4, max_train_images=2400, max_steps=None, amp="bf16",
                channels_last=True, max_val_images=256, checkpoint_every=50),
    "gpu": dict(image_size=128, batch_size=32, epochs=10, max_steps=None, amp="auto", channels_last="auto",
                max_val_images=2000, checkpoint_every=500, gpu_cache=True),
}


def env_dir(name: str) -> str:
    """The folder in environment variable ``name``; exits with a hint when it is unset or missing."""
    value = os.environ.get(name)
    if not value or not Path(value).is_dir():
        sys.exit(f"set {name} to the folder (see data/README.md); got {value!r}")
    return value


def run_dir(profile: str, model: str) -> Path:
    return RUNS_DIR / f"utkface-{profile}" / model


def results_dir(profile: str) -> Path:
    return RESULTS_DIR / f"utkface-{profile}"
