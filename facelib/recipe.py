"""Training recipes: one committed JSON file per trained model (``recipes/<name>.json``), in one shape.

A recipe is a preset (``facelib.train.PRESETS``) plus ``TrainConfig`` field overrides (epochs, the start
``init_from``, sizes, precision ...), optionally on top of a shared base recipe, and the name of its run
folder. Each weights manifest names the recipe that trained it (``training.recipe``), so the weights, their
numbers and the way to train them again are one lookup apart::

    {"preset": "gan", "base": "classroom", "run": "gan", "about": "...",
     "config": {"epochs": 4, "init_from": "generator"}}

The data folders are not part of a recipe (they differ per machine): the caller passes them.
"""
from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from .paths import RECIPES_DIR, repo_relative

__all__ = ["Recipe", "load_recipe", "recipe_path", "recipe_names", "config_flags"]

_KEYS = {"preset", "base", "run", "weights", "about", "config"}


@dataclass(frozen=True)
class Recipe:
    """A loaded recipe: ``preset``, the merged ``config`` overrides (base first), its run folder name, the weights
    name its export takes (default: the preset's), one line ``about`` it, and the file it came from
    (repository-relative, as manifests record it)."""

    name: str
    preset: str | None
    config: dict[str, Any]
    run: str
    weights: str | None
    about: str
    path: str

    def train_config(self, **overrides: Any):
        """The ``TrainConfig`` of this recipe (plus ``overrides``, e.g. ``data`` and ``out_dir``)."""
        from .train.config import TrainConfig

        return TrainConfig.preset(self.preset, **{**self.config, **overrides})


def recipe_path(name: str, folder: str | os.PathLike = RECIPES_DIR) -> Path:
    """``recipes/<name>.json``."""
    return Path(folder) / f"{name}.json"


def recipe_names(folder: str | os.PathLike = RECIPES_DIR) -> list[str]:
    """The recipes in ``folder`` that train a model (those with a preset; a base alone does not), sorted."""
    return sorted(p.stem for p in Path(folder).glob("*.json")
                  if json.loads(p.read_text(encoding="utf-8")).get("preset"))


def _read(name: str, folder: Path) -> dict[str, Any]:
    path = recipe_path(name, folder)
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in folder.glob("*.json"))) or "none"
        raise FileNotFoundError(f"no recipe {path}; the recipes are: {known}")
    data = json.loads(path.read_text(encoding="utf-8"))
    unknown = set(data) - _KEYS if isinstance(data, dict) else {"(not an object)"}
    if unknown:
        raise ValueError(f"{path}: unknown keys {sorted(unknown)}; a recipe has only {sorted(_KEYS)}")
    return data


def load_recipe(name: str, folder: str | os.PathLike = RECIPES_DIR) -> Recipe:
    """Read ``recipes/<name>.json`` (and its base), checking every config key against ``TrainConfig``'s fields.

    Raises:
        FileNotFoundError: no such recipe (the message lists those there).
        ValueError: an unknown key or a misspelt field, in one line naming the file and the fix.
    """
    from .train.config import PRESETS, TrainConfig

    folder = Path(folder)
    data = _read(name, folder)
    base = _read(data["base"], folder) if data.get("base") else {}
    config = {**base.get("config", {}), **data.get("config", {})}
    known = {f.name for f in fields(TrainConfig)}
    misspelt = sorted(set(config) - known)
    if misspelt:
        raise ValueError(f"{recipe_path(name, folder)}: {misspelt} are not TrainConfig fields; use field names "
                         f"(python -m facelib.train --help lists them with - for _)")
    preset = data.get("preset")
    if preset is not None and preset not in PRESETS:
        raise ValueError(f"{recipe_path(name, folder)}: unknown preset {preset!r}; choose one of {tuple(PRESETS)}")
    weights = data.get("weights", PRESETS[preset].weights if preset else None)
    return Recipe(name, preset, config, data.get("run", name), weights, data.get("about", ""),
                  repo_relative(recipe_path(name, folder)))


def config_flags(config: Mapping[str, Any]) -> list[str]:
    """``python -m facelib.train`` flags for these ``TrainConfig`` overrides, in field order, e.g.
    ``{"batch_size": 16, "gpu_cache": True}`` -> ``["--batch-size", "16", "--gpu-cache"]``."""
    from .train.config import TrainConfig

    flags: list[str] = []
    for f in fields(TrainConfig):
        if f.name not in config:
            continue
        flag, value = "--" + f.name.replace("_", "-"), config[f.name]
        if value is None and f.default is None:
            continue  # the default (e.g. init_from: from scratch)
        if isinstance(f.default, bool) and "parse" not in f.metadata:
            flags.append(flag if value else "--no-" + flag[2:])
        elif isinstance(value, (list, tuple)):
            flags += [flag, *map(str, value)]
        else:
            flags += [flag, "none" if value is None else str(value).lower() if isinstance(value, bool) else str(value)]
    return flags
