"""facelib.train: config validation, the loop, history files, resume, NaN stop, D/G alternation and the CLI.

Everything runs on CPU with tiny models (widths 8/16/32, one residual block, 32x32 synthetic faces, a random
two-layer VGG), so a training step takes a few milliseconds.
"""
from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from facelib.checkpoint import CheckpointError, load_checkpoint
from facelib.train import loop as train_loop
from facelib.train import (
    PRESETS,
    NonFiniteLossError,
    Trainer,
    TrainConfig,
    load_generator,
    main,
    train,
)

REPO = Path(__file__).resolve().parents[1]
SEED_COLUMNS = ["epoch", "train_pixel", "train_perceptual", "val_pixel", "val_perceptual"]
GAN_COLUMNS = ["train_d_loss", "train_g_adv", "train_d_real_acc", "train_d_fake_acc"]
# Columns that measure wall-clock time, which legitimately differ between identical runs.
TIMING = {"images_per_s", "time_s"}


def tiny(out_dir: Path, preset: str = "generator", **overrides) -> TrainConfig:
    """A config that trains in milliseconds per step on one CPU core."""
    kw = dict(
        data="synthetic", image_size=32, n_synthetic=16, max_val_images=4, widths=(8, 16, 32), num_residual=1,
        batch_size=4, epochs=1, vgg_weights=None, perceptual_weight=0.01, perceptual_layers=(1, 6),
        masks="rectangles", d_base=8, device="cpu", out_dir=str(out_dir), checkpoint_every=2, log_every=1,
    )
    if preset == "context_encoder":
        kw.pop("masks")
    kw.update(overrides)
    return TrainConfig.preset(preset, **kw)


def checkpoint(out_dir: Path) -> dict:
    return load_checkpoint(Path(out_dir) / "checkpoints" / "last.pt", map_location="cpu")


def assert_same_state(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), f"{k} differs"


def strip_timing(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in TIMING} for r in rows]


# ------------------------------------------------------------------------------------------------ config
@pytest.mark.parametrize(
    "overrides, fragment",
    [
        ({"image_size": 30}, "image_size"),
        ({"model": "gan"}, "preset"),
        ({"model": "unet"}, "model"),
        ({"masks": "blobs"}, "masks"),
        ({"amp": "fp8"}, "amp"),
        ({"lr": -1.0}, "lr"),
        ({"lr": float("nan")}, "lr"),
        ({"batch_size": 1}, "batch_size"),
        ({"epochs": 0}, "epochs"),
        ({"adversarial": "wgan"}, "adversarial"),
        ({"pixel_loss": "huber"}, "pixel_loss"),
        ({"betas": (0.5, 1.5)}, "betas"),
        ({"widths": (8, 16)}, "widths"),
        ({"compile": "fastest"}, "compile"),
        ({"vgg_weights": "imagenet"}, "vgg_weights"),
        ({"model": "context_encoder", "image_size": 48}, "image_size"),
        ({"model": "context_encoder", "masks": "freeform"}, "masks"),
        ({"perceptual_weight": -0.1}, "perceptual_weight"),
        ({"max_steps": 0}, "max_steps"),
        ({"max_minutes": 0}, "max_minutes"),
        ({"max_minutes": -5.0}, "max_minutes"),
        ({"max_minutes": float("inf")}, "max_minutes"),
    ],
)
def test_bad_config_names_the_field(overrides, fragment):
    with pytest.raises(ValueError, match=fragment) as info:
        TrainConfig(**overrides)
    assert "TrainConfig." in str(info.value) or "preset" in str(info.value)


def test_config_round_trip_and_presets():
    for name in PRESETS:
        cfg = TrainConfig.preset(name, image_size=64)
        assert TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    ce = TrainConfig.preset("context_encoder")
    assert (ce.mask_kind, ce.pixel_loss, ce.pixel_weight, ce.adv_weight) == ("center", "l2", 0.999, 0.001)
    assert TrainConfig().mask_kind == "mixed"
    assert TrainConfig.preset("gan").adversarial != "none"
    with pytest.raises(ValueError, match="unknown preset"):
        TrainConfig.preset("pix2pix")


