"""facelib.checkpoint and the crash safety of training: atomic writes, RNG state, a real kill -9 and resume."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import facelib.checkpoint as ckpt_mod
from facelib.checkpoint import (
    CheckpointError,
    atomic_torch_save,
    capture_rng_state,
    load_checkpoint,
    restore_rng_state,
)

REPO = Path(__file__).resolve().parents[1]


def test_atomic_save_interrupted_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    atomic_torch_save({"step": 1}, path)
    real_save = torch.save

    def save_half_then_die(obj, f, *a, **k):
        f.write(b"PARTIAL")  # some bytes reach the (temporary) file, then the process "dies"
        raise KeyboardInterrupt("killed while saving")

    monkeypatch.setattr(ckpt_mod.torch, "save", save_half_then_die)
    with pytest.raises(KeyboardInterrupt):
        atomic_torch_save({"step": 2}, path)
    monkeypatch.setattr(ckpt_mod.torch, "save", real_save)
    assert torch.load(path, weights_only=False) == {"step": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"], "a temporary file was left behind"


def test_checkpoint_failure_during_training_keeps_previous(tmp_path, monkeypatch):
    from facelib.train import TrainConfig, train

    cfg = TrainConfig(data="synthetic", image_size=32, n_synthetic=16, max_val_images=4, widths=(8, 16, 32),
                      num_residual=1, batch_size=4, vgg_weights=None, perceptual_layers=(1,), masks="rectangles",
                      device="cpu", out_dir=str(tmp_path / "run"), checkpoint_every=1)
    real_save, calls = torch.save, {"n": 0}

    def fail_on_third(obj, f, *a, **k):
        calls["n"] += 1
        if calls["n"] == 3:
            f.write(b"\x00" * 100)
            raise OSError("disk full")
        return real_save(obj, f, *a, **k)

    monkeypatch.setattr(ckpt_mod.torch, "save", fail_on_third)
    with pytest.raises(OSError, match="disk full"):
        train(cfg, progress=False)
    state = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    assert state["global_step"] == 2
    assert [p.name for p in (tmp_path / "run" / "checkpoints").iterdir()] == ["last.pt"]


def test_load_checkpoint_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="checkpoints/last.pt"):
        load_checkpoint(tmp_path / "missing.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="bad.pt"):
        load_checkpoint(bad)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(1)}, other)
    with pytest.raises(CheckpointError, match="not a facelib.train checkpoint"):
        load_checkpoint(other)


def test_rng_state_round_trip():
    state = capture_rng_state()
    a = (random.random(), np.random.rand(), torch.rand(3))
    restore_rng_state(state)
    b = (random.random(), np.random.rand(), torch.rand(3))
    assert a[0] == b[0] and a[1] == b[1] and torch.equal(a[2], b[2])


def _cli(out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "facelib.train", "--data", "synthetic", "--image-size", "32", "--n-synthetic",
            "64", "--max-val-images", "4", "--widths", "8", "16", "32", "--num-residual", "1", "--batch-size", "4",
            "--epochs", "3", "--vgg-weights", "none", "--perceptual-layers", "1", "--masks", "rectangles",
            "--checkpoint-every", "5", "--device", "cpu", "--out-dir", str(out), "--no-progress", *extra]


def test_kill_9_and_resume_matches_uninterrupted(tmp_path):
    """A real `kill -9` of `python -m facelib.train` after its first checkpoint, then --resume (48 steps)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    start = time.monotonic()
    done = subprocess.run(_cli(tmp_path / "a"), cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    if time.monotonic() - start > 40:
        pytest.skip("this machine is too slow for the kill/resume test (uninterrupted run took > 40 s)")

    last = tmp_path / "b" / "checkpoints" / "last.pt"
    proc = subprocess.Popen(_cli(tmp_path / "b"), cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not last.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    killed_at = load_checkpoint(last)["global_step"]
    assert 5 <= killed_at < 48

    resumed = subprocess.run(_cli(tmp_path / "b", "--resume"), cwd=REPO, env=env, capture_output=True, text=True,
                             timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    a = load_checkpoint(tmp_path / "a" / "checkpoints" / "last.pt")
    b = load_checkpoint(last)
    assert a["global_step"] == b["global_step"] == 48
    for k in a["generator"]:
        assert torch.equal(a["generator"][k], b["generator"][k]), k


# ------------------------------------------------------------------ safe loading (issue 14, items 4 and 8)
class _Evil:
    """A pickle payload: unpickling it calls `Path.touch(marker)`, i.e. runs code from the file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _tiny_checkpoint(out: Path) -> Path:
    from facelib.train import TrainConfig, train

    cfg = TrainConfig(data="synthetic", image_size=32, n_synthetic=8, max_val_images=4, widths=(4, 8, 16),
                      num_residual=1, batch_size=4, max_steps=1, vgg_weights=None, perceptual_layers=(1,),
                      masks="rectangles", device="cpu", out_dir=str(out))
    return Path(train(cfg, progress=False, figures=False)["checkpoint"])


@pytest.mark.parametrize("writer", ["torch.save", "pickle.dump"])
def test_malicious_checkpoint_is_refused_and_not_run(tmp_path, writer):
    import pickle

    marker = tmp_path / "code_ran"
    payload = {"format": "facelib.train/1", "config": {}, "generator": {}, "extra": _Evil(marker)}
    path = tmp_path / "shared_by_a_classmate.pt"
    if writer == "torch.save":
        torch.save(payload, path)
    else:
        with path.open("wb") as f:
            pickle.dump(payload, f, protocol=2)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    message = str(err.value)
    assert not marker.exists(), "loading the checkpoint ran code from it"
    assert "\n" not in message and message.startswith(f"refusing to load {path}") and "nothing of it was run" in message


def test_checkpoint_of_current_code_loads_with_exactly_the_allow_list(tmp_path):
    path = _tiny_checkpoint(tmp_path / "run")
    ckpt = load_checkpoint(path)
    assert ckpt["format"] == "facelib.train/1"
    # Under the allow-list nothing is left over: the list is enough, and torch's weights_only loads it.
    with torch.serialization.safe_globals(ckpt_mod.CHECKPOINT_SAFE_GLOBALS):
        assert torch.serialization.get_unsafe_globals_in_checkpoint(path) == []
    restore_rng_state(ckpt["rng"])  # the NumPy / torch RNG states come back usable


def test_other_format_and_non_checkpoints_give_one_line(tmp_path):
    newer = tmp_path / "newer.pt"
    torch.save({"format": "facelib.train/2", "config": {}, "generator": {}}, newer)
    with pytest.raises(CheckpointError, match=r"format 'facelib.train/2' but this facelib reads 'facelib.train/1'"):
        load_checkpoint(newer)
    image = tmp_path / "face.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(image)
    assert "not a checkpoint" in str(err.value) and "delete" not in str(err.value) and "\n" not in str(err.value)


# ------------------------------------------------------------------ file mode, orphaned temporaries (item 8)
def test_atomic_files_get_the_umask_mode_not_0600(tmp_path):
    old = os.umask(0o022)
    try:
        path = atomic_torch_save({"step": 1}, tmp_path / "last.pt")
        assert path.stat().st_mode & 0o777 == 0o644
        os.umask(0o027)
        path = atomic_torch_save({"step": 2}, tmp_path / "last.pt")
        assert path.stat().st_mode & 0o777 == 0o640
    finally:
        os.umask(old)


_KILLED_WRITER = """
import sys, time, torch
import facelib.checkpoint as c
def slow_save(obj, f, *a, **k):
    f.write(b"PARTIAL CHECKPOINT BYTES"); f.flush()
    print("writing", flush=True)
    time.sleep(60)
c.torch.save = slow_save
c.atomic_torch_save({"step": 2}, sys.argv[1])
"""


def test_sigkill_during_save_leaves_an_orphan_that_the_next_save_removes(tmp_path):
    folder = tmp_path / "checkpoints"
    last = folder / "last.pt"
    atomic_torch_save({"step": 1}, last)
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, str(last)], cwd=REPO, stdout=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        assert proc.stdout.readline().strip() == b"writing"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
        proc.stdout.close()
    orphans = [p.name for p in folder.iterdir() if p.name != "last.pt"]
    assert len(orphans) == 1 and orphans[0].startswith(".last.pt.") and orphans[0].endswith(".tmp")
    assert torch.load(last, weights_only=True) == {"step": 1}  # the kill lost nothing

    # Files that merely look alike, or belong to a live writer, must survive the clean-up.
    keep = [".last.pt.notes.tmp.bak", "last.pt.abcdefgh.tmp", ".epoch_1.pt.abcdefgh.tmp",
            f".last.pt.{os.getppid()}.abcdefgh.tmp", ".last.pt.abcdefgh.tmp", "notes.txt"]
    for name in keep:
        (folder / name).write_bytes(b"user data")
    old_style = folder / ".last.pt.zyxwvuts.tmp"  # an orphan of an older facelib (no pid), an hour old
    old_style.write_bytes(b"old partial")
    os.utime(old_style, (time.time() - 3600, time.time() - 3600))

    atomic_torch_save({"step": 3}, last)
    assert sorted(p.name for p in folder.iterdir()) == sorted(["last.pt", *keep])
    assert torch.load(last, weights_only=True) == {"step": 3}
