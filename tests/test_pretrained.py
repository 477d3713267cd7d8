"""facelib.pretrained: fp16 safetensors weights with a manifest, exported from a training checkpoint."""
from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import torch

from facelib.export import checkpoint_to_weights
from facelib.models import composite, mask_image
from facelib.pretrained import (
    WEIGHTS_FORMAT,
    WeightsIntegrityError,
    WeightsNotFoundError,
    available_weights,
    export_weights,
    load_manifest,
    load_pretrained,
    main,
)
from facelib.train import TrainConfig, load_generator, train


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    """A 2-step training run of a small generator on synthetic faces; returns its last checkpoint."""
    out = tmp_path_factory.mktemp("run")
    cfg = TrainConfig.preset("generator", data="synthetic", n_synthetic=8, image_size=32, batch_size=2,
                             max_steps=2, widths=(8, 16, 32), num_residual=1, vgg_weights=None,
                             max_val_images=2, out_dir=str(out))
    train(cfg, progress=False, figures=False)
    return out / "checkpoints" / "last.pt"


def toy_protocol(tmp_path: Path, manifest_name: str, seed: int) -> tuple[Path, Path]:
    """Four random 32x32 faces and a centre + free-form manifest of them: (faces folder, manifest path)."""
    import numpy as np
    from PIL import Image

    from facelib import protocol as P

    faces = tmp_path / "faces"
    faces.mkdir()
    rng = np.random.default_rng(seed)
    names = [f"{i}.png" for i in range(4)]
    for name in names:
        Image.fromarray((rng.random((32, 32, 3)) * 255).astype(np.uint8)).save(faces / name)
    return faces, P.write_manifest(P.build_manifest(names, 32, kinds=("center", "freeform")), tmp_path / manifest_name)


@pytest.fixture()
def exported(tiny_run, tmp_path) -> Path:
    checkpoint_to_weights(tiny_run, "tiny", tmp_path, command="python -m facelib.train ...",
                          data_note="synthetic faces", device_note="test CPU")
    return tmp_path


def test_export_writes_safetensors_and_a_complete_manifest(tiny_run, exported):
    m = load_manifest("tiny", exported)
    _, config = load_generator(tiny_run)  # the recipe is the run's TrainConfig, read without the training package
    assert m["training"]["preset_config"] == config.to_dict() and m["training"]["masks"] == config.mask_kind
    assert m["training"]["batch_size"] == 2 and m["training"]["start"] == {"from": "scratch"}
    assert m["format"] == WEIGHTS_FORMAT and m["name"] == "tiny" and m["dtype"] == "float16"
    assert m["architecture"] == {"name": "generator", "options": {"widths": [8, 16, 32], "num_residual": 1},
                                 "class": "InpaintingGenerator", "parameters": m["architecture"]["parameters"]}
    assert m["image_size"] == 32
    assert m["training"]["steps"] == 2 and m["training"]["command"] == "python -m facelib.train ..."
    assert m["training"]["preset_config"]["widths"] == [8, 16, 32]
    for f in m["files"]:
        data = (exported / f["path"]).read_bytes()
        assert len(data) == f["bytes"] and len(f["sha256"]) == 64
        # safetensors: an 8-byte little-endian header length, then a JSON header: no pickle opcodes.
        header = json.loads(data[8:8 + int.from_bytes(data[:8], "little")])
        assert header["__metadata__"]["name"] == "tiny"
        assert all(v["dtype"] in ("F16", "I64") for k, v in header.items() if k != "__metadata__")
        with pytest.raises(pickle.UnpicklingError):
            pickle.loads(data)


def test_load_pretrained_matches_the_checkpoint_within_fp16(tiny_run, exported):
    model = load_pretrained("tiny", weights_dir=exported)
    ref, _ = load_generator(tiny_run)
    assert not model.training
    assert all(p.dtype == torch.float32 for p in model.parameters())
    torch.manual_seed(0)
    image = torch.rand(2, 3, 32, 32) * 2 - 1
    mask = (torch.rand(2, 1, 32, 32) > 0.7).float()
    with torch.no_grad():
        a = composite(model(mask_image(image, mask), mask), image, mask)
        b = composite(ref(mask_image(image, mask), mask), image, mask)
    assert (a - b).abs().max() < 2e-2  # fp16 storage: ~3 significant digits per weight


def test_unknown_name_lists_what_exists(exported):
    with pytest.raises(WeightsNotFoundError, match=r"no weights named 'genrator'.*available: tiny"):
        load_pretrained("genrator", weights_dir=exported)
    assert list(available_weights(exported)) == ["tiny"]


