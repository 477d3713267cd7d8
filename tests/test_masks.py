"""facelib.masks: shapes, values, determinism, errors, and per-bin statistics of the NVIDIA masks."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from facelib.masks import (
    IRREGULAR_BINS,
    MASK_NAMES,
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


def is_binary(mask: torch.Tensor) -> bool:
    return set(mask.unique().tolist()) <= {0.0, 1.0}


@pytest.mark.parametrize("cls", GENERATORS)
@pytest.mark.parametrize("size", [32, 64, 128])
def test_shape_dtype_values(cls, size):
    gen = cls(size)
    assert gen.size == size
    for s in range(3):
        mask = gen(rng(s))
        assert mask.shape == (1, size, size) and mask.dtype == torch.float32
        assert is_binary(mask) and mask.sum() > 0
        check_mask(mask, size)


@pytest.mark.parametrize("cls", [RandomRectangles, FreeFormMask])
def test_seeded_and_varied(cls):
    gen = cls(64)
    assert torch.equal(gen(rng(3)), gen(rng(3)))
    assert len({gen(rng(s)).numpy().tobytes() for s in range(8)}) == 8
    # Without an rng the generator's own seeded rng is used: same seed -> same sequence.
    a, b = cls(64, seed=7), cls(64, seed=7)
    assert all(torch.equal(a(), b()) for _ in range(3))
    assert not torch.equal(cls(64, seed=8)(), cls(64, seed=7)())


def test_center_mask_is_a_quarter_in_the_middle():
    mask = CenterMask(128)(rng(0))
    assert hole_ratio(mask) == 0.25
    assert mask[0, 32:96, 32:96].all() and mask.sum() == 64 * 64
    assert torch.equal(CenterMask(128)(rng(1)), mask)  # ignores the rng
    assert hole_ratio(CenterMask(100, area=0.36)()) == 0.36
    with pytest.raises(ValueError, match="area"):
        CenterMask(64, area=1.5)


def test_freeform_hole_ratio_and_scale():
    ratios = {s: [hole_ratio(FreeFormMask(s)(rng(i))) for i in range(50)] for s in (64, 128)}
    for r in ratios.values():
        assert 0.10 < np.mean(r) < 0.40 and min(r) > 0 and max(r) < 0.8
    # Lengths and widths scale with the size: 64 and 128 px masks cover about the same fraction.
    assert abs(np.mean(ratios[64]) - np.mean(ratios[128])) < 0.05


def test_freeform_flips_cover_both_sides():
    # Strokes zig-zag rightwards before the random flips; with flips the holes reach every quadrant.
    masks = torch.stack([FreeFormMask(64)(rng(s)) for s in range(40)])
    quads = [masks[..., :32, :32], masks[..., :32, 32:], masks[..., 32:, :32], masks[..., 32:, 32:]]
    assert all(q.sum() > 0 for q in quads)
    # The flips come last: the flipped mask is one of the four flips of the same strokes drawn without them.
    flips_seen = set()
    for s in range(20):
        raw, out = FreeFormMask(64, flip=False)(rng(s)), FreeFormMask(64)(rng(s))
        match = [torch.equal(out, raw.flip(d)) if d else torch.equal(out, raw) for d in ((), (2,), (1,), (1, 2))]
        assert any(match)
        flips_seen.add(match.index(True))
    assert len(flips_seen) >= 3
    with pytest.raises(ValueError, match="min_width"):
        FreeFormMask(64, min_width=0.2, max_width=0.1)


def test_rectangles_stay_inside_and_are_bounded():
    for s in range(30):
        mask = RandomRectangles(64, max_boxes=1, min_frac=0.25, max_frac=0.25)(rng(s))
        rows, cols = mask[0].nonzero(as_tuple=True)
        assert rows.max() - rows.min() + 1 == 16 and cols.max() - cols.min() + 1 == 16
    for s in range(30):  # full-size boxes must still fit exactly
        assert RandomRectangles(32, min_frac=1.0, max_frac=1.0)(rng(s)).all()
    with pytest.raises(ValueError, match="min_frac"):
        RandomRectangles(64, min_frac=0.6, max_frac=0.5)


def test_mixed_uses_every_generator_with_its_weights():
    gens = [CenterMask(32), CenterMask(32, area=0.5), RandomRectangles(32)]
    ref = [gens[0](), gens[1]()]
    picks = []
    for s in range(300):
        m = MixedMasks(gens, weights=[2, 1, 1])(rng(s))
        picks.append(0 if torch.equal(m, ref[0]) else 1 if torch.equal(m, ref[1]) else 2)
    counts = np.bincount(picks, minlength=3) / 300
    assert counts.min() > 0.1 and 0.4 < counts[0] < 0.6
    mixed = MixedMasks(gens)
    assert mixed.size == 32 and torch.equal(mixed(rng(4)), mixed(rng(4)))


def test_mixed_rejects_sizes_and_weights():
    with pytest.raises(ValueError, match="same `size`"):
        MixedMasks([CenterMask(32), CenterMask(64)])
    with pytest.raises(ValueError, match="weights"):
        MixedMasks([CenterMask(32)], weights=[0.0])
    with pytest.raises(ValueError, match="weights"):
        MixedMasks([CenterMask(32)], weights=[1.0, 1.0])
    with pytest.raises(ValueError, match="at least one"):
        MixedMasks([])


def test_make_masks_names_and_errors(tmp_path):
    kinds = {"center": CenterMask, "rectangles": RandomRectangles, "freeform": FreeFormMask, "mixed": MixedMasks}
    for name, cls in kinds.items():
        gen = make_masks(name, 32)
        assert isinstance(gen, cls) and gen.size == 32
        check_mask(gen(rng(0)), 32)
    assert torch.equal(make_masks("freeform", 32, seed=1)(), make_masks("freeform", 32, seed=1)())
    root = _fake_mask_folder(tmp_path / "m")
    assert isinstance(make_masks("irregular", 32, root=root), IrregularMasks)
    assert len(make_masks("mixed", 32, root=root).generators) == 3
    assert len(make_masks("mixed", 32).generators) == 2
    with pytest.raises(ValueError, match="choose from center, rectangles, freeform, irregular, mixed"):
        make_masks("stars", 32)
    with pytest.raises(ValueError, match="FACELIB_MASKS"):
        make_masks("irregular", 32)
    with pytest.raises(ValueError, match="size"):
        make_masks("center", 0)
    assert MASK_NAMES == ("center", "rectangles", "freeform", "irregular", "mixed")


def test_check_mask_and_hole_ratio():
    good = torch.zeros(2, 1, 8, 8)
    good[1, :, :4] = 1
    assert check_mask(good, 8) is good
    assert torch.equal(hole_ratio(good), torch.tensor([0.0, 0.5]))
    with pytest.raises(ValueError, match=r"expected \(1, H, W\) or \(N, 1, H, W\)"):
        check_mask(torch.zeros(3, 8, 8))
    with pytest.raises(ValueError, match=r"expected \(1, H, W\)"):
        check_mask(torch.zeros(8, 8))
    with pytest.raises(ValueError, match="nearest"):
        check_mask(torch.zeros(1, 8, 8), size=16)
    with pytest.raises(ValueError, match="dtype"):
        check_mask(torch.zeros(1, 8, 8, dtype=torch.uint8))
    with pytest.raises(ValueError, match="threshold.*1 = hole|1 = hole.*threshold"):
        check_mask(torch.full((1, 8, 8), 0.5))
    with pytest.raises(ValueError, match="0 and 1"):
        check_mask(torch.full((1, 8, 8), 255.0), name="user mask")
    with pytest.raises(ValueError, match="torch.Tensor"):
        check_mask(np.zeros((1, 8, 8)))


def _fake_mask_folder(root: Path, per_bin: int = 2, names: str = "{:05d}.png") -> Path:
    """Numbered PNGs like NVIDIA's: file k of bin b is numbered b*2000 + k, with a hole of (b*10 + 5)%."""
    root.mkdir()
    for b in range(len(IRREGULAR_BINS)):
        for k in range(per_bin):
            arr = np.zeros((64, 64), np.uint8)
            arr[k: k + round(64 * (b * 0.1 + 0.05))] = 255  # the offset k makes files of one bin differ
            Image.fromarray(arr).save(root / names.format(b * 2000 + k))
    return root


