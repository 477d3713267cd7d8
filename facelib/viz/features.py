"""The VGG feature explorer (part of :mod:`facelib.viz`)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from torch import Tensor

from ..vgg import LAYER_NAMES
from .images import _as_batch, add_caption, to_display

# ------------------------------------------------------------------------------------- VGG explorer
class FeatureExplorer:
    """Look inside VGG19: feature maps per layer and channel, for real and masked faces.

    Args:
        vgg: a ``facelib.vgg.VGG19Features`` (or any module mapping (N, 3, H, W) in [-1, 1] to a list of
            (N, C_l, H_l, W_l) maps, with a ``layers`` attribute naming them).
        images: (N, 3, H, W) faces in [-1, 1].
        masks: (N, 1, H, W) holes, 1 = hole; the "masked" view feeds ``image * (1 - mask)`` (the generator's
            input, hole = 0 = grey).
        caption: the footnote written under every figure the explorer draws (:meth:`render`,
            :meth:`render_strongest`, and so the widget's views), e.g. :func:`facelib.viz.provenance`; None: none.

    Features are computed one image at a time on first use and cached per ``(image_index, masked)``.
    """

    def __init__(self, vgg: torch.nn.Module, images: Tensor, masks: Tensor, caption: str | None = None) -> None:
        images = _as_batch(images, "images")
        masks = _as_batch(masks, "masks", channels=1)
        if masks.shape[0] != images.shape[0] or masks.shape[-2:] != images.shape[-2:]:
            raise ValueError(f"masks {tuple(masks.shape)} must match images {tuple(images.shape)} as (N, 1, H, W)")
        self.vgg = vgg
        self.images, self.masks = images, masks
        self.layers: tuple[int, ...] = tuple(int(i) for i in getattr(vgg, "layers", ()))
        if not self.layers:
            raise ValueError("vgg must have a `layers` attribute (e.g. facelib.vgg.VGG19Features)")
        self._cache: dict[tuple[int, bool], list[Tensor]] = {}
        self.caption = caption

    def __len__(self) -> int:
        return self.images.shape[0]

    def _check(self, layer: int, image_index: int) -> None:
        if layer not in self.layers:
            raise ValueError(f"layer {layer} is not one of the explorer's layers {self.layers}")
        if not 0 <= image_index < len(self):
            raise IndexError(f"image_index {image_index} out of range for {len(self)} images")

    def input_image(self, image_index: int, masked: bool) -> Tensor:
        """(3, H, W) in [-1, 1]: the face, or the face with its hole blanked (0 = grey)."""
        x = self.images[image_index]
        return x * (1 - self.masks[image_index]) if masked else x

    def features(self, image_index: int, masked: bool) -> list[Tensor]:
        """The VGG maps of one input, a list of (C_l, H_l, W_l) CPU tensors, one per layer (cached)."""
        key = (int(image_index), bool(masked))
        if key not in self._cache:
            param = next(self.vgg.parameters(), None)
            device = param.device if param is not None else torch.device("cpu")
            with torch.no_grad():
                x = self.input_image(*key).unsqueeze(0).to(device)
                self._cache[key] = [f[0].detach().float().cpu() for f in self.vgg(x)]
        return self._cache[key]

    def layer_features(self, layer: int, image_index: int, masked: bool) -> Tensor:
        """(C, H_l, W_l) maps of ``layer`` (a torchvision index such as 1, 6, 11, 20, 29)."""
        self._check(layer, image_index)
        return self.features(image_index, masked)[self.layers.index(layer)]

    def num_channels(self, layer: int) -> int:
        """Channels of ``layer`` (64, 128, 256, 512, 512 for relu1_1 .. relu5_1)."""
        return self.layer_features(layer, 0, False).shape[0]

    def feature_map(self, layer: int, channel: int, image_index: int = 0, masked: bool = False) -> np.ndarray:
        """One channel of one layer as a 2-D float32 array (H_l, W_l) (post-ReLU, so >= 0 for ReLU layers)."""
        feats = self.layer_features(layer, image_index, masked)
        if not 0 <= channel < feats.shape[0]:
            raise IndexError(f"channel {channel} out of range: layer {layer} has {feats.shape[0]} channels")
        return feats[channel].numpy()

    def strongest_channels(self, layer: int, image_index: int = 0, k: int = 8, masked: bool = False) -> list[int]:
        """The ``k`` channels with the largest mean activation for this input, strongest first."""
        feats = self.layer_features(layer, image_index, masked)
        k = max(1, min(int(k), feats.shape[0]))
        return feats.flatten(1).mean(1).topk(k).indices.tolist()

    def relative_difference(self, layer: int, image_index: int | None = None) -> float:
        """How much the hole changes a layer: ``||f(masked) - f(real)|| / ||f(real)||`` (Frobenius norms),
        over one image or (``image_index=None``) summed over all images."""
        indices = range(len(self)) if image_index is None else [image_index]
        num = den = 0.0
        for i in indices:
            real = self.layer_features(layer, i, False)
            num += float((self.layer_features(layer, i, True) - real).square().sum())
            den += float(real.square().sum())
        return (num / den) ** 0.5 if den > 0 else float("nan")

    def masked_difference(self, image_index: int | None = None) -> dict[int, float]:
        """``{layer: relative_difference(layer)}`` for every layer of the explorer, in layer order.

        How strongly a hole disturbs each layer, ``||f(masked) - f(real)|| / ||f(real)||`` (0 = unchanged),
        over one image or (``image_index=None``) all images.
        """
        return {layer: self.relative_difference(layer, image_index) for layer in self.layers}

    def outside_share(self, layer: int, image_index: int | None = None) -> float:
        """Share of the change ``(f(masked) - f(real))**2`` that lies outside the hole, in [0, 1].

        The hole is taken to the map's resolution with max-pooling (a map cell that sees any hole pixel counts
        as hole), so a purely local layer gives about 0 and a layer that spreads the hole's effect gives more.
        Over one image or (``image_index=None``) all images.
        """
        indices = range(len(self)) if image_index is None else [image_index]
        outside = total = 0.0
        for i in indices:
            change = (self.layer_features(layer, i, True) - self.layer_features(layer, i, False)).square().sum(0)
            hole = torch.nn.functional.adaptive_max_pool2d(self.masks[i], tuple(change.shape))[0]
            outside += float((change * (1 - hole)).sum())
            total += float(change.sum())
        return outside / total if total > 0 else float("nan")

    def _name(self, layer: int) -> str:
        return f"{layer} ({LAYER_NAMES.get(layer, 'layer')})"

    def render(self, layer: int, channel: int, image_index: int = 0, masked: bool = False) -> Figure:
        """Input | feature map (same colour scale for masked and real) | the other version's map.

        Returns the pyplot Figure; the colour range is shared between the masked and the real map of this
        channel so brightness can be compared.
        """
        own = self.feature_map(layer, channel, image_index, masked)
        other = self.feature_map(layer, channel, image_index, not masked)
        vmax = max(float(own.max()), float(other.max()), 1e-8)
        fig, axes = plt.subplots(1, 3, figsize=(9, 3.2))
        axes[0].imshow(to_display(self.input_image(image_index, masked)))
        axes[0].set_title(f"image {image_index} ({'masked' if masked else 'real'})", fontsize=9)
        im = axes[1].imshow(own, cmap="magma", vmin=0, vmax=vmax)
        axes[1].set_title(f"layer {self._name(layer)}, channel {channel}", fontsize=9)
        axes[2].imshow(other, cmap="magma", vmin=0, vmax=vmax)
        axes[2].set_title(f"same channel, {'real' if masked else 'masked'} input", fontsize=9)
        for ax in axes:
            ax.axis("off")
        fig.colorbar(im, ax=list(axes[1:]), shrink=0.8, label="activation")
        return self._captioned(fig)

    def render_strongest(self, layer: int, image_index: int = 0, k: int = 8, masked: bool = False) -> Figure:
        """A row per input (real, masked) of the ``k`` strongest channels of the real face at ``layer``."""
        channels = self.strongest_channels(layer, image_index, k, masked=False)
        fig, axes = plt.subplots(2, len(channels) + 1, figsize=(1.5 * (len(channels) + 1), 3.7), squeeze=False)
        for r, m in enumerate((False, True)):
            axes[r][0].imshow(to_display(self.input_image(image_index, m)))
            axes[r][0].set_title("masked" if m else "real", fontsize=8)
            for c, ch in enumerate(channels):
                real = self.feature_map(layer, ch, image_index, False)
                axes[r][c + 1].imshow(self.feature_map(layer, ch, image_index, m), cmap="magma", vmin=0,
                                      vmax=max(float(real.max()), 1e-8))
                if r == 0:
                    axes[r][c + 1].set_title(f"ch {ch}", fontsize=8)
        for ax in axes.flat:
            ax.axis("off")
        fig.suptitle(f"layer {self._name(layer)}: the {len(channels)} strongest channels of image {image_index}",
                     fontsize=9)
        fig.tight_layout()
        return self._captioned(fig)

    def _captioned(self, fig: Figure) -> Figure:
        return add_caption(fig, self.caption) if self.caption else fig

    def show(self, layer: int, channel: int, image_index: int = 0, masked: bool = False) -> None:
        """The widget's callback: render, display, close (so the figure is shown exactly once).

        Call it directly after :meth:`widget` so that a notebook executed without a live kernel (papermill,
        nbval) still holds one rendered view: widget output is only drawn by a running kernel. A channel
        beyond the layer's count is clipped to its last channel (the slider range updates after the layer).
        """
        from IPython.display import display

        channel = min(int(channel), self.num_channels(layer) - 1)
        fig = self.render(layer, channel, image_index, masked)
        display(fig)
        plt.close(fig)

    def widget(self):
        """Sliders for layer, channel and image and a mask checkbox (``ipywidgets.interactive``).

        Returns the ``interactive`` widget (display it, or let it be the cell's value); each change calls
        :meth:`show`. Its drawings live in the widget's output area, which only a live kernel renders, so a
        notebook that is executed headless should also call :meth:`show` once. Moving the layer slider resets
        the channel slider's range to that layer's channel count.
        """
        import ipywidgets as widgets

        layer_w = widgets.SelectionSlider(options=[(self._name(i), i) for i in self.layers], value=self.layers[0],
                                          description="layer", continuous_update=False,
                                          layout=widgets.Layout(width="420px"))
        channel_w = widgets.IntSlider(value=0, min=0, max=self.num_channels(self.layers[0]) - 1,
                                      description="channel", continuous_update=False)
        image_w = widgets.IntSlider(value=0, min=0, max=len(self) - 1, description="image",
                                    continuous_update=False)
        masked_w = widgets.Checkbox(value=False, description="mask on")

        def _on_layer(change: dict) -> None:
            channel_w.max = self.num_channels(change["new"]) - 1

        layer_w.observe(_on_layer, names="value")
        return widgets.interactive(self.show, layer=layer_w, channel=channel_w, image_index=image_w,
                                   masked=masked_w)

    _show = show  # the callback's earlier name
