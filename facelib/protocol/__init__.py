"""The fixed, seeded evaluation protocol: which face is scored with which hole.

A **manifest** is a CSV with one row per test case:

==========  =====================================================================================
column      meaning
==========  =====================================================================================
case_id     0, 1, 2, ... (row number)
face        the face's file path relative to the faces folder (UTKFace: the file name)
mask_kind   ``irregular`` (NVIDIA test mask), ``center`` (centre square) or ``freeform`` (strokes)
mask_id     irregular: the NVIDIA file number (``02345`` -> ``masks/02345.png``); freeform: the stroke
            seed; center: 0 (there is one centre mask)
bin         irregular: NVIDIA's hole-ratio bin of the file number (``number // 2000``: ``0-10%`` ...
            ``50-60%``); center: ``25%``; freeform: the 10%-bin of the mask's hole ratio at ``size``
size        the side (pixels) the manifest was built for (free-form masks and bins depend on it)
seed        the protocol seed
==========  =====================================================================================

**The rule** (:func:`build_manifest`; LaMa's and mmagic's evaluation masks are drawn unseeded, ours are not):

1. Faces: the face names sorted (for UTKFace the 2,000 names of ``data/splits/utkface_val.txt``; for CelebA-HQ
   the image paths found under the StarGAN-v2 ``val/`` folder, ``female/...`` then ``male/...``). Face ``i``
   is the ``i``-th name.
2. Irregular holes, one per face: face ``i`` goes to bin ``b = i % 6`` as its ``j = i // 6``-th case, so the
   bins get equal shares (2,000 faces: 334, 334, 333, 333, 333, 333) of faces spread evenly over the sorted
   list. ``rng = numpy.random.default_rng(seed)`` draws one permutation of the 2,000 numbers of every bin,
   bin 0 first (``perm_b = rng.permutation(2000)``); the ``j``-th case of bin ``b`` gets mask
   ``2000 * b + perm_b[j]``. A permutation per bin (rather than ``choice(k)``) makes the masks of ``k``
   cases the first ``k`` of those of any larger ``k``. More than 12,000 faces reuse masks cyclically. The
   NVIDIA numbering fixes the bins, so no mask file is read.
3. Centre holes, one per face: the centred square covering a quarter of the image (``CenterMask(size)``,
   the Context Encoder setting).
4. Free-form holes, one per face: face ``i`` gets ``FreeFormMask(size)(numpy.random.default_rng([seed, i]))``
   (DeepFill v2 strokes; ``mask_id = i``), regenerated exactly from that seed whenever a case is loaded.
5. Rows: all irregular cases (face order), then all centre cases, then all free-form cases.

Irregular masks are resized to ``size`` with nearest-neighbour interpolation and thresholded, so they stay
binary (:func:`facelib.masks.load_mask`). The committed manifests live in ``data/protocol/``:

* ``utkface_val_128.csv``: the 2,000 UTKFace validation faces at 128x128, 6,000 cases. Rebuild it with
  ``python -m facelib.protocol build --split-list data/splits/utkface_val.txt --size 128
  --out data/protocol/utkface_val_128.csv`` (a test checks the committed file equals a fresh build).
* CelebA-HQ (not shipped: build it from your copy, at 256x256):
  ``python -m facelib.protocol build --faces /path/to/celeba_hq/val --size 256
  --out data/protocol/celeba_hq_val_256.csv`` (2,000 faces, 6,000 cases).

:func:`load_case` turns a row into ``(image, mask)``; :class:`ProtocolDataset` serves a (sub)set of rows,
subset by :func:`select_cases` (the first ``per_bin`` cases of every (kind, bin), then the first ``limit``).

One concept per module: ``manifest`` (the rule, the manifest's columns, reading, writing, checking and
selecting rows), ``cases`` (a row's face and mask, :class:`ProtocolDataset`), ``cli`` (``python -m
facelib.protocol build|summary``).
"""
from __future__ import annotations

from .cases import Faces, ProtocolDataset, case_mask, load_case, rescored_bin
from .cli import main  # ``python -m facelib.protocol``; facelib.protocol.main as before
from .manifest import (
    CENTER_BIN,
    KINDS,
    MANIFEST_FIELDS,
    PROTOCOL_DIR,
    PROTOCOL_SEED,
    RATIO_BINS,
    UTKFACE_MANIFEST,
    build_manifest,
    check_manifest,
    count_cases,
    face_ids,
    group_order,
    list_faces,
    manifest_text,
    ratio_bin,
    read_manifest,
    select_cases,
    write_manifest,
)

from . import cases as _cases
from . import manifest as _manifest

# The public names are the submodules' own (one list each, not restated here).
__all__ = [*_manifest.__all__, *(n for n in _cases.__all__ if n != "Faces")]
