"""The implicit-diversity Markov random field loss (ID-MRF) of GMCNN (Wang et al., NeurIPS 2018, Sec. 3.3).

A pixel or perceptual loss compares the fill with the real face *position by position*, so when several fills
are plausible it is smallest for their blurry average. ID-MRF compares *sets of patches* instead: every patch
of the real image should have a close match somewhere in the generated image, and different real patches
should be matched by different generated patches (the "implicit diversity"). A fill that repeats one safe
patch everywhere leaves most real patches without a neighbour of their own and is penalised; where a patch
sits does not matter (the loss is unchanged when the generated patches are permuted).

For VGG19 feature maps ``Y`` (generated, ``v`` its patches) and ``T`` (real, ``s`` its patches), with the
patch size 1x1 of the reference code (one feature vector; it sees a 32 px window at relu3_2, 84 px at relu4_2):

1. Centre both by the mean feature vector of ``T`` and normalise each vector: ``mu(v, s)`` is then the cosine
   similarity; the distance is ``d(v, s) = (1 - mu(v, s)) / 2`` in [0, 1].
2. Relative distance (contextual normalisation, Mechrez et al. 2018): ``d~(v, s) = d(v, s) / (min_r d(v, r) +
   eps)``, 1 for the real patch closest to ``v`` and larger for the others, whatever the absolute scale.
3. Relative similarity ``RS(v, s) = exp((1 - d~(v, s)) / h)`` normalised over the real patches:
   ``RS~(v, s) = RS(v, s) / sum_r RS(v, r)`` (a softmax over ``s``), close to 1 only when ``s`` is clearly
   ``v``'s nearest neighbour.
4. ``L = -log( mean_s max_v RS~(v, s) )``: each real patch takes its best generated match. 0 when every real
   patch has a generated patch that is much closer to it than to any other real patch (e.g. ``Y = T``).

The paper sums the loss over relu3_2 and relu4_2 for the "style" part and adds relu4_2 again for the
"content" part, so :data:`MRF_LAYERS` weighs relu3_2 by 1 and relu4_2 by 2; ``h = 0.5`` and ``eps = 1e-5`` as
in the reference code. The reference samples 65x65 positions on larger maps; at 64-128 px the maps have at
most 32x32 positions and all of them are used. Computed in float32 (also under bf16 autocast).
"""
from __future__ import annotations

import os
from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .vgg import LAYER_NAMES, VGG19Features

__all__ = ["MRF_LAYERS", "relative_similarity", "id_mrf", "nearest_patches", "IDMRFLoss"]

#: VGG19 feature index -> weight: relu3_2 (13) once, relu4_2 (22) twice (style + content terms of the paper).
MRF_LAYERS: dict[int, float] = {13: 1.0, 22: 2.0}


def _check_pair(gen: Tensor, tar: Tensor) -> None:
    if gen.dim() != 4 or gen.shape[:2] != tar.shape[:2] or tar.dim() != 4:
        raise ValueError(f"ID-MRF compares feature maps (N, C, H, W) with the same N and C, got {tuple(gen.shape)} "
                         f"and {tuple(tar.shape)}")


def relative_similarity(gen: Tensor, tar: Tensor, bandwidth: float = 0.5, eps: float = 1e-5) -> Tensor:
    """``RS~(v, s)``: how clearly each real patch ``s`` is the nearest neighbour of each generated patch ``v``.

    Args:
        gen: generated features (N, C, H, W); tar: real features (N, C, H', W') (any dtype; float32 inside).
        bandwidth: ``h``; smaller is sharper. eps: keeps the relative distance finite for an exact match.

    Returns:
        (N, H*W, H'*W') float32 in (0, 1]; each row (one generated patch) sums to 1 over the real patches.
    """
    _check_pair(gen, tar)
    # Autocast would run the bmm in bf16, whose 3 digits cannot tell a near match (d ~ 1e-3) from an exact one.
    with torch.autocast(gen.device.type, enabled=False):
        gen, tar = gen.float(), tar.float()
        centre = tar.mean(dim=(2, 3), keepdim=True)  # per image and channel, over the real patches
        g = F.normalize((gen - centre).flatten(2), dim=1)  # (N, C, P_gen), unit vectors
        t = F.normalize((tar - centre).flatten(2), dim=1)  # (N, C, P_real)
        distance = ((1.0 - torch.bmm(g.transpose(1, 2), t)) / 2).clamp(min=0.0)  # (N, P_gen, P_real) in [0, 1]
        relative = distance / (distance.amin(dim=2, keepdim=True) + eps)
        # exp((1 - d~) / h) / sum_r exp((1 - d~_r) / h) is a softmax of -d~ / h: the stable way to compute it.
        return torch.softmax(-relative / bandwidth, dim=2)


