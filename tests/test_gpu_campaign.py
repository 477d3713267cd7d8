"""The GPU campaign's --tiny form on the CPU: data pack, both device calls, the return limits, the unpack into a
repository, the time budget, and the plan's device invocations (experiments/gpu_campaign.py)."""
from __future__ import annotations

import gzip
import json
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "experiments"))

import datapack  # noqa: E402
import gpu_campaign as gc  # noqa: E402
from gpu_collect import START, END  # noqa: E402

pytestmark = pytest.mark.slow


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
    datapack.build(out, fake_data["utkface"], fake_data["masks"], fake_data["celeba"], size=32, tiny=True,
                   n_train=32, wheels=False, log=lambda s: None)
    return out


@pytest.fixture(scope="module")
def returned(tiny_pack, tmp_path_factory) -> dict[str, Path]:
    """Both calls at the tiny profile, each into its own $OUT (as the device returns them)."""
    outs = {}
    for call in ("call1", "call2"):
        outs[call] = tmp_path_factory.mktemp(call)
        t0 = time.monotonic()
        gc.run_call(call, gc.TINY, outs[call], tiny_pack, tmp_path_factory.mktemp(f"work-{call}"), "test", call)
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
    from facelib.masks import _read_mask_array

    val = UTKFace(paths["utkface"], split="val", size=32)  # the committed split finds every val face
    with gzip.open(tiny_pack / "index.json.gz", "rt") as f:
        first_len = json.load(f)["val"]["lengths"][0]
    decoded = datapack.decode_face((tiny_pack / "faces_val.cat").read_bytes()[:first_len])
    assert np.array_equal(datapack.face_pixels(val, 0), decoded)  # training reads exactly the decoded pixels
    # Masks come back bit-exact: what facelib.masks reads from the original at 32x32.
    mask = np.asarray(Image.open(paths["masks"] / "00000.png")) > 127
    original = _read_mask_array(Path(pack["sources"]["masks"]) / "00000.png", 32, 127)
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


def test_calls_return_within_the_device_limits(returned):
    for call, out in returned.items():
        files = [p for p in out.iterdir() if p.is_file()]
        assert 1 <= len(files) <= gc.RETURN_FILES - 1  # the device command's log is the last one
        assert all(p.stat().st_size <= gc.RETURN_FILE_BYTES for p in files)
        with tarfile.open(out / f"{call}-results.tar.gz") as tar:
            names = tar.getnames()
            summary = json.load(tar.extractfile(f"{call}/campaign.json"))
        assert f"{call}/records_utkface.csv.gz" in names and f"{call}/records_celeba.csv.gz" in names
        assert all("wall_s" in s for s in summary["stages"])
        for model in gc.CALL_MODELS[call]:
            assert f"{call}/runs/{model}/history.json" in names
            assert f"{call}/weights/{model}_32.json" in names
            check = summary["fp16_check"][model]["utkface"]
            assert check["pass_0.05_db"], check
    call1 = json.load(tarfile.open(returned["call1"] / "call1-results.tar.gz").extractfile("call1/campaign.json"))
    assert {s["stage"]: s.get("status") for s in call1["stages"]}["benchmark 256x256"] == "ok"
    assert (returned["call1"] / "generator_32.safetensors").is_file()


def test_unpack_writes_weights_results_figures_and_readme(returned, tmp_path):
    from gpu_collect import collect

    from facelib.pretrained import load_pretrained

    (tmp_path / "README.md").write_text(f"# x\n\n{START}\nnot run yet\n{END}\n\nrest\n")
    report = collect([returned["call1"], returned["call2"]], tmp_path)
    assert "weights/generator_32.json" in report
    net = load_pretrained("generator_32", weights_dir=tmp_path / "weights")
    assert sum(p.numel() for p in net.parameters()) > 0
    assert not list((tmp_path / "weights").glob("gan_*"))  # only the flagship is committed
    results = tmp_path / "results" / "utkface-gpu"
    for name in ("results.md", "results.csv", "cases.csv.gz", "fp16_check.md", "speed.md",
                 "histories/generator.csv"):
        assert (results / name).is_file(), name
    for fig in ("loss_curves", "hole_psnr_by_bin", "samples"):
        assert (tmp_path / "figures" / f"utkface_gpu_{fig}.png").stat().st_size > 1000
    readme = (tmp_path / "README.md").read_text()
    assert "not run yet" not in readme and readme.endswith("rest\n")
    for label in ("ours, L1 + VGG", "gated, L1 + VGG", "Context Encoder", "OpenCV telea", "OpenCV ns"):
        assert f"| {label} |" in readme
    assert "| 1 | " in readme  # the flagship's per-epoch table


def test_plan_prints_the_device_invocations(tiny_pack):
    text = gc.plan_text("abc123", tiny_pack)
    for call in ("call1", "call2"):
        cmd = gc.device_command(call, "abc123")
        assert len(cmd) < 2000 and f"gpu_campaign.py {call} --out $OUT" in cmd and ".devpack/whl" in cmd
        assert repr(cmd) in text
    assert "carry=['.devpack']" in text and "travels:" in text
    budgets = {call: sum(s.budget_s for s in stages) for call, stages in gc.STAGES.items()}
    assert all(b < 8 * 60 for b in budgets.values())
    assert gc.MACHINE_START_S + sum(budgets.values()) + gc.TRANSFER_S < gc.DEVICE_BUDGET_S


def test_bad_input_is_one_clear_line(tmp_path, capsys):
    assert gc.main(["call1", "--tiny", "--out", str(tmp_path), "--budget-scale", "0"]) == 2
    assert "budget-scale" in capsys.readouterr().err
    with pytest.raises(FileNotFoundError, match="datapack.py build"):
        datapack.load_pack(tmp_path)