def test_irregular_on_a_local_folder(tmp_path):
    masks = IrregularMasks(_fake_mask_folder(tmp_path / "m"), 32)
    assert len(masks) == 12 and [p.name for p in masks.files][:3] == ["00000.png", "00001.png", "02000.png"]
    for i in range(len(masks)):
        b = masks.bin_of(i)
        assert b == i // 2
        assert b / 10 <= masks.hole_ratio(i) <= (b + 1) / 10
        check_mask(masks[i], 32)
    assert torch.equal(masks[3], masks[3])
    assert torch.equal(masks(rng(1)), masks(rng(1)))
    only = IrregularMasks(tmp_path / "m", 32, bins=["20-30%", 5])
    assert len(only) == 4 and sorted({only.bin_of(i) for i in range(len(only))}) == [2, 5]
    with pytest.raises(ValueError, match="unknown bin"):
        IrregularMasks(tmp_path / "m", 32, bins=["70-80%"])
    with pytest.raises(ValueError, match="bin 6"):
        IrregularMasks(tmp_path / "m", 32, bins=[6])


def test_irregular_resize_is_nearest_and_binary(tmp_path):
    root = tmp_path / "m"
    root.mkdir()
    arr = (np.indices((512, 512)).sum(0) % 7 < 3).astype(np.uint8) * 255  # fine pattern: bilinear would blur
    Image.fromarray(arr).save(root / "pattern.png")  # no NVIDIA number: its 43% hole is not held to a bin
    mask = IrregularMasks(root, 100)[0]
    assert is_binary(mask)
    expected = np.asarray(Image.fromarray(arr).resize((100, 100), Image.NEAREST)) > 127
    assert np.array_equal(mask[0].numpy() > 0, expected)


