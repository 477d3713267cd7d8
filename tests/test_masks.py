"""facelib.masks: shapes, values, determinism, per-bin statistics of the NVIDIA masks."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from facelib.masks import (
    IRREGULAR_BINS,
    CenterMask,
    FreeFormMask,
    IrregularMasks,
    MixedMasks,
    RandomRectangles,
    check_mask,
    hole_ratio,
    load_mask,
    make_masks,
)

GENERATORS = [CenterMask, RandomRectangles, FreeFormMask]


def rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


@pytest.mark.parametrize("cls", GENERATORS)
@pytest.mark.parametrize("size", [32, 64, 128])
def test_shape_dtype_values(cls, size):
    mask = cls(size)(rng(0))
    assert mask.shape == (1, size, size) and mask.dtype == torch.float32
    assert set(mask.unique().tolist()) <= {0.0, 1.0}
    check_mask(mask, size)


@pytest.mark.parametrize("cls", [RandomRectangles, FreeFormMask])
def test_seeded_and_varied(cls):
    gen = cls(64)
    assert torch.equal(gen(rng(3)), gen(rng(3)))
    masks = [gen(rng(s)) for s in range(8)]
    assert len({m.numpy().tobytes() for m in masks}) == 8


def test_center_mask_is_a_quarter_in_the_middle():
    mask = CenterMask(128)()
    assert hole_ratio(mask) == 0.25
    assert mask[0, 32:96, 32:96].all() and mask.sum() == 64 * 64


def test_freeform_hole_ratio_is_reasonable():
    ratios = [hole_ratio(FreeFormMask(128)(rng(s))) for s in range(60)]
    assert 0.05 < float(np.mean(ratios)) < 0.4
    assert min(ratios) > 0  # every call draws at least one stroke


def test_rectangles_stay_inside_and_are_bounded():
    for s in range(30):
        mask = RandomRectangles(64, max_boxes=1, min_frac=0.25, max_frac=0.25)(rng(s))
        rows, cols = mask[0].nonzero(as_tuple=True)
        assert rows.max() - rows.min() + 1 == 16 and cols.max() - cols.min() + 1 == 16


def test_mixed_uses_every_generator():
    gens = [CenterMask(32), RandomRectangles(32)]
    mixed = MixedMasks(gens)
    center = gens[0]()
    kinds = {torch.equal(mixed(rng(s)), center) for s in range(40)}
    assert kinds == {True, False}


def test_mixed_rejects_sizes_and_weights():
    with pytest.raises(ValueError, match="same size"):
        MixedMasks([CenterMask(32), CenterMask(64)])
    with pytest.raises(ValueError, match="weights"):
        MixedMasks([CenterMask(32)], weights=[0.0])


def test_make_masks_names_and_errors():
    for name in ("center", "rectangles", "freeform", "mixed"):
        assert make_masks(name, 32)(rng(0)).shape == (1, 32, 32)
    with pytest.raises(ValueError, match="choose from"):
        make_masks("stars", 32)
    with pytest.raises(ValueError, match="FACELIB_MASKS"):
        make_masks("irregular", 32)


def test_check_mask_errors_are_clear():
    with pytest.raises(ValueError, match=r"expected \(1, H, W\)"):
        check_mask(torch.zeros(3, 8, 8))
    with pytest.raises(ValueError, match="nearest"):
        check_mask(torch.zeros(1, 8, 8), size=16)
    with pytest.raises(ValueError, match="dtype"):
        check_mask(torch.zeros(1, 8, 8, dtype=torch.uint8))
    with pytest.raises(ValueError, match="threshold"):
        check_mask(torch.full((1, 8, 8), 0.5))


def _fake_mask_folder(root: Path, per_bin: int = 2) -> Path:
    """Numbered PNGs like NVIDIA's: file k of bin b is numbered b*2000 + k, with a hole of ~ (b*10 + 5)%."""
    root.mkdir()
    for b in range(len(IRREGULAR_BINS)):
        for k in range(per_bin):
            arr = np.zeros((64, 64), np.uint8)
            rows = int(64 * (b * 0.1 + 0.05))
            arr[:rows] = 255
            Image.fromarray(arr).save(root / f"{b * 2000 + k:05d}.png")
    return root


def test_irregular_on_a_local_folder(tmp_path):
    masks = IrregularMasks(_fake_mask_folder(tmp_path / "m"), 32)
    assert len(masks) == 12
    for i in range(len(masks)):
        b = masks.bin_of(i)
        assert b / 10 <= hole_ratio(masks[i]) <= (b + 1) / 10
    assert torch.equal(masks(rng(1)), masks(rng(1)))
    only = IrregularMasks(tmp_path / "m", 32, bins=["20-30%", 5])
    assert sorted({only.bin_of(i) for i in range(len(only))}) == [2, 5]


def test_irregular_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="FACELIB_MASKS"):
        IrregularMasks(tmp_path / "missing", 32)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no numbered PNG"):
        IrregularMasks(tmp_path / "empty", 32)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "00000.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="00000.png"):
        IrregularMasks(bad, 32)[0]


def test_load_mask_resizes_without_grey(tmp_path):
    arr = np.zeros((50, 50), np.uint8)
    arr[10:30, 5:45] = 255
    Image.fromarray(arr).save(tmp_path / "m.png")
    mask = load_mask(tmp_path / "m.png", 32)
    check_mask(mask, 32)
    assert 0.2 < hole_ratio(mask) < 0.4


@pytest.mark.realdata
def test_real_irregular_bins(masks_root):
    """A seeded sample of 15 files per bin: the hole ratio at 512 px and at 128 px lies in its bin."""
    full, small = IrregularMasks(masks_root, 512), IrregularMasks(masks_root, 128)
    assert len(full) == 12000
    pick = np.random.default_rng(0)
    for b in range(6):
        for i in pick.choice(np.arange(b * 2000, (b + 1) * 2000), 15, replace=False):
            assert full.bin_of(int(i)) == b
            lo, hi = b / 10, (b + 1) / 10
            assert lo - 0.01 <= hole_ratio(full[int(i)]) <= hi + 0.01
            assert lo - 0.03 <= hole_ratio(small[int(i)]) <= hi + 0.03  # nearest resize moves it a little


@pytest.mark.realdata
def test_real_irregular_augment(masks_root):
    plain = IrregularMasks(masks_root, 64, bins=[3])
    aug = IrregularMasks(masks_root, 64, bins=[3], augment=True)
    assert torch.equal(plain(rng(5)), plain(rng(5)))
    changed = [not torch.equal(plain(rng(s)), aug(rng(s))) for s in range(10)]
    assert sum(changed) >= 8
    for s in range(5):
        check_mask(aug(rng(s)), 64)
