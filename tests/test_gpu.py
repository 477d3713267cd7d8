"""The GPU campaign (gpu/) at its --tiny sizes on the CPU: the data pack, both device calls under a device budget
given as parameters, the return limits, facelib.evaluate --record's results in the weights manifests, the unpack
into a repository, and the plan's device invocations."""
from __future__ import annotations

import dataclasses
import gzip
import json
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from facelib.train import TrainConfig
from gpu import campaign as gc
from gpu import datapack
from gpu.budget import MiB, DeviceBudget
from gpu.collect import END, START

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow
#: The training stages set TrainConfig.max_minutes (facelib.train's time limit).
needs_max_minutes = pytest.mark.skipif("max_minutes" not in {f.name for f in dataclasses.fields(TrainConfig)},
                                       reason="needs TrainConfig.max_minutes (facelib.train's time limit)")
#: A budget other than the defaults: the calls must follow it, not today's 15 minutes.
BUDGET = DeviceBudget(device_minutes=12, command_minutes=6, files_back=7, total_mib=60)


def _face(rng: np.random.Generator, size: int = 40) -> Image.Image:
    """A smooth random image (compresses like a photo, unlike noise)."""
    small = rng.integers(0, 256, (5, 5, 3), dtype=np.uint8)
    return Image.fromarray(small).resize((size, size), Image.BICUBIC)