# -------------------------------------------------------------------------------------------- the loop
def test_loss_decreases_and_history_files(tmp_path):
    # 8 fixed faces, 2 steps per epoch, 30 epochs = 60 steps.
    cfg = tiny(tmp_path / "run", n_synthetic=8, epochs=30, lr=2e-3, checkpoint_every=100)
    result = train(cfg, progress=False)
    rows = result["history"]
    assert len(rows) == 30 and result["global_step"] == 60 and result["stopped"] == "epochs"
    first, last = rows[0]["train_pixel"], rows[-1]["train_pixel"]
    assert last < 0.6 * first, (first, last)
    assert rows[-1]["val_pixel"] < rows[0]["val_pixel"]

    with open(tmp_path / "run" / "history.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert list(table[0])[:5] == SEED_COLUMNS
    assert len(table) == 30
    for row in table:
        for col in SEED_COLUMNS:
            assert math.isfinite(float(row[col])), (col, row[col])
    saved = json.loads((tmp_path / "run" / "history.json").read_text())
    assert saved["config"]["n_synthetic"] == 8 and len(saved["history"]) == 30
    assert [r["epoch"] for r in saved["history"]] == list(range(1, 31))
    for name in ("loss_curves.png", "samples.png"):
        assert (tmp_path / "run" / name).stat().st_size > 1000


def test_refuses_to_overwrite_a_run(tmp_path):
    cfg = tiny(tmp_path / "run", max_steps=1)
    train(cfg, progress=False)
    with pytest.raises(FileExistsError, match="resume"):
        train(cfg, progress=False)
    # overwrite=True starts afresh (and ends at the same place).
    result = train(tiny(tmp_path / "run", max_steps=1, overwrite=True), progress=False)
    assert result["global_step"] == 1


def test_resume_mid_epoch_is_bit_identical(tmp_path):
    """A run stopped inside an epoch (max_steps) and resumed equals an uninterrupted run, weights and history."""
    full = train(tiny(tmp_path / "a", epochs=2), progress=False)  # 4 steps per epoch -> 8 steps
    train(tiny(tmp_path / "b", epochs=2, max_steps=3), progress=False)
    assert checkpoint(tmp_path / "b")["global_step"] == 3
    resumed = train(tiny(tmp_path / "b", epochs=2, resume=True), progress=False)
    a, b = checkpoint(tmp_path / "a"), checkpoint(tmp_path / "b")
    assert a["global_step"] == b["global_step"] == 8
    assert_same_state(a["generator"], b["generator"])
    assert strip_timing(full["history"]) == strip_timing(resumed["history"])
    # Adam's moments too.
    for sa, sb in zip(a["g_opt"]["state"].values(), b["g_opt"]["state"].values()):
        assert torch.equal(sa["exp_avg_sq"], sb["exp_avg_sq"])


def test_resume_after_a_crash_is_bit_identical(tmp_path, monkeypatch):
    """Simulated kill: the step raises after the checkpoint of step 4; resuming finishes identically."""
    train(tiny(tmp_path / "a", preset="gan", epochs=2), progress=False)

    original = Trainer.save_checkpoint

    def crash_after_step_4(self, epoch_file=False):
        path = original(self, epoch_file)
        if self.state.global_step == 4:
            raise KeyboardInterrupt("simulated kill")
        return path

    monkeypatch.setattr(Trainer, "save_checkpoint", crash_after_step_4)
    with pytest.raises(KeyboardInterrupt):
        train(tiny(tmp_path / "b", preset="gan", epochs=2), progress=False)
    monkeypatch.setattr(Trainer, "save_checkpoint", original)
    assert checkpoint(tmp_path / "b")["global_step"] == 4
    train(tiny(tmp_path / "b", preset="gan", epochs=2, resume=True), progress=False)
    a, b = checkpoint(tmp_path / "a"), checkpoint(tmp_path / "b")
    assert_same_state(a["generator"], b["generator"])
    assert_same_state(a["discriminator"], b["discriminator"])


def test_time_budget_stops_saves_records_and_resumes_exactly(tmp_path):
    """max_minutes: a run out of time stops after its step, saves last.pt, records why, and returns; resumed
    under the same tiny budget (one step per call) until done, it ends where an uninterrupted run ends."""
    full = train(tiny(tmp_path / "a", preset="gan", epochs=2), progress=False, figures=False)  # 8 steps
    out = tmp_path / "b"
    first = train(tiny(out, preset="gan", epochs=2, max_minutes=1e-9), progress=False, figures=False)
    assert (first["stopped"], first["global_step"]) == ("time budget", 1) and first["minutes"] > 0
    saved = json.loads((out / "history.json").read_text())
    assert saved["stopped"] == "time budget" and saved["minutes"] == first["minutes"]
    assert [r["complete"] for r in saved["history"]] == [False]  # the partial epoch, validated
    assert checkpoint(out)["global_step"] == 1
    reasons = [first["stopped"]]
    while reasons[-1] != "epochs" and len(reasons) < 12:
        reasons.append(train(tiny(out, preset="gan", epochs=2, max_minutes=1e-9, resume=True), progress=False,
                             figures=False)["stopped"])
    assert reasons == ["time budget"] * 7 + ["epochs"]  # a step per call, epoch ends included
    a, b = checkpoint(tmp_path / "a"), checkpoint(out)
    assert a["global_step"] == b["global_step"] == 8
    assert_same_state(a["generator"], b["generator"])
    assert_same_state(a["discriminator"], b["discriminator"])
    assert strip_timing(full["history"]) == strip_timing(json.loads((out / "history.json").read_text())["history"])
    assert json.loads((out / "history.json").read_text())["stopped"] == "epochs"


def test_cli_max_minutes(tmp_path, capsys):
    from facelib.train import config_from_args

    assert config_from_args(["--max-minutes", "0.5"])[0].max_minutes == 0.5
    assert config_from_args(["--max-minutes", "none"])[0].max_minutes is None
    assert main(["--max-minutes", "-1", "--out-dir", str(tmp_path / "x"), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--max-minutes -1" in err and "> 0" in err


def test_resume_extends_a_finished_run(tmp_path):
    train(tiny(tmp_path / "a", epochs=2), progress=False)
    train(tiny(tmp_path / "b", epochs=1), progress=False)
    result = train(tiny(tmp_path / "b", epochs=2, resume=True), progress=False)
    assert [r["epoch"] for r in result["history"]] == [1, 2]
    assert_same_state(checkpoint(tmp_path / "a")["generator"], checkpoint(tmp_path / "b")["generator"])


def test_resume_with_another_config_is_refused(tmp_path):
    train(tiny(tmp_path / "run", max_steps=2), progress=False)
    with pytest.raises(CheckpointError, match="lr"):
        train(tiny(tmp_path / "run", lr=1e-3, resume=True), progress=False)


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path, monkeypatch):
    real = train_loop.masked_pixel_loss
    calls = {"n": 0}

    def nan_at_third_step(*args, **kwargs):
        calls["n"] += 1
        value = real(*args, **kwargs)
        return value * float("nan") if calls["n"] == 3 else value

    monkeypatch.setattr(train_loop, "masked_pixel_loss", nan_at_third_step)
    cfg = tiny(tmp_path / "run", checkpoint_every=2)
    with pytest.raises(NonFiniteLossError, match=r"step 3.*pixel") as info:
        train(cfg, progress=False)
    assert "last good checkpoint" in str(info.value)
    ckpt = checkpoint(tmp_path / "run")
    assert ckpt["global_step"] == 2
    assert all(torch.isfinite(v).all() for v in ckpt["generator"].values() if v.is_floating_point())


def test_discriminator_and_generator_steps_touch_only_their_parameters(tmp_path):
    trainer = Trainer(tiny(tmp_path / "run", preset="gan"), progress=False)

    def snap(module):
        return [p.detach().clone() for p in module.parameters()]

    def same(a, b):
        return all(torch.equal(x, y) for x, y in zip(a, b))

    g0, d0 = snap(trainer.generator), snap(trainer.discriminator)
    seen = {}
    d_step, g_step = trainer.d_opt.step, trainer.g_opt.step

    def d_step_checked(*a, **k):
        out = d_step(*a, **k)
        seen["g_after_d"], seen["d_after_d"] = snap(trainer.generator), snap(trainer.discriminator)
        return out

    def g_step_checked(*a, **k):
        out = g_step(*a, **k)
        seen["g_after_g"], seen["d_after_g"] = snap(trainer.generator), snap(trainer.discriminator)
        return out

    trainer.d_opt.step, trainer.g_opt.step = d_step_checked, g_step_checked
    image, mask = next(trainer.data.source.epoch(0, 0))
    logs = trainer.train_step(image, mask)
    assert {"d_loss", "g_adv", "d_real_acc", "d_fake_acc", "pixel", "perceptual"} <= set(logs)
    assert same(seen["g_after_d"], g0), "the discriminator step changed the generator"
    assert not same(seen["d_after_d"], d0), "the discriminator step did not update the discriminator"
    assert same(seen["d_after_g"], seen["d_after_d"]), "the generator step changed the discriminator"
    assert not same(seen["g_after_g"], g0), "the generator step did not update the generator"


def test_gpu_cache_path_runs_on_cpu_and_is_deterministic(tmp_path):
    # The on-device data path works on any device; same seed -> same weights.
    for name in ("a", "b"):
        train(tiny(tmp_path / name, gpu_cache=True, mask_bank_size=16, max_steps=3), progress=False)
    assert_same_state(checkpoint(tmp_path / "a")["generator"], checkpoint(tmp_path / "b")["generator"])


def test_load_generator(tmp_path):
    train(tiny(tmp_path / "run", max_steps=2), progress=False)
    model, cfg = load_generator(tmp_path / "run" / "checkpoints" / "last.pt")
    assert cfg.widths == (8, 16, 32) and not model.training
    x, m = torch.zeros(1, 3, 32, 32), torch.zeros(1, 1, 32, 32)
    m[..., 8:24, 8:24] = 1
    out = model(x, m)
    assert out.shape == (1, 3, 32, 32) and out.abs().max() <= 1
    with pytest.raises(FileNotFoundError, match="last.pt"):
        load_generator(tmp_path / "nowhere" / "last.pt")


# ------------------------------------------------------------------------------------------------- CLI
def test_cli_model_list(capsys):
    assert main(["--model", "list"]) == 0
    out = capsys.readouterr().out
    for name in ("generator", "gated", "context_encoder", "gan"):
        assert any(line.startswith(name) and len(line) > len(name) + 10 for line in out.splitlines()), name


def test_cli_model_list_subprocess():
    proc = subprocess.run([sys.executable, "-m", "facelib.train", "--model", "list"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.strip().splitlines()) == len(PRESETS)


@pytest.mark.parametrize("model", ["generator", "gated", "context_encoder", "gan"])
def test_cli_tiny_run(model, tmp_path, capsys):
    out = tmp_path / model
    args = ["--model", model, "--data", "synthetic", "--image-size", "32", "--n-synthetic", "8",
            "--max-val-images", "4", "--widths", "8", "16", "32", "--num-residual", "1", "--batch-size", "4",
            "--epochs", "2", "--vgg-weights", "none", "--perceptual-layers", "1", "6", "--d-base", "8",
            "--device", "cpu", "--out-dir", str(out), "--no-progress"]
    assert main(args) == 0
    with open(out / "history.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert len(table) == 2
    expected = SEED_COLUMNS + (GAN_COLUMNS if model in ("gan", "context_encoder") else [])
    assert set(expected) <= set(table[0])
    assert math.isfinite(float(table[-1]["val_pixel"]))
    saved = json.loads((out / "history.json").read_text())["config"]
    assert saved["model"] == PRESETS[model].overrides["model"]
    assert (out / "checkpoints" / "last.pt").is_file() and (out / "samples.png").is_file()
    # The run exists now: a second call without --resume is refused with exit code 1 and a hint.
    assert main(args) == 1
    assert "--resume" in capsys.readouterr().err


def test_cli_bad_parameter_is_a_clear_error(tmp_path, capsys):
    assert main(["--image-size", "30", "--out-dir", str(tmp_path / "x"), "--no-progress"]) == 2
    assert "--image-size 30 is invalid" in capsys.readouterr().err  # the flag typed, not TrainConfig.image_size
    with pytest.raises(SystemExit):
        main(["--amp", "fp8"])  # argparse choices


# ------------------------------------------------------------------------------- init_from (issue 15)
def _params(module_state: dict, model) -> dict:
    names = {n for n, _ in model.named_parameters()}
    return {k: v for k, v in module_state.items() if k in names}


def test_init_from_weights_or_a_checkpoint(tmp_path, monkeypatch, capsys):
    """A fresh run's generator starts from exported weights (FACELIB_WEIGHTS) or a checkpoint's generator; the
    optimiser's first step comes after (lr 1e-9: the weights barely move); resumes restore their own."""
    from facelib.models import build_generator
    from facelib.pretrained import export_weights, load_state_dict

    torch.manual_seed(123)
    source = build_generator("generator", widths=[8, 16, 32], num_residual=1)
    weights = tmp_path / "weights"
    export_weights(source, "tiny", weights, architecture={"name": "generator",
                   "options": {"widths": [8, 16, 32], "num_residual": 1}}, image_size=32, training={})
    wide = build_generator("generator", widths=[16, 32, 64], num_residual=1)
    export_weights(wide, "wide", weights, architecture={"name": "generator",
                   "options": {"widths": [16, 32, 64], "num_residual": 1}}, image_size=32, training={})
    monkeypatch.setenv("FACELIB_WEIGHTS", str(weights))
    expected = load_state_dict("tiny")

    def close(ckpt_generator, target) -> bool:
        got = _params(ckpt_generator, source)
        return got.keys() == _params(target, source).keys() and all(
            torch.allclose(v, target[k].float(), atol=1e-6) for k, v in got.items())

    train(tiny(tmp_path / "w", max_steps=1, lr=1e-9, init_from="tiny"), progress=False)
    ckpt = checkpoint(tmp_path / "w")
    assert close(ckpt["generator"], expected) and ckpt["config"]["init_from"] == "tiny"
    plain = train(tiny(tmp_path / "plain", max_steps=1, lr=1e-9), progress=False)
    assert not close(checkpoint(tmp_path / "plain")["generator"], expected) and plain["global_step"] == 1

    # From a training checkpoint's generator, through the command line.
    other = tmp_path / "plain" / "checkpoints" / "last.pt"
    args = ["--data", "synthetic", "--image-size", "32", "--n-synthetic", "16", "--max-val-images", "4", "--widths",
            "8", "16", "32", "--num-residual", "1", "--batch-size", "4", "--max-steps", "1", "--lr", "1e-9",
            "--vgg-weights", "none", "--perceptual-layers", "1", "--masks", "rectangles", "--device", "cpu",
            "--no-progress"]
    assert main([*args, "--out-dir", str(tmp_path / "c"), "--init-from", str(other)]) == 0
    assert close(checkpoint(tmp_path / "c")["generator"], load_checkpoint(other)["generator"])
    assert "generator initialised from checkpoint" in capsys.readouterr().err

    # Unknown name, missing file, another architecture: one line each, nothing trained.
    for value, fragment in (("nosuch", "available: tiny, wide"), ("runs/nowhere/last.pt", "no such checkpoint file"),
                            ("wide", "does not fit this run's generator")):
        assert main([*args, "--out-dir", str(tmp_path / f"bad_{value[:3]}"), "--init-from", value]) == 1
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and fragment in err, err
        assert not (tmp_path / f"bad_{value[:3]}" / "checkpoints" / "last.pt").exists()

    # A resumed run restores its own weights; without --init-from it keeps the record of where it started.
    resumed = train(tiny(tmp_path / "w", max_steps=2, lr=1e-9, resume=True), progress=False)
    assert resumed["global_step"] == 2 and checkpoint(tmp_path / "w")["config"]["init_from"] == "tiny"
