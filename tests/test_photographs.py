"""facelib.data.photographs: the real photographs that stand in for a face dataset when showing trained weights."""
from __future__ import annotations

import torch

from facelib.data.photographs import REAL_FACES_HINT, faces_for_trained_models, photographs


def test_photographs_are_real_faces_in_range():
    images, credits = photographs(64)
    assert images.shape == (len(credits), 3, 64, 64) and len(credits) >= 2
    assert images.min() >= -1 and images.max() <= 1 and images.std() > 0.1
    assert any("NASA" in c for c in credits) and any("grace_hopper" in c for c in credits)


def test_synthetic_faces_are_replaced_by_the_photographs(monkeypatch):
    monkeypatch.delenv("FACELIB_DATA", raising=False)
    sample = faces_for_trained_models("synthetic", 32, 8)
    assert not sample.from_dataset and REAL_FACES_HINT in sample.note
    assert torch.equal(sample.images, photographs(32)[0])


def test_a_face_folder_gives_its_validation_faces(tmp_path):
    from PIL import Image

    for i in range(3):
        Image.new("RGB", (40, 40), (60 * i, 90, 120)).save(tmp_path / f"{i}.png")
    sample = faces_for_trained_models(str(tmp_path), 32, 2)
    assert sample.from_dataset and sample.images.shape == (2, 3, 32, 32) and "2 validation faces" in sample.note


def test_the_series_says_first_which_faces_it_uses(monkeypatch, tmp_path):
    from facelib.data.photographs import faces_banner

    monkeypatch.delenv("FACELIB_DATA", raising=False)
    banner = faces_banner("synthetic")
    assert banner.startswith("faces: the synthetic cartoon faces") and "python -m facelib.download data" in banner
    from PIL import Image

    Image.new("RGB", (40, 40), (10, 90, 120)).save(tmp_path / "a.png")
    assert faces_banner(str(tmp_path)).startswith("faces: ") and "synthetic" not in faces_banner(str(tmp_path))


def test_series_run_prints_the_faces_line_first(monkeypatch, capsys):
    from facelib.series import cli

    monkeypatch.setattr(cli, "run", lambda *a, **k: [])
    assert cli.main(["run", "--only", "10", "--data", "synthetic"]) == 0
    assert capsys.readouterr().out.startswith("faces: the synthetic cartoon faces")