def test_irregular_other_numbering(tmp_path):
    # A subset with other names: the bin still comes from the number in the name.
    masks = IrregularMasks(_fake_mask_folder(tmp_path / "m", per_bin=1, names="mask_{}.png"), 32)
    assert [masks.bin_of(i) for i in range(len(masks))] == list(range(6))
    assert masks.files[1].name == "mask_2000.png"  # numeric, not lexicographic, order
    # Unnumbered or out-of-range names still serve as masks, but have no bin.
    odd = tmp_path / "odd"
    odd.mkdir()
    half = np.zeros((16, 16), np.uint8)
    half[:8] = 255
    Image.fromarray(half).save(odd / "scribble.png")
    Image.fromarray(half[::-1]).save(odd / "50000.png")
    any_masks = IrregularMasks(odd, 16)
    assert len(any_masks) == 2 and any_masks.files[-1].name == "scribble.png"
    assert hole_ratio(any_masks[1]) == 0.5
    with pytest.raises(ValueError, match="scribble.png.*bins=None"):
        any_masks.bin_of(1)
    with pytest.raises(ValueError, match="50000.png"):
        IrregularMasks(odd, 16, bins=[0])


def test_irregular_augment_on_a_local_folder(tmp_path):
    root = _fake_mask_folder(tmp_path / "m", per_bin=1)
    plain, aug = IrregularMasks(root, 64), IrregularMasks(root, 64, augment=True)
    assert torch.equal(aug(rng(2)), aug(rng(2)))
    changed = 0
    for s in range(20):
        m = aug(rng(s))
        check_mask(m, 64)
        changed += not torch.equal(m, plain(rng(s)))  # same rng -> same file; augment alters it
    assert changed >= 15


