"""The perceptual distance on VGG19 features (after Johnson et al. 2016's feature reconstruction loss): the one
definition (:func:`feature_distance`, which the training step calls on its VGG features) and the per-image
metric (:func:`vgg_feature_distance`); images (N, 3, H, W) in [-1, 1], distances float32 >= 0."""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from .features import DEFAULT_LAYERS, VGG19Features

__all__ = ["feature_distance", "vgg_feature_distance"]

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
    """The perceptual distance: the one definition used by training (``facelib.train.step``), the metrics
    (:func:`vgg_feature_distance`, ``facelib.metrics.perceptual_distance``) and the notebooks.

    ``mean over layers of the mean feature error``, in float32: our variant of Johnson et al. 2016's feature
    reconstruction loss, which used one VGG-16 layer and the squared error divided by the layer's size.

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
    if layer_weights is not None and len(layer_weights) != len(feats_a):
        raise ValueError(f"layer_weights has {len(layer_weights)} entries for {len(feats_a)} feature maps")
    errors = [_feature_error(a, b, criterion) for a, b in zip(feats_a, feats_b)]
    if per_image:
        per_layer = [e.flatten(1).mean(1) for e in errors]
        if layer_weights is not None:
            return sum(w * d for w, d in zip(layer_weights, per_layer))  # type: ignore[return-value]
        return torch.stack(per_layer, 0).mean(0)
    if layer_weights is not None:
        return sum(float(w) * e.mean() for w, e in zip(layer_weights, errors))  # type: ignore[return-value]
    return sum(e.mean() for e in errors) / len(errors)  # type: ignore[return-value]


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
        (N,) float32, >= 0, zero for identical images; ``.mean()`` equals :func:`feature_distance` of the
        same layers and criterion with equal layer weights. Computed without gradients (a metric).
    """
    if a.shape != b.shape:
        raise ValueError(f"a {tuple(a.shape)} and b {tuple(b.shape)} differ in shape")
    if criterion not in _CRITERIA:
        raise ValueError(f"criterion must be one of {_CRITERIA}, got {criterion!r}")
    layers = vgg.layers if layers is None else tuple(layers)
    positions = [vgg.layers.index(i) for i in layers]
    fa, fb = vgg(a), vgg(b)
    return feature_distance([fa[p] for p in positions], [fb[p] for p in positions], criterion, per_image=True)
