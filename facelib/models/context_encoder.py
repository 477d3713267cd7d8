"""Context Encoders (Pathak et al., "Context Encoders: Feature Learning by Inpainting", CVPR 2016).

The historical starting point of deep inpainting: an encoder squeezes the image with a missing centre square
into a 4x4 feature map, a *channel-wise fully connected* layer lets every position of a channel see every other
position (the global context a stack of small convolutions lacks), a 1x1 convolution mixes the channels, and a
decoder of up-convolutions paints only the missing centre::

    masked (N,3,128,128) -> encoder (5 x conv4x4/2)   -> (N,512,4,4)
                         -> channel-wise FC + 1x1 conv -> (N,512,4,4)
                         -> decoder (4 x upconv4x4/2)  -> centre (N,3,64,64) in [-1,1]

Unlike the other generators, the hole is fixed: the centre ``hole_size`` square. ``forward`` pastes the
predicted centre into the input, so it has the same signature and output as ``InpaintingGenerator``; for
training, ``predictor()`` gives the centre itself and ``views()`` says what the losses compare (the centre
against the real centre, weighted by ``center_loss_weights``), so no caller has to know it is special.

**Overlap** (paper, Sec. 5.1): the network may predict a region ``overlap`` pixels wider on each side than the
real hole; the hole in the input is then only the inner ``hole_size - 2 * overlap`` square, and the
reconstruction loss weights the overlap band 10x (``center_loss_weights``) so the prediction blends into the
known border. The paper used ``overlap=4`` at 128x128; the default here is ``overlap=0`` (predicted region ==
hole), the simplest case to teach first.

Default size (``image_size=128, hole_size=64, base=64, bottleneck_channels=512``): 5,973,827 parameters
(encoder 2,823,104, bottleneck 394,240 of which the channel-wise FC is 512*16*16 = 131,072, decoder 2,756,483).
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ..masks import CenterMask
from .interface import InpaintingModel, InpaintingViews, check_inputs

__all__ = [
    "CenterPredictor",
    "center_box",
    "crop_center",
    "ChannelWiseFC",
    "ContextEncoder",
    "ContextEncoderDiscriminator",
]


def center_box(image_size: int, hole_size: int) -> tuple[int, int, int, int]:
    """The centred square hole of a square image.

    Returns:
        ``(top, left, height, width)``, e.g. ``center_box(128, 64) == (32, 32, 64, 64)``.
    """
    if not 0 < hole_size <= image_size:
        raise ValueError(f"center_box: need 0 < hole_size <= image_size, got hole {hole_size}, image {image_size}")
    offset = (image_size - hole_size) // 2
    return offset, offset, hole_size, hole_size


def crop_center(x: Tensor, hole_size: int) -> Tensor:
    """Crop the centred ``hole_size`` square of ``x`` (..., H, W) -> (..., hole_size, hole_size)."""
    h, w = x.shape[-2:]
    if hole_size > min(h, w):
        raise ValueError(f"crop_center: hole_size {hole_size} is larger than the image ({h}x{w})")
    top, left = (h - hole_size) // 2, (w - hole_size) // 2
    return x[..., top : top + hole_size, left : left + hole_size]


def _is_power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def _dcgan_init(module: nn.Module) -> None:
    # Pathak et al. build on DCGAN and use its initialisation: N(0, 0.02) weights, BN gamma ~ N(1, 0.02).
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class ChannelWiseFC(nn.Module):
    """Channel-wise fully connected layer: each channel's ``size x size`` map is fully connected to itself.

    A full FC layer from (C, s, s) to (C, s, s) would need C^2 s^4 weights (134 M for 512x4x4); connecting each
    channel only to itself needs C s^4 (131,072), and a following 1x1 convolution mixes the channels.
    No bias, as in the paper's count (m n^4 parameters).

    Weight: (channels, size*size, size*size). Shape: (N, channels, size, size) -> (N, channels, size, size).
    """

    def __init__(self, channels: int, size: int = 4) -> None:
        super().__init__()
        self.channels = channels
        self.size = size
        area = size * size
        self.weight = nn.Parameter(torch.empty(channels, area, area))
        # Same scale as nn.Linear's default: uniform(+-1/sqrt(fan_in)), fan_in = size*size.
        bound = 1.0 / math.sqrt(area)
        nn.init.uniform_(self.weight, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        n, c, h, w = x.shape
        if (c, h, w) != (self.channels, self.size, self.size):
            raise ValueError(
                f"ChannelWiseFC: expected (N, {self.channels}, {self.size}, {self.size}), got {tuple(x.shape)}"
            )
        # out[n, c, t] = sum_s x[n, c, s] * W[c, s, t]: a separate (s, t) matrix per channel.
        y = torch.einsum("ncs,cst->nct", x.reshape(n, c, h * w), self.weight)
        return y.reshape(n, c, h, w)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, size={self.size}"


class ContextEncoder(InpaintingModel, nn.Module):
    """Pathak et al.'s context encoder, scalable to other sizes.

    Args:
        image_size: square input size, a power of two >= 32 (the encoder halves it down to 4x4).
        hole_size: side of the predicted centre square, a power of two >= 8 and <= image_size;
            default ``image_size // 2``.
        base: width of the first encoder layer (64 in the paper).
        bottleneck_channels: channels of the 4x4 bottleneck (512).
        overlap: predicted border outside the hole, in pixels (paper: 4; default 0, see module docstring).
        in_channels: 3 (RGB; the hole is fixed, so the mask is not an input channel, as in the paper).

    Attributes:
        encoder, bottleneck (ChannelWiseFC + 1x1 conv), decoder (nn.Sequential each).
    """

    #: It only ever fills its fixed centre square.
    mask_kinds = ("center",)

    def __init__(
        self,
        image_size: int = 128,
        hole_size: int | None = None,
        base: int = 64,
        bottleneck_channels: int = 512,
        overlap: int = 0,
        in_channels: int = 3,
    ) -> None:
        super().__init__()
        if hole_size is None:
            hole_size = image_size // 2
        if not (_is_power_of_two(image_size) and image_size >= 32):
            raise ValueError(f"ContextEncoder: image_size must be a power of two >= 32, got {image_size}")
        if not (_is_power_of_two(hole_size) and 8 <= hole_size <= image_size):
            raise ValueError(
                f"ContextEncoder: hole_size must be a power of two in [8, image_size={image_size}], got {hole_size}"
            )
        if not 0 <= 2 * overlap < hole_size:
            raise ValueError(f"ContextEncoder: need 0 <= 2 * overlap < hole_size, got overlap {overlap}")
        self.image_size = image_size
        self.hole_size = hole_size
        self.overlap = overlap
        self.in_channels = in_channels

        # Encoder: widths double towards the bottleneck, never below `base` (128 input: 64,64,128,256,512).
        n_down = int(math.log2(image_size)) - 2
        widths = [min(bottleneck_channels, max(base, bottleneck_channels >> (n_down - 1 - i))) for i in range(n_down)]
        widths[-1] = bottleneck_channels
        layers: list[nn.Module] = []
        cin = in_channels
        for i, cout in enumerate(widths):
            layers.append(nn.Conv2d(cin, cout, 4, stride=2, padding=1, bias=i == 0))
            if i > 0:  # DCGAN convention: no BatchNorm on the layer that sees raw pixels
                layers.append(nn.BatchNorm2d(cout))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            cin = cout
        self.encoder = nn.Sequential(*layers)

        self.bottleneck = nn.Sequential(
            ChannelWiseFC(bottleneck_channels, size=4),
            nn.Conv2d(bottleneck_channels, bottleneck_channels, 1, bias=False),  # the stride-1 channel mixing
            nn.BatchNorm2d(bottleneck_channels),
            nn.ReLU(inplace=True),
        )

        # Decoder: up-convolutions halve the width each time (not below `base`), the last one to RGB.
        n_up = int(math.log2(hole_size)) - 2
        layers = []
        cin = bottleneck_channels
        for _ in range(n_up - 1):
            cout = max(base, cin // 2)
            layers += [
                nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(cout),
                nn.ReLU(inplace=True),
            ]
            cin = cout
        layers += [nn.ConvTranspose2d(cin, 3, 4, stride=2, padding=1), nn.Tanh()]
        self.decoder = nn.Sequential(*layers)
        self.apply(_dcgan_init)

    @property
    def hole_box(self) -> tuple[int, int, int, int]:
        """``(top, left, h, w)`` of the actual hole (the predicted square minus the overlap band)."""
        return center_box(self.image_size, self.hole_size - 2 * self.overlap)

    def center_mask(self) -> Tensor:
        """The mask this model is trained for: (1, image_size, image_size), 1 inside ``hole_box``."""
        top, left, h, w = self.hole_box
        mask = torch.zeros(1, self.image_size, self.image_size)
        mask[:, top : top + h, left : left + w] = 1.0
        return mask

    def center_loss_weights(self, overlap_weight: float = 10.0) -> Tensor:
        """Per-pixel reconstruction weights over the predicted square: (1, 1, hole_size, hole_size).

        1 inside the hole and ``overlap_weight`` on the overlap band (the paper's 10x); all ones if overlap=0.
        """
        weights = torch.full((1, 1, self.hole_size, self.hole_size), float(overlap_weight))
        o = self.overlap
        weights[..., o : self.hole_size - o, o : self.hole_size - o] = 1.0
        return weights

    def _check(self, masked: Tensor, mask: Tensor) -> None:
        check_inputs(masked, mask, 1, type(self).__name__)
        if masked.shape[1] != self.in_channels or masked.shape[-2:] != (self.image_size, self.image_size):
            raise ValueError(
                f"ContextEncoder: built for ({self.in_channels}, {self.image_size}, {self.image_size}) images, got "
                f"{tuple(masked.shape[1:])}; resize the images or build ContextEncoder(image_size=...)"
            )

    def predict_center(self, masked: Tensor, mask: Tensor) -> Tensor:
        """Predict the centre square.

        Args:
            masked: (N, 3, image_size, image_size) in [-1, 1], hole blanked (``mask_image``).
            mask: (N, 1, image_size, image_size); only its shape is checked (the hole is the fixed centre).

        Returns:
            (N, 3, hole_size, hole_size) in [-1, 1]: the centre square (including the overlap band).
        """
        self._check(masked, mask)
        return self.decoder(self.bottleneck(self.encoder(masked)))

    def paste_center(self, masked: Tensor, center: Tensor) -> Tensor:
        """Paste the hole part of ``center`` (N, 3, hole_size, hole_size) into ``masked``; the overlap band and
        everything outside the hole keep the input pixels. Returns (N, 3, H, W)."""
        top, left, h, w = self.hole_box
        o = self.overlap
        out = masked.clone()
        out[:, :, top : top + h, left : left + w] = center[:, :, o : o + h, o : o + w]
        return out

    def forward(self, masked: Tensor, mask: Tensor) -> Tensor:
        """Same interface as ``InpaintingGenerator``.

        Args:
            masked: (N, 3, image_size, image_size) in [-1, 1].
            mask: (N, 1, image_size, image_size) with 1 = hole. The model always fills ``hole_box``; hole pixels
                outside it (from another mask type) are returned as they are in ``masked``.

        Returns:
            (N, 3, image_size, image_size) in [-1, 1]: ``masked`` with the predicted centre pasted in.
        """
        return self.paste_center(masked, self.predict_center(masked, mask))

    # ------------------------------------------------------------------ the training interface (InpaintingModel)
    def predictor(self) -> nn.Module:
        """A module whose forward is ``predict_center`` (so ``torch.compile`` can compile it); no own weights."""
        return CenterPredictor(self)

    def views(self, prediction: Tensor, image: Tensor, mask: Tensor, masked: Tensor) -> InpaintingViews:
        """Training views of a centre prediction (N, 3, hole_size, hole_size), as in Pathak et al.: the pixel
        loss and the discriminator compare the predicted centre with the real centre (overlap band weighted by
        ``center_loss_weights``); the output is ``masked`` with the centre pasted in, which is its own composite.
        """
        output = self.paste_center(masked, prediction)
        real = crop_center(image, self.hole_size)
        weights = self.center_loss_weights().to(prediction.device)
        return InpaintingViews(output=output, composite=output, pixel_pred=prediction, pixel_target=real,
                               pixel_weights=weights, fake=prediction, real=real)

    def supported_mask_kinds(self, image_size: int) -> tuple[str, ...]:
        """``("center",)``; ValueError when built for another size or another hole than the centre quarter."""
        if self.image_size != image_size:
            raise ValueError(f"the Context Encoder was built for {self.image_size}x{self.image_size} images; "
                             f"evaluate it with size {self.image_size}")
        if not torch.equal(self.center_mask(), CenterMask(image_size)()):
            raise ValueError(f"the Context Encoder fills {self.hole_box} (top, left, h, w), not the protocol's "
                             "centre square of a quarter of the image: its hole_size/overlap differ from the protocol")
        return self.mask_kinds


class CenterPredictor(nn.Module):
    """``ContextEncoder.predict_center`` as a module's forward (a view for compilation; checkpoints store the
    ContextEncoder itself, so its parameter names are unchanged)."""

    def __init__(self, ce: ContextEncoder) -> None:
        super().__init__()
        self.ce = ce

    def forward(self, masked: Tensor, mask: Tensor) -> Tensor:
        return self.ce.predict_center(masked, mask)


class ContextEncoderDiscriminator(nn.Module):
    """The context encoder's adversarial discriminator on the centre patch (DCGAN-style).

    Stride-2 4x4 convolutions down to 4x4 (widths base, 2 base, 4 base, 8 base for 64x64, capped at 8 base),
    LeakyReLU 0.2, BatchNorm except on the first layer, then a 4x4 valid convolution to one logit.

    Args:
        hole_size: side of the patch, a power of two >= 8.
        base: width of the first layer.
        in_channels: 3.

    Shape: (N, 3, hole_size, hole_size) in [-1, 1] -> logits (N, 1) (no sigmoid: use BCE-with-logits).
    """

    def __init__(self, hole_size: int = 64, base: int = 64, in_channels: int = 3) -> None:
        super().__init__()
        if not (_is_power_of_two(hole_size) and hole_size >= 8):
            raise ValueError(f"ContextEncoderDiscriminator: hole_size must be a power of two >= 8, got {hole_size}")
        self.hole_size = hole_size
        self.in_channels = in_channels
        layers: list[nn.Module] = []
        cin = in_channels
        for i in range(int(math.log2(hole_size)) - 2):
            cout = base * min(2**i, 8)
            layers.append(nn.Conv2d(cin, cout, 4, stride=2, padding=1, bias=i == 0))
            if i > 0:
                layers.append(nn.BatchNorm2d(cout))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            cin = cout
        layers += [nn.Conv2d(cin, 1, 4), nn.Flatten()]
        self.net = nn.Sequential(*layers)
        self.apply(_dcgan_init)

    def forward(self, patch: Tensor) -> Tensor:
        expected = (self.in_channels, self.hole_size, self.hole_size)
        if patch.dim() != 4 or tuple(patch.shape[1:]) != expected:
            raise ValueError(
                f"ContextEncoderDiscriminator: expected (N, {expected[0]}, {expected[1]}, {expected[2]}) patches, "
                f"got {tuple(patch.shape)}; crop with crop_center(x, {self.hole_size})"
            )
        return self.net(patch)
