"""Bad inputs a new user will try, each answered with one clear line and nothing lost (issue 14).

Every test feeds one bad input (tiny sizes, a few seconds each, servers on 127.0.0.1 only) and asserts the
answer: an error of exactly one line that names the problem and the fix, no file of the user's lost or
half-written, no code run from a file. This module covers the downloader (items 3, 8), checkpoint loading
(items 4, 8), metrics, manifests and result files (item 7), and training: a resume that would overwrite a
history, resuming from an epoch checkpoint (item 1), two runs on one folder, Ctrl-C / SIGTERM (item 2), image
folders without a split, UTKFace subsets and unreadable images (item 6).
"""
from __future__ import annotations

import csv
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from facelib import evaluate as E
from facelib import metrics as M
from facelib import protocol as P


def download_main(argv: list[str]) -> int:
    from facelib.download import main  # imported per test, so each test fails on its own against old code

    return main(argv)
REPO = Path(__file__).resolve().parents[1]
SIZE = 32


def one_line(text: str) -> str:
    """The single line of an error message (fails when there is none, or more than one)."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one clear line, got {len(lines)}:\n{text}"
    return lines[0]


@pytest.fixture()
def faces(tmp_path: Path) -> Path:
    """Six small PNG faces."""
    folder = tmp_path / "faces"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(6):
        Image.fromarray((rng.random((SIZE, SIZE, 3)) * 255).astype(np.uint8)).save(folder / f"{i}.png")
    return folder


def _manifest(path: Path, rows: list[dict]) -> Path:
    path.write_text(P.manifest_text(rows), encoding="utf-8")
    return path


def _evaluate(capsys, *argv: str) -> tuple[int, str]:
    code = E.main(["--vgg-weights", "off", "--device", "cpu", "--no-progress", *argv])
    return code, capsys.readouterr().err


# ------------------------------------------------------------------------------------- metrics (item 7)
@pytest.mark.parametrize("scale", ["0-255", "NaN"])
def test_metrics_refuse_images_outside_minus1_1(scale: str):
    target = torch.rand(2, 3, 16, 16) * 2 - 1
    pred = (target + 1) * 127.5 if scale == "0-255" else target.clone().fill_(float("nan"))
    for metric in (M.psnr, M.l1, M.l2, M.ssim):
        with pytest.raises(ValueError) as err:
            metric(pred, target)
        line = one_line(str(err.value))
        assert "[-1, 1]" in line and "pred" in line
    with pytest.raises(ValueError, match=r"x / 127.5 - 1"):
        M.psnr(target, (target + 1) * 127.5)  # a 0-255 target too
    # A tiny overshoot (float rounding) is not an error.
    assert torch.isfinite(M.psnr(target.clamp(-1, 1) * (1 + 1e-5), target)).all()


@pytest.mark.parametrize("mask_values", ["soft", "0-255"])
def test_metrics_refuse_non_binary_masks(mask_values: str):
    image = torch.rand(1, 3, 16, 16) * 2 - 1
    mask = torch.zeros(1, 1, 16, 16)
    mask[..., 4:12, 4:12] = 0.5 if mask_values == "soft" else 255
    with pytest.raises(ValueError) as err:
        M.psnr(image, image, mask)
    line = one_line(str(err.value))
    assert "other than 0 and 1" in line and "(mask > 0.5).float()" in line


# ----------------------------------------------------------------------------------- manifests (item 7)
def _irregular_rows() -> list[dict]:
    return P.build_manifest([f"{i}.png" for i in range(6)], SIZE, kinds=("irregular",))


def test_manifest_whose_bin_contradicts_its_mask_id_is_refused(tmp_path: Path, faces: Path, capsys):
    rows = _irregular_rows()
    assert rows[0]["bin"] == "0-10%" and rows[0]["mask_id"] < 2000
    rows[0]["bin"] = "50-60%"  # a mask from NVIDIA's first block labelled as a large hole
    path = _manifest(tmp_path / "bad_bin.csv", rows)
    with pytest.raises(ValueError) as err:
        P.read_manifest(path)
    line = one_line(str(err.value))
    assert f"mask {rows[0]['mask_id']:05d} belongs to NVIDIA's hole-ratio bin 0-10%" in line
    assert "'50-60%'" in line and "line 2" in line and "python -m facelib.protocol build" in line
    # The same through the evaluation command line, and through rows handed over in memory.
    out = tmp_path / "results"
    code, err_text = _evaluate(capsys, "--manifest", str(path), "--faces", str(faces), "--baseline", "telea",
                               "--out", str(out))
    assert code == 1 and "belongs to NVIDIA's hole-ratio bin" in one_line(err_text) and not out.exists()
    with pytest.raises(ValueError, match="belongs to NVIDIA's hole-ratio bin"):
        P.ProtocolDataset(rows, faces, kinds=("irregular",))


def test_manifest_with_duplicate_case_ids_is_refused(tmp_path: Path, faces: Path, capsys):
    rows = P.build_manifest([f"{i}.png" for i in range(6)], SIZE, kinds=("center",))
    rows[3]["case_id"] = rows[1]["case_id"]
    path = _manifest(tmp_path / "dup.csv", rows)
    with pytest.raises(ValueError) as err:
        P.read_manifest(path)
    assert "case_id 1 appears again (first at line 3)" in one_line(str(err.value))
    code, err_text = _evaluate(capsys, "--manifest", str(path), "--faces", str(faces), "--baseline", "telea",
                               "--out", str(tmp_path / "results"))
    assert code == 1 and "appears again" in one_line(err_text)


# --------------------------------------------------------------------------------- result files (item 7)
def test_interrupted_result_writing_keeps_the_previous_results(tmp_path: Path, faces: Path, monkeypatch):
    rows = P.build_manifest([f"{i}.png" for i in range(6)], SIZE, kinds=("center",))
    from facelib.baselines import OpenCVInpainter

    records = E.evaluate(OpenCVInpainter("telea"), rows, faces, name="telea")
    out = tmp_path / "results"
    paths = E.write_results(records, out, n_boot=20)
    before = {p.name: p.read_bytes() for p in paths.values()}

    def killed(*args, **kwargs):
        raise KeyboardInterrupt("Ctrl-C while writing the tables")

    monkeypatch.setattr(csv.DictWriter, "writerows", killed)
    with pytest.raises(KeyboardInterrupt):
        E.write_results(records[:3], out, n_boot=20)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before, "previous results damaged or temp files left"


# ------------------------------------------------------------------------------ checkpoints (items 4, 8)
class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_evaluate_refuses_a_checkpoint_that_would_run_code(tmp_path: Path, faces: Path, capsys):
    marker = tmp_path / "code_ran"
    shared = tmp_path / "from_a_classmate.pt"
    torch.save({"format": "facelib.train/1", "config": {}, "generator": {}, "payload": _Evil(marker)}, shared)
    manifest = _manifest(tmp_path / "m.csv", P.build_manifest(["0.png"], SIZE, kinds=("center",)))
    code, err_text = _evaluate(capsys, "--manifest", str(manifest), "--faces", str(faces), "--checkpoint",
                               f"x={shared}", "--out", str(tmp_path / "results"))
    assert code == 1 and one_line(err_text).startswith(f"error: refusing to load {shared}")
    assert not marker.exists(), "code from the checkpoint ran"


def test_evaluate_does_not_ask_to_delete_a_file_that_is_no_checkpoint(tmp_path: Path, faces: Path, capsys):
    manifest = _manifest(tmp_path / "m.csv", P.build_manifest(["0.png"], SIZE, kinds=("center",)))
    photo = faces / "0.png"  # e.g. a face passed to --checkpoint by mistake
    code, err_text = _evaluate(capsys, "--manifest", str(manifest), "--faces", str(faces), "--checkpoint",
                               f"x={photo}", "--out", str(tmp_path / "results"))
    line = one_line(err_text)
    assert code == 1 and "is not a checkpoint" in line and "delete" not in line
    assert photo.is_file()


# ------------------------------------------------------------------------- corrupt image in a worker (8)
def test_corrupt_image_in_a_dataloader_worker_gives_the_same_one_line(tmp_path: Path, faces: Path, capsys):
    (faces / "3.png").write_bytes(b"not an image at all")
    manifest = _manifest(tmp_path / "m.csv", P.build_manifest([f"{i}.png" for i in range(6)], SIZE,
                                                              kinds=("center",)))
    answers = []
    for workers in ("0", "1"):
        code, err_text = _evaluate(capsys, "--manifest", str(manifest), "--faces", str(faces), "--baseline",
                                   "telea", "--num-workers", workers, "--batch-size", "2",
                                   "--out", str(tmp_path / "results"))
        assert code == 1
        answers.append(one_line(err_text))
    assert answers[0] == answers[1]
    assert answers[0].startswith(f"error: cannot read image {faces / '3.png'}: ") and "skip_corrupt" in answers[0]


def test_corrupt_image_in_a_training_worker_gives_the_same_one_line(tmp_path: Path, faces: Path, capsys):
    from facelib.train import main as train_main

    (faces / "3.png").write_bytes(b"not an image at all")
    answers = []
    for workers in ("0", "1"):
        code = train_main(["--data", str(faces), "--image-size", "16", "--widths", "4", "8", "16", "--num-residual",
                           "1", "--batch-size", "2", "--max-steps", "3", "--max-val-images", "2", "--vgg-weights",
                           "none", "--perceptual-layers", "1", "--masks", "rectangles", "--device", "cpu",
                           "--num-workers", workers, "--out-dir", str(tmp_path / f"run{workers}"), "--no-progress"])
        assert code == 1
        answers.append(one_line(capsys.readouterr().err))
    assert answers[0] == answers[1] and answers[0].startswith(f"error: cannot read image {faces / '3.png'}: ")


def test_corrupt_image_error_survives_pickling():
    import pickle

    from facelib.data import CorruptImageError

    err = pickle.loads(pickle.dumps(CorruptImageError("/data/x.jpg", "truncated")))
    assert err.path == Path("/data/x.jpg") and str(err) == str(CorruptImageError("/data/x.jpg", "truncated"))


# --------------------------------------------------------------------------------- downloader (items 3, 8)
def test_download_module_without_arguments_shows_usage_and_exits_2():
    done = subprocess.run([sys.executable, "-m", "facelib.download"], cwd=REPO, capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 2
    assert "usage: python -m facelib.download" in done.stderr and "dest" in done.stderr


def test_download_into_an_incomplete_folder_keeps_it(tmp_path: Path, capsys):
    mine = tmp_path / "celeba_hq"
    mine.mkdir()
    (mine / "thesis_figures.png").write_bytes(b"irreplaceable")
    assert download_main([str(tmp_path), "--url", "http://127.0.0.1:9/never-asked", "--no-progress"]) == 1
    line = one_line(capsys.readouterr().err)
    assert "left untouched" in line and "move or rename it" in line
    assert (mine / "thesis_figures.png").read_bytes() == b"irreplaceable"


def test_download_refused_connection_says_what_to_do(tmp_path: Path, capsys, monkeypatch):
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there now
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code = download_main([str(tmp_path), "--url", f"http://127.0.0.1:{port}/celeba_hq.zip", "--no-progress",
                          "--timeout", "5"])
    line = one_line(capsys.readouterr().err)
    assert code == 1 and "stalled or was refused" in line and "run the same command again" in line
    assert "by hand" in line and "FACELIB_DATA" in line


# ------------------------------------------------------------------------------ atomic files (item 8)
def test_saved_files_are_readable_by_others_and_orphans_are_cleaned(tmp_path: Path):
    from facelib.checkpoint import atomic_torch_save

    gone = subprocess.Popen([sys.executable, "-c", "pass"])  # its pid has certainly exited after wait()
    gone.wait(timeout=30)
    orphan = tmp_path / f".last.pt.{gone.pid}.abcd1234.tmp"
    orphan.write_bytes(b"half a checkpoint from a killed run")
    old = os.umask(0o022)
    try:
        path = atomic_torch_save({"step": 1}, tmp_path / "last.pt")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644 and not orphan.exists()


# ------------------------------------------------------------------------------------------ training (1, 2, 6)
def _train_args(out: Path, *extra: str, data: str = "synthetic") -> list[str]:
    """A tiny CLI run: 16 synthetic faces of 16x16, batch 4 (4 steps per epoch), random VGG."""
    return ["--data", data, "--image-size", "16", "--n-synthetic", "16", "--max-val-images", "4", "--widths", "4",
            "8", "16", "--num-residual", "1", "--batch-size", "4", "--vgg-weights", "none", "--perceptual-layers",
            "1", "--masks", "rectangles", "--device", "cpu", "--out-dir", str(out), "--no-progress", *extra]


def _train(*argv: str) -> int:
    from facelib.train import main as train_main

    return train_main(list(argv))


def _generator(out: Path, name: str = "last.pt") -> dict:
    from facelib.checkpoint import load_checkpoint

    return load_checkpoint(out / "checkpoints" / name, map_location="cpu")


def _same_weights(a: dict, b: dict) -> bool:
    return a["global_step"] == b["global_step"] and all(torch.equal(v, b["generator"][k])
                                                         for k, v in a["generator"].items())


def test_resume_without_last_pt_keeps_the_history_and_resumes_from_an_epoch(tmp_path: Path, capsys):
    """Item 1: last.pt deleted (as the advice for an unreadable one says): --resume must not start over."""
    assert _train(*_train_args(tmp_path / "a", "--epochs", "3")) == 0
    run = tmp_path / "b"
    assert _train(*_train_args(run, "--epochs", "2", "--save-epoch-checkpoints")) == 0
    (run / "checkpoints" / "last.pt").unlink()
    before = {name: (run / name).read_bytes() for name in ("history.csv", "history.json")}
    capsys.readouterr()
    assert _train(*_train_args(run, "--epochs", "3", "--resume")) == 1
    line = one_line(capsys.readouterr().err)
    assert "last.pt is missing" in line and "--overwrite" in line and "epoch_1.pt, epoch_2.pt" in line
    assert f"--resume-from {run / 'checkpoints' / 'epoch_2.pt'}" in line
    assert {name: (run / name).read_bytes() for name in before} == before, "the history was overwritten"
    # A missing --resume-from file is one line naming the checkpoints that are there.
    assert _train(*_train_args(run, "--epochs", "3", "--resume-from", str(run / "checkpoints" / "epoch_9.pt"))) == 1
    assert "no such checkpoint file" in one_line(capsys.readouterr().err)
    # Resuming from epoch_1.pt (rolling back one epoch) ends exactly where the uninterrupted run ends.
    epoch_1 = str(run / "checkpoints" / "epoch_1.pt")
    assert _train(*_train_args(run, "--epochs", "3", "--resume-from", epoch_1)) == 0
    assert _same_weights(_generator(tmp_path / "a"), _generator(run))
    assert _generator(run)["config"]["resume_from"] == epoch_1  # recorded
    assert [r["epoch"] for r in __import__("json").loads((run / "history.json").read_text())["history"]] == [1, 2, 3]


def test_resume_of_an_empty_folder_says_so_on_stderr_without_progress(tmp_path: Path, capsys):
    assert _train(*_train_args(tmp_path / "new", "--max-steps", "1", "--resume")) == 0
    err = capsys.readouterr().err
    assert "does not exist" in err and "starting a new run" in err


_HOLD_LOCK = """
import fcntl, os, sys, time
os.makedirs(sys.argv[1], exist_ok=True)  # what facelib.train.run_folder.RunLock does for a live run
fd = os.open(os.path.join(sys.argv[1], ".lock"), os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
os.write(fd, f"{os.getpid()}\\n".encode())
print("locked", flush=True)
time.sleep(120)
"""


def test_a_second_run_on_a_locked_folder_stops_naming_the_pid(tmp_path: Path, capsys):
    """Item 2: a folder held by a live run refuses a second one; a dead holder's lock (kill -9) does not."""
    out = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", _HOLD_LOCK, str(out)], cwd=REPO, stdout=subprocess.PIPE,
                              env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        assert holder.stdout.readline().strip() == b"locked"
        assert _train(*_train_args(out, "--max-steps", "1")) == 1
        line = one_line(capsys.readouterr().err)
        assert f"pid {holder.pid}" in line and "in use by another training run" in line
        assert not (out / "checkpoints" / "last.pt").exists()
    finally:
        os.kill(holder.pid, signal.SIGKILL)  # kill -9: the kernel drops its flock, its pid stays in .lock
        holder.wait(timeout=30)
        holder.stdout.close()
    assert (out / ".lock").read_text().strip() == str(holder.pid)  # stale: its process is gone
    assert _train(*_train_args(out, "--max-steps", "1")) == 0


_INTERRUPT_AT_STEP_3 = """
import os, signal, sys
import torch
torch.set_num_threads(int(os.environ["TEST_TORCH_THREADS"]))  # as in this process: same float results
from facelib.train import Trainer, main
real = Trainer.train_step
calls = []
def call(self, *a, **k):
    out = real(self, *a, **k)
    calls.append(1)
    if len(calls) == 3:
        os.kill(os.getpid(), getattr(signal, sys.argv[1]))  # as if Ctrl-C / `kill` came during step 3
    return out
Trainer.train_step = call
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM"])
def test_ctrl_c_and_sigterm_save_the_step_and_resume_exactly(tmp_path: Path, signame: str):
    """Item 2: Ctrl-C / SIGTERM saves last.pt at the current step (checkpoint-every is 100), one line says how
    to resume, and the resumed run ends with the weights of an uninterrupted one."""
    assert _train(*_train_args(tmp_path / "a", "--epochs", "2")) == 0
    args = _train_args(tmp_path / "b", "--epochs", "2", "--checkpoint-every", "100")
    done = subprocess.run([sys.executable, "-c", _INTERRUPT_AT_STEP_3, signame, *args], cwd=REPO, text=True,
                          capture_output=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO), "PYTHONWARNINGS": "ignore",
                               "TEST_TORCH_THREADS": str(torch.get_num_threads())})
    assert done.returncode == 128 + getattr(signal, signame), done.stderr
    line = one_line(done.stderr)  # no traceback
    assert "at global step 3" in line and "checkpoint saved to" in line and line.endswith("--resume")
    assert _generator(tmp_path / "b")["global_step"] == 3
    assert not (tmp_path / "b" / ".lock").read_text().strip(), "the lock was not released"
    assert _train(*_train_args(tmp_path / "b", "--epochs", "2", "--checkpoint-every", "100", "--resume")) == 0
    assert _same_weights(_generator(tmp_path / "a"), _generator(tmp_path / "b"))


def test_an_image_folder_without_a_split_holds_out_validation_images(tmp_path: Path, faces: Path):
    """Item 6: a generic folder validates on a seeded hold-out, not on its training images."""
    from facelib.data import ImageFolderFaces, folder_split
    from facelib.train import Trainer, TrainConfig

    def config(**kw) -> TrainConfig:
        return TrainConfig(data=str(faces), image_size=16, widths=(4, 8, 16), num_residual=1, batch_size=2,
                           vgg_weights=None, perceptual_layers=(1,), masks="rectangles", device="cpu",
                           out_dir=str(tmp_path / "run"), **kw)

    trainer = Trainer(config(), progress=False)
    train_files, val_files = trainer.data.train_faces.files, trainer.data.val_faces.files
    assert len(val_files) == 1 and len(train_files) == 5 and not set(train_files) & set(val_files)
    assert Trainer(config(), progress=False).data.val_faces.files == val_files  # the same every time
    everything = ImageFolderFaces(faces).files
    assert folder_split(everything, faces, 0.1) == (train_files, val_files)
    with pytest.warns(UserWarning, match="validating on the training images"):
        same = Trainer(config(val_fraction=0.0), progress=False)
    assert same.data.train_faces.files == same.data.val_faces.files == everything
    with pytest.raises(ValueError, match="val_fraction"):
        config(val_fraction=1.0)


def _utkface_subset(folder: Path, with_val_face: bool) -> tuple[Path, str | None]:
    """Six UTKFace-named faces of which none (or one) is in the committed validation list."""
    from facelib.data import UTKFACE_VAL_LIST, read_split_file

    folder.mkdir()
    val_name = read_split_file(UTKFACE_VAL_LIST)[0] if with_val_face else None
    names = [f"{20 + i}_{i % 2}_0_2017010{i}000000000.jpg.chip.jpg" for i in range(6)]
    names = names + [val_name] if val_name else names
    rng = np.random.default_rng(0)
    for name in names:
        Image.fromarray((rng.random((SIZE, SIZE, 3)) * 255).astype(np.uint8)).save(folder / name, format="JPEG")
    return folder, val_name


def test_a_utkface_subset_can_be_trained_with_the_way_out_the_error_names(tmp_path: Path, capsys):
    """Item 6: a UTKFace folder without the committed validation faces names --utkface-subset, which works."""
    folder, _ = _utkface_subset(tmp_path / "utk", with_val_face=False)
    common = ("--batch-size", "2", "--max-steps", "2")
    assert _train(*_train_args(tmp_path / "run", *common, data=str(folder))) == 1
    line = one_line(capsys.readouterr().err)
    assert "validation images listed in" in line and "--utkface-subset" in line
    with pytest.warns(UserWarning, match="is a subset"):
        assert _train(*_train_args(tmp_path / "run", *common, "--utkface-subset", data=str(folder))) == 0
    # A listed validation face in the subset validates and never trains (the protocol scores on it).
    from facelib.data import resolve_faces

    folder, val_name = _utkface_subset(tmp_path / "utk2", with_val_face=True)
    with pytest.warns(UserWarning, match="is a subset"):
        train = resolve_faces(folder, "train", 16, utkface_subset=True, val_fraction=0.1)
        val = resolve_faces(folder, "val", 16, utkface_subset=True, val_fraction=0.1)
    assert [p.name for p in val.files] == [val_name] and val_name not in [p.name for p in train.files]


def test_skip_corrupt_is_reachable_from_the_command_line(tmp_path: Path, faces: Path, capsys):
    """Item 6: the error's advice (skip_corrupt) works from the CLI: --skip-corrupt."""
    (faces / "3.png").write_bytes(b"not an image at all")
    common = ("--batch-size", "2", "--max-steps", "3", "--val-fraction", "0.2")
    assert _train(*_train_args(tmp_path / "run", *common, data=str(faces))) == 1
    assert "--skip-corrupt" in one_line(capsys.readouterr().err)
    with pytest.warns(UserWarning, match="skipping unreadable image"):
        assert _train(*_train_args(tmp_path / "run2", *common, "--skip-corrupt", data=str(faces))) == 0


# ================================================================================ issue 23: nothing silently wrong
def _hole(size: int = SIZE) -> np.ndarray:
    """A (size, size) 0/1 array with a square hole of 9/64 of the image."""
    hole = np.zeros((size, size), np.uint8)
    hole[8:20, 8:20] = 1
    return hole


def _mask_files(folder: Path) -> dict[str, Path]:
    """The same hole saved in the conventions users have, plus the ones that cannot be read unambiguously."""
    folder.mkdir(exist_ok=True)
    hole = _hole()
    rgba, red = np.zeros((SIZE, SIZE, 4), np.uint8), np.zeros((SIZE, SIZE, 3), np.uint8)
    rgba[..., 3], red[..., 0] = hole * 255, hole * 255
    arrays = {"0-255": hole * 255, "0-1": hole, "grey": hole * 90, "alpha": rgba, "red": red,
              "blank": np.zeros((SIZE, SIZE), np.uint8), "full": np.full((SIZE, SIZE), 255, np.uint8),
              "soft": (hole * 255).astype(np.uint8) // 2 + np.arange(SIZE, dtype=np.uint8)[None, :],
              "wide": np.zeros((SIZE, SIZE + 8), np.uint8) + np.pad(hole * 255, ((0, 0), (0, 8)))}
    paths = {}
    for name, arr in arrays.items():
        paths[name] = folder / f"{name}.png"
        Image.fromarray(arr.astype(np.uint8)).save(paths[name])
    return paths


def test_masks_in_other_conventions_read_as_the_same_hole(tmp_path: Path):
    """Cause 1: 0/1, grey, red-only and alpha holes read as 'no hole' before."""
    from facelib.masks import load_mask

    paths = _mask_files(tmp_path / "m")
    expected = torch.from_numpy(_hole().astype(np.float32))[None]
    for name in ("0-255", "0-1", "grey", "alpha", "red"):
        assert torch.equal(load_mask(paths[name]), expected), name
        assert torch.equal(load_mask(paths[name], 16), load_mask(paths["0-255"], 16)), name
    assert torch.equal(load_mask(paths["red"], channel="R"), expected)


@pytest.mark.parametrize("name, words", [("blank", "is blank"), ("full", "is blank"), ("soft", "not two-level"),
                                         ("wide", "not square")])
def test_masks_that_cannot_be_read_unambiguously_are_refused(tmp_path: Path, name: str, words: str):
    from facelib.masks import load_mask

    path = _mask_files(tmp_path / "m")[name]
    with pytest.raises(ValueError) as err:
        load_mask(path, 16)
    line = one_line(str(err.value))
    assert words in line and str(path) in line


def _nvidia_like(folder: Path, numbers: list[int], invert: bool = False) -> Path:
    """Files numbered like NVIDIA's whose hole ratio lies in the middle of their bin (or its inverse)."""
    folder.mkdir(exist_ok=True)
    from facelib.masks import FILES_PER_BIN

    for number in numbers:
        arr = np.zeros((64, 64), np.uint8)
        arr[: round(64 * ((number // FILES_PER_BIN) / 10 + 0.05)), :] = 255
        Image.fromarray(255 - arr if invert else arr).save(folder / f"{number:05d}.png")
    return folder


def test_an_inverted_nvidia_mask_is_refused_not_scored_in_the_wrong_bin(tmp_path: Path, faces: Path, capsys):
    """Cause 1: an inverted mask (black = hole) was scored in the 0-10% bin with most of the image missing."""
    from facelib.masks import IrregularMasks

    rows = _irregular_rows()
    masks = _nvidia_like(tmp_path / "masks", [r["mask_id"] for r in rows], invert=True)
    with pytest.raises(ValueError) as err:
        IrregularMasks(masks, SIZE)
    assert "looks inverted" in one_line(str(err.value))
    manifest = _manifest(tmp_path / "m.csv", rows)
    out = tmp_path / "results"
    code, err_text = _evaluate(capsys, "--manifest", str(manifest), "--faces", str(faces), "--masks", str(masks),
                               "--baseline", "telea", "--out", str(out))
    assert code == 1 and "outside its NVIDIA bin 0-10%" in one_line(err_text) and not (out / "results.md").exists()
    # The same folder the right way round scores.
    _nvidia_like(masks, [r["mask_id"] for r in rows])
    assert _evaluate(capsys, "--manifest", str(manifest), "--faces", str(faces), "--masks", str(masks),
                     "--baseline", "telea", "--out", str(out))[0] == 0


def test_training_with_a_blank_mask_folder_stops_with_one_line(tmp_path: Path, capsys):
    """Cause 1: a --mask-root of 0/255-looking-black or blank files trained with no holes."""
    folder = tmp_path / "blank"
    folder.mkdir()
    for number in (1, 2):
        Image.new("L", (64, 64), 0).save(folder / f"{number:05d}.png")
    args = _train_args(tmp_path / "run", "--max-steps", "1", "--mask-root", str(folder), "--no-holdout-protocol-masks")
    args[args.index("rectangles")] = "irregular"
    assert _train(*args) == 1
    assert "is blank" in one_line(capsys.readouterr().err)
    assert not (tmp_path / "run" / "checkpoints" / "last.pt").exists()


def test_an_evaluation_with_a_nan_hole_metric_fails(tmp_path: Path, faces: Path):
    """Cause 1: a case without hole pixels at the scored size was averaged in as PSNR inf / NaN."""
    from facelib.baselines import OpenCVInpainter

    rows = P.build_manifest([f"{i}.png" for i in range(6)], SIZE, kinds=("center",))

    class NoHole(P.ProtocolDataset):
        """Case 2's hole vanishes (as a tiny hole does when a mask is shrunk to the scored size)."""

        def __getitem__(self, index: int) -> dict:
            item = super().__getitem__(index)
            return {**item, "mask": torch.zeros_like(item["mask"])} if index == 2 else item

    broken = NoHole(rows, faces)
    with pytest.raises(ValueError) as err:
        E.evaluate(OpenCVInpainter("telea"), broken, name="telea", progress=False)
    line = one_line(str(err.value))
    assert "case 2" in line and "hole_psnr=" in line and "no hole" in line


def test_metrics_refuse_images_in_0_1(tmp_path: Path):
    """Cause 6: [0, 1] images gave a hole PSNR about 6 dB too high without a word."""
    target = torch.rand(2, 3, 16, 16) * 2 - 1
    pred = (target + 0.2 * torch.randn_like(target)).clamp(-1, 1)
    mask = torch.zeros(2, 1, 16, 16)
    mask[..., 4:12, 4:12] = 1
    assert torch.isfinite(M.psnr(pred, target, mask)).all()
    for metric in (M.psnr, M.l1, M.l2, M.ssim):
        with pytest.raises(ValueError) as err:
            metric((pred + 1) / 2, (target + 1) / 2)
        assert "2 * x - 1" in one_line(str(err.value))


# ------------------------------------------------------------------------------- evaluate: flags and files
def _center_manifest(tmp_path: Path) -> Path:
    return _manifest(tmp_path / "m.csv", P.build_manifest([f"{i}.png" for i in range(6)], SIZE, kinds=("center",)))


def test_evaluate_does_not_overwrite_earlier_results(tmp_path: Path, faces: Path, capsys):
    """Cause 4: an evaluation into an existing --out replaced the earlier results."""
    manifest, out = _center_manifest(tmp_path), tmp_path / "results"
    args = ("--manifest", str(manifest), "--faces", str(faces), "--baseline", "telea", "--out", str(out),
            "--n-boot", "10")
    assert _evaluate(capsys, *args)[0] == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    code, err_text = _evaluate(capsys, *args, "--limit", "2")
    line = one_line(err_text)
    assert code == 1 and "already exist" in line and "--overwrite" in line
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert _evaluate(capsys, *args, "--limit", "2", "--overwrite")[0] == 0
    assert (out / "cases.csv").read_bytes() != before["cases.csv"]


@pytest.mark.parametrize("flags, words", [
    (("--size", "0"), "--size 0: the evaluation size must be a multiple of 4"),
    (("--size", "7"), "--size 7: the evaluation size must be a multiple of 4"),
    (("--batch-size", "0"), "--batch-size 0: must be an integer >= 1"),
    (("--per-bin", "0"), "--per-bin 0: must be an integer >= 1"),
    (("--device", "bogus"), "--device 'bogus' is not a device name"),
    (("--device", "mps"), "--device 'mps' but mps is not available here"),
])
def test_evaluate_names_the_flag_of_a_bad_value(tmp_path: Path, faces: Path, capsys, flags, words):
    if flags[1] == "mps" and torch.backends.mps.is_available():
        pytest.skip("this machine has an mps device")
    out = tmp_path / "results"
    code = E.main(["--vgg-weights", "off", "--no-progress", "--manifest", str(_center_manifest(tmp_path)),
                   "--faces", str(faces), "--baseline", "telea", "--out", str(out), *flags])
    assert code == 2 and words in one_line(capsys.readouterr().err) and not out.exists()


def test_evaluate_into_a_file_or_a_read_only_folder_is_one_line(tmp_path: Path, faces: Path, capsys):
    manifest = _center_manifest(tmp_path)
    afile = tmp_path / "notes.txt"
    afile.write_text("mine")
    code, err_text = _evaluate(capsys, "--manifest", str(manifest), "--faces", str(faces), "--baseline", "telea",
                               "--out", str(afile / "results"))
    assert code == 2 and "is a file, not a folder" in one_line(err_text) and afile.read_text() == "mine"


@pytest.mark.parametrize("errno_name, fix", [("EROFS", "the disk is read-only"), ("ENOSPC", "the disk is full")])
def test_evaluate_on_a_read_only_or_full_disk_is_one_line_and_keeps_results(tmp_path: Path, faces: Path, capsys,
                                                                          monkeypatch, errno_name: str, fix: str):
    import errno

    manifest, out = _center_manifest(tmp_path), tmp_path / "results"
    args = ("--manifest", str(manifest), "--faces", str(faces), "--baseline", "telea", "--out", str(out),
            "--n-boot", "10")
    assert _evaluate(capsys, *args)[0] == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    import facelib.checkpoint as C

    def refused(path, write):
        raise OSError(getattr(errno, errno_name), os.strerror(getattr(errno, errno_name)), str(path))

    monkeypatch.setattr(C, "_atomic_write", refused)
    code, err_text = _evaluate(capsys, *args, "--overwrite")
    line = one_line(err_text)
    assert code == 1 and line.startswith(f"error: {out / 'results.md'}: ") and fix in line
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


# ------------------------------------------------------------------------------- training: data and files
def _face_folder(folder: Path, n: int = 8, seed: int = 0) -> Path:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        Image.fromarray((rng.random((SIZE, SIZE, 3)) * 255).astype(np.uint8)).save(folder / f"{i}.png")
    return folder


def test_resume_refuses_other_faces_from_facelib_data(tmp_path: Path, capsys, monkeypatch):
    """Cause 3: a run started on the synthetic faces resumed silently on real faces once FACELIB_DATA was set."""
    run = tmp_path / "run"
    no_data = [a for a in _train_args(run, "--max-steps", "2") if a not in ("--data", "synthetic")]
    monkeypatch.delenv("FACELIB_DATA", raising=False)
    with pytest.warns(UserWarning, match="synthetic"):
        assert _train(*no_data) == 0
    before = (run / "checkpoints" / "last.pt").read_bytes()
    monkeypatch.setenv("FACELIB_DATA", str(_face_folder(tmp_path / "real")))
    capsys.readouterr()
    assert _train(*no_data, "--max-steps", "4", "--resume") == 1
    line = one_line(capsys.readouterr().err)
    assert "trained on other faces" in line and "SyntheticFaces vs ImageFolderFaces" in line and "--data" in line
    assert (run / "checkpoints" / "last.pt").read_bytes() == before


def test_resume_accepts_another_spelling_of_the_data_folder_and_refuses_another_folder(tmp_path: Path, capsys,
                                                                                         monkeypatch):
    """Cause 3: a relative --data resumed from another folder trained on a different folder."""
    _face_folder(tmp_path / "a" / "faces", seed=0)
    _face_folder(tmp_path / "b" / "faces", seed=1)
    (tmp_path / "b" / "faces" / "7.png").rename(tmp_path / "b" / "faces" / "other.png")
    run = tmp_path / "run"
    monkeypatch.chdir(tmp_path / "a")
    assert _train(*_train_args(run, "--epochs", "9", "--max-steps", "2", data="faces")) == 0
    monkeypatch.chdir(tmp_path)  # the same folder spelled another way resumes
    assert _train(*_train_args(run, "--epochs", "9", "--max-steps", "3", "--resume",
                               data=str(tmp_path / "b" / ".." / "a" / "faces"))) == 0
    assert _generator(run)["global_step"] == 3
    monkeypatch.chdir(tmp_path / "b")  # "faces" is now another folder
    capsys.readouterr()
    assert _train(*_train_args(run, "--epochs", "9", "--max-steps", "4", "--resume", data="faces")) == 1
    line = one_line(capsys.readouterr().err)
    assert "trained on other faces" in line and "other train file names" in line
    assert _generator(run)["global_step"] == 3


def test_an_out_dir_inside_the_data_folder_is_refused(tmp_path: Path, capsys):
    """Cause 3: an --out-dir inside --data turned the run's own PNGs into training faces."""
    data = _face_folder(tmp_path / "faces")
    assert _train(*_train_args(data / "run", "--max-steps", "1", data=str(data))) == 1
    line = one_line(capsys.readouterr().err)
    assert "is inside the data folder" in line and "--out-dir" in line
    assert sorted(p.name for p in data.iterdir()) == [f"{i}.png" for i in range(8)]


def test_a_checkpoint_without_a_data_record_resumes_with_one_warning(tmp_path: Path, capsys):
    """Older checkpoints (a run going on now) hold no data record: unknown, warned once, not refused."""
    from facelib.checkpoint import atomic_torch_save

    run = tmp_path / "run"
    assert _train(*_train_args(run, "--max-steps", "2")) == 0
    ckpt = _generator(run)
    del ckpt["data_identity"]
    atomic_torch_save(ckpt, run / "checkpoints" / "last.pt")
    capsys.readouterr()
    assert _train(*_train_args(run, "--max-steps", "3", "--resume")) == 0
    err = capsys.readouterr().err
    assert err.count("does not record which faces it trained on") == 1
    assert _generator(run)["data_identity"]["kind"] == "SyntheticFaces"


def test_overwrite_removes_only_the_files_a_run_wrote(tmp_path: Path):
    """Cause 5: train --overwrite deleted the whole checkpoints/ folder, files facelib never wrote included."""
    run = tmp_path / "run"
    assert _train(*_train_args(run, "--epochs", "1", "--save-epoch-checkpoints")) == 0
    mine = {run / "checkpoints" / "best_by_hand.pt": b"kept on purpose", run / "checkpoints" / "notes.txt": b"x",
            run / "notes.md": b"my notes"}
    for path, data in mine.items():
        path.write_bytes(data)
    old = (run / "checkpoints" / "epoch_1.pt").stat().st_mtime_ns
    assert _train(*_train_args(run, "--max-steps", "1", "--overwrite")) == 0
    assert all(path.read_bytes() == data for path, data in mine.items())
    assert not (run / "checkpoints" / "epoch_1.pt").exists() and old


# ----------------------------------------------------------------- weights, manifests, figures: no overwrite
def _tiny_run(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    assert _train(*_train_args(run, "--max-steps", "1")) == 0
    return run / "checkpoints" / "last.pt"


def test_export_does_not_replace_weights_of_the_same_name(tmp_path: Path, capsys):
    """Cause 4: `export --name generator` replaced the committed manifest (history, results) and
    orphaned its old shards."""
    import json

    from facelib.export import main as export_main

    ckpt, weights = _tiny_run(tmp_path), tmp_path / "weights"
    export = ["--checkpoint", str(ckpt), "--name", "tiny", "--weights-dir", str(weights)]
    assert export_main(export) == 0
    manifest = json.loads((weights / "tiny.json").read_text())
    manifest["results"] = {"hole_psnr": "measured"}
    manifest["files"] = [*manifest["files"], {"path": "tiny-old-shard.safetensors", "bytes": 1, "sha256": "0" * 64}]
    (weights / "tiny.json").write_text(json.dumps(manifest))
    (weights / "tiny-old-shard.safetensors").write_bytes(b"x")
    (weights / "README.md").write_text("mine")
    before = (weights / "tiny.json").read_bytes()
    capsys.readouterr()
    assert export_main(export) == 1
    line = one_line(capsys.readouterr().err)
    assert "already exists" in line and "--overwrite" in line and (weights / "tiny.json").read_bytes() == before
    assert export_main([*export, "--overwrite"]) == 0
    assert not (weights / "tiny-old-shard.safetensors").exists() and (weights / "README.md").read_text() == "mine"


def test_protocol_build_does_not_overwrite_a_manifest(tmp_path: Path, capsys):
    """Cause 4: `protocol build` could overwrite the committed manifest, and not atomically."""
    split = tmp_path / "split.txt"
    split.write_text("".join(f"{i}.png\n" for i in range(6)))
    out = tmp_path / "m.csv"
    out.write_text("my manifest")
    build = ["build", "--split-list", str(split), "--size", "32", "--out", str(out)]
    assert P.main(build) == 1
    assert "--overwrite" in one_line(capsys.readouterr().err) and out.read_text() == "my manifest"
    assert P.main([*build, "--overwrite"]) == 0 and len(P.read_manifest(out)) == 18
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.csv", "split.txt"]  # no temporary file left
    for size in ("0", "7"):
        assert P.main(["build", "--split-list", str(split), "--size", size, "--out", str(tmp_path / "x.csv")]) == 2
        assert f"--size {size}: " in one_line(capsys.readouterr().err)


def test_series_run_with_parameters_does_not_overwrite_committed_figures(tmp_path: Path, capsys):
    """Cause 4: `series run -p ...` redrew the committed figures/ at other values."""
    from facelib.series import main as series_main

    figures = REPO / "figures"
    before = sorted((p.name, p.stat().st_mtime_ns) for p in figures.iterdir()) if figures.is_dir() else []
    assert series_main(["run", "--only", "01", "-p", "n_images", "2", "--out", str(tmp_path / "out")]) == 1
    line = one_line(capsys.readouterr().err)
    assert "replace the committed ones" in line and "--figures DIR" in line
    assert not (tmp_path / "out").exists()
    assert (sorted((p.name, p.stat().st_mtime_ns) for p in figures.iterdir()) if figures.is_dir() else []) == before


# ------------------------------------------------------------------ checkpoints and weights of the wrong shape
@pytest.mark.parametrize("damage", ["missing key", "wrong shape"])
def test_checkpoints_that_do_not_fit_their_model_are_one_line(tmp_path: Path, faces: Path, capsys, damage: str):
    from facelib.checkpoint import atomic_torch_save

    _tiny_run(tmp_path)
    ckpt = _generator(tmp_path / "run")
    first = next(iter(ckpt["generator"]))
    if damage == "missing key":
        del ckpt["generator"][first]
    else:
        ckpt["generator"][first] = ckpt["generator"][first][:1]
    bad = atomic_torch_save(ckpt, tmp_path / "bad.pt")
    code, err_text = _evaluate(capsys, "--manifest", str(_center_manifest(tmp_path)), "--faces", str(faces),
                               "--checkpoint", f"x={bad}", "--out", str(tmp_path / "results"), "--size", "16",
                               "--allow-size-mismatch")
    line = one_line(err_text)
    assert code == 1 and str(bad) in line and first in line
    assert ("1 missing" if damage == "missing key" else "has shape") in line
    capsys.readouterr()
    assert _train(*_train_args(tmp_path / "run2", "--max-steps", "2", "--resume-from", str(bad))) == 1
    assert first in one_line(capsys.readouterr().err)


@pytest.mark.parametrize("damage", ["no files", "a list", "files not a list"])
def test_weights_manifests_of_the_wrong_shape_are_one_line(tmp_path: Path, faces: Path, capsys, damage: str):
    import json

    from facelib.export import main as export_main
    from facelib.pretrained import load_pretrained
    from facelib.pretrained import main as pretrained_main

    weights = tmp_path / "weights"
    assert export_main(["--checkpoint", str(_tiny_run(tmp_path)), "--name", "tiny", "--weights-dir",
                        str(weights)]) == 0
    manifest = json.loads((weights / "tiny.json").read_text())
    if damage == "no files":
        del manifest["files"]
    elif damage == "files not a list":
        manifest["files"] = "tiny.safetensors"
    (weights / "tiny.json").write_text(json.dumps([manifest] if damage == "a list" else manifest))
    with pytest.raises(ValueError) as err:
        load_pretrained("tiny", weights_dir=weights)
    assert str(weights / "tiny.json") in one_line(str(err.value))
    capsys.readouterr()
    code, err_text = _evaluate(capsys, "--manifest", str(_center_manifest(tmp_path)), "--faces", str(faces),
                               "--pretrained", "tiny", "--weights-dir", str(weights), "--out", str(tmp_path / "r"),
                               "--size", "16", "--allow-size-mismatch")
    assert code == 1 and "tiny.json" in one_line(err_text)
    assert pretrained_main(["list", "--weights-dir", str(weights)]) == 0  # listing skips it instead of a KeyError


def test_train_names_the_flags_and_refuses_an_out_dir_that_is_a_file(tmp_path: Path, capsys):
    """Messages named Python arguments (TrainConfig.batch_size=1, device='bogus') instead of the flags typed."""
    afile = tmp_path / "notes.txt"
    afile.write_text("mine")
    for extra, words in ((("--batch-size", "1"), "--batch-size 1 is invalid"),
                         (("--device", "bogus"), "--device 'bogus' is not a device name"),
                         (("--resume-from", str(tmp_path / "nope.pt")), "--resume-from '")):
        assert _train(*_train_args(tmp_path / "run", *extra)) in (1, 2)
        assert one_line(capsys.readouterr().err).startswith(f"error: {words}")
    assert _train(*_train_args(afile, "--max-steps", "1")) == 2
    assert "is a file, not a folder" in one_line(capsys.readouterr().err) and afile.read_text() == "mine"


def test_a_part_file_larger_than_the_download_starts_over(tmp_path: Path, monkeypatch):
    """A .part larger than its file (another archive's bytes) failed on every rerun, each advising a rerun."""
    from test_download import ZIP, ZIP_SHA256, _Server

    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("no_proxy", "*")
    (tmp_path / "celeba_hq.zip.part").write_bytes(ZIP + b"bytes of some other, larger file")
    server = _Server()
    try:
        root = download_main([str(tmp_path), "--url", server.url, "--no-progress", "--sha256", ZIP_SHA256])
    finally:
        server.close()
    assert root == 0 and len(list((tmp_path / "celeba_hq").rglob("*.jpg"))) == 6
    assert [r[1] for r in server.requests] == [f"bytes={len(ZIP) + 32}-", None]


def test_print_error_names_the_fix_for_system_errors_and_keeps_our_own_messages(capsys):
    """The one error path of every facelib command line: a system OSError (with an errno) gets the path and the
    fix; facelib's own errors, raised with a message that already names the fix, are printed unchanged."""
    import errno

    from facelib.cli_errors import print_error

    assert print_error(OSError(errno.ENOSPC, "No space left on device"), "/data/out") == 1
    assert capsys.readouterr().err == ("error: /data/out: No space left on device; the disk is full: free some "
                                       "space or choose a folder on another disk (nothing was half-written)\n")
    assert print_error(FileNotFoundError("manifest m.csv not found; build one with python -m facelib.protocol"),
                       "/ignored") == 1
    assert capsys.readouterr().err == "error: manifest m.csv not found; build one with python -m facelib.protocol\n"
    assert print_error(ValueError("--size must be 32 or more")) == 1
    assert capsys.readouterr().err == "error: --size must be 32 or more\n"
