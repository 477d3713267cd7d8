"""Reading a hole-mask image whatever convention it was saved in, and refusing the ones that cannot be read
unambiguously.

Masks reach facelib as PNGs drawn by many tools: white holes on black (NVIDIA's 0/255), 0/1 arrays saved
as 8-bit images (they look black), grey holes, a hole painted in one colour channel, or a hole drawn on a
transparent layer (alpha). :func:`read_mask_plane` picks the plane that carries the hole, and
:func:`binarize_plane` finds the plane's two levels and thresholds half-way between them (0/1 -> 0.5,
0/255 -> 127.5, 0/128 -> 64), so all of these give the same mask. Refused, each with one line naming the file,
the problem and the fix (:class:`MaskFileError`, a ``ValueError``):

* a plane that is not two-level (e.g. a JPEG, or an anti-aliased brush): thresholding it would invent a hole;
* a blank plane (one value only): no hole, or all hole -- scoring it gives PSNR ``inf`` or nothing to keep;
* a hole ratio outside the file's NVIDIA bin (when the caller knows it): every file of NVIDIA's test set lies
  inside its bin at its own size, so a ratio outside it is another file, most often an inverted one
  (black = hole).

Only the colour / alpha choice happens here; resizing stays with the caller (nearest neighbour on the chosen
plane, so the committed NVIDIA masks read exactly as before). Reading costs one ``np.bincount`` per 8-bit
file on top of decoding it, so banks of thousands of masks load as fast as before.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

__all__ = ["CHANNELS", "MaskFileError", "binarize_plane", "mask_levels", "read_mask_plane"]

#: Planes a caller may choose with ``channel=``.
CHANNELS: tuple[str, ...] = ("L", "R", "G", "B", "A")


class MaskFileError(ValueError):
    """A mask file that cannot be read unambiguously (one line: the file, the problem, the fix)."""


def _varies(plane: np.ndarray) -> bool:
    return bool(plane.size) and bool((plane != plane.flat[0]).any())


def read_mask_plane(image: Image.Image, path: Path, channel: str | None = None) -> np.ndarray:
    """The (H, W) plane of ``image`` that carries the hole (any dtype; larger value = hole, before levels).

    ``channel``: one of :data:`CHANNELS` to choose it; ``None`` picks it when unambiguous: the alpha plane of
    a mask drawn on a transparent layer (colour constant, alpha varying), otherwise the brightest colour
    channel per pixel (white, grey or a single coloured hole on black all give the hole). A varying alpha
    over varying colours that disagree is refused: pass ``channel=``.
    """
    if channel is not None and channel not in CHANNELS:
        raise MaskFileError(f"channel={channel!r} is not one of {CHANNELS}")
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif image.mode in ("1", "CMYK", "YCbCr", "LAB", "HSV"):
        image = image.convert("RGB" if image.mode != "1" else "L")
    bands = image.getbands()
    if channel is not None:
        if channel == "L":
            return np.asarray(image.convert("L"))
        if channel not in bands:
            raise MaskFileError(f"mask {path} has no {channel} channel (its channels: {''.join(bands)}); choose one "
                                f"of {', '.join(bands)}")
        return np.asarray(image.getchannel(channel))
    alpha = np.asarray(image.getchannel("A")) if "A" in bands else None
    colour = [np.asarray(image.getchannel(b)) for b in bands if b != "A"]
    plane = colour[0] if len(colour) == 1 else np.maximum.reduce(colour)
    if alpha is None or not _varies(alpha):
        return plane
    if not _varies(plane):
        return alpha  # a hole drawn on a transparent layer: opaque = hole
    if _same_mask(plane, alpha):
        return plane
    raise MaskFileError(f"mask {path}: its alpha channel and its colours draw different holes; say which one is "
                        "the hole with channel='A' (or 'L', 'R', 'G', 'B')")


def _same_mask(a: np.ndarray, b: np.ndarray) -> bool:
    la, lb = mask_levels(a), mask_levels(b)
    return la is not None and lb is not None and bool(np.array_equal(a > sum(la) / 2, b > sum(lb) / 2))


def mask_levels(plane: np.ndarray) -> tuple[float, float] | None:
    """``(low, high)``, the two values of a two-level plane; ``None`` when it has more; ``(v, v)`` when one."""
    if plane.dtype == np.uint8:
        present = np.flatnonzero(np.bincount(plane.ravel(), minlength=256))  # fast: no sort of the pixels
    else:
        present = np.unique(plane)
    if len(present) > 2:
        return None
    return float(present[0]), float(present[-1])


def binarize_plane(plane: np.ndarray, path: Path, threshold: float | None = None,
                   levels: tuple[float, float] | None = None,
                   expected_ratio: tuple[float, float, str] | None = None) -> float:
    """The threshold that turns ``plane`` into its hole (``plane > threshold``), after the checks above.

    Args:
        plane: the full-size plane (:func:`read_mask_plane`), before any resize.
        threshold: a fixed threshold (the old behaviour, e.g. 127); ``None``: half-way between the two levels.
        levels: the plane's levels when already known (:func:`mask_levels`).
        expected_ratio: ``(low, high, label)`` of the file's NVIDIA bin, when known.
    """
    levels = mask_levels(plane) if levels is None else levels
    if threshold is None:
        if levels is None:
            shown = np.unique(plane)
            raise MaskFileError(
                f"mask {path} is not two-level ({len(shown)} values from {shown[0]} to {shown[-1]}; e.g. a JPEG or "
                "an anti-aliased brush): save it as a PNG with one value for the hole and one for the rest")
        threshold = sum(levels) / 2
    ratio = float((plane > threshold).mean())
    if ratio in (0.0, 1.0):
        what = (f"every pixel is {float(plane.flat[0]):g}" if levels is not None and levels[0] == levels[1] else
                f"{'no' if ratio == 0 else 'every'} pixel is above the threshold {threshold:g}")
        raise MaskFileError(f"mask {path} is blank ({what}): a mask needs hole pixels (white, or the brighter "
                            "value) and known pixels; redraw it or remove it")
    if expected_ratio is not None:
        low, high, label = expected_ratio
        if not low <= ratio <= high:
            inverted = low <= 1 - ratio <= high
            why = ("it looks inverted (black = hole): save 255 - mask" if inverted else
                   "it is not NVIDIA's file of that number: use the files of testing_mask_dataset/ unchanged")
            raise MaskFileError(f"mask {path} has a hole ratio of {ratio:.1%}, outside its NVIDIA bin {label} "
                                f"(from its number); {why}")
    return threshold

