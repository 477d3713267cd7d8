"""facelib.report: the results tables, the per-epoch table and the two figures every report uses."""
from __future__ import annotations

import csv

import matplotlib.pyplot as plt
import pytest

from facelib.report import TABLE_GROUPS, epoch_table, plot_by_bin, plot_loss_curves, read_results, results_table


@pytest.fixture()
def results_csv(tmp_path):
    rows = []
    for method, base in (("ours", 24.0), ("OpenCV ns", 23.0), ("Context Encoder", 22.0)):
        for kind, b in (*TABLE_GROUPS, ("freeform", "10-20%")):
            if method == "Context Encoder" and kind != "center":
                continue
            for metric, v in (("hole_psnr", base), ("perceptual", 10 * base)):
                rows.append({"method": method, "kind": kind, "bin": b, "metric": metric, "mean": v,
                             "ci_lo": v - 0.5, "ci_hi": v + 0.25, "n": 7})
    path = tmp_path / "results.csv"
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


def test_read_results_from_the_file_or_its_folder(results_csv):
    res = read_results(results_csv.parent)
    assert res == read_results(results_csv)
    assert res[("ours", "center", "25%", "hole_psnr")] == {"mean": 24.0, "ci_lo": 23.5, "ci_hi": 24.25, "n": 7.0}


def test_results_table_rows_columns_and_missing_groups(results_csv):
    text = results_table(read_results(results_csv)).splitlines()
    assert text[0] == "| method | " + " | ".join(f"{k} {b}" for k, b in TABLE_GROUPS) + " |"
    assert text[2] == "| ours | " + " | ".join(["24.00 (23.50-24.25)"] * len(TABLE_GROUPS)) + " |"
    assert text[4] == "| Context Encoder | " + " | ".join(["n/a"] * 6 + ["22.00 (21.50-22.25)", "n/a"]) + " |"
    assert "220.0 (219.5-220.2)" in results_table(read_results(results_csv), "perceptual", digits=1)


def test_epoch_table_marks_a_partial_epoch():
    rows = [{"epoch": 1, "train_pixel": 0.4, "train_perceptual": 142.349, "val_pixel": 0.3, "val_perceptual": 115.1},
            {"epoch": 2, "train_pixel": 0.3, "train_perceptual": None, "val_pixel": 0.25, "val_perceptual": 96.0,
             "complete": False, "steps": 40}]
    lines = epoch_table(rows).splitlines()
    assert lines[2] == "| 1 | 0.4000 | 142.35 | 0.3000 | 115.10 |"
    assert lines[3] == "| 2 (40 steps) | 0.3000 | - | 0.2500 | 96.00 |"


def test_figures_have_one_series_per_run_and_method(results_csv):
    hist = [{"epoch": e, "train_pixel": 1 / e, "val_pixel": 1.1 / e, "train_perceptual": 9 / e,
             "val_perceptual": 10 / e} for e in (1, 2, 3)]
    fig = plot_loss_curves({"a": hist, "pixel only": [{**r, "train_perceptual": None} for r in hist]})
    pixel, perceptual = fig.axes
    assert len(pixel.lines) == 4 and len(perceptual.lines) == 2  # train + val per run; no perceptual for one
    plt.close(fig)
    fig = plot_by_bin(read_results(results_csv))
    assert [ax.get_title() for ax in fig.axes] == ["irregular holes", "freeform holes", "center holes"]
    assert len(fig.axes[2].containers) == 3 and len(fig.axes[0].containers) == 2  # CE only on the centre
    plt.close(fig)


def test_paired_verdict_words_follow_the_numbers():
    import torch

    from facelib.report import paired_verdict

    a = torch.tensor([21.0, 22.0, 23.0, 24.0])
    assert paired_verdict("gated", a, "ns", a - 1) == \
        "gated is ahead of ns by 1.00 dB on these 4 faces (noise +-0.00 dB)"
    assert paired_verdict("gated", a - 1, "ns", a).startswith("ns is ahead of gated by 1.00 dB")
    noisy = torch.tensor([1.0, -1.0, 1.0, -0.8])
    assert paired_verdict("a", noisy, "b", torch.zeros(4)).startswith("a and b are level within the noise on these 4")
    assert "level" in paired_verdict("a", torch.ones(1), "b", torch.zeros(1))  # one face: no noise estimate


def test_progress_tqdm_writes_like_tqdm_auto(capsys):
    """facelib.progress.tqdm replaces tqdm.auto.tqdm in the training loop, which logs with tqdm.write."""
    from facelib.progress import tqdm

    with tqdm(total=2, disable=True) as bar:
        tqdm.write("a line above the bar")
        bar.update(2)
    assert "a line above the bar" in capsys.readouterr().out