def test_empty_folder_says_none_and_how_to_make_some(tmp_path):
    with pytest.raises(WeightsNotFoundError, match=r"available: none\). Train a model"):
        load_pretrained("generator", weights_dir=tmp_path)


def test_altered_file_is_refused(exported):
    f = exported / load_manifest("tiny", exported)["files"][0]["path"]
    data = bytearray(f.read_bytes())
    data[-1] ^= 0xFF
    f.write_bytes(bytes(data))
    with pytest.raises(WeightsIntegrityError, match="sha256 differs"):
        load_pretrained("tiny", weights_dir=exported)


def test_missing_file_is_named(exported):
    f = exported / load_manifest("tiny", exported)["files"][0]["path"]
    f.unlink()
    with pytest.raises(WeightsIntegrityError, match=f"{f.name} is missing"):
        load_pretrained("tiny", weights_dir=exported)


def test_large_models_are_split_into_files_under_the_limit(tmp_path):
    from facelib.models import build_generator

    model = build_generator("generator", widths=(16, 32, 64), num_residual=2)
    limit = 128 * 1024  # a small limit forces several files
    export_weights(model, "split", tmp_path, architecture={"name": "generator",
                   "options": {"widths": [16, 32, 64], "num_residual": 2}}, image_size=32, training={},
                   max_file_bytes=limit)
    files = load_manifest("split", tmp_path)["files"]
    assert len(files) > 1 and all(f["bytes"] <= limit for f in files)
    assert [f["path"] for f in files][0] == f"split-00001-of-{len(files):05d}.safetensors"
    loaded = load_pretrained("split", weights_dir=tmp_path)
    for (k, v), (k2, v2) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert k == k2 and torch.allclose(v.float(), v2.float(), atol=1e-3, rtol=1e-3)


def test_context_encoder_round_trip(tmp_path):
    from facelib.models import build_generator, generator_options

    options = generator_options("context_encoder", 32, (8, 16, 32), 2)
    model = build_generator("context_encoder", **options).eval()
    export_weights(model, "ce", tmp_path, architecture={"name": "context_encoder", "options": options},
                   image_size=32, training={})
    loaded = load_pretrained("ce", weights_dir=tmp_path)
    assert loaded.image_size == 32 and loaded.hole_size == 16


