"""CI smoke test of benchmarks/train_throughput.py: the table prints on CPU at a toy size."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "train_throughput.py"
NUMBER = r"\d+(?:\.\d+)?"


def run(*args: str) -> str:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run([sys.executable, str(SCRIPT), *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_throughput_table_smoke():
    out = run("--device", "cpu", "--size", "32", "--batch", "2", "--steps", "3", "--vgg-weights", "none")
    assert re.search(r"^date: \d{4}-\d\d-\d\d", out, re.M)
    assert "torch " + __import__("torch").__version__ in out
    header = next(line for line in out.splitlines() if line.startswith("stage"))
    for col in ("step ms", "images/s", "peak GiB", "vs naive", "of limit"):
        assert col in header
    timed = {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) == 6 and re.fullmatch(NUMBER, cells[1]):
            timed[cells[0]] = cells
    for stage in ("naive fp32 eager", "+ bf16 autocast", "+ channels_last", "+ fused Adam",
                  "+ VGG target once, no_grad", "+ GPU uint8 cache, GPU masks (e2e)"):
        assert stage in timed, f"row {stage!r} missing or not numeric:\n{out}"
        step_ms, ips = float(timed[stage][1]), float(timed[stage][2])
        assert step_ms > 0 and ips > 0
        # images/s = batch / step time (printed with one decimal: allow the rounding at low throughput)
        assert abs(ips - 2 / (step_ms / 1000)) <= max(0.02 * ips, 0.05)
        assert re.fullmatch(NUMBER + "x", timed[stage][4]) and re.fullmatch(NUMBER + "%", timed[stage][5])
    assert timed["naive fp32 eager"][4] == "1.00x"
    # Rows that cannot run on CPU say why instead of printing numbers.
    assert re.search(r"\+ CUDA graphs\s+\| skipped: needs CUDA", out)
    assert "GFLOP" in out


def test_compare_loss_smoke():
    out = run("--device", "cpu", "--size", "32", "--batch", "2", "--compare-loss", "3", "--vgg-weights", "none",
              "--widths", "8", "16", "32", "--num-residual", "1")
    rows = [line for line in out.splitlines() if line.split("|")[0].strip() in ("total", "pixel", "perceptual")]
    assert len(rows) == 3
    for line in rows:
        assert re.fullmatch(NUMBER + "%", line.split("|")[-1].strip())


def test_real_data_rows_read_faces_from_disk(tmp_path):
    """--real-data feeds the data-path rows from a face folder (decoded from disk), the step rows stay synthetic."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for i in range(40):
        Image.fromarray((rng.random((40, 40, 3)) * 255).astype(np.uint8)).save(tmp_path / f"{i:02d}.png")
    out = run("--device", "cpu", "--size", "32", "--batch", "2", "--steps", "2", "--vgg-weights", "none",
              "--widths", "8", "16", "32", "--num-residual", "1", "--masks", "mixed", "--real-data", str(tmp_path))
    assert f"data-path rows: {tmp_path} (training split, images decoded from disk); masks mixed" in out
    for stage in (r"\+ GPU uint8 cache, GPU masks \(e2e\)", r"  ref: fast step \+ CPU DataLoader \(0 workers\)"):
        assert re.search(stage + r"\s+\|\s+" + NUMBER, out), out


def test_preset_step_time_smoke():
    """benchmarks/preset_step_time.py: one row per stage of a two-stage preset, one for a single-stage one."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "preset_step_time.py"), "--presets", "pixel",
                           "gmcnn", "--size", "32", "--batch", "2", "--steps", "1", "--warmup", "0", "--amp", "none",
                           "--vgg-weights", "none"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = {tuple(c.strip() for c in line.split("|")[:2]): line.split("|") for line in proc.stdout.splitlines()
            if line.count("|") == 5 and not line.startswith("preset")}
    assert set(rows) == {("pixel", "single stage"), ("gmcnn", "stage 1 (reconstruction)"),
                         ("gmcnn", "stage 2 (+ ID-MRF, critics)")}
    for cells in rows.values():
        assert float(cells[3]) > 0 and float(cells[5]) > 0
