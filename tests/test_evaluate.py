"""facelib.evaluate: scoring on tiny data, the Context Encoder rule, the CLI end to end, clear errors."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from facelib import evaluate as E
from facelib import protocol as P
from facelib.baselines import OpenCVInpainter
from facelib.masks import FILES_PER_BIN
from facelib.metrics import METRICS
from facelib.models import ContextEncoder
from facelib.train import TrainConfig, train

SIZE = 32


def _tiny_data(root: Path, n_faces: int = 12) -> tuple[Path, Path, Path]:
    """faces/, masks/ (NVIDIA-numbered, hole ratio mid-bin) and a manifest for them at SIZE."""
    faces, masks = root / "faces", root / "masks"
    faces.mkdir(parents=True)
    masks.mkdir()
    rng = np.random.default_rng(0)
    names = []
    for i in range(n_faces):
        arr = (rng.random((24, 24, 3)) * 255).astype(np.uint8).repeat(2, 0).repeat(2, 1)  # 48 px, smooth-ish
        names.append(f"{i:02d}.png")
        Image.fromarray(arr).save(faces / names[-1])
    rows = P.build_manifest(names, SIZE)
    for number in {r["mask_id"] for r in rows if r["mask_kind"] == "irregular"}:
        arr = np.zeros((64, 64), np.uint8)
        arr[: round(64 * ((number // FILES_PER_BIN) / 10 + 0.05)), :] = 255
        Image.fromarray(arr, "L").save(masks / f"{number:05d}.png")
    return faces, masks, P.write_manifest(rows, root / "manifest.csv")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval")
    faces, masks, manifest = _tiny_data(root)
    cfg = TrainConfig(data="synthetic", image_size=SIZE, n_synthetic=8, widths=(4, 8, 16), num_residual=1,
                      max_steps=1, batch_size=4, perceptual_weight=0.0, vgg_weights=None, masks="freeform",
                      max_val_images=4, device="cpu", out_dir=str(root / "run"), overwrite=True)
    checkpoint = Path(train(cfg, progress=False, figures=False)["checkpoint"])
    return {"root": root, "faces": faces, "masks": masks, "manifest": manifest, "checkpoint": checkpoint}


class _Constant(torch.nn.Module):
    """Paints every pixel grey (0 in [-1, 1]): a method whose errors are easy to predict."""

    def forward(self, masked, mask):
        return torch.zeros_like(masked)


def test_evaluate_records_and_compositing(tiny):
    rows = P.read_manifest(tiny["manifest"])
    records = E.evaluate_methods({"grey": _Constant(), "telea": OpenCVInpainter("telea")}, rows, tiny["faces"],
                                 tiny["masks"], batch_size=5, per_bin=1, progress=False)
    n = len(P.select_cases(rows, per_bin=1))
    assert len(records) == 2 * n
    assert [r["method"] for r in records] == ["grey"] * n + ["telea"] * n
    assert [r["case_id"] for r in records[:n]] == [r["case_id"] for r in P.select_cases(rows, per_bin=1)]
    for r in records:
        assert set(METRICS) <= set(r) and np.isnan(r["perceptual"])  # no VGG given
        # the output is composited: known pixels are exact, so the whole-image L1 is the hole L1 diluted
        assert r["l1"] == pytest.approx(r["hole_l1"] * r["hole_ratio"], rel=1e-4, abs=1e-7)
        assert r["psnr"] >= r["hole_psnr"] - 1e-4
    centre = [r for r in records if r["kind"] == "center"]
    assert all(r["hole_ratio"] == 0.25 for r in centre)


def test_evaluate_single_method_with_vgg(tiny):
    from facelib.vgg import VGG19Features

    rows = P.select_cases(P.read_manifest(tiny["manifest"]), kinds=["center"], limit=3)
    vgg = VGG19Features(layers=(1, 6), weights=None)
    records = E.evaluate(OpenCVInpainter("ns"), rows, tiny["faces"], vgg=vgg, name="ns", progress=False)
    assert len(records) == 3 and all(r["perceptual"] > 0 for r in records)
    again = E.evaluate(OpenCVInpainter("ns"), rows, tiny["faces"], vgg=vgg, name="ns", progress=False)
    assert records == again  # deterministic


def test_context_encoder_only_on_centre_cases(tiny):
    torch.manual_seed(0)
    ce = ContextEncoder(image_size=SIZE, base=4, bottleneck_channels=16)
    records = E.evaluate(ce, P.read_manifest(tiny["manifest"]), tiny["faces"], tiny["masks"], name="ce",
                         per_bin=1, progress=False)
    assert records and {r["kind"] for r in records} == {"center"}
    with pytest.raises(ValueError, match="built for 64x64"):
        E.supported_kinds(ContextEncoder(image_size=64, base=4, bottleneck_channels=16), SIZE)
    with pytest.raises(ValueError, match="centre square"):
        E.supported_kinds(ContextEncoder(image_size=SIZE, base=4, bottleneck_channels=16, overlap=2), SIZE)


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def test_cli_end_to_end(tiny, tmp_path, capsys):
    out = tmp_path / "results"
    rc = E.main(["--checkpoint", f"tiny={tiny['checkpoint']}", "--baseline", "telea", "--manifest",
                 str(tiny["manifest"]), "--faces", str(tiny["faces"]), "--masks", str(tiny["masks"]),
                 "--per-bin", "1", "--out", str(out), "--vgg-weights", "off", "--n-boot", "50", "--no-progress",
                 "--device", "cpu"])
    assert rc == 0, capsys.readouterr().err
    cases = P.select_cases(P.read_manifest(tiny["manifest"]), per_bin=1)
    groups = P.count_cases(cases)
    kinds = {k for k, _ in groups}
    summary = _read_csv(out / "results.csv")
    assert len(summary) == 2 * (len(groups) + len(kinds)) * len(METRICS)  # methods x (bins + "all") x metrics
    assert {r["method"] for r in summary} == {"tiny", "OpenCV telea"}
    row = next(r for r in summary if r["method"] == "tiny" and r["kind"] == "center" and r["metric"] == "hole_psnr")
    assert int(row["n"]) == groups[("center", P.CENTER_BIN)]
    assert float(row["ci_lo"]) <= float(row["mean"]) <= float(row["ci_hi"])
    assert len(_read_csv(out / "cases.csv")) == 2 * len(cases)
    md = (out / "results.md").read_text()
    for text in ("evaluation size: 32x32", str(tiny["checkpoint"]), "device: CPU", "date: ", "## Hole PSNR",
                 "| tiny |", "| OpenCV telea |", "irregular 0-10% (n=1)", "Centre region", "composited"):
        assert text in md, text


def test_cli_errors(tiny, tmp_path, capsys):
    base = ["--manifest", str(tiny["manifest"]), "--faces", str(tiny["faces"]), "--masks", str(tiny["masks"]),
            "--out", str(tmp_path), "--vgg-weights", "off", "--no-progress", "--per-bin", "1"]
    assert E.main(base + ["--checkpoint", f"x={tmp_path / 'missing.pt'}"]) == 1
    assert "missing.pt not found" in capsys.readouterr().err
    assert E.main(base + ["--checkpoint", str(tiny["checkpoint"]), "--size", "64"]) == 1
    assert "--size 32" in capsys.readouterr().err
    assert E.main(base) == 1
    assert "nothing to evaluate" in capsys.readouterr().err
    no_masks = [a if a != str(tiny["masks"]) else str(tmp_path / "nomasks") for a in base]
    assert E.main(no_masks + ["--baseline", "ns"]) == 1
    assert "nomasks does not exist" in capsys.readouterr().err
    rows = P.read_manifest(tiny["manifest"])
    rows[0]["face"] = "stranger.png"
    other = P.write_manifest(rows, tmp_path / "other.csv")
    args = [a if a != str(tiny["manifest"]) else str(other) for a in base]
    assert E.main(args + ["--baseline", "ns"]) == 1
    assert "stranger.png" in capsys.readouterr().err


def test_add_gives_the_numbers_of_one_run_of_all_methods(tiny, tmp_path, capsys):
    """A method scored later with --add gets the rows a joint run gives it; the earlier rows stay as written."""
    base = ["--manifest", str(tiny["manifest"]), "--faces", str(tiny["faces"]), "--masks", str(tiny["masks"]),
            "--per-bin", "1", "--vgg-weights", "off", "--n-boot", "50", "--no-progress", "--device", "cpu"]
    both, later = tmp_path / "both", tmp_path / "later"
    assert E.main(base + ["--baseline", "telea", "ns", "--out", str(both)]) == 0
    assert E.main(base + ["--baseline", "telea", "--out", str(later)]) == 0
    first_cases = (later / "cases.csv").read_text()
    assert E.main(base + ["--baseline", "ns", "--out", str(later), "--add"]) == 0, capsys.readouterr().err
    assert _read_csv(later / "results.csv") == _read_csv(both / "results.csv")
    assert _read_csv(later / "cases.csv") == _read_csv(both / "cases.csv")
    assert (later / "cases.csv").read_text().startswith(first_cases)  # telea's rows kept byte for byte
    md = (later / "results.md").read_text()
    assert "| OpenCV ns |" in md and "added by a later run (OpenCV ns; python -m facelib.evaluate --add)" in md


def test_add_refuses_what_would_not_join(tiny, tmp_path, capsys):
    base = ["--manifest", str(tiny["manifest"]), "--faces", str(tiny["faces"]), "--masks", str(tiny["masks"]),
            "--vgg-weights", "off", "--n-boot", "20", "--no-progress", "--device", "cpu", "--out", str(tmp_path)]
    assert E.main(base + ["--per-bin", "1", "--baseline", "ns", "--add"]) == 1
    assert "holds no earlier evaluation (missing results.md, results.csv, cases.csv)" in capsys.readouterr().err
    assert E.main(base + ["--per-bin", "1", "--baseline", "telea"]) == 0
    before = {p.name: p.read_text() for p in tmp_path.iterdir()}
    capsys.readouterr()
    assert E.main(base + ["--per-bin", "1", "--baseline", "telea", "--add"]) == 1
    assert "already has OpenCV telea: leave them out" in capsys.readouterr().err
    assert E.main(base + ["--per-bin", "2", "--baseline", "ns", "--add"]) == 1
    assert "this run's 'cases scored' differs" in capsys.readouterr().err
    argv = [a if a != "20" else "30" for a in base]
    assert E.main(argv + ["--per-bin", "1", "--baseline", "ns", "--add"]) == 1
    assert "this run's 'scoring' differs" in capsys.readouterr().err
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == before  # nothing written by a refused run


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu(tiny):
    rows = P.select_cases(P.read_manifest(tiny["manifest"]), kinds=["center"], limit=4)
    cpu = E.evaluate(_Constant(), rows, tiny["faces"], device="cpu", progress=False)
    gpu = E.evaluate(_Constant(), rows, tiny["faces"], device="cuda", progress=False)
    for a, b in zip(cpu, gpu):
        assert a["hole_psnr"] == pytest.approx(b["hole_psnr"], abs=1e-3)


@pytest.mark.realdata
def test_real_utkface_cli(utkface_root, masks_root, tmp_path):
    rc = E.main(["--baseline", "telea", "--faces", str(utkface_root), "--masks", str(masks_root), "--per-bin", "1",
                 "--kinds", "irregular", "center", "--out", str(tmp_path), "--n-boot", "50", "--no-progress",
                 "--device", "cpu"])
    assert rc == 0
    summary = _read_csv(tmp_path / "results.csv")
    psnr = {r["bin"]: float(r["mean"]) for r in summary if r["kind"] == "irregular" and r["metric"] == "hole_psnr"}
    assert len(psnr) == 7 and all(10 < v < 60 for v in psnr.values())
    perceptual = [float(r["mean"]) for r in summary if r["metric"] == "perceptual"]
    assert all(v > 0 for v in perceptual)  # the caffe VGG19 was used


def test_shared_face_features_give_the_same_perceptual_distance():
    """evaluate_methods computes the faces' VGG features once per batch; the distance must not change."""
    from facelib.evaluate.scoring import _score
    from facelib.vgg import VGG19Features

    torch.manual_seed(0)
    vgg = VGG19Features(weights=None).eval()
    image, pred = torch.rand(4, 3, 32, 32) * 2 - 1, torch.rand(4, 3, 32, 32) * 2 - 1
    mask = (torch.rand(4, 1, 32, 32) > 0.5).float()
    direct = _score(pred, image, mask, vgg)["perceptual"]
    shared = _score(pred, image, mask, vgg, vgg(image))["perceptual"]
    assert torch.allclose(direct, shared, rtol=1e-5) and bool((direct > 0).all())


def test_kid_sentence_calls_a_difference_clear_only_beyond_both_spreads():
    from facelib.evaluate import kid_sentence

    gan, gen = {"mean": 0.0021, "std": 0.0030, "n": 100}, {"mean": 0.0027, "std": 0.0028, "n": 100}
    assert kid_sentence("gan", gan, "generator", gen, "center 25%") == (
        "center 25%: KID gan 0.0021 +- 0.0030, generator 0.0027 +- 0.0028 (n=100, 100): gan lower by 0.0006, "
        "within the two spreads (this sample does not separate them)")
    far = {"mean": 0.0723, "std": 0.0079, "n": 100}
    assert kid_sentence("OpenCV ns", far, "generator", gen, "c").endswith(
        "generator lower by 0.0696, more than the two spreads together")
    assert kid_sentence("a", gen, "b", dict(gen), "c").endswith(": a tie")
    assert "a lower by 2.0e-05, within" in kid_sentence("a", {**gen, "mean": 0.00268}, "b", gen, "c")