def id_mrf(gen: Tensor, tar: Tensor, bandwidth: float = 0.5, eps: float = 1e-5) -> Tensor:
    """The ID-MRF loss of one feature layer, per image: ``-log(mean_s max_v RS~(v, s))``.

    Args:
        gen, tar: (N, C, H, W) generated and real features (see :func:`relative_similarity`).

    Returns:
        (N,) float32 >= 0; near 0 when ``gen`` equals ``tar``, growing as real patches lose their own match.
    """
    best = relative_similarity(gen, tar, bandwidth, eps).amax(dim=1)  # (N, P_real): best generated match
    with torch.autocast(gen.device.type, enabled=False):
        return -torch.log(best.mean(dim=1))


def nearest_patches(gen: Tensor, tar: Tensor, bandwidth: float = 0.5, eps: float = 1e-5) -> Tensor:
    """For each real patch, the index (row-major over H x W) of the generated patch that ID-MRF matches to it.

    Returns:
        (N, H'*W') int64 (e.g. to draw which part of the fill stands in for which part of the face).
    """
    return relative_similarity(gen, tar, bandwidth, eps).argmax(dim=1)


class IDMRFLoss(nn.Module):
    """ID-MRF on frozen VGG19 features: ``sum_l w_l * mean_n id_mrf(vgg_l(output), vgg_l(target))``.

    Args:
        layers: ``{vgg19().features index: weight}`` (default :data:`MRF_LAYERS`: relu3_2 x1, relu4_2 x2).
        weights: VGG19 weights (``facelib.vgg.VGG19Features``: "caffe" offline by default, None for tests).
        bandwidth, eps: see :func:`relative_similarity`.

    forward(output, target): images (N, 3, H, W) in [-1, 1] -> scalar float32. The target's features are
    computed without gradient (they are constants of the loss); gradients flow to ``output``.
    """

    def __init__(self, layers: Mapping[int, float] | None = None, weights: str | os.PathLike | None = "caffe",
                 bandwidth: float = 0.5, eps: float = 1e-5) -> None:
        super().__init__()
        self.layer_weights = dict(MRF_LAYERS if layers is None else layers)
        if not self.layer_weights:
            raise ValueError("IDMRFLoss: layers must name at least one VGG19 index, e.g. {13: 1.0, 22: 2.0}")
        self.vgg = VGG19Features(layers=tuple(self.layer_weights), weights=weights)
        self.bandwidth, self.eps = bandwidth, eps

    def train(self, mode: bool = True) -> IDMRFLoss:
        """No-op: the frozen VGG stays in eval mode."""
        return super().train(False)

    def forward(self, output: Tensor, target: Tensor) -> Tensor:
        with torch.no_grad():
            feats_target = self.vgg(target)
        feats_output = self.vgg(output)
        terms = [w * id_mrf(o, t, self.bandwidth, self.eps).mean()
                 for w, o, t in zip(self.layer_weights.values(), feats_output, feats_target)]
        with torch.autocast(output.device.type, enabled=False):
            return torch.stack(terms).sum()

    def extra_repr(self) -> str:
        names = ", ".join(f"{LAYER_NAMES.get(i, i)}: {w}" for i, w in self.layer_weights.items())
        return f"layers=({names}), bandwidth={self.bandwidth}"
