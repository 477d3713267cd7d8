"""The generative multi-column network (Wang et al., "Image Inpainting via Generative Multi-column
Convolutional Neural Networks", NeurIPS 2018 - GMCNN).

One column of convolutions sees the image through one kernel size. GMCNN runs three columns side by side on
the same input, with 7x7, 5x5 and 3x3 kernels, so each has its own receptive field (coarse structure from the
7x7 column, fine texture from the 3x3 one), and merges their features at full resolution::

    (masked, mask) (N,4,H,W) -+-> column k=7: encoder /4, dilated convs, bilinear x4      -> (N, c3, H, W) -+
                              +-> column k=5: encoder /4, dilated convs, up x2, conv, up x2 -> (N, c2, H, W) -+-> concat
                              +-> column k=3: encoder /4, dilated convs, (up x2, conv) x 2 -> (N, c1, H, W) -+
    concat (N, c1+c2+c3, H, W) -> conv3x3 (c1/2) -> conv3x3 (3) -> tanh -> (N, 3, H, W) in [-1, 1]

Each column: conv k (c1) - conv k /2 (c2) - conv k (c2) - conv k /2 (c3) - conv k (c3), then at 1/4 resolution
dilated conv k (c3) with dilations 2, 4, 8 and one more conv k (c3); the widths are ``(c, 2c, 4c)`` with
``c = 32`` in the reference code. ELU after every convolution, reflection padding, no normalisation (as in the
authors' code). The paper's dilations 2, 4, 8, 16 fit its 64x64 bottleneck (256 px images); here a dilation
``d`` of a ``k`` kernel is capped at ``bottleneck_size // (k - 1)``, so the dilated kernel's reach
``(k - 1) * d`` never exceeds the bottleneck's side (16 at 64 px): 7x7 uses (2, 2, 2), 5x5 (2, 4, 4), 3x3
(2, 4, 8). Departures from the reference code, for the series' 64-128 px faces: one plain convolution fewer
before and after the dilated ones, one convolution per upsampling step instead of two, and a tanh instead of a
hard clamp at the output (a clamp passes no gradient outside [-1, 1]). The paper's second stage judges the
result with a global and a local discriminator (``GlobalLocalDiscriminator``). Without normalisation the network
is more sensitive to the learning rate than the BatchNorm generators: in the 32 px test of a few Adam steps
(``tests/test_models.py``) it learns at 5e-4 but its ELU features blow up at their 2e-3.

Default size (``widths=(24, 48, 96)``): 4,689,651 parameters (column k=7 2,658,456, k=5 1,471,944, k=3
540,768, merge 18,483); the reference's ``(32, 64, 128)`` would give 8,332,483 here, ``(16, 32, 64)`` 2,086,627.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm

from ..confidence import confidence_weights
from .interface import InpaintingModel, InpaintingViews, check_inputs, composite

__all__ = ["Column", "GMCNN", "GlobalLocalDiscriminator", "hole_boxes"]


def _conv(cin: int, cout: int, k: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    """Reflection-padded k x k convolution + ELU; keeps the size at stride 1, halves it at stride 2."""
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride=stride, padding=dilation * (k - 1) // 2, dilation=dilation,
                                   padding_mode="reflect"), nn.ELU())


class Column(nn.Module):
    """One branch of GMCNN: all its convolutions have the kernel size ``k``.

    Args:
        in_channels: 4 (masked RGB + mask).
        widths: ``(c1, c2, c3)``, the widths at full, 1/2 and 1/4 resolution.
        kernel_size: 7, 5 or 3 in GMCNN.
        dilations: of the convolutions at 1/4 resolution.
        up_convs: how many "nearest x2, conv k" steps bring the column back to full size (0, 1 or 2), each to
            the width of the resolution it reaches; the rest of the way is a plain bilinear upsampling. Output
            channels: c3, c2 or c1.

    Attributes: encoder, bottleneck, decoder (nn.Sequential each), out_channels.

    Shape: (N, in_channels, H, W) -> (N, out_channels, H, W); H, W divisible by 4.
    """

    def __init__(self, in_channels: int, widths: Sequence[int], kernel_size: int, dilations: Sequence[int],
                 up_convs: int) -> None:
        super().__init__()
        if up_convs not in (0, 1, 2):
            raise ValueError(f"Column: up_convs must be 0, 1 or 2, got {up_convs}")
        k, (c1, c2, c3) = kernel_size, widths
        self.kernel_size, self.dilations = k, tuple(dilations)
        self.encoder = nn.Sequential(_conv(in_channels, c1, k), _conv(c1, c2, k, stride=2), _conv(c2, c2, k),
                                     _conv(c2, c3, k, stride=2), _conv(c3, c3, k))
        self.bottleneck = nn.Sequential(*[_conv(c3, c3, k, dilation=d) for d in self.dilations], _conv(c3, c3, k))
        layers: list[nn.Module] = []
        width = c3
        for target in (c2, c1)[:up_convs]:
            layers += [nn.Upsample(scale_factor=2, mode="nearest"), _conv(width, target, k)]
            width = target
        if up_convs < 2:
            layers.append(nn.Upsample(scale_factor=2 ** (2 - up_convs), mode="bilinear", align_corners=False))
        self.decoder = nn.Sequential(*layers)
        self.out_channels = width

    def forward(self, x: Tensor) -> Tensor:
        return self.decoder(self.bottleneck(self.encoder(x)))


class GMCNN(InpaintingModel, nn.Module):
    """Three columns (kernels 7, 5, 3) merged at full resolution; ``(masked, mask) -> image``.

    Args:
        in_channels: masked RGB + mask = 4.
        out_channels: 3.
        widths: ``(c1, c2, c3)``: every column's widths at full, 1/2 and 1/4 resolution (the reference code's
            ``(c, 2c, 4c)`` with ``c = 32``; the registry's preset uses 24, 48, 96).
        bottleneck_size: side of the 1/4-resolution map the dilations are fitted to (16 for 64 px and up; a
            model for 32 px images needs 8). Inputs must be at least ``4 * bottleneck_size`` pixels.
        dilations: the dilations before capping (see the module docstring).

    Attributes: columns (nn.ModuleList, kernels 7, 5, 3), merge (nn.Sequential).

    ``views`` weights the pixel loss by the confidence map of :func:`facelib.confidence.confidence_weights`
    (the paper's confidence-driven reconstruction loss), and gives the discriminator the composite together with
    the mask, from which :class:`GlobalLocalDiscriminator` finds the hole to crop its local view.
    """

    downsampling: int = 4
    kernel_sizes: tuple[int, ...] = (7, 5, 3)

    def __init__(self, in_channels: int = 4, out_channels: int = 3, widths: Sequence[int] = (24, 48, 96),
                 bottleneck_size: int = 16, dilations: Sequence[int] = (2, 4, 8)) -> None:
        super().__init__()
        widths = tuple(int(w) for w in widths)
        if len(widths) != 3 or min(widths) < 2 or bottleneck_size < 2:
            raise ValueError(f"GMCNN: need three widths >= 2 and bottleneck_size >= 2, got {widths} and "
                             f"{bottleneck_size}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.bottleneck_size = bottleneck_size
        self.columns = nn.ModuleList(
            Column(in_channels, widths, k, [max(1, min(d, bottleneck_size // (k - 1))) for d in dilations], up)
            for k, up in zip(self.kernel_sizes, (0, 1, 2))
        )
        merged, half = sum(col.out_channels for col in self.columns), widths[0] // 2
        self.merge = nn.Sequential(
            nn.Conv2d(merged, half, 3, padding=1, padding_mode="reflect"), nn.ELU(),
            nn.Conv2d(half, out_channels, 3, padding=1, padding_mode="reflect"), nn.Tanh(),
        )

    def _check(self, masked: Tensor, mask: Tensor) -> None:
        check_inputs(masked, mask, self.downsampling, type(self).__name__)
        small = min(masked.shape[-2:]) // self.downsampling
        # Reflection padding of the widest dilated convolution needs a map larger than its reach.
        if small < self.bottleneck_size:
            raise ValueError(f"GMCNN: built for a {self.bottleneck_size}x{self.bottleneck_size} bottleneck "
                             f"(images >= {4 * self.bottleneck_size} px), got {tuple(masked.shape[-2:])}; build "
                             f"it with bottleneck_size={small} for these images")

    def column_features(self, masked: Tensor, mask: Tensor) -> list[Tensor]:
        """Each column's full-resolution features: [(N, c3, H, W), (N, c2, H, W), (N, c1, H, W)]."""
        self._check(masked, mask)
        x = torch.cat([masked, mask.to(masked.dtype)], dim=1)
        if x.shape[1] != self.in_channels:
            raise ValueError(f"GMCNN: built for {self.in_channels} input channels (image + mask), got "
                             f"{masked.shape[1]} + {mask.shape[1]}")
        return [col(x) for col in self.columns]

    def forward(self, masked: Tensor, mask: Tensor) -> Tensor:
        """masked (N, 3, H, W) in [-1, 1], mask (N, 1, H, W) 1 = hole -> (N, 3, H, W) in [-1, 1]."""
        return self.merge(torch.cat(self.column_features(masked, mask), dim=1))

    def views(self, prediction: Tensor, image: Tensor, mask: Tensor, masked: Tensor) -> InpaintingViews:
        """The confidence-weighted pixel loss and the (image, mask) pairs of the global-local discriminator:
        ``fake`` = composite + mask and ``real`` = image + mask, (N, 4, H, W)."""
        comp = composite(prediction, image, mask)
        weights = confidence_weights(mask)
        m = mask.to(comp.dtype)
        return InpaintingViews(output=prediction, composite=comp, pixel_pred=prediction, pixel_target=image,
                               pixel_weights=weights, fake=torch.cat([comp, m], 1), real=torch.cat([image, m], 1))


def hole_boxes(mask: Tensor, size: int) -> Tensor:
    """Top-left corners (N, 2) of ``size x size`` squares centred on each hole's bounding box, moved inside
    the image; the image centre for a mask without hole.

    Args:
        mask: (N, 1, H, W), 1 = hole. size: side of the square (<= H, W).
    """
    n, _, h, w = mask.shape
    hole = mask[:, 0] > 0.5
    rows, cols = hole.any(2), hole.any(1)  # (N, H), (N, W)

    def centre(any_: Tensor, length: int) -> Tensor:
        idx = torch.arange(length, device=mask.device)
        first = torch.where(any_, idx, length).amin(1)
        last = torch.where(any_, idx, -1).amax(1)
        empty = last < 0
        mid = torch.where(empty, torch.full_like(first, length // 2), (first + last + 1) // 2)
        return (mid - size // 2).clamp(0, length - size)

    return torch.stack([centre(rows, h), centre(cols, w)], 1)


class _Judge(nn.Module):
    """Four 5x5 stride-2 convolutions (c, 2c, 4c, 4c; ELU) and a linear layer: one logit per image."""

    def __init__(self, size: int, base: int, spectral_norm: bool) -> None:
        super().__init__()
        sn = _spectral_norm if spectral_norm else (lambda m: m)
        widths = [3, base, 2 * base, 4 * base, 4 * base]
        layers: list[nn.Module] = []
        for cin, cout in zip(widths, widths[1:]):
            layers += [sn(nn.Conv2d(cin, cout, 5, stride=2, padding=2)), nn.ELU()]
        self.features = nn.Sequential(*layers, nn.Flatten())
        self.logit = sn(nn.Linear(4 * base * (-(-size // 16)) ** 2, 1))  # each conv: ceil(size / 2)

    def forward(self, x: Tensor) -> Tensor:
        return self.logit(self.features(x))


class GlobalLocalDiscriminator(nn.Module):
    """GMCNN's second-stage critic (after Iizuka et al. 2017): one network judges the whole image, another the
    ``image_size // 2`` square around the hole.

    Args:
        image_size: side of the square images it judges (>= 32).
        base: width of the first layer (64 in the reference code, ``d_cnum``).
        spectral_norm: spectral normalisation on every layer (as in the reference's PyTorch version).

    Shape: (N, 4, H, W), the image in [-1, 1] and the mask as 4th channel (1 = hole, only used to place the
    local square: the networks see RGB) -> logits (N, 2): column 0 global, column 1 local, so a GAN loss
    averaged over the tensor weighs the two critics equally.
    """

    def __init__(self, image_size: int = 64, base: int = 64, spectral_norm: bool = True) -> None:
        super().__init__()
        if image_size < 32:
            raise ValueError(f"GlobalLocalDiscriminator: image_size must be >= 32, got {image_size}")
        self.image_size, self.local_size = image_size, image_size // 2
        self.global_net = _Judge(image_size, base, spectral_norm)
        self.local_net = _Judge(self.local_size, base, spectral_norm)

    def local_crops(self, image: Tensor, mask: Tensor) -> Tensor:
        """The ``local_size`` square around each hole: (N, 3, H/2, W/2)."""
        s = self.local_size
        corners = hole_boxes(mask, s)
        ar = torch.arange(s, device=image.device)
        rows = (corners[:, 0:1] + ar)[:, None, :, None].expand(-1, image.shape[1], s, image.shape[-1])
        band = image.gather(2, rows)  # (N, C, s, W)
        cols = (corners[:, 1:2] + ar)[:, None, None, :].expand(-1, image.shape[1], s, s)
        return band.gather(3, cols)

    def forward(self, x: Tensor) -> Tensor:
        """x (N, 4, H, W): image in [-1, 1] + mask -> logits (N, 2) (global, local)."""
        if x.dim() != 4 or x.shape[1] != 4 or tuple(x.shape[-2:]) != (self.image_size, self.image_size):
            raise ValueError(f"GlobalLocalDiscriminator: expected (N, 4, {self.image_size}, {self.image_size}) (image "
                             f"+ mask as 4th channel: torch.cat([image, mask], 1)), got {tuple(x.shape)}")
        image, mask = x[:, :3], x[:, 3:]
        return torch.cat([self.global_net(image), self.local_net(self.local_crops(image, mask))], 1)
