"""facelib: deep image inpainting of faces, taught from scratch.

Modules, one concept each: `data` (face datasets), `masks` (hole generators), `models` (generators and
discriminators), `vgg` (VGG19 features and perceptual loss), `losses`, `train`, `metrics`, `evaluate`,
`baselines` (OpenCV inpainting) and `viz` (grids, curves, widgets).
"""
__version__ = "0.1.0"
