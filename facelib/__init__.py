"""facelib: deep image inpainting of faces, taught from scratch.

Modules, one concept each: `data` (face datasets), `masks` (hole generators), `models` (generators and
discriminators), `vgg` (VGG19 features and perceptual loss), `losses`, `train`, `metrics`, `evaluate`,
`realism` (FID/KID), `identity` (optional face-descriptor distance), `baselines` (OpenCV inpainting), `viz` (grids, curves, widgets) and `pretrained` (committed weights:
``facelib.load_pretrained("generator")``).
"""
__version__ = "0.1.0"


def __getattr__(name: str):
    # ``facelib.load_pretrained`` without importing torch at ``import facelib`` (PEP 562 lazy attribute).
    if name in ("load_pretrained", "load_manifest", "available_weights", "get_weights"):
        from . import pretrained

        return getattr(pretrained, name)
    raise AttributeError(f"module 'facelib' has no attribute {name!r}")
