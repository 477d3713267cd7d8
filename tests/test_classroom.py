"""experiments/classroom.py: the classroom recipe is a valid training command, and the report says the numbers."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from facelib import protocol as P
from facelib.train import config_from_args

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def classroom():
    spec = importlib.util.spec_from_file_location("classroom", ROOT / "experiments" / "classroom.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("model", ["generator", "generator_cont", "gated", "gan", "gmcnn", "context_encoder"])
def test_training_commands_parse_into_the_recipe(classroom, model, tmp_path, monkeypatch):
    monkeypatch.setenv("FACELIB_UTKFACE", str(tmp_path))
    monkeypatch.setenv("FACELIB_MASKS", str(tmp_path))
    cmd = classroom.train_command(model)
    assert cmd[1:3] == ["-m", "facelib.train"] and cmd[-1] == "--resume"
    config, _ = config_from_args(cmd[3:])
    assert (config.image_size, config.batch_size, config.amp, config.channels_last, config.gpu_cache) == \
        (64, 16, "bf16", True, True)
    assert config.data == str(tmp_path) and config.mask_root == str(tmp_path) and config.device == "cpu"
    assert config.out_dir.endswith(f"runs/classroom/{classroom.MODELS[model].run}") and config.save_epoch_checkpoints
    # The ablation and the control arm start from the same committed weights; the others from scratch.
    assert config.init_from == ("generator" if model in ("generator_cont", "gan") else None)
    assert config.epochs == classroom.MODELS[model].config["epochs"]
    assert config == classroom.MODELS[model].train_config(data=str(tmp_path), mask_root=str(tmp_path),
                                                          out_dir=config.out_dir, resume=True)
    preset = classroom.MODELS[model].preset
    assert classroom.printable(cmd).startswith(f"python -m facelib.train --model {preset} ")


def test_every_committed_manifest_names_the_recipe_that_trained_it():
    from facelib.pretrained import available_weights
    from facelib.recipe import load_recipe

    for name, manifest in available_weights().items():
        recipe = load_recipe(Path(manifest["training"]["recipe"]).stem)
        assert recipe.weights == name and recipe.train_config().model == manifest["architecture"]["name"]
        assert recipe.config["epochs"] == manifest["training"]["planned_epochs"], name
        assert recipe.config.get("init_from") == manifest["training"]["init_from"], name


def _results(hole: dict[str, float], perc: dict[str, float]) -> dict:
    out = {}
    for method in hole:
        for kind, b in [*((k, b) for k, b in P.count_cases(P.read_manifest(P.UTKFACE_MANIFEST))), ("freeform", "all")]:
            if kind != "center" and method == "context_encoder":
                continue
            for metric, value in (("hole_psnr", hole[method]), ("perceptual", perc[method])):
                out[(method, kind, b, metric)] = {"mean": value, "ci_lo": value - 1, "ci_hi": value + 1, "n": 10}
    return out


def test_goal_check_states_each_group_with_its_numbers(classroom):
    res = _results({"generator": 24.0, "OpenCV telea": 22.5, "OpenCV ns": 23.5, "context_encoder": 23.0},
                   {"generator": 40.0, "OpenCV telea": 60.0, "OpenCV ns": 55.0, "context_encoder": 50.0})
    lines = classroom.goal_check(res)
    assert len(lines) == len(classroom.GROUPS)  # the Context Encoder is judged at equal epochs, not here
    # +0.5 dB is enough in the 0-10% bin (goal: ahead) but not from 10% up (goal: at least 1 dB ahead).
    assert lines[0] == ("- irregular 0-10%: hole PSNR 24.00 vs the better OpenCV 23.50 dB (+0.50, goal > +0); "
                        "perceptual 40.0 vs 55.0: met")
    assert lines[1].endswith("goal > +1); perceptual 40.0 vs 55.0: NOT met")
    line = classroom.centre_check(res, 6)
    assert line.startswith("- centre square, both after 6 epochs from scratch on the same 21,708 faces: generator "
                           "is ahead of context_encoder by 1.00 dB (the 95% intervals overlap")


@pytest.mark.realdata
def test_committed_celeba_sample_manifest_equals_a_fresh_build(celeba_root, classroom):
    fresh = P.manifest_text(P.build_manifest(P.list_faces(celeba_root), 128))
    assert classroom.CELEBA_MANIFEST.read_bytes() == fresh.encode("utf-8")


def test_a_misspelt_recipe_field_is_one_line_naming_the_file(tmp_path):
    from facelib.recipe import config_flags, load_recipe

    (tmp_path / "base.json").write_text('{"config": {"image_size": 64, "gpu_cache": true}}')
    (tmp_path / "good.json").write_text('{"preset": "gan", "base": "base", "config": {"epochs": 2, "init_from": null}}')
    recipe = load_recipe("good", tmp_path)
    assert recipe.config == {"image_size": 64, "gpu_cache": True, "epochs": 2, "init_from": None}
    assert recipe.weights == "gan" and recipe.train_config().adversarial == "hinge"
    assert config_flags(recipe.config) == ["--image-size", "64", "--epochs", "2", "--gpu-cache"]
    (tmp_path / "bad.json").write_text('{"preset": "gan", "config": {"epoch": 2}}')
    with pytest.raises(ValueError, match=r"bad\.json: \['epoch'\] are not TrainConfig fields") as info:
        load_recipe("bad", tmp_path)
    assert "\n" not in str(info.value)
    (tmp_path / "odd.json").write_text('{"preset": "gan", "epochs": 2}')
    with pytest.raises(ValueError, match=r"odd\.json: unknown keys \['epochs'\]"):
        load_recipe("odd", tmp_path)
    with pytest.raises(FileNotFoundError, match="the recipes are: bad, base, good, odd"):
        load_recipe("missing", tmp_path)


def test_the_gan_export_records_its_pilot(classroom, tmp_path):
    """Issue 21: the GAN's adversarial weight was picked by a pilot, and its manifest records it: every arm's final
    validation losses, the rule and the choice (here from fake arms: the control and two weights)."""
    import json

    def arm(weight: str, pixel: float, perceptual: float) -> None:
        folder = tmp_path / "pilot" / classroom.pilot_arm(weight)
        folder.mkdir(parents=True)
        row = {"global_step": 150, "val_pixel": pixel, "val_perceptual": perceptual}
        (folder / "history.json").write_text(json.dumps({"history": [row]}), encoding="utf-8")

    arm("0", 0.1288, 42.19)
    arm("0.01", 0.1280, 40.96)
    arm("0.03", 0.1400, 39.00)  # the best perceptual, but its pixel loss is over 1% above the control's
    record = classroom.PILOTS["gan"](tmp_path / "pilot")
    assert record["arms"]["0.01"]["val_perceptual"] == 40.96 and record["arms"]["0.003"] == "not run"
    assert "adversarial weight 0.01 (val perceptual 40.96 vs the control's 42.19)" in record["choice"]
    assert record["report"] == "results/gan-pilot/pilot.md" and "--max-steps 150" in record["flags"]


def test_evaluate_add_scores_only_the_new_model_into_the_same_tables(classroom, tmp_path, monkeypatch):
    """``evaluate --add``: the new model alone, no OpenCV rerun, no --overwrite, into both committed folders."""
    import facelib.evaluate

    calls = []
    monkeypatch.setattr(facelib.evaluate, "main", lambda argv: calls.append(list(argv)) or 0)
    for name in ("FACELIB_UTKFACE", "FACELIB_MASKS", "FACELIB_CELEBA_HQ"):
        monkeypatch.setenv(name, str(tmp_path))
    classroom.evaluate(["gmcnn"], tmp_path / "classroom-64", add=True)
    assert [argv[argv.index("--out") + 1] for argv in calls] == [str(tmp_path / "classroom-64"),
                                                                   str(tmp_path / "classroom-64-celeba")]
    for argv in calls:
        assert "--add" in argv and "--baseline" not in argv and "--overwrite" not in argv
        assert argv[argv.index("--pretrained") + 1:argv.index("--pretrained") + 2] == ["gmcnn"]
    calls.clear()
    classroom.evaluate(["gmcnn"], tmp_path / "classroom-64")
    assert all("--baseline" in argv and "--overwrite" in argv and "--add" not in argv for argv in calls)


def test_committed_control_is_what_the_control_stage_writes_from_history(classroom, tmp_path):
    """results/controls/generator-6-epochs.json: the 6-epoch flagship's manifest from git history, written only
    after its protocol run is checked to join today's tables (same settings, the same OpenCV rows)."""
    import json
    import subprocess

    from facelib.budget import load_control

    if subprocess.run(["git", "-C", str(ROOT), "cat-file", "-e", f"{classroom.CONTROL_COMMIT}^{{commit}}"],
                      capture_output=True).returncode != 0:
        pytest.skip(f"needs the repository's history (commit {classroom.CONTROL_COMMIT})")
    fresh = json.loads(classroom.control(out=tmp_path).read_text())
    committed = load_control("generator", 6)
    assert committed == fresh
    assert committed["training"]["epochs"] == 6 and committed["results"]["utkface_val_64"]["cases"] == 6000
    assert all("OpenCV rows of results.csv equal" in line for line in committed["control"]["checked"])


