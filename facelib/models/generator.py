"""The baseline inpainting generator: a ResNet encoder-decoder (Johnson et al. 2016, pix2pixHD style).

The generator sees the damaged image and the mask (4 channels), downsamples x4 with strided convolutions,
reasons at 1/4 resolution with residual blocks, and upsamples back with transposed convolutions::

    masked (N,3,H,W) ++ mask (N,1,H,W)  ->  Encoder  ->  (N,256,H/4,W/4)
                                        ->  8 x ResidualBlock
                                        ->  Decoder  ->  (N,3,H,W) in [-1, 1]

With the default widths ``(64, 128, 256)`` and 8 residual blocks it has 10,779,331 parameters
(encoder 668,800, residual blocks 9,445,376, decoder 665,155).

Conventions (``facelib.models.interface``): images are float tensors in [-1, 1]; masks are {0, 1} with
**1 = hole**.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from .interface import InpaintingModel, check_inputs, composite, mask_image

__all__ = [
    "ConvBlock",
    "Encoder",
    "ResidualBlock",
    "Decoder",
    "InpaintingGenerator",
    "mask_image",
    "composite",
    "check_inputs",
]


class ConvBlock(nn.Sequential):
    """Conv2d (no bias) -> BatchNorm2d -> ReLU.

    The convolution has no bias because the BatchNorm right after it subtracts the mean anyway (its beta is
    the bias).

    Args:
        in_channels: input channels.
        out_channels: output channels.
        kernel_size: square kernel size.
        stride: 1 keeps the size, 2 halves it.
        padding: defaults to ``(kernel_size - 1) // 2``, which keeps the size for odd kernels at stride 1
            (3 -> 1, 7 -> 3) and halves an even size exactly at stride 2 (4 -> 1, 3 -> 1).
        padding_mode: ``"zeros"`` or ``"reflect"``; reflection avoids a dark frame for large kernels
            (the 7x7 stem), because zero padding looks like a black border to the network.

    Shape: (N, in_channels, H, W) -> (N, out_channels, H', W'), with H' = H for stride 1, H / 2 for stride 2.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        padding: int | None = None,
        padding_mode: str = "zeros",
    ) -> None:
        if padding is None:
            padding = (kernel_size - 1) // 2
        super().__init__(
            nn.Conv2d(
                in_channels,
                out_channels,
                kernel_size,
                stride=stride,
                padding=padding,
                bias=False,
                padding_mode=padding_mode,
            ),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


class Encoder(nn.Sequential):
    """7x7 stride-1 stem, then two 4x4 stride-2 blocks: downsamples by 4.

    Args:
        in_channels: 4 for masked RGB + mask.
        widths: output channels of the three blocks.

    Shape: (N, in_channels, H, W) -> (N, widths[-1], H / 4, W / 4).
    """

    def __init__(self, in_channels: int = 4, widths: Sequence[int] = (64, 128, 256)) -> None:
        if len(widths) != 3:
            raise ValueError(f"Encoder: widths must have 3 entries (stem, down1, down2), got {tuple(widths)}")
        super().__init__(
            ConvBlock(in_channels, widths[0], kernel_size=7, padding_mode="reflect"),
            ConvBlock(widths[0], widths[1], kernel_size=4, stride=2),
            ConvBlock(widths[1], widths[2], kernel_size=4, stride=2),
        )
        self.out_channels = widths[-1]


class ResidualBlock(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN plus the identity.

    There is no ReLU after the addition (as in pix2pixHD / CycleGAN's ResnetBlock): the block then learns a
    correction that can be negative as well as positive, and a block whose convolutions are zero is exactly the
    identity, so a deep stack starts close to the identity and trains stably.

    Shape: (N, channels, H, W) -> (N, channels, H, W).
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class Decoder(nn.Module):
    """Two ConvTranspose2d(4, stride 2, padding 1)-BN-ReLU blocks (up x4), then a 7x7 conv to RGB and Tanh.

    Args:
        widths: channels entering the first, second and last layers, e.g. ``(256, 128, 64)``.
        out_channels: 3 for RGB.

    Shape: (N, widths[0], h, w) -> (N, out_channels, 4h, 4w), values in [-1, 1] (Tanh).
    """

    def __init__(self, widths: Sequence[int] = (256, 128, 64), out_channels: int = 3) -> None:
        super().__init__()
        if len(widths) != 3:
            raise ValueError(f"Decoder: widths must have 3 entries, got {tuple(widths)}")
        layers: list[nn.Module] = []
        for cin, cout in zip(widths[:-1], widths[1:]):
            # kernel 4 / stride 2 / padding 1 doubles the size exactly and, unlike kernel 3, every output pixel
            # receives the same number of kernel taps (fewer checkerboard artefacts).
            layers += [
                nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(cout),
                nn.ReLU(inplace=True),
            ]
        self.up = nn.Sequential(*layers)
        self.to_rgb = nn.Sequential(
            nn.Conv2d(widths[-1], out_channels, 7, padding=3, padding_mode="reflect"),
            nn.Tanh(),  # images live in [-1, 1]
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.to_rgb(self.up(x))


class InpaintingGenerator(InpaintingModel, nn.Module):
    """ResNet encoder-decoder inpainting generator.

    Default size: 10,779,331 parameters (``widths=(64, 128, 256)``, ``num_residual=8``).

    Args:
        in_channels: channels after concatenating the masked image and the mask (3 + 1 = 4).
        out_channels: 3 (RGB).
        widths: encoder widths; the decoder mirrors them.
        num_residual: residual blocks at 1/4 resolution (each adds 2 * 9 * widths[-1]**2 weights).

    Attributes:
        encoder (Encoder), residual (nn.Sequential of ResidualBlock), decoder (Decoder).

    Example::

        >>> g = InpaintingGenerator()
        >>> out = g(mask_image(image, mask), mask)      # (N, 3, H, W) in [-1, 1]
        >>> result = composite(out, image, mask)        # known pixels kept exactly
    """

    #: H and W must be multiples of this.
    downsampling: int = 4

    def __init__(
        self,
        in_channels: int = 4,
        out_channels: int = 3,
        widths: Sequence[int] = (64, 128, 256),
        num_residual: int = 8,
    ) -> None:
        super().__init__()
        widths = tuple(widths)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.encoder = Encoder(in_channels, widths)
        self.residual = nn.Sequential(*[ResidualBlock(widths[-1]) for _ in range(num_residual)])
        self.decoder = Decoder(widths[::-1], out_channels)

    def forward(self, masked: Tensor, mask: Tensor) -> Tensor:
        """Fill the holes.

        Args:
            masked: (N, 3, H, W) in [-1, 1], the image with the hole blanked (``mask_image``).
            mask: (N, 1, H, W) in {0, 1}, 1 = hole. H and W divisible by 4.

        Returns:
            (N, 3, H, W) in [-1, 1]: the whole predicted image; use ``composite`` to keep the known pixels.
        """
        check_inputs(masked, mask, self.downsampling, type(self).__name__)
        x = torch.cat([masked, mask.to(masked.dtype)], dim=1)
        if x.shape[1] != self.in_channels:
            raise ValueError(
                f"{type(self).__name__}: built for {self.in_channels} input channels (image + mask), "
                f"got {masked.shape[1]} + {mask.shape[1]}"
            )
        return self.decoder(self.residual(self.encoder(x)))
