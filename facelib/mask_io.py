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
plane, so the committed NVIDIA masks read exactly as before). An 8-bit grey file is checked through PIL's C
histogram (no pixel array at its full size), so banks of thousands of masks load about as fast as before.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

__all__ = ["CHANNELS", "MaskFileError", "binarize_plane", "mask_levels", "read_mask_array", "read_mask_plane"]

#: Planes a caller may choose with ``channel=``.
CHANNELS: tuple[str, ...] = ("L", "R", "G", "B", "A")


class MaskFileError(ValueError):
    """A mask file that cannot be read unambiguously (one line: the file, the problem, the fix)."""


def _varies(plane: np.ndarray) -> bool:
    return bool(plane.size) and bool((plane != plane.flat[0]).any())


def read_mask_plane(image: Image.Image, path: Path, channel: str | None = None) -> Image.Image | np.ndarray:
    """The (H, W) plane of ``image`` that carries the hole (larger value = hole, before levels): the image itself
    when it is 8-bit grey, else an array of any dtype.

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
    if bands == ("L",) and channel in (None, "L"):
        image.load()  # decoded now, while the file is open (and its errors are reported as the file's)
        return image  # the common case (NVIDIA's files): read as an image, no channel to choose
    if channel is not None:
        if channel == "L":
            return np.asarray(image.convert("L"))
        if channel not in bands:
            raise MaskFileError(f"mask {path} has no {channel} channel (its channels: {''.join(bands)}); choose one "
                                f"of {', '.join(bands)}")
        return np.asarray(image.getchannel(channel))
    pixels = np.asarray(image)
    alpha = pixels[..., bands.index("A")] if "A" in bands else None
    colour = pixels[..., [i for i, b in enumerate(bands) if b != "A"]] if pixels.ndim == 3 else pixels
    plane = colour.max(axis=-1) if colour.ndim == 3 else colour
    if alpha is None or not _varies(alpha):
        return plane
    if not _varies(plane):
        return alpha  # a hole drawn on a transparent layer: opaque = hole
    if _same_mask(plane, alpha):
        return plane
    raise MaskFileError(f"mask {path}: its alpha channel and its colours draw different holes; say which one is "
                        "the hole with channel='A' (or 'L', 'R', 'G', 'B')")


def _same_mask(a: np.ndarray, b: np.ndarray) -> bool:
    la, lb = mask_levels(np.unique(a)), mask_levels(np.unique(b))
    return la is not None and lb is not None and bool(np.array_equal(a > sum(la) / 2, b > sum(lb) / 2))


def mask_levels(values: np.ndarray) -> tuple[float, float] | None:
    """``(low, high)`` of the distinct values a plane holds (sorted); ``None`` when there are more than two."""
    if len(values) > 2:
        return None
    return float(values[0]), float(values[-1])


def binarize_plane(values: np.ndarray, counts: np.ndarray, path: Path, threshold: float | None = None,
                   expected_ratio: tuple[float, float, str] | None = None) -> float:
    """The threshold that turns a plane into its hole (``plane > threshold``), after the checks above.

    Args:
        values, counts: the plane's distinct values (sorted) and how many pixels hold each, at its own size.
        threshold: a fixed threshold (the old behaviour, e.g. 127); ``None``: half-way between the two levels.
        expected_ratio: ``(low, high, label)`` of the file's NVIDIA bin, when known.
    """
    levels = mask_levels(values) if threshold is None else None
    if threshold is None:
        if levels is None:
            raise MaskFileError(
                f"mask {path} is not two-level ({len(values)} values from {values[0]:g} to {values[-1]:g}; e.g. a "
                "JPEG or an anti-aliased brush): save it as a PNG with one value for the hole and one for the rest")
        threshold = sum(levels) / 2
    ratio = float(counts[values > threshold].sum() / counts.sum())
    if ratio in (0.0, 1.0):
        what = (f"every pixel is {float(values[0]):g}" if len(values) == 1 else
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


def _histogram(plane: Image.Image | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct values, pixel counts) of a plane: PIL's C histogram for an 8-bit image (no pixel array at
    full size: NVIDIA's files are 512 x 512), ``np.unique`` otherwise."""
    if isinstance(plane, Image.Image):
        hist = np.asarray(plane.histogram())
        values = np.flatnonzero(hist)
        return values, hist[values]
    return np.unique(plane, return_counts=True)


def read_mask_array(path: Path, size: int | None, threshold: float | None = None, channel: str | None = None,
                     expected_ratio: tuple[float, float, str] | None = None) -> np.ndarray:
    """(size, size) bool array of a mask image (hole = the brighter of its two levels, in the plane that
    :func:`read_mask_plane` picks); nearest-neighbour resize, then threshold. ``expected_ratio``: the NVIDIA bin
    ``(low, high, label)`` when known. Unreadable files raise ValueError, missing ones FileNotFoundError."""
    try:
        with Image.open(path) as im:
            plane = read_mask_plane(im, path, channel)
    except FileNotFoundError:
        raise FileNotFoundError(f"mask file {path} does not exist") from None
    except (UnidentifiedImageError, OSError) as err:
        raise ValueError(f"cannot read mask image {path} ({err}): the file is corrupt or not an image; "
                         "replace or delete it") from err
    image = plane if isinstance(plane, Image.Image) else Image.fromarray(plane)
    if image.width != image.height:
        raise MaskFileError(f"mask {path} is {image.width}x{image.height} pixels, not square: masks are "
                            "square like the faces; crop or pad it to a square first")
    threshold = binarize_plane(*_histogram(plane), path, threshold, expected_ratio=expected_ratio)
    if size is not None and image.size != (size, size):
        # Nearest neighbour on the plane itself: no grey values at the hole borders, and NVIDIA's 0/255 files
        # give exactly the masks they gave before the levels were detected.
        image = image.resize((size, size), Image.NEAREST)
    return np.asarray(image) > threshold