def test_train_stage_becomes_the_training_process(classroom, tmp_path, monkeypatch):
    """``classroom.py train NAME`` replaces itself with the trainer (os.execv): a SIGTERM sent to the PID that was
    started reaches the trainer, which checkpoints and stops, instead of killing a parent and orphaning the run."""
    import os

    for name in ("FACELIB_UTKFACE", "FACELIB_MASKS"):
        monkeypatch.setenv(name, str(tmp_path))
    calls = []
    monkeypatch.setattr(os, "execv", lambda path, argv: calls.append((path, list(argv))))
    monkeypatch.setattr(os, "chdir", lambda path: calls.append(("chdir", path)))
    classroom.main(["train", "gmcnn"])
    assert calls[0] == ("chdir", ROOT)
    path, argv = calls[1]
    assert path == argv[0] and argv == classroom.train_command("gmcnn") and "--resume" in argv


def test_readme_results_tables_are_the_committed_summary(classroom, tmp_path):
    """``report --readme`` on the committed summary.md changes nothing in the committed README: its five
    whole-protocol tables are the report's, number for number."""
    readme = tmp_path / "README.md"
    readme.write_text((ROOT / "README.md").read_text(encoding="utf-8"), encoding="utf-8")
    classroom.readme_tables(ROOT / "results" / "classroom-64" / "summary.md", readme)
    assert readme.read_text(encoding="utf-8") == (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_tables_replaces_the_tables_and_keeps_the_prose(classroom, tmp_path):
    start, end = classroom.README_SECTION
    titles = ["Hole PSNR (dB)", "VGG19 perceptual distance", "Realism: KID (x)", "Realism: FID (y)", "Identity",
              "Cross-dataset: CelebA"]
    summary = tmp_path / "summary.md"
    summary.write_text("# S\n\n" + "\n\n".join(f"## {t}\n\n| method | a |\n| --- | ---: |\n| m | {i}.5 |"
                                               for i, t in enumerate(titles)) + "\n", encoding="utf-8")
    old = "\n\n".join(f"prose {i}\n\n| method | a |\n| --- | ---: |\n| m | old {i} |" for i in range(5))
    readme = tmp_path / "README.md"
    readme.write_text(f"# R\n\n| keep | me |\n\n{start}\n\n{old}\n\nafter\n\n{end}\n\n| keep | too |\n", encoding="utf-8")
    text = classroom.readme_tables(summary, readme).read_text(encoding="utf-8")
    assert [line for line in text.splitlines() if line.startswith("| m |")] == \
        ["| m | 0.5 |", "| m | 1.5 |", "| m | 2.5 |", "| m | 3.5 |", "| m | 5.5 |"]    # identity's table is not shown
    assert "| keep | me |" in text and "| keep | too |" in text and "prose 4" in text and "after" in text
    readme.write_text(f"# R\n\n{start}\n\n| only | one |\n\n{end}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="holds 1 tables, the report 5"):
        classroom.readme_tables(summary, readme)
    summary.write_text("# S\n\n## Hole PSNR\n\n| a |\n", encoding="utf-8")
    with pytest.raises(ValueError, match="0 sections titled 'VGG19 perceptual'"):
        classroom.readme_tables(summary, readme)
