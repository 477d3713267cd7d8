"""facelib.series: parameter validation, prepared copies for nbval, the small sizes (the notebooks' own
structure is tested in test_notebooks.py).

Executing the notebooks is `make test`'s job (nbval on `python -m facelib.series prepare --small` copies);
these tests only read notebooks, so they take seconds.
"""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from facelib import series

ROOT = series.repo_root()
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
OWN = ["00_overview", "01_data_and_masks", "02_encoder", "03_residual_blocks", "04_decoder", "05_vgg_features"]


def _ids(paths):
    return [p.stem for p in paths]


def test_repo_root_and_notebook_order():
    assert (ROOT / "facelib" / "series" / "__init__.py").is_file()
    assert series.notebook_paths() == NOTEBOOKS
    assert [p.name[:2] for p in NOTEBOOKS] == sorted(p.name[:2] for p in NOTEBOOKS)
    assert set(OWN) <= {p.stem for p in NOTEBOOKS}
    assert _ids(series.notebook_paths(only="01,05")) == ["01_data_and_masks", "05_vgg_features"]
    with pytest.raises(ValueError, match="no notebook"):
        series.notebook_paths(only=["99"])


def test_figures_path_is_relative_to_notebooks(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the cwd must not matter
    assert series.figures_path("../figures", create=False) == ROOT / "figures"
    assert series.figures_path(tmp_path / "f") == tmp_path / "f" and (tmp_path / "f").is_dir()


def _fake_repo(tmp_path, source: str) -> Path:
    """A repository copy holding one notebook with the given parameters cell."""
    (tmp_path / "facelib").mkdir()
    (tmp_path / "notebooks").mkdir()
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# T\n\nLearning goals"),
        nbformat.v4.new_code_cell(source, metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("print(image_size)"),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "notebooks" / "01_fake.ipynb"
    nbformat.write(nb, path)
    return path


def test_validation_names_notebook_and_parameter(tmp_path):
    path = _fake_repo(tmp_path, "data = None\nimage_size = 64\nlr = 0.1\nwidths = [1, 2]\nflag = False\nname = 'x'")
    series.validate_parameters(path, {"image_size": 32, "lr": 1, "widths": (3, 4), "data": "/x", "flag": True,
                                      "name": None})
    with pytest.raises(series.ParameterError, match=r"01_fake\.ipynb: unknown parameter 'imagesize'"):
        series.validate_parameters(path, {"imagesize": 32})
    with pytest.raises(series.ParameterError, match=r"01_fake\.ipynb: parameter 'image_size' must be of type int"):
        series.validate_parameters(path, {"image_size": "64"})
    with pytest.raises(series.ParameterError, match="'image_size' must be of type int"):
        series.validate_parameters(path, {"image_size": True})  # bool is not an int here
    with pytest.raises(series.ParameterError, match="'flag' must be of type bool"):
        series.validate_parameters(path, {"flag": 1})
    with pytest.raises(series.ParameterError, match="'lr' must be of type float"):
        series.validate_parameters(path, {"lr": "fast"})


def test_parameters_cell_must_be_literals(tmp_path):
    path = _fake_repo(tmp_path, "image_size = 2 ** 6\nimport os")
    with pytest.raises(series.ParameterError, match="literal default"):
        series.notebook_parameters(path)


def test_prepare_writes_parameterised_copies(tmp_path, monkeypatch):
    out = tmp_path / "nbval"
    data = tmp_path / "faces"
    written = series.prepare(out, small=True, data=str(data), only=["00", "05"])
    assert [p.name for p in written] == ["00_overview.ipynb", "05_vgg_features.ipynb"]
    for path in written:
        nb = nbformat.read(path, as_version=4)
        tags = [c.metadata.get("tags", []) for c in nb.cells]
        p = next(i for i, t in enumerate(tags) if "parameters" in t)
        assert "injected-parameters" in tags[p + 1], "papermill puts the injected cell right after `parameters`"
        injected = {}
        exec(nb.cells[p + 1].source, {}, injected)
        expected = {**series.SMALL_COMMON, **series.SMALL[path.stem]}
        assert {k: injected[k] for k in expected} == expected
        assert injected["data"] == str(data.resolve())
        assert injected["figures_dir"] == str((out / "figures").resolve())
        assert nb.metadata["kernelspec"]["name"] == "python3"
    # 'synthetic' is passed through, not turned into a path
    nb = nbformat.read(series.prepare(tmp_path / "s", data="synthetic", only="00")[0], as_version=4)
    assert 'data = "synthetic"' in nb.cells[[i for i, c in enumerate(nb.cells)
                                            if "injected-parameters" in c.metadata.get("tags", [])][0]].source


def test_prepare_refuses_unknown_parameter_before_writing(tmp_path):
    out = tmp_path / "nbval"
    with pytest.raises(series.ParameterError, match=r"00_overview\.ipynb: unknown parameter 'epochz'"):
        series.prepare(out, only="00", extra={"epochz": 3})
    assert not out.exists()


def test_cli_errors_are_clear(tmp_path, capsys):
    assert series.main(["prepare", "--only", "00", "-p", "nonexistent", "1", str(tmp_path / "o")]) == 1
    assert "no selected notebook has a parameter called 'nonexistent'" in capsys.readouterr().err
    assert series.main(["run", "--only", "02", "-p", "image_size", "'big'", "--out", str(tmp_path / "r")]) == 1
    err = capsys.readouterr().err
    assert "02_encoder.ipynb" in err and "image_size" in err
    assert not (tmp_path / "r").exists()  # nothing ran


def test_small_overrides_name_real_parameters():
    by_stem = {p.stem: p for p in NOTEBOOKS}
    for stem, values in series.SMALL.items():
        if stem in by_stem:
            unknown = set(values) - set(series.notebook_parameters(by_stem[stem]))
            assert not unknown, f"SMALL[{stem!r}] sets unknown parameters {sorted(unknown)}"


def test_run_reports_the_failing_notebook_and_cell(tmp_path, monkeypatch):
    """A failing cell stops the series with the notebook's name and the cell (papermill runs a real kernel)."""
    pytest.importorskip("papermill")
    path = _fake_repo(tmp_path, "data = None\nimage_size = 64\nn_images = 1\nseed = 0\ndevice = 'auto'\n"
                                "figures_dir = '../figures'")
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("raise RuntimeError('boom')"))
    nbformat.write(nb, path)
    monkeypatch.setenv("FACELIB_REPO", str(tmp_path))
    with pytest.raises(series.NotebookFailedError, match=r"01_fake\.ipynb failed in cell \d+.*boom"):
        series.run(tmp_path / "out", only="01")


def test_small_training_sizes_are_config_overrides():
    """The training notebooks' small sizes are facelib.train.SMALL (TrainConfig field names), not restated."""
    from facelib.train import SMALL, TrainConfig

    for stem in ("06_training", "07_gan_comparison", "08_context_encoder_comparison"):
        assert series.SMALL[stem].items() >= SMALL.items()
    TrainConfig(data="synthetic", **SMALL)  # valid as they are


def test_tuples_are_injected_as_lists():
    """papermill would write a tuple as a string literal; the injected widths must stay a list of ints."""
    path = series.repo_root() / "notebooks" / "06_training.ipynb"
    assert series.parameters_for(path, small=True)["widths"] == [16, 32, 64]


# ------------------------------------------------------------------------------------ solutions convention
def _solution_cell(text: str) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_markdown_cell(text)
    cell.metadata = {"tags": ["solution"], "jupyter": {"source_hidden": True}}
    return cell


def test_solution_code_reads_one_fenced_block():
    cell = _solution_cell("**Solution**\n\nSome words.\n\n```python\nx = 1\nprint(x)\n```\n\nMore words.")
    assert series.solution_code(cell) == "x = 1\nprint(x)"
    with pytest.raises(ValueError, match=r"starting with \*\*Solution\*\*"):
        series.solution_code(_solution_cell("```python\nx = 1\n```"))
    with pytest.raises(ValueError, match="exactly one"):
        series.solution_code(_solution_cell("**Solution**\n\n```python\nx = 1\n```\n```python\ny = 2\n```"))
    with pytest.raises(ValueError, match="exactly one"):
        series.solution_code(_solution_cell("**Solution**\n\nno code"))


def test_prepare_turns_solutions_into_code_and_run_leaves_them(tmp_path):
    """prepare (the test path) executes the solutions; the notebooks themselves (run, Run All) hold them as
    markdown, which Jupyter never runs."""
    for path in series.prepare(tmp_path / "nbval", small=True, only=["00", "05"]):
        nb = nbformat.read(path, as_version=4)
        original = nbformat.read(ROOT / "notebooks" / path.name, as_version=4)
        expected = [series.solution_code(c) for c in original.cells if series.is_solution(c)]
        solutions = [c for c in nb.cells if series.is_solution(c)]
        assert expected and [c.source for c in solutions] == expected
        assert all(c.cell_type == "code" and c.metadata["jupyter"]["source_hidden"] for c in solutions)
    nb = nbformat.v4.new_notebook(cells=[_solution_cell("**Solution**\n\n```python\nprint(1)\n```")])
    series.solutions_to_code(nb)
    assert nb.cells[0].cell_type == "code" and nb.cells[0].source == "print(1)"


# ------------------------------------------------------------------- plain papermill: check_parameters()
PARAMS_CELL = "data = None\nimage_size = 64\nlr = 0.1\nname = 'x'\nmax_steps = 200\nwidths = [1, 2]"


def test_check_parameters_reads_the_injected_cell_from_the_history():
    ok = ["", PARAMS_CELL, "# Parameters\nimage_size = 32\nlr = 1\nmax_steps = None\ndata = \"/x\"\nwidths = [3]\n"]
    series.check_parameters(ok)
    series.check_parameters(["", PARAMS_CELL, "print(1)"])  # interactive: no injected cell, nothing to check
    series.check_parameters([])
    with pytest.raises(series.ParameterError, match=r"^unknown parameter 'imagesize': did you mean 'image_size'\?"):
        series.check_parameters(["", PARAMS_CELL, "# Parameters\nimagesize = 32\n"])
    with pytest.raises(series.ParameterError, match=r"^unknown parameter 'zzz': The parameters are data, image_size"):
        series.check_parameters(["", PARAMS_CELL, "# Parameters\nzzz = 32\n"])
    with pytest.raises(series.ParameterError, match=r"'image_size' must be of type int like its default 64, got 'abc'"):
        series.check_parameters(["", PARAMS_CELL, "# Parameters\nimage_size = \"abc\"\n"])
    # the exception renders as its one line in Jupyter (no traceback)
    try:
        series.check_parameters(["", PARAMS_CELL, "# Parameters\nepoch = 10\n"])
    except series.ParameterError as err:
        assert err._render_traceback_() == [f"ParameterError: {err}"]


def _papermill_error(notebook: Path, tmp_path: Path, **parameters) -> str:
    """Run plain papermill (its Python API, as its CLI does) and return the error summary it raises."""
    papermill = pytest.importorskip("papermill")
    from papermill.exceptions import PapermillExecutionError

    with pytest.raises(PapermillExecutionError) as info:
        papermill.execute_notebook(str(notebook), str(tmp_path / "out.ipynb"), parameters=parameters,
                                   kernel_name="python3", cwd=str(notebook.parent), progress_bar=False,
                                   log_output=False)
    return str(info.value)


def _summary_first_line(message: str) -> str:
    lines = [line for line in message.splitlines() if line.strip() and not set(line) <= {"-"}]
    assert lines[0].startswith("Exception encountered at")
    return lines[1]


@pytest.mark.slow
def test_plain_papermill_stops_on_a_misspelt_or_mistyped_parameter(tmp_path):
    """A tiny notebook: papermill would warn and run with the defaults; check_parameters() stops it, and the
    first line of papermill's error summary is the clear one."""
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell(PARAMS_CELL, metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("from facelib.series import check_parameters\n\ncheck_parameters()"),
        nbformat.v4.new_code_cell("open('ran', 'w').write(str(image_size))"),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "tiny.ipynb"
    nbformat.write(nb, path)
    first = _summary_first_line(_papermill_error(path, tmp_path, imagesize=32))
    assert first.startswith("ParameterError: unknown parameter 'imagesize': did you mean 'image_size'?")
    first = _summary_first_line(_papermill_error(path, tmp_path, image_size="abc"))
    assert first == "ParameterError: parameter 'image_size' must be of type int like its default 64, got 'abc' (str)"
    assert not (tmp_path / "ran").exists()  # nothing after the check ran


@pytest.mark.slow
def test_plain_papermill_stops_a_real_notebook(tmp_path):
    """The README's path: `papermill 02_encoder.ipynb out.ipynb -p imagesize 64` stops in the setup cell."""
    first = _summary_first_line(_papermill_error(ROOT / "notebooks" / "02_encoder.ipynb", tmp_path, imagesize=64))
    assert first.startswith("ParameterError: unknown parameter 'imagesize': did you mean 'image_size'?")


# ----------------------------------------------------------------------------------------------- profiles
def test_profiles_name_real_parameters_of_the_right_type():
    by_stem = {p.stem: p for p in NOTEBOOKS}
    assert set(series.PROFILES) == {"laptop", "gpu"}
    for name, per_notebook in series.PROFILES.items():
        assert set(per_notebook) - {"*"} <= set(by_stem), f"profile {name} names an unknown notebook"
        for path in NOTEBOOKS:
            series.parameters_for(path, profile=name)  # validated: names and types
    assert series.parameters_for(by_stem["06_training"], profile="gpu")["device"] == "cuda"
    with pytest.raises(series.ParameterError, match="unknown profile 'phone'"):
        series.parameters_for(NOTEBOOKS[0], profile="phone")
