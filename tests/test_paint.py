"""facelib.paint: masks from strokes, every method on one hole, the painter headless and as a widget."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from facelib import paint
from facelib.baselines import BASELINES
from facelib.masks import CenterMask

from paint_weights import write_small_weights


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return write_small_weights(tmp_path_factory.mktemp("weights"), size=64)


@pytest.fixture(scope="module")
def methods(weights):
    return paint.load_methods(weights, image_size=64, log=None)


def test_bundled_face_and_fallback(monkeypatch, tmp_path):
    assert paint.ASTRONAUT_FACE.is_file() and (paint.ASTRONAUT_FACE.parent / "README.md").is_file()
    face = paint.bundled_face(64)
    assert face.shape == (3, 64, 64) and -1 <= face.min() < face.max() <= 1 and face.std() > 0.2
    monkeypatch.delenv("FACELIB_DATA", raising=False)
    monkeypatch.setattr("facelib.data.resolve.DATA_DIR", tmp_path)  # no dataset in data/ (read by resolve_faces)
    image, what = paint.pick_face(None, size=32)
    assert image.shape == (3, 32, 32) and "astronaut" in what and "public domain" in what
    image, what = paint.pick_face("synthetic", index=2, size=32)
    assert "synthetic" in what.lower() and not torch.equal(image, paint.bundled_face(32))


def test_stroke_mask_draws_erases_and_checks():
    mask = np.zeros((32, 32), np.uint8)
    paint.stroke_mask(mask, [(4, 16), (28, 16)], radius=2)
    assert set(np.unique(mask)) == {0, 1}
    assert mask[16, 4:29].all() and mask[14:19, 16].all() and not mask[12, 16] and not mask[16, 31]
    paint.stroke_mask(mask, [(16, 16)], radius=3, erase=True)  # a dab
    assert not mask[16, 14:19].any() and mask[16, 4] == 1
    paint.stroke_mask(mask, [(0, 0)], radius=0.5)
    assert mask[0, 0] == 1 and mask[1, 1] == 0
    with pytest.raises(ValueError, match="uint8"):
        paint.stroke_mask(mask.astype(bool), [(1, 1)], 2)
    with pytest.raises(ValueError, match="radius"):
        paint.stroke_mask(mask, [(1, 1)], 0.2)


def test_centre_square_is_the_context_encoders_hole(methods):
    ce = next(m for m in methods if m.name == "context_encoder")
    assert torch.equal(torch.from_numpy(paint.centre_square(64)).float()[None], ce.model.center_mask())
    assert torch.equal(torch.from_numpy(paint.centre_square(64)).float()[None], CenterMask(64)())


def test_load_methods_finds_all_and_skips_missing(weights, tmp_path, capsys):
    names = [m.name for m in paint.load_methods(weights, image_size=64)]
    assert names == [*paint.shipped_models(), *BASELINES]
    assert capsys.readouterr().out == ""
    names = [m.name for m in paint.load_methods(tmp_path / "none", image_size=64)]
    assert names == ["telea", "ns"]
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == len(paint.shipped_models()) and all("skipped" in line for line in lines)
    # a Context Encoder for another size cannot paint these faces: one line, skipped
    names = [m.name for m in paint.load_methods(weights, image_size=32, opencv=False)]
    assert names == ["generator", "gan", "gated", "gmcnn"]
    assert "context_encoder: built for 64x64" in capsys.readouterr().out


def test_load_methods_skips_a_corrupt_file(weights, tmp_path, capsys):
    import shutil

    broken = tmp_path / "w"
    shutil.copytree(weights, broken)
    (broken / "gated.safetensors").write_bytes(b"truncated")
    names = [m.name for m in paint.load_methods(broken, image_size=64)]
    assert "gated" not in names and "generator" in names
    assert "gated: cannot load (WeightsIntegrityError" in capsys.readouterr().out


def test_run_methods_composites_and_scores(methods):
    face = paint.bundled_face(64)
    mask = np.zeros((64, 64), np.uint8)
    paint.stroke_mask(mask, [(10, 10), (50, 40)], 3)
    m = torch.from_numpy(mask).float()[None]
    fills = paint.run_methods(methods, face, m)
    assert list(fills) == [x.name for x in methods]
    ce = fills["context_encoder"]
    assert ce.composite is None and "centre square" in ce.note and "centre square" in ce.caption()
    for name, fill in fills.items():
        if name == "context_encoder":
            continue
        assert fill.composite.shape == (3, 64, 64)
        known = (m == 0).expand(3, -1, -1)
        assert torch.equal(fill.composite[known], face[known]), name  # known pixels are copied back exactly
        assert math.isfinite(fill.hole_psnr) and 0 < fill.hole_psnr < 60 and fill.seconds >= 0
        assert " dB (" in fill.caption()
    centre = torch.from_numpy(paint.centre_square(64)).float()[None]
    fills = paint.run_methods(methods, face, centre, amp="none")
    assert fills["context_encoder"].composite is not None and math.isfinite(fills["context_encoder"].hole_psnr)
    # no hole: nothing to score
    fills = paint.run_methods(methods, face, torch.zeros(1, 64, 64), only=["telea"])
    assert list(fills) == ["telea"] and math.isnan(fills["telea"].hole_psnr) and "no hole" in fills["telea"].caption()
    with pytest.raises(ValueError, match="run_methods"):
        paint.run_methods(methods, face, torch.zeros(64, 64))
    with pytest.raises(ValueError, match="amp"):
        paint.run_methods(methods, face, m, amp="fp8")


def test_update_sends_each_picture_as_soon_as_its_method_is_done(methods):
    painter = paint.HolePainter(paint.bundled_face(64), methods, brush=2)
    painter.stroke([(8, 8), (56, 56)])
    sent = []  # (picture sent, methods that had run at that moment)
    painter._show_fill = lambda name: sent.append((name, set(painter.fills)))
    painter.update()
    names = [m.name for m in methods]
    assert sent == [(name, set(names[: i + 1])) for i, name in enumerate(names)]
    assert 0 < painter.first_fill_s <= painter.last_update_s
    # From the second update on, the methods run fastest first; the columns keep their order.
    seconds = {n: f.seconds for n, f in painter.fills.items()}
    sent.clear()
    assert list(painter.update()) == names
    assert [name for name, _ in sent] == sorted(names, key=seconds.get)


def test_painter_headless(methods, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    painter = paint.HolePainter(paint.bundled_face(64), methods, brush=2)
    painter.stroke([(8, 8), (56, 56)])
    assert 0.05 < painter.mask.mean() < 0.3
    fills = painter.update()
    assert painter.updates == 1 and painter.last_update_s > 0 and len(fills) == len(methods)
    painter.centre()
    assert painter.mask.mean() == 0.25
    assert painter.update()["context_encoder"].composite is not None
    painter.clear()
    assert painter.mask.sum() == 0
    with pytest.raises(RuntimeError, match="FACELIB_MASKS"):
        painter.random_mask()
    latency = painter.measure_latency(repeats=2)
    assert set(latency) == {"total", "first", *[m.name for m in methods]}
    assert 0 < latency["first"] <= latency["total"]
    fig = painter.figure(title="t", caption="c")
    assert len(fig.axes) == 2 + len(methods)  # original, input, one panel per method
    fig.savefig(tmp_path / "f.png")


def test_painter_random_nvidia_mask(methods, tmp_path):
    from PIL import Image

    from facelib.masks import IrregularMasks

    for i in range(3):
        arr = np.zeros((128, 128), np.uint8)
        arr[10 * i:10 * i + 20, 20:90] = 255  # 8.5% of the image: inside NVIDIA's first bin, as 0000i.png is
        Image.fromarray(arr).save(tmp_path / f"{i:05d}.png")
    painter = paint.HolePainter(paint.bundled_face(64), methods, masks=IrregularMasks(tmp_path, 64), seed=1)
    painter.random_mask()
    assert painter.mask.sum() > 0 and set(np.unique(painter.mask)) == {0, 1}


def test_painter_widget_mouse_events_update_outputs(methods):
    pytest.importorskip("ipycanvas")
    painter = paint.HolePainter(paint.bundled_face(64), methods, scale=4)
    box = painter.widget()
    outs = painter._w["outs"]
    assert set(outs) == {m.name for m in methods} and box.children
    before = {name: img.value for name, (img, _) in outs.items()}
    painter._on_down(40, 40)  # canvas pixels: image pixel (10, 10)
    painter._on_move(160, 120)
    assert painter.mask[10, 10] == 1 and painter.mask[30, 40] == 1 and painter.updates == 1  # widget(): 1
    painter._on_up(160, 120)
    assert painter.updates == 2 and "update 2" in painter._w["status"].value
    after = {name: img.value for name, (img, _) in outs.items()}
    changed = [n for n in after if after[n] != before[n]]
    assert set(changed) == {m.name for m in methods} - {"context_encoder"}  # the Context Encoder waits for its square
    assert "dB" in outs["telea"][1].value
    painter.centre()
    painter.update()
    assert outs["context_encoder"][0].value != after["context_encoder"] and "dB" in outs["context_encoder"][1].value
    painter._on_move(10, 10)  # moving without a pressed button paints nothing
    assert painter.mask[2, 2] == 0


@pytest.mark.slow
def test_notebook_10_runs_headless_with_pretrained_weights(weights, tmp_path):
    """Notebook 10 under papermill with a weights folder: every method's caption, the figures, the latency."""
    import nbformat

    from facelib import series

    series.run(tmp_path / "out", small=True, data="synthetic", only="10", extra={"weights_dir": str(weights)},
               log=False)
    nb = nbformat.read(tmp_path / "out" / "10_paint_a_hole.ipynb", as_version=4)
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert not any(o.output_type == "error" for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    for label in [m.label for m in paint.load_methods(weights, image_size=64, log=None)]:
        assert f"{label}: " in text and f"{label:>20}: " in text, label
    assert "Context Encoder: paints the centre square only" in text  # the stroke is not its hole
    assert "update latency at 64x64" in text and "skipped" not in text
    assert {p.name for p in (tmp_path / "out" / "figures").glob("10_*.png")} >= {"10_paint_stroke.png",
                                                                                "10_paint_centre.png"}