def test_irregular_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="Partial Convolutions.*FACELIB_MASKS"):
        IrregularMasks(tmp_path / "missing", 32)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("no masks")
    with pytest.raises(FileNotFoundError, match="no PNG"):
        IrregularMasks(tmp_path / "empty", 32)
    one = tmp_path / "one"
    one.mkdir()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(one / "00000.png")
    with pytest.raises(FileNotFoundError, match="no masks of bins.*30-40%"):
        IrregularMasks(one, 32, bins=[3])
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "00000.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="00000.png.*corrupt"):  # the first file is read at construction
        IrregularMasks(bad, 32)
    fine = _fake_mask_folder(tmp_path / "fine", per_bin=1)
    masks = IrregularMasks(fine, 32)
    (fine / "02000.png").write_bytes(b"not a png")  # broken later: named when it is drawn
    with pytest.raises(ValueError, match="02000.png.*corrupt"):
        masks[1]


def test_load_mask_resizes_without_grey(tmp_path):
    arr = np.zeros((50, 50), np.uint8)
    arr[10:30, 5:45] = 255
    Image.fromarray(arr).convert("RGB").save(tmp_path / "m.png")
    mask = load_mask(tmp_path / "m.png", 32)
    check_mask(mask, 32)
    assert 0.25 < hole_ratio(mask) < 0.4
    assert load_mask(tmp_path / "m.png").shape == (1, 50, 50)
    with pytest.raises(FileNotFoundError, match="nope.png"):
        load_mask(tmp_path / "nope.png", 32)
    (tmp_path / "broken.png").write_bytes(b"\x89PNG garbage")
    with pytest.raises(ValueError, match="broken.png"):
        load_mask(tmp_path / "broken.png", 32)


@pytest.mark.realdata
def test_real_irregular_bins(masks_root):
    """A seeded sample of 20 files per bin: the hole ratio at 512 px and at 128 px lies in its bin."""
    full, small = IrregularMasks(masks_root, 512), IrregularMasks(masks_root, 128)
    assert len(full) == 12000 and full.files[0].name == "00000.png"
    pick = np.random.default_rng(0)
    for b in range(6):
        lo, hi = b / 10, (b + 1) / 10
        for i in pick.choice(np.arange(b * 2000, (b + 1) * 2000), 20, replace=False):
            i = int(i)
            assert full.bin_of(i) == b
            assert lo <= full.hole_ratio(i) <= hi
            assert lo - 0.01 <= small.hole_ratio(i) <= hi + 0.01  # nearest resize moves it a little
            check_mask(small[i], 128)
    third = IrregularMasks(masks_root, 64, bins=["20-30%"])
    assert len(third) == 2000 and {third.bin_of(i) for i in (0, 999, 1999)} == {2}


@pytest.mark.realdata
def test_real_irregular_augment(masks_root):
    plain = IrregularMasks(masks_root, 64, bins=[3])
    aug = IrregularMasks(masks_root, 64, bins=[3], augment=True)
    assert torch.equal(plain[10], plain[10]) and torch.equal(plain(rng(5)), plain(rng(5)))
    changed = 0
    for s in range(10):
        m = aug(rng(s))
        check_mask(m, 64)
        changed += not torch.equal(plain(rng(s)), m)
    assert changed >= 8


def test_irregular_masks_hold_out_numbers(tmp_path):
    root = _fake_mask_folder(tmp_path / "m")
    kept = IrregularMasks(root, 32, exclude={0, 2001, 999})
    assert [int(p.stem) for p in kept.files] == [1, 2000, 4000, 4001, 6000, 6001, 8000, 8001, 10000, 10001]
    with pytest.raises(FileNotFoundError, match=r"all 12 masks in .* are held out"):
        IrregularMasks(root, 32, exclude=range(12000))
