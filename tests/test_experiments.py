"""experiments/: the scripts import one way (no cycle) and their profiles are valid TrainConfig overrides."""
from __future__ import annotations

import ast
import importlib
from pathlib import Path

from facelib.train import PRESETS, TrainConfig

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"


def _imports(path: Path) -> set[str]:
    """The sibling modules of experiments/ that ``path`` imports."""
    siblings = {p.stem for p in EXPERIMENTS.glob("*.py")}
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            name = (node.module or "").split(".")[-1]
            found |= {name} if name in siblings else set()
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[-1] for a in node.names if a.name.split(".")[-1] in siblings}
    return found


def test_experiments_import_graph_has_no_cycle():
    graph = {p.stem: _imports(p) for p in EXPERIMENTS.glob("*.py")}
    assert "utkface_setup" in graph["classroom"]

    def reach(start: str, seen: set[str]) -> set[str]:
        for nxt in graph.get(start, ()):
            if nxt not in seen:
                seen.add(nxt)
                reach(nxt, seen)
        return seen

    for module in graph:
        assert module not in reach(module, set()), f"{module} imports itself through {graph}"


def test_profiles_are_config_overrides_of_every_preset():
    setup = importlib.import_module("experiments.utkface_setup")
    assert set(setup.MODELS) <= set(PRESETS) and set(setup.LABELS) == set(setup.MODELS)
    for profile in setup.PROFILES.values():
        for model in setup.MODELS:
            config = TrainConfig.preset(model, data="synthetic", **profile)
            assert config.image_size == profile["image_size"]
