"""The package's shape, checked on the real import graph (``docs/architecture.py``): no import cycle, no module
over 450 lines, no leaf that reaches the training package, and ``docs/architecture.md`` as the script writes it.

Each check is a function of the graph, so the tests below also run it on a small broken graph and see it fail.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("architecture", REPO / "docs" / "architecture.py")
A = importlib.util.module_from_spec(_spec)
sys.modules["architecture"] = A
_spec.loader.exec_module(A)

#: The leaves the redesign names (issue 24): none of them may import facelib.train, directly or not.
LEAVES = ("models", "masks", "data", "vgg", "losses", "checkpoint", "pretrained", "export", "metrics", "protocol",
          "generator_checkpoint", "mask_holdout")


@pytest.fixture(scope="module")
def graphs():
    files = A.module_files(REPO)
    modules = A.module_graph(files)
    return files, modules, A.unit_graph(modules)


def assert_no_cycle(graph, what: str) -> None:
    cycle = A.find_cycle(graph)
    assert cycle is None, (f"import cycle between {what}: {' -> '.join(cycle)}; break it (move the shared part "
                           "to a leaf)")


def assert_leaves_do_not_reach(graph, leaves, target: str = A.TRAINING) -> None:
    chains = A.leaves_reaching(graph, leaves, target)
    assert not chains, ("leaves import the training package: " + "; ".join(" -> ".join(c) for c in chains.values())
                        + "; move what they need into a leaf")


def assert_small(lines, limit: int = A.MAX_LINES) -> None:
    big = A.oversized(lines, limit)
    assert not big, f"modules over {limit} lines: {big}; split them by concept"


def assert_doc_current(current: str, root: Path = REPO) -> None:
    assert A.render(current, root) == current, "docs/architecture.md is out of date: run python docs/architecture.py"


# ---------------------------------------------------------------------------------------------- the real package
def test_committed_doc_is_what_the_script_writes():
    assert_doc_current(A.DOC.read_text(encoding="utf-8"))


def test_no_import_cycle(graphs):
    _, modules, units = graphs
    assert_no_cycle(units, "units of facelib")
    assert_no_cycle(modules, "modules of facelib")


def test_no_module_over_the_limit(graphs):
    files = graphs[0]
    assert A.MAX_LINES == 450
    assert_small({m: len(p.read_text(encoding="utf-8").splitlines()) for m, p in files.items()})


def test_leaves_know_nothing_of_training(graphs):
    units = graphs[2]
    assert set(LEAVES) <= set(A.GROUPS["leaves"]) and set(LEAVES) <= set(units)
    assert_leaves_do_not_reach(units, A.GROUPS["leaves"])
    # evaluation scores what training made without importing it
    assert_leaves_do_not_reach(units, A.GROUPS["evaluation"])


def test_every_unit_is_in_one_group(graphs):
    A.check_groups(graphs[2])


def test_the_graph_sees_lazy_and_relative_imports(graphs):
    modules = graphs[1]
    # a function-level import (init_generator reads committed weights) and a relative one (export's leaf)
    assert "facelib.pretrained" in modules["facelib.train.state"]
    assert "facelib.generator_checkpoint" in modules["facelib.export"]
    assert "facelib.train.history" in modules["facelib.train.loop"]  # `from . import history as H`
    assert "facelib.train" not in modules["facelib.train.loop"]


# ------------------------------------------------------------------------------ the checks fail on broken input
def test_a_cycle_is_found_and_named():
    toy = {"train": {"export"}, "export": {"pretrained"}, "pretrained": {"train"}, "models": set()}
    assert A.find_cycle(toy) == ["export", "pretrained", "train", "export"]
    with pytest.raises(AssertionError, match="export -> pretrained -> train -> export"):
        assert_no_cycle(toy, "units")
    assert A.find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert A.find_cycle({"a": {"a"}}) == ["a", "a"]


def test_a_leaf_reaching_training_is_found_with_its_chain():
    toy = {"export": {"pretrained"}, "pretrained": {"train"}, "train": {"models"}, "models": set()}
    assert A.leaves_reaching(toy, ["export", "models"]) == {"export": ["export", "pretrained", "train"]}
    with pytest.raises(AssertionError, match="export -> pretrained -> train"):
        assert_leaves_do_not_reach(toy, ["export", "models"])


def test_a_long_module_is_found():
    with pytest.raises(AssertionError, match="facelib.big.*451"):
        assert_small({"facelib.small": 450, "facelib.big": 451})


def test_a_stale_doc_is_found(tmp_path):
    # a copy of the package with one module more: the committed document no longer matches it
    import shutil

    shutil.copytree(REPO / "facelib", tmp_path / "facelib", ignore=shutil.ignore_patterns("__pycache__", "assets"))
    for folder in A.CALLERS:
        if (REPO / folder).is_dir():
            (tmp_path / folder).symlink_to(REPO / folder)
    current = A.DOC.read_text(encoding="utf-8")
    assert_doc_current(current, tmp_path)  # the copy draws the same document ...
    (tmp_path / "facelib" / "train" / "extra.py").write_text('"""One more module."""\nfrom ..export import main\n')
    with pytest.raises(AssertionError, match="run python docs/architecture.py"):
        assert_doc_current(current, tmp_path)  # ... until the code changes
    with pytest.raises(AssertionError, match="run python docs/architecture.py"):
        assert_doc_current(current.replace("Import cycles between units: none", "Import cycles between units: ?"))


def test_imports_are_resolved_to_modules():
    import ast

    tree = ast.parse("from . import history as H\nfrom ..models import MODELS\n"
                     "def f():\n    from ..pretrained import load_state_dict\n    import facelib.export\n")
    names = A.imported_names(tree, "facelib.train.loop", is_package=False)
    assert names == {"facelib.train.history", "facelib.models.MODELS", "facelib.pretrained.load_state_dict",
                     "facelib.export"}
    known = {"facelib", "facelib.train", "facelib.train.history", "facelib.models", "facelib.pretrained"}
    assert {A._resolve(n, known) for n in names} == {"facelib.train.history", "facelib.models",
                                                      "facelib.pretrained", "facelib"}
    assert A.imported_names(ast.parse("from .cases import load_case"), "facelib.protocol", is_package=True) == {
        "facelib.protocol.cases.load_case"}


def test_a_unit_outside_the_groups_is_refused():
    with pytest.raises(ValueError, match=r"in no group: \['newthing'\]"):
        A.check_groups({*A.GROUPS["leaves"], "newthing"}, {"leaves": A.GROUPS["leaves"]})