def test_cli_lists_and_exports(tiny_run, tmp_path, capsys):
    """``python -m facelib.pretrained list`` lists, ``python -m facelib.export`` writes (pretrained has no export)."""
    from facelib.export import main as export_main

    assert main(["list", "--weights-dir", str(tmp_path)]) == 0
    assert "no weights in" in capsys.readouterr().out
    assert export_main(["--checkpoint", str(tiny_run), "--name", "cli", "--weights-dir", str(tmp_path)]) == 0
    assert main(["list", "--weights-dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("cli ")
    assert export_main(["--checkpoint", str(tmp_path / "nope.pt"), "--name", "x",
                        "--weights-dir", str(tmp_path)]) == 1
    assert "checkpoint" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["export", "--checkpoint", str(tiny_run), "--name", "x", "--weights-dir", str(tmp_path)])


def test_package_exposes_load_pretrained_lazily():
    import facelib
    import facelib.pretrained as P

    assert facelib.load_pretrained is P.load_pretrained and facelib.load_manifest is P.load_manifest
    with pytest.raises(AttributeError, match="no attribute 'load_pretrainde'"):
        facelib.load_pretrainde  # noqa: B018 (a misspelt name must fail loudly)


def test_evaluate_scores_committed_weights_like_their_model(exported, tmp_path, capsys):
    """``python -m facelib.evaluate --pretrained NAME`` scores the fp16 weights, and says which files it used."""
    import csv

    from facelib import evaluate as E
    from facelib import protocol as P

    faces, manifest = toy_protocol(tmp_path, "m.csv", seed=0)
    common = ["--manifest", str(manifest), "--faces", str(faces), "--out", str(tmp_path / "r"), "--vgg-weights",
              "off", "--n-boot", "20", "--no-progress", "--device", "cpu"]
    assert E.main(["--pretrained", "tiny", "--weights-dir", str(exported), *common]) == 0, capsys.readouterr().err
    md = (tmp_path / "r" / "results.md").read_text()
    digest = load_manifest("tiny", exported)["files"][0]["sha256"][:12]
    assert f"weights tiny (InpaintingGenerator, fp16 safetensors sha256 {digest}" in md
    with open(tmp_path / "r" / "cases.csv") as f:
        scored = [float(r["hole_psnr"]) for r in csv.DictReader(f)]
    # The same cases scored directly with the loaded model give the same numbers.
    model = load_pretrained("tiny", weights_dir=exported)
    direct = E.evaluate_methods({"tiny": model}, P.ProtocolDataset(P.read_manifest(manifest), faces), progress=False)
    assert scored == pytest.approx([r["hole_psnr"] for r in direct], abs=1e-4)
    # Wrong size and unknown name: one clear line each.
    assert E.main(["--pretrained", "tiny", "--weights-dir", str(exported), "--size", "64", *common]) == 1
    assert "were trained at 32x32 but the evaluation is at 64x64" in capsys.readouterr().err
    assert E.main(["--pretrained", "nope", "--weights-dir", str(exported), *common]) == 1
    assert "no weights named 'nope'" in capsys.readouterr().err


def test_record_writes_the_one_results_layout_that_readers_use(exported, tmp_path, capsys):
    """``facelib.evaluate --record`` stores each model's numbers under ``results['<protocol>_<size>']`` in the
    layout of ``manifest_results``; ``protocol_results`` and ``headline`` read it back; other keys survive."""
    from facelib import evaluate as E
    from facelib.pretrained import protocol_results, update_results
    from facelib.report import headline

    faces, manifest = toy_protocol(tmp_path, "toy_32.csv", seed=1)
    update_results("tiny", "other_64", {"evaluated_at": 64, "hole_psnr": {}}, exported)
    args = ["--pretrained", "tiny", "--weights-dir", str(exported), "--manifest", str(manifest), "--faces",
            str(faces), "--out", str(tmp_path / "r"), "--vgg-weights", "off", "--n-boot", "20", "--no-progress",
            "--device", "cpu", "--baseline", "telea"]
    assert E.main([*args, "--record"]) == 0, capsys.readouterr().err
    results = load_manifest("tiny", exported)["results"]
    assert set(results) == {"other_64", "toy_32"}
    entry = protocol_results(load_manifest("tiny", exported), "toy")
    assert entry["evaluated_at"] == 32 and entry["cases"] == 8
    assert any(line.startswith("command: python -m facelib.evaluate") for line in entry["header"])
    assert set(entry) >= {"hole_psnr", "hole_l1", "ssim"} and "perceptual" not in entry  # no VGG19 this time
    assert list(headline(entry)) == ["center 25%", "freeform all"]
    assert entry["hole_psnr"]["center 25%"]["n"] == 4
    # The numbers are the evaluation's own: the same as its results.csv.
    from facelib.report import read_results
    table = read_results(tmp_path / "r" / "results.csv")
    assert entry["hole_psnr"]["center 25%"]["mean"] == pytest.approx(table[("tiny", "center", "25%", "hole_psnr")]["mean"])
    # A baseline has no manifest; --record without --pretrained is one clear line.
    assert E.main([a for a in args if a not in ("--pretrained", "tiny")] + ["--record"]) == 1
    assert "--record stores numbers in weights manifests" in capsys.readouterr().err
    with pytest.raises(ValueError, match="not in the manifest layout"):
        update_results("tiny", "bad_64", {"mean": 1.0}, exported)


def test_protocol_results_prefers_the_model_size():
    from facelib.pretrained import protocol_results

    m = {"image_size": 64, "results": {"utkface_val_128": {"evaluated_at": 128, "hole_psnr": {"a": 1}},
                                       "utkface_val_64": {"evaluated_at": 64, "hole_psnr": {"a": 2}},
                                       "celeba_hq_sample_64": {"evaluated_at": 64, "hole_psnr": {"a": 3}}}}
    assert protocol_results(m)["hole_psnr"] == {"a": 2}
    assert protocol_results(m, size=128)["hole_psnr"] == {"a": 1}
    assert protocol_results(m, "celeba_hq_sample")["hole_psnr"] == {"a": 3}
    assert protocol_results({"results": {}}) == {}


def test_a_continued_run_states_its_whole_budget_and_start(tiny_run, tmp_path, monkeypatch):
    """Weights trained on from other committed weights (init_from) count the earlier epochs in their budget and
    per-epoch table, and name their start with its sha256; a fresh run says it started from scratch."""
    base_dir = tmp_path / "w"
    checkpoint_to_weights(tiny_run, "base", base_dir, command="python -m facelib.train ...")
    base = load_manifest("base", base_dir)
    assert base["training"]["start"] == {"from": "scratch"}
    assert base["training"]["images_seen"] == base["training"]["steps"] * base["training"]["batch_size"]
    monkeypatch.setenv("FACELIB_WEIGHTS", str(base_dir))
    out = tmp_path / "cont"
    cfg = TrainConfig.preset("generator", data="synthetic", n_synthetic=8, image_size=32, batch_size=2,
                             epochs=1, widths=(8, 16, 32), num_residual=1, vgg_weights=None,
                             max_val_images=2, out_dir=str(out), init_from="base")  # one whole epoch: a history row
    train(cfg, progress=False, figures=False)
    checkpoint_to_weights(out / "checkpoints" / "last.pt", "cont", tmp_path / "w2")
    t = load_manifest("cont", tmp_path / "w2")["training"]
    assert t["start"]["from"] == "weights" and t["start"]["weights"] == "base"
    assert t["start"]["sha256"] == [f["sha256"] for f in base["files"]]
    assert t["start"]["steps"] == base["training"]["steps"] and "fresh" in t["start"]["optimiser"]
    own = t["this_run"]["steps"]
    assert own >= 1 and t["this_run"]["epochs"] == 1 and t["steps"] == base["training"]["steps"] + own
    assert t["images_seen"] == base["training"]["images_seen"] + own * 2
    assert t["epochs"] == base["training"]["epochs"] + t["this_run"]["epochs"]
    n_base = len(base["training"]["history"])
    assert [r.get("run") for r in t["history"][:n_base]] == ["base"] * n_base
    assert [r["epoch"] for r in t["history"][n_base:]] == [base["training"]["epochs"] + r
                                                            for r in range(1, len(t["history"]) - n_base + 1)]
    # global_step counts the steps behind the weights, as in a run that never stopped
    assert t["history"][-1]["global_step"] == t["steps"]
    steps = [r["global_step"] for r in t["history"]]
    assert steps == sorted(steps) and steps[n_base] > base["training"]["steps"]


def test_committed_weights_describe_themselves():
    from facelib.budget import budget, budget_line
    from facelib.pretrained import DEFAULT, get_weights, load_manifest, protocol_results
    from facelib.recipe import load_recipe
    from facelib.report import headline

    w = get_weights("default")
    manifest = load_manifest(DEFAULT)
    assert w.name == DEFAULT and w.meta["parameters"] == manifest["architecture"]["parameters"] > 0
    # the recipe of the run that wrote these weights (the 10-epoch generator: generator_cont, epochs 7-10)
    assert load_recipe(Path(w.meta["recipe"]).stem).weights == DEFAULT
    assert budget_line(budget(w.manifest)).startswith(DEFAULT)
    assert w.meta["budget"]["epochs"] == manifest["training"]["epochs"] and w.meta["budget"]["steps"] == manifest["training"]["steps"] > 0
    assert w.results() == protocol_results(manifest) and w.headline() == headline(protocol_results(manifest))
    assert w.headline()["center 25%"]["n"] > 0


def test_committed_weights_folder_keeps_the_repository_limits():
    """weights/ holds only what its manifests list, every file at most 15 MiB and at most 120 MB in all (the
    project's rule for what git carries), and each listed file has the size its manifest records."""
    from facelib.pretrained import MAX_FILE_BYTES

    folder = Path(__file__).resolve().parents[1] / "weights"
    listed = {f["path"]: f["bytes"] for manifest in available_weights(folder).values() for f in manifest["files"]}
    tensors = {p.name: p.stat().st_size for p in folder.glob("*.safetensors")}
    assert tensors == listed, f"weights/ and its manifests disagree: {sorted(set(tensors) ^ set(listed))}"
    assert max(tensors.values()) <= MAX_FILE_BYTES
    assert sum(tensors.values()) <= 120_000_000, f"weights/ holds {sum(tensors.values()) / 1e6:.1f} MB"


def _readme_rows(heading: str) -> tuple[list[str], dict[str, list[str]]]:
    """The header groups and the rows ``{method: cells}`` of the first README table after ``heading``."""
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    lines = text[text.index(heading):].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| method |"))
    header = [c.strip() for c in lines[start].strip("|").split("|")][1:]
    rows = {}
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0]] = cells[1:]
    return header, rows


def test_readme_hole_psnr_table_is_what_the_committed_manifests_say():
    """Every committed network's row of the README's 6,000-case hole PSNR table is read from its manifest
    (``get_weights(name).headline``, written by ``facelib.evaluate --record``): a README that drifts from the
    weights fails here."""
    from facelib.pretrained import available_weights, get_weights

    header, rows = _readme_rows("Hole PSNR in dB, mean and 95% bootstrap")
    checked = 0
    for name in available_weights():
        groups = get_weights(name).headline(size=64)
        if not groups:
            continue
        assert name in rows, f"README's hole PSNR table has no row for the committed weights {name!r}"
        want = [f"{g['mean']:.2f} ({g['ci_lo']:.2f}-{g['ci_hi']:.2f})" if (g := groups.get(col)) else "n/a"
                for col in header]
        assert rows[name] == want, f"README row {name!r} differs from weights/{name}.json: rerun the report"
        checked += 1
    assert checked >= 1
