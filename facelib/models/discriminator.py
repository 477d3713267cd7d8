"""PatchGAN discriminator (Isola et al., "Image-to-Image Translation with Conditional Adversarial Networks",
CVPR 2017 - pix2pix).

Instead of one real/fake score per image, a PatchGAN outputs a grid of logits, each judging one overlapping
patch (70x70 pixels for ``num_layers=3``). That focuses the adversarial loss on local texture, which is what
an inpainted hole most often gets wrong, and works at any input size.

Layers for ``num_layers=3``: conv4x4/2 (base) - conv4x4/2 (2 base) - conv4x4/2 (4 base) - conv4x4/1 (8 base)
- conv4x4/1 (1), LeakyReLU 0.2 in between, normalisation on all but the first and last layers.
Output size: a 64x64 input gives a 6x6 grid, 128x128 gives 14x14, 256x256 gives 30x30
(``output_size``). The receptive field (``receptive_field``) depends on the layer stack only: 70 pixels for
``num_layers=3`` at every input size, so at 64x64 each logit sees more than the whole image (the border part
is zero padding) and the grid's logits overlap almost entirely; the patch character only appears at 128+.
Default size (``in_channels=3, base=64, num_layers=3``): 2,765,633 parameters (batch norm).
"""
from __future__ import annotations

from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm

__all__ = ["PatchDiscriminator"]

_NORMS = ("batch", "instance", "none")


class PatchDiscriminator(nn.Module):
    """pix2pix's N-layer PatchGAN.

    Args:
        in_channels: 3 for RGB, or 4 to also show the discriminator the mask (concatenate it yourself:
            ``torch.cat([image, mask], 1)``), so it knows where to look.
        base: width of the first layer; widths double per layer up to 8 * base.
        num_layers: stride-2 layers (3 -> 70x70 receptive field).
        spectral_norm: wrap every convolution in spectral normalisation (Miyato et al. 2018), the usual way to
            stabilise GAN training in inpainting (SN-PatchGAN in DeepFill v2).
        norm: ``"batch"``, ``"instance"`` or ``"none"``; default ``"none"`` with spectral norm (the two would
            fight over the scale of the activations), else ``"batch"`` (pix2pix's default).

    Shape: (N, in_channels, H, W) in [-1, 1] -> logits (N, 1, h, w), h = H / 2**num_layers - 2 (no sigmoid:
    use a with-logits loss). H, W >= 2**num_layers * 4 so the last two 4x4 convolutions have room.
    """

    def __init__(
        self,
        in_channels: int = 3,
        base: int = 64,
        num_layers: int = 3,
        spectral_norm: bool = False,
        norm: str | None = None,
    ) -> None:
        super().__init__()
        if norm is None:
            norm = "none" if spectral_norm else "batch"
        if norm not in _NORMS:
            raise ValueError(f"PatchDiscriminator: norm must be one of {_NORMS}, got {norm!r}")
        if num_layers < 1:
            raise ValueError(f"PatchDiscriminator: num_layers must be >= 1, got {num_layers}")
        self.in_channels = in_channels
        self.num_layers = num_layers

        def conv(cin: int, cout: int, stride: int, bias: bool) -> nn.Module:
            layer = nn.Conv2d(cin, cout, 4, stride=stride, padding=1, bias=bias)
            return _spectral_norm(layer) if spectral_norm else layer

        def normalisation(channels: int) -> list[nn.Module]:
            if norm == "batch":
                return [nn.BatchNorm2d(channels)]
            if norm == "instance":
                return [nn.InstanceNorm2d(channels)]
            return []

        # Only BatchNorm makes the conv bias redundant (InstanceNorm without affine has no beta).
        bias = norm != "batch"
        layers: list[nn.Module] = [conv(in_channels, base, 2, True), nn.LeakyReLU(0.2, inplace=True)]
        cin = base
        for i in range(1, num_layers + 1):
            cout = base * min(2**i, 8)
            stride = 2 if i < num_layers else 1  # the last feature layer keeps the size, as in pix2pix
            layers += [conv(cin, cout, stride, bias), *normalisation(cout), nn.LeakyReLU(0.2, inplace=True)]
            cin = cout
        layers.append(conv(cin, 1, 1, True))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        """x: (N, in_channels, H, W) in [-1, 1] -> patch logits (N, 1, h, w)."""
        minimum = 2**self.num_layers * 4
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"PatchDiscriminator: expected (N, {self.in_channels}, H, W), got {tuple(x.shape)}"
                + ("; concatenate the mask as the 4th channel" if self.in_channels == 4 else "")
            )
        if min(x.shape[-2:]) < minimum:
            raise ValueError(
                f"PatchDiscriminator: input {tuple(x.shape[-2:])} is too small for num_layers={self.num_layers}; "
                f"use at least {minimum}x{minimum} or fewer layers"
            )
        return self.net(x)

    def _convs(self) -> list[nn.Conv2d]:
        return [m for m in self.net.modules() if isinstance(m, nn.Conv2d)]

    def receptive_field(self) -> tuple[int, int]:
        """``(size, jump)``: the side of the input square one logit depends on, and the input-pixel distance
        between neighbouring logits, from the convolutions' kernels and strides (padding does not change it).

        Walking from the logit back to the input, each layer ``(k, s)`` grows the field by ``(k - 1) * jump``
        and multiplies the jump by ``s``. Default stack: 70 and 8 (pix2pix's 70x70 PatchGAN).
        """
        size, jump = 1, 1
        for conv in self._convs():
            size += (conv.kernel_size[0] - 1) * jump
            jump *= conv.stride[0]
        return size, jump

    def output_size(self, size: int) -> int:
        """Side of the logit grid for a ``size x size`` input (the convolutions' size arithmetic)."""
        for conv in self._convs():
            size = (size + 2 * conv.padding[0] - conv.kernel_size[0]) // conv.stride[0] + 1
        return size
