"""Gated convolutions (Yu et al., "Free-Form Image Inpainting with Gated Convolution", ICCV 2019 - DeepFill v2).

A plain convolution treats a blanked hole pixel exactly like a real pixel. A gated convolution learns, for
every output position and channel, a soft gate in (0, 1) that says how much of the feature to let through::

    output = activation(norm(feature_conv(x))) * sigmoid(gate_conv(x))

so the network can learn to ignore hole pixels in early layers and to propagate the filled content later.

``GatedInpaintingGenerator`` follows the same plan as ``InpaintingGenerator`` (7x7 stem, two stride-2 layers,
residual blocks at 1/4 resolution, x4 upsampling, 7x7 conv to RGB + Tanh) with every convolution gated, so a
student can swap the layer type and compare. A gated layer has two convolutions, so to keep the parameter
budget comparable the default uses 4 residual blocks instead of 8: 11,527,747 parameters
(encoder 1,337,152, residual blocks 9,443,328, decoder 747,267) against 10,779,331 for ``InpaintingGenerator``.
Pass ``num_residual=8`` for the same depth (20,971,075 parameters).

As in DeepFill v2, upsampling is nearest-neighbour x2 followed by a gated 3x3 convolution (no transposed
convolution, which avoids checkerboard artefacts), and the last RGB layer is an ordinary convolution.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from .interface import InpaintingModel, check_inputs

__all__ = ["GatedConv2d", "GatedUpConv2d", "GatedResidualBlock", "GatedInpaintingGenerator"]

ActivationFactory = Callable[[], nn.Module]


class GatedConv2d(nn.Module):
    """Gated convolution: ``activation(norm(feature_conv(x))) * sigmoid(gate_conv(x))``.

    Args:
        in_channels: input channels.
        out_channels: output channels (of both the features and the gate).
        kernel_size: square kernel size.
        stride: 1 keeps the size, 2 halves it.
        padding: defaults to ``dilation * (kernel_size - 1) // 2`` (keeps odd kernels' size at stride 1,
            halves even sizes exactly at stride 2 for kernel 3 or 4).
        dilation: dilation of both convolutions (DeepFill uses dilated gated convs in its middle layers).
        activation: factory of the feature activation, e.g. ``nn.ELU`` (DeepFill's choice, the default) or
            ``nn.ReLU``; ``None`` for a linear feature path.
        norm: BatchNorm2d on the features (not on the gate), as in ``InpaintingGenerator``; DeepFill v2 itself
            uses no normalisation.
        padding_mode: ``"zeros"`` or ``"reflect"``.

    Attributes:
        record_gate: when True, each forward stores the (detached) gate in ``last_gate`` for inspection.
        last_gate: (N, out_channels, H', W') in (0, 1), or None.

    Shape: (N, in_channels, H, W) -> (N, out_channels, H', W').
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int | None = None,
        dilation: int = 1,
        activation: ActivationFactory | None = nn.ELU,
        norm: bool = True,
        padding_mode: str = "zeros",
    ) -> None:
        super().__init__()
        if padding is None:
            padding = dilation * (kernel_size - 1) // 2
        conv_kwargs = dict(stride=stride, padding=padding, dilation=dilation, padding_mode=padding_mode)
        # No feature bias under BatchNorm: the norm's beta plays that role.
        self.feature_conv = nn.Conv2d(in_channels, out_channels, kernel_size, bias=not norm, **conv_kwargs)
        self.gate_conv = nn.Conv2d(in_channels, out_channels, kernel_size, bias=True, **conv_kwargs)
        self.norm = nn.BatchNorm2d(out_channels) if norm else nn.Identity()
        self.activation = activation() if activation is not None else nn.Identity()
        self.record_gate = False
        self.last_gate: Tensor | None = None

    def forward(self, x: Tensor, return_gate: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        """Apply the gated convolution.

        Args:
            x: (N, in_channels, H, W).
            return_gate: also return the gate (N, out_channels, H', W') in (0, 1), with its graph.

        Returns:
            The gated features (N, out_channels, H', W'), or ``(features, gate)``.
        """
        features = self.activation(self.norm(self.feature_conv(x)))
        gate = torch.sigmoid(self.gate_conv(x))
        if self.record_gate:
            self.last_gate = gate.detach()
        out = features * gate
        return (out, gate) if return_gate else out


class GatedUpConv2d(nn.Module):
    """DeepFill's gated upsampling: nearest-neighbour x2, then a 3x3 ``GatedConv2d``.

    Shape: (N, in_channels, H, W) -> (N, out_channels, 2H, 2W).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        activation: ActivationFactory | None = nn.ELU,
        norm: bool = True,
    ) -> None:
        super().__init__()
        self.upsample = nn.Upsample(scale_factor=2, mode="nearest")
        self.conv = GatedConv2d(in_channels, out_channels, 3, activation=activation, norm=norm)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(self.upsample(x))


class GatedResidualBlock(nn.Module):
    """Gated conv3x3 (activation) -> gated conv3x3 (linear) plus the identity; no activation after the add,
    as in ``ResidualBlock``.

    Shape: (N, channels, H, W) -> (N, channels, H, W).
    """

    def __init__(self, channels: int, activation: ActivationFactory | None = nn.ELU, norm: bool = True) -> None:
        super().__init__()
        self.body = nn.Sequential(
            GatedConv2d(channels, channels, 3, activation=activation, norm=norm),
            GatedConv2d(channels, channels, 3, activation=None, norm=norm),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class GatedInpaintingGenerator(InpaintingModel, nn.Module):
    """``InpaintingGenerator`` with gated convolutions everywhere except the final RGB layer.

    Default size: 11,527,747 parameters (``widths=(64, 128, 256)``, ``num_residual=4``).

    Args:
        in_channels: masked RGB + mask = 4.
        out_channels: 3.
        widths: encoder widths; the decoder mirrors them.
        num_residual: gated residual blocks at 1/4 resolution (default 4: each has twice the weights of a
            plain ``ResidualBlock``).
        activation: feature activation factory (``nn.ELU`` as in DeepFill; ``nn.ReLU`` to match
            ``InpaintingGenerator``).
        norm: BatchNorm on the feature path.

    Attributes:
        encoder, residual, decoder (nn.Sequential each).
    """

    downsampling: int = 4

    def __init__(
        self,
        in_channels: int = 4,
        out_channels: int = 3,
        widths: Sequence[int] = (64, 128, 256),
        num_residual: int = 4,
        activation: ActivationFactory | None = nn.ELU,
        norm: bool = True,
    ) -> None:
        super().__init__()
        widths = tuple(widths)
        if len(widths) != 3:
            raise ValueError(f"GatedInpaintingGenerator: widths must have 3 entries, got {widths}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        act = dict(activation=activation, norm=norm)
        self.encoder = nn.Sequential(
            GatedConv2d(in_channels, widths[0], 7, padding_mode="reflect", **act),
            GatedConv2d(widths[0], widths[1], 4, stride=2, **act),
            GatedConv2d(widths[1], widths[2], 4, stride=2, **act),
        )
        self.residual = nn.Sequential(*[GatedResidualBlock(widths[2], **act) for _ in range(num_residual)])
        self.decoder = nn.Sequential(
            GatedUpConv2d(widths[2], widths[1], **act),
            GatedUpConv2d(widths[1], widths[0], **act),
            # A plain last layer, as in DeepFill: gating the RGB output would only scale colours towards 0.
            nn.Conv2d(widths[0], out_channels, 7, padding=3, padding_mode="reflect"),
            nn.Tanh(),
        )

    def gated_layers(self) -> dict[str, GatedConv2d]:
        """All gated convolutions by module name (e.g. ``"encoder.0"``)."""
        return {name: m for name, m in self.named_modules() if isinstance(m, GatedConv2d)}

    def forward(
        self, masked: Tensor, mask: Tensor, return_gates: bool = False
    ) -> Tensor | tuple[Tensor, dict[str, Tensor]]:
        """Fill the holes.

        Args:
            masked: (N, 3, H, W) in [-1, 1], the image with the hole blanked.
            mask: (N, 1, H, W) in {0, 1}, 1 = hole. H and W divisible by 4.
            return_gates: also return ``{layer name: gate (N, C, h, w) in (0, 1)}`` (detached), e.g. to
                show which pixels the first layer learned to ignore.

        Returns:
            (N, 3, H, W) in [-1, 1], or ``(output, gates)``.
        """
        check_inputs(masked, mask, self.downsampling, type(self).__name__)
        x = torch.cat([masked, mask.to(masked.dtype)], dim=1)
        if x.shape[1] != self.in_channels:
            raise ValueError(
                f"{type(self).__name__}: built for {self.in_channels} input channels (image + mask), "
                f"got {masked.shape[1]} + {mask.shape[1]}"
            )
        layers = self.gated_layers() if return_gates else {}
        for layer in layers.values():
            layer.record_gate = True
        try:
            out = self.decoder(self.residual(self.encoder(x)))
        finally:
            for layer in layers.values():
                layer.record_gate = False
        if not return_gates:
            return out
        gates = {name: layer.last_gate for name, layer in layers.items()}
        for layer in layers.values():
            layer.last_gate = None  # do not keep activations alive between calls
        return out, gates
