"""facelib.viz: grids, curves, captions and the VGG feature explorer (random VGG weights, small inputs)."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from PIL import Image  # noqa: E402

from facelib import viz  # noqa: E402
from facelib.vgg import VGG19Features  # noqa: E402

N, S = 3, 32


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture()
def batch():
    g = torch.Generator().manual_seed(0)
    image = torch.rand(N, 3, S, S, generator=g) * 2 - 1
    mask = torch.zeros(N, 1, S, S)
    mask[:, :, 8:24, 8:24] = 1
    output = torch.rand(N, 3, S, S, generator=g) * 2 - 1
    return image, mask, output


def test_to_display_shapes_and_range():
    x = torch.linspace(-1.5, 1.5, 3 * 4 * 5).view(3, 4, 5)
    one = viz.to_display(x)
    assert one.shape == (4, 5, 3) and one.dtype == np.float32
    assert one.min() == 0.0 and one.max() == 1.0  # clamped
    assert np.allclose(viz.to_display(torch.zeros(3, 2, 2)), 0.5)
    assert viz.to_display(torch.zeros(2, 3, 4, 5)).shape == (2, 4, 5, 3)
    with pytest.raises(ValueError, match="3, H, W"):
        viz.to_display(torch.zeros(4, 5))


def test_inpainting_rows_composite_and_tint(batch):
    image, mask, output = batch
    rows = viz.inpainting_rows(image, mask, output)
    assert list(rows) == ["masked", "output", "composite", "real"]
    known = (mask == 0).expand_as(image)
    assert torch.equal(rows["composite"][known], image[known])
    assert torch.equal(rows["composite"][~known], output[~known])
    assert torch.equal(rows["masked"][known], image[known])
    hole_colour = torch.tensor(viz.HOLE_COLOUR) * 2 - 1
    assert torch.allclose(rows["masked"][0, :, 16, 16], hole_colour)


def test_inpainting_grid_shape_and_range(batch):
    image, mask, output = batch
    grid = viz.inpainting_grid(image, mask, output, n=2, padding=2)
    # 4 rows x 2 columns of 32x32 tiles, 2 px padding around every tile
    assert grid.shape == (3, 4 * (S + 2) + 2, 2 * (S + 2) + 2)
    assert grid.min() >= 0 and grid.max() <= 1
    # The top-left tile is the tinted masked input, the bottom-left one the real image (both mapped to [0, 1]).
    assert torch.allclose(grid[:, 2:2 + S, 2:2 + S], ((viz.inpainting_rows(image, mask, output)["masked"][0] + 1) / 2))
    bottom = 2 + 3 * (S + 2)
    assert torch.allclose(grid[:, bottom:bottom + S, 2:2 + S], (image[0] + 1) / 2)
    # a dict of rows: one row per entry
    rows = {"a": image, "b": output}
    assert viz.inpainting_grid(rows, n=8).shape == (3, 2 * (S + 2) + 2, N * (S + 2) + 2)


def test_inpainting_grid_rejects_bad_shapes(batch):
    image, mask, output = batch
    with pytest.raises(ValueError, match="must agree"):
        viz.inpainting_grid(image, mask[:, :, :16], output)
    with pytest.raises(ValueError, match="mask"):
        viz.inpainting_grid(image, mask.expand(N, 3, S, S), output)
    with pytest.raises(ValueError, match="image, mask and output"):
        viz.inpainting_grid(image)


def test_save_inpainting_grid_both_call_forms(tmp_path, batch):
    image, mask, output = batch
    a = viz.save_inpainting_grid(tmp_path / "a.png", image, mask, output, title="t", caption="data: x")
    b = viz.save_inpainting_grid({"masked": image, "real": image}, tmp_path / "sub" / "b.png", title="t")
    for path in (a, b):
        with Image.open(path) as img:
            assert img.size[0] > 100 and img.size[1] > 100
    assert plt.get_fignums() == []  # save_* closes its figure
    fig = viz.show_inpainting_grid(image, mask, output, title="t")
    assert isinstance(fig, Figure)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == list(viz.GRID_ROWS)


def test_plot_history_full_and_tolerant(tmp_path):
    history = [
        {"epoch": 1, "train_pixel": 0.5, "val_pixel": 0.6, "train_perceptual": 2.0, "val_perceptual": 2.2,
         "steps": 10},
        {"epoch": 2, "train_pixel": 0.4, "val_pixel": None, "train_perceptual": 1.8, "train_d_loss": 1.3},
    ]
    fig = viz.plot_history(history, path=tmp_path / "h.png", title="run", caption="data: x")
    assert (tmp_path / "h.png").is_file()
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["pixel loss", "perceptual loss (VGG)", "discriminator loss"]
    pixel = fig.axes[0]
    train_line = [line for line in pixel.get_lines() if line.get_label().startswith("train")][0]
    assert list(train_line.get_ydata()) == [0.5, 0.4]
    val_line = [line for line in pixel.get_lines() if line.get_label().startswith("val")][0]
    assert list(val_line.get_ydata()) == [0.6]  # the None is skipped

    # missing epochs, unknown keys, strings, an empty history: no error
    assert isinstance(viz.plot_history([{"train_pixel": 1.0}, {"foo": "bar", "train_pixel": "n/a"}]), Figure)
    empty = viz.plot_history([])
    assert any("no losses" in t.get_text() for t in empty.axes[0].texts)
    # history.json layout with per-step losses
    fig = viz.plot_history({"history": history, "steps": [{"step": s, "pixel": 1.0 / s} for s in range(1, 21)]})
    step_line = [line for line in fig.axes[0].get_lines() if "per step" in line.get_label()][0]
    assert len(step_line.get_xdata()) == 20 and step_line.get_xdata()[-1] == pytest.approx(2.0)  # 20 steps / 10


def test_show_images_and_caption():
    images = [torch.zeros(3, 8, 8), torch.ones(1, 8, 8), torch.rand(8, 8)]
    fig = viz.show_images(images, titles=["rgb", "mask", "map"], ncols=2, caption="data: d; weights: w")
    assert len(fig.axes) == 4  # 2 x 2 grid, one left empty
    assert any("weights: w" in t.get_text() for t in fig.texts)
    with pytest.raises(ValueError, match="titles"):
        viz.show_images(images, titles=["one"])


def test_provenance_names_data_weights_hardware():
    text = viz.provenance("my faces", weights="ckpt.pt", device="cpu", extra="seed 3")
    assert text.startswith("data: my faces; weights: ckpt.pt; hardware: CPU") and text.endswith("seed 3")
    from facelib.data import SyntheticFaces

    assert "synthetic" in viz.provenance(SyntheticFaces(n=2, size=16))


# ------------------------------------------------------------------------------------------- explorer
@pytest.fixture(scope="module")
def explorer():
    torch.manual_seed(0)
    vgg = VGG19Features(weights=None)
    g = torch.Generator().manual_seed(1)
    images = torch.rand(2, 3, S, S, generator=g) * 2 - 1
    masks = torch.zeros(2, 1, S, S)
    masks[:, :, 8:24, 8:24] = 1
    return viz.FeatureExplorer(vgg, images, masks)


def test_feature_map_shapes_per_layer(explorer):
    expected = {1: (64, S), 6: (128, S // 2), 11: (256, S // 4), 20: (512, S // 8), 29: (512, S // 16)}
    assert explorer.layers == (1, 6, 11, 20, 29)
    for layer, (channels, size) in expected.items():
        assert explorer.num_channels(layer) == channels
        fmap = explorer.feature_map(layer, channels - 1, image_index=1, masked=True)
        assert isinstance(fmap, np.ndarray) and fmap.shape == (size, size)
        assert fmap.min() >= 0  # post-ReLU
    with pytest.raises(ValueError, match="layer 3"):
        explorer.feature_map(3, 0)
    with pytest.raises(IndexError, match="channel 64"):
        explorer.feature_map(1, 64)
    with pytest.raises(IndexError, match="image_index 2"):
        explorer.feature_map(1, 0, image_index=2)


def test_strongest_channels_sorted_by_activation(explorer):
    top = explorer.strongest_channels(6, image_index=0, k=5)
    means = explorer.layer_features(6, 0, False).flatten(1).mean(1)
    assert len(top) == 5 and len(set(top)) == 5
    assert [means[c].item() for c in top] == sorted((means[c].item() for c in top), reverse=True)
    assert means[top[-1]] >= means.sort(descending=True).values[4]  # no weaker channel is ranked in
    assert len(explorer.strongest_channels(29, k=10_000)) == 512


def test_mask_toggle_changes_the_map_and_cache(explorer):
    real = explorer.feature_map(1, 0, image_index=0, masked=False)
    masked = explorer.feature_map(1, 0, image_index=0, masked=True)
    assert not np.allclose(real, masked)
    # relu1_1 is local: far from the hole (border 8 px wide, 3x3 filter) the maps agree exactly
    assert np.allclose(real[:6, :6], masked[:6, :6])
    assert (0, False) in explorer._cache and (0, True) in explorer._cache
    assert explorer.features(0, True) is explorer.features(0, True)  # cached, not recomputed
    assert explorer.relative_difference(1) > 0
    share1, share29 = explorer.outside_share(1), explorer.outside_share(29)
    assert 0 <= share1 < 0.5 and 0 <= share29 <= 1


def test_render_and_widget_without_display(explorer):
    fig = explorer.render(11, 3, image_index=1, masked=True)
    assert isinstance(fig, Figure) and "channel 3" in fig.axes[1].get_title()
    fig = explorer.render_strongest(6, image_index=0, k=3)
    assert isinstance(fig, Figure)
    plt.close("all")
    ipywidgets = pytest.importorskip("ipywidgets")
    w = explorer.widget()
    assert isinstance(w, ipywidgets.interactive)
    sliders = {c.description: c for c in w.children if hasattr(c, "description")}
    assert {"layer", "channel", "image", "mask on"} <= set(sliders)
    assert sliders["channel"].max == 63
    sliders["layer"].value = 29  # the channel range follows the layer
    assert sliders["channel"].max == 511


def test_explorer_figures_carry_its_caption(explorer):
    """Every view the explorer draws (the widget's too, through render) carries the footnote it was given."""
    captioned = viz.FeatureExplorer(explorer.vgg, explorer.images, explorer.masks, caption="data: d; weights: w")
    for fig in (captioned.render(1, 0), captioned.render_strongest(1, k=2)):
        assert any("weights: w" in t.get_text() for t in fig.texts)
    assert not explorer.render(1, 0).texts  # no caption given, none drawn
    plt.close("all")


def test_masked_difference_per_layer(explorer):
    diff = explorer.masked_difference()
    assert list(diff) == [1, 6, 11, 20, 29]
    assert all(np.isfinite(v) and v > 0 for v in diff.values())
    assert diff[6] == pytest.approx(explorer.relative_difference(6))
    # by hand for one image and one layer: ||f(masked) - f(real)|| / ||f(real)||
    real, masked = explorer.layer_features(11, 1, False), explorer.layer_features(11, 1, True)
    expected = float((masked - real).norm() / real.norm())
    assert explorer.masked_difference(image_index=1)[11] == pytest.approx(expected, rel=1e-5)


def test_masked_difference_is_zero_without_a_hole():
    torch.manual_seed(0)
    images = torch.rand(1, 3, S, S) * 2 - 1
    explorer = viz.FeatureExplorer(VGG19Features(weights=None), images, torch.zeros(1, 1, S, S))
    assert all(v == 0 for v in explorer.masked_difference().values())


def test_show_displays_one_figure(explorer, monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
    explorer.show(29, 600, image_index=0, masked=True)  # channel clipped to the layer's 512
    assert len(shown) == 1 and isinstance(shown[0], Figure)
    assert "channel 511" in shown[0].axes[1].get_title()
    assert not plt.get_fignums()  # closed after display: shown exactly once


def test_live_loss_plot_records_and_redraws(monkeypatch):
    import IPython.display

    shown = []

    class Handle:
        def update(self, fig):
            shown.append("update")

    monkeypatch.setattr(IPython.display, "display", lambda fig, display_id=None: shown.append("display") or Handle())
    live = viz.LiveLossPlot(["pixel", "perceptual"], every=2, title="t")
    for step in range(1, 6):
        live.update(step, {"pixel": torch.tensor(1.0 / step), "perceptual": 2.0, "other": 0})
    assert live.steps == [1, 2, 3, 4, 5] and live.values["pixel"][0] == 1.0
    assert shown == ["display", "update"]
    fig = live.close()
    assert shown[-1] == "update" and len(fig.axes) == 2
    with pytest.raises(ValueError):
        viz.LiveLossPlot([])