@pytest.fixture(scope="module")
def fake_data(tmp_path_factory) -> dict[str, Path]:
    """A UTKFace folder (the 2,000 committed val names + 32 train faces), NVIDIA-style masks (the numbers the tiny
    run needs) and a CelebA-HQ-style folder of 4 faces: tiny images, so the pack builds in seconds."""
    from facelib.data import read_split_file
    from facelib.protocol import build_manifest

    root = tmp_path_factory.mktemp("fake")
    rng = np.random.default_rng(0)
    utk = root / "utkface"
    utk.mkdir()
    names = read_split_file(REPO / "data" / "splits" / "utkface_val.txt")
    names += [f"{20 + i}_{i % 2}_0_2017010100000{i:04d}.jpg.chip.jpg" for i in range(32)]
    for name in names:
        _face(rng).save(utk / name, "JPEG", quality=90)
    celeba = root / "celeba"
    celeba_names = [f"{split}/{g}/{i:06d}.jpg" for i, (split, g) in
                    enumerate([("train", "female"), ("train", "male"), ("val", "female"), ("val", "male")])]
    for name in celeba_names:
        (celeba / name).parent.mkdir(parents=True, exist_ok=True)
        _face(rng, 64).save(celeba / name, "JPEG")
    masks = root / "masks"
    masks.mkdir()
    ids = set(datapack.tiny_mask_ids(REPO / "data" / "protocol" / "utkface_val_128.csv")) | set(range(4))
    stored = [str(Path(n).with_suffix(".png")) for n in celeba_names]
    ids |= {int(r["mask_id"]) for r in build_manifest(stored, 32) if r["mask_kind"] == "irregular"}
    for i in sorted(ids):
        m = np.zeros((64, 64), np.uint8)
        rows = round(64 * (i // 2000 / 10 + 0.05))  # the middle of the file's NVIDIA bin, as NVIDIA's lie in theirs
        y = int(rng.integers(0, 64 - rows + 1))
        m[y:y + rows, :] = 255
        Image.fromarray(m).save(masks / f"{i:05d}.png")
    return {"utkface": utk, "masks": masks, "celeba": celeba}


@pytest.fixture(scope="module")
def tiny_pack(fake_data, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pack") / ".devpack"
    # carry_mib: room for the tiny pack whatever the repository's own size (these tests check the pack and the
    # calls; the real build's travel budget is checked by `python -m gpu.datapack build`, which says when the
    # tracked files alone leave no room)
    datapack.build(out, fake_data["utkface"], fake_data["masks"], fake_data["celeba"], size=32, tiny=True,
                   n_train=32, wheels=False, log=lambda s: None, carry_mib=1024)
    return out


@pytest.fixture(scope="module")
def returned(tiny_pack, tmp_path_factory) -> dict[str, Path]:
    """Both calls at the tiny profile under :data:`BUDGET`, each into its own $OUT (as the device returns them)."""
    if "max_minutes" not in {f.name for f in dataclasses.fields(TrainConfig)}:
        pytest.skip("needs TrainConfig.max_minutes (facelib.train's time limit)")
    outs = {}
    for call in ("call1", "call2"):
        outs[call] = tmp_path_factory.mktemp(call)
        t0 = time.monotonic()
        gc.run_call(call, gc.TINY, outs[call], tiny_pack, tmp_path_factory.mktemp(f"work-{call}"), BUDGET, "test",
                    call)
        print(f"{call} --tiny: {time.monotonic() - t0:.1f} s")
    return outs


def test_pack_round_trip(tiny_pack, tmp_path):
    pack = datapack.load_pack(tiny_pack)
    assert pack["counts"]["train"] == 32 and pack["counts"]["val"] == 2000 and pack["counts"]["celeba"] == 4
    assert 25 < pack["encoding_cost"]["val"]["psnr_mean_db"] < 80  # lossy, measured against the original
    assert pack["encoding_cost"]["celeba"]["psnr_mean_db"] == float("inf")  # PNG: lossless
    assert "MiB for the pack" in datapack.describe(pack)
    paths = datapack.unpack(tiny_pack, tmp_path / "data", log=lambda s: None)
    from facelib.data import UTKFace
    from facelib.mask_io import read_mask_array

    val = UTKFace(paths["utkface"], split="val", size=32)  # the committed split finds every val face
    with gzip.open(tiny_pack / "index.json.gz", "rt") as f:
        first_len = json.load(f)["val"]["lengths"][0]
    decoded = datapack.decode_face((tiny_pack / "faces_val.cat").read_bytes()[:first_len])
    assert np.array_equal(datapack.face_pixels(val, 0), decoded)  # training reads exactly the decoded pixels
    # Masks come back bit-exact: what facelib.masks reads from the original at 32x32.
    mask = np.asarray(Image.open(paths["masks"] / "00000.png")) > 127
    original = read_mask_array(Path(pack["sources"]["masks"]) / "00000.png", 32, 127)
    assert np.array_equal(mask, original)


def test_pack_detects_a_corrupt_file(tiny_pack, tmp_path):
    bad = tmp_path / "pack"
    bad.mkdir()
    for p in tiny_pack.iterdir():
        if p.is_file():
            (bad / p.name).write_bytes(p.read_bytes())
    (bad / "masks.bits.xz").write_bytes(b"oops")
    with pytest.raises(ValueError, match="sha256"):
        datapack.unpack(bad, tmp_path / "data", log=lambda s: None)


def test_budget_parameters_set_the_call_and_stage_seconds():
    today, more = gc.call_seconds(DeviceBudget()), gc.call_seconds(DeviceBudget(device_minutes=30))
    assert sum(today.values()) < sum(more.values())  # more device time: longer stages
    assert all(s <= 10 * 60 - DeviceBudget().slack_s for s in more.values())  # never past one command
    short = gc.call_seconds(DeviceBudget(command_minutes=4))
    assert max(short.values()) == pytest.approx(4 * 60 - DeviceBudget().slack_s)
    b = DeviceBudget()
    overhead = b.start_s + len(today) * (b.transfer_s + b.slack_s)
    assert sum(today.values()) + overhead == pytest.approx(15 * 60)  # the whole device time, not more
    with pytest.raises(ValueError, match="device-minutes"):
        gc.call_seconds(DeviceBudget(device_minutes=2))
    with pytest.raises(ValueError, match="--files-back"):
        DeviceBudget(files_back=0)


def _weights(folder: Path, name: str, shards: list[int]) -> None:
    files = []
    for i, n in enumerate(shards):
        (folder / f"{name}-{i}.safetensors").write_bytes(b"x" * n)
        files.append({"path": f"{name}-{i}.safetensors"})
    (folder / f"{name}.json").write_text(json.dumps({"files": files}))


def test_publish_honours_the_return_limits(tmp_path):
    work = tmp_path / "work"
    (work / "stage").mkdir(parents=True)
    (work / "weights").mkdir()
    (work / "stage" / "campaign.json").write_text("{}")
    _weights(work / "weights", "generator_32", [MiB // 2, MiB // 2])
    _weights(work / "weights", "gan_32", [MiB])
    roomy = gc.publish("call1", work, tmp_path / "a", ("generator",), DeviceBudget())
    assert roomy["weights_returned"] == ["generator", "gan"]
    tight = gc.publish("call1", work, tmp_path / "b", ("generator",), DeviceBudget(files_back=4, total_mib=64))
    assert tight["weights_returned"] == ["generator"] and tight["weights_left_out"] == ["gan"]
    assert len(list((tmp_path / "b").iterdir())) <= 4 - 1  # one file is kept for the call's log
    with pytest.raises(ValueError, match="do not fit"):
        gc.publish("call1", work, tmp_path / "c", ("generator",), DeviceBudget(file_mib=0.25))


def test_calls_return_within_the_device_limits(returned):
    for call, out in returned.items():
        files = [p for p in out.iterdir() if p.is_file()]
        assert 1 <= len(files) <= BUDGET.files_back - 1  # the device command's log is the last one
        assert sum(p.stat().st_size for p in files) <= (BUDGET.total_mib - 2) * MiB
        with tarfile.open(out / f"{call}-results.tar.gz") as tar:
            names = tar.getnames()
            summary = json.load(tar.extractfile(f"{call}/campaign.json"))
            manifests = {m: json.load(tar.extractfile(f"{call}/weights/{m}_32.json")) for m in gc.CALL_MODELS[call]}
        assert summary["budget_s"] == pytest.approx(gc.call_seconds(BUDGET)[call], abs=0.1)
        for name in ("eval_utkface/results.csv", "eval_utkface/cases.csv", "eval_celeba/results.md", "samples.png"):
            assert f"{call}/{name}" in names, name
        assert all("wall_s" in s for s in summary["stages"])
        train_stages = {s["stage"]: s for s in summary["stages"] if s["stage"].startswith("train ")}
        for model, manifest in manifests.items():
            assert f"{call}/runs/{model}/history.json" in names
            # The time limit reached facelib.train: within the stage's share of this budget.
            share = train_stages[f"train {model}"]["budget_s"]
            assert 0 < manifest["training"]["max_minutes"] * 60 <= share
            # The one results layout, written by facelib.evaluate --record on the device.
            entry = manifest["results"]["utkface_val_32"]
            assert entry["manifest"] == "data/protocol/utkface_val_128.csv" and entry["evaluated_at"] == 32
            assert entry["cases"] > 0 and "facelib.evaluate" in " ".join(entry["header"])
            assert entry["hole_psnr"]["center 25%"]["n"] >= 1
    call1 = json.load(tarfile.open(returned["call1"] / "call1-results.tar.gz").extractfile("call1/campaign.json"))
    assert {s["stage"]: s.get("status") for s in call1["stages"]}["benchmark 256x256"] == "ok"
    assert list(returned["call1"].glob("generator_32*.safetensors"))  # the flagship's shards came back


def test_unpack_writes_weights_results_figures_and_readme(returned, tmp_path):
    from facelib.pretrained import load_manifest, load_pretrained
    from gpu.collect import collect

    (tmp_path / "README.md").write_text(f"# x\n\n{START}\nnot run yet\n{END}\n\nrest\n")
    report = collect([returned["call1"], returned["call2"]], tmp_path)
    assert "weights/generator_32.json" in report
    net = load_pretrained("generator_32", weights_dir=tmp_path / "weights")
    assert sum(p.numel() for p in net.parameters()) > 0
    assert "utkface_val_32" in load_manifest("generator_32", tmp_path / "weights")["results"]
    assert not list((tmp_path / "weights").glob("gan_*"))  # only the flagship is committed
    results = tmp_path / "results" / "utkface-gpu"
    for name in ("call1/results.md", "call2/results.csv", "call2/cases.csv.gz", "fp16_check.md", "speed.md",
                 "histories/generator.csv"):
        assert (results / name).is_file(), name
    with gzip.open(results / "call2" / "cases.csv.gz", "rt") as f:
        assert f.readline().startswith("method,case_id")
    assert (tmp_path / "results" / "celeba-hq-sample-gpu" / "call1" / "results.md").is_file()
    for fig in ("loss_curves", "hole_psnr_by_bin", "samples_call1", "samples_call2"):
        assert (tmp_path / "figures" / f"utkface_gpu_{fig}.png").stat().st_size > 1000
    check = (results / "fp16_check.md").read_text()
    assert "| generator_32 |" in check and "| gan_32 |" in check
    readme = (tmp_path / "README.md").read_text()
    assert "not run yet" not in readme and readme.endswith("rest\n")
    for label in ("generator_32", "gated_32", "context_encoder_32", "gmcnn_32", "OpenCV telea", "OpenCV ns"):
        assert f"| {label} |" in readme
    assert "[fp32]" not in readme.split("fp16 weights against")[0]  # the checkpoints only in the fp16 check
    assert "| 1 | " in readme  # the flagship's per-epoch table


@needs_max_minutes
def test_train_stage_stops_at_its_time_budget(tiny_pack, tmp_path):
    data = datapack.unpack(tiny_pack, tmp_path / "data", log=lambda s: None)
    profile = dataclasses.replace(gc.TINY, epochs=1000, tail_s=1.0)
    meta = {"command": "test", "code_commit": "test", "data_note": "tiny", "pack_note": "tiny"}
    t0 = time.monotonic()
    out = gc.train_stage("pixel", 4.0, profile, data, tmp_path, meta)
    assert out["status"] != "epochs" and Path(out["checkpoint"]).is_file()
    assert time.monotonic() - t0 < 4.0 + 30  # the stop takes a step, a validation and a checkpoint
    manifest = json.loads((tmp_path / "weights" / "pixel_32.json").read_text())
    assert manifest["training"]["max_minutes"] == pytest.approx(3 / 60, abs=1e-3)
    assert 0 < manifest["training"]["steps"] < 1000 * 8


def test_plan_prints_the_device_invocations(tiny_pack):
    text = gc.plan_text("abc123", BUDGET, tiny_pack)
    for call, seconds in gc.call_seconds(BUDGET).items():
        cmd = gc.device_command(call, "abc123", BUDGET)
        assert len(cmd) < 2000 and f"gpu.campaign {call} --out $OUT" in cmd and ".devpack/whl" in cmd
        assert "--device-minutes 12 --command-minutes 6 --files-back 7 --total-mib 60" in cmd  # handed on
        assert repr(cmd) in text
        assert f"timeout_s={int(min(seconds + BUDGET.slack_s, 6 * 60))})" in text
    assert "carry=['.devpack']" in text and "travels:" in text and "of --device-minutes 12" in text
    assert "--device-minutes" not in gc.device_command("call1", "abc123")  # today's limits: no flags


def test_bad_input_is_one_clear_line(tmp_path, capsys):
    assert gc.main(["call1", "--tiny", "--out", str(tmp_path), "--device-minutes", "1"]) == 2
    assert "--device-minutes 1" in capsys.readouterr().err
    with pytest.raises(FileNotFoundError, match="gpu.datapack build"):
        datapack.load_pack(tmp_path)
