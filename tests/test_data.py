"""Tests of facelib.data: the face datasets, resolve_faces and the inpainting wrapper.

Everything but the `realdata` tests runs on tiny images written to tmp_path, so the file takes seconds.
"""
from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from facelib import data as fd
from facelib.data import (
    GENDERS,
    CelebAHQ,
    CorruptImageError,
    DatasetNotFoundError,
    ImageFolderFaces,
    InpaintingDataset,
    SyntheticFaces,
    UTKFace,
    describe_dataset,
    detect_layout,
    make_utkface_split,
    parse_utkface_name,
    read_split_file,
    resolve_faces,
)


# ------------------------------------------------------------------------------------------------ helpers
def _save(path: Path, colour=(200, 30, 30), size=(24, 24), fmt=None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path, format=fmt)
    return path


def _check_image(x: torch.Tensor, size: int) -> None:
    assert x.shape == (3, size, size)
    assert x.dtype == torch.float32
    assert x.min() >= -1.0 and x.max() <= 1.0


@pytest.fixture()
def celeba_fake(tmp_path: Path) -> Path:
    """StarGAN-v2 layout: train 3 female + 2 male, val 1 + 1; female red, male blue."""
    root = tmp_path / "celeba_hq"
    for split, n_f, n_m in (("train", 3, 2), ("val", 1, 1)):
        for i in range(n_f):
            _save(root / split / "female" / f"{i:06d}.jpg", (220, 20, 20), (40, 40))
        for i in range(n_m):
            _save(root / split / "male" / f"{i:06d}.jpg", (20, 20, 220), (40, 40))
    return root


UTK_NAMES = [
    "25_0_0_20170116000000001.jpg.chip.jpg",  # male
    "30_1_2_20170116000000002.jpg.chip.jpg",  # female
    "41_1_20170116000000003.jpg.chip.jpg",  # female, no race field
    "24_0_1_20170116220224657 .jpg.chip.jpg",  # quirk of the release: a space
    "55_0_0_20170116232725357jpg.chip.jpg",  # quirk of the release: no dot
    "8_1_4_20170116000000006.jpg.chip.jpg",
]


@pytest.fixture()
def utk_fake(tmp_path: Path) -> Path:
    root = tmp_path / "UTKFace"
    for name in UTK_NAMES:
        _save(root / name, (120, 90, 60), (20, 20), fmt="JPEG")
    return root


def _rect_masks(size: int):
    def gen(rng: np.random.Generator) -> torch.Tensor:
        mask = torch.zeros(1, size, size)
        y, x = rng.integers(0, size // 2, 2)
        mask[:, y : y + size // 2, x : x + size // 2] = 1.0
        return mask

    gen.size = size  # type: ignore[attr-defined]
    return gen


# ------------------------------------------------------------------------------------------ synthetic
def test_synthetic_faces_shape_range_and_labels():
    ds = SyntheticFaces(n=8, size=32, seed=0)
    assert len(ds) == 8
    genders = set()
    for i in range(len(ds)):
        x, g = ds[i]
        _check_image(x, 32)
        assert g in (0, 1) and g == ds.gender_of(i)
        genders.add(g)
    assert genders == {0, 1}  # both drawn among 8 faces with this seed
    assert "not real" in SyntheticFaces.LABEL and "not real" in (SyntheticFaces.__doc__ or "").lower()
    assert sum(ds.counts().values()) == 8
    assert ds[-1][0].equal(ds[7][0])
    with pytest.raises(IndexError):
        ds[8]


def test_synthetic_faces_are_deterministic_and_varied():
    a, b = SyntheticFaces(n=4, size=32, seed=3), SyntheticFaces(n=4, size=32, seed=3)
    assert torch.equal(a[2][0], b[2][0])
    assert not torch.equal(a[2][0], a[1][0])
    assert not torch.equal(a[2][0], SyntheticFaces(n=4, size=32, seed=4)[2][0])
    assert not torch.equal(a[2][0], SyntheticFaces(n=4, size=32, seed=3, split="val")[2][0])
    # A face, not a flat image: plenty of distinct colours and contrast.
    x = a[0][0]
    assert x.std() > 0.1 and len(torch.unique(x.reshape(3, -1), dim=1).T) > 50


def test_synthetic_faces_are_fast():
    ds = SyntheticFaces(n=20, size=128)
    ds[0]  # warm-up
    start = time.perf_counter()
    for i in range(20):
        ds[i]
    per_face = (time.perf_counter() - start) / 20
    assert per_face < 0.015, f"{per_face * 1000:.1f} ms per 128px face"


# --------------------------------------------------------------------------------------------- CelebA-HQ
def test_celeba_hq_layout_counts_and_gender(celeba_fake: Path):
    train = CelebAHQ(celeba_fake, split="train", size=16)
    assert len(train) == 5 and train.counts() == {"female": 3, "male": 2}
    for i in range(len(train)):
        x, g = train[i]
        _check_image(x, 16)
        # female images are red, male blue: the label comes from the folder
        assert (x[0].mean() > x[2].mean()) == (g == 0)
    assert CelebAHQ(celeba_fake, split="val", size=16).counts() == {"female": 1, "male": 1}
    males = CelebAHQ(celeba_fake, split="train", size=16, gender="male")
    assert len(males) == 2 and set(males.genders) == {1}
    assert len(CelebAHQ(celeba_fake, split="train", size=16, gender=0)) == 3
    # the parent folder (as download_celeba_hq leaves it) works too
    assert len(CelebAHQ(celeba_fake.parent, split="train", size=16)) == 5
    with pytest.raises(ValueError, match="split"):
        CelebAHQ(celeba_fake, split="test")
    with pytest.raises(ValueError, match="gender"):
        CelebAHQ(celeba_fake, gender="other")


def test_celeba_hq_missing_folder_says_layout_and_download(tmp_path: Path):
    with pytest.raises(DatasetNotFoundError) as err:
        CelebAHQ(tmp_path / "nowhere")
    assert isinstance(err.value, FileNotFoundError)
    assert "{train,val}/{female,male}" in str(err.value) and "download_celeba_hq" in str(err.value)
    (tmp_path / "empty" / "train" / "female").mkdir(parents=True)
    with pytest.raises(DatasetNotFoundError, match="no images"):
        CelebAHQ(tmp_path / "empty")


def test_centre_crop_keeps_the_middle(tmp_path: Path):
    img = Image.new("RGB", (60, 30), (0, 0, 255))
    img.paste((255, 0, 0), (15, 0, 45, 30))  # red centre square, blue side bands
    img.save(tmp_path / "wide.png")
    x, g = ImageFolderFaces(tmp_path, size=10)[0]
    _check_image(x, 10)
    assert g == -1
    assert torch.allclose(x[0], torch.ones(10, 10), atol=0.02) and torch.allclose(x[2], -torch.ones(10, 10), atol=0.02)


# ----------------------------------------------------------------------------------------------- UTKFace
def test_parse_utkface_name_converts_gender():
    info = parse_utkface_name("25_0_0_20170116000000001.jpg.chip.jpg")
    assert (info.age, info.gender, info.race) == (25, 1, 0)  # UTKFace 0 = male -> our 1
    assert parse_utkface_name("30_1_2_20170116000000002.jpg.chip.jpg").gender == 0
    assert parse_utkface_name("41_1_20170116000000003.jpg.chip.jpg").race is None
    assert parse_utkface_name("24_0_1_20170116220224657 .jpg.chip.jpg").age == 24
    for bad in ("face.jpg", "25_2_0_2017.jpg.chip.jpg", "x_0_0_1.jpg.chip.jpg"):
        with pytest.raises(ValueError, match="UTKFace"):
            parse_utkface_name(bad)


def test_utkface_split_labels_and_errors(utk_fake: Path):
    val = [UTK_NAMES[1], UTK_NAMES[3]]
    tr = UTKFace(utk_fake, split="train", size=16, val_list=val)
    va = UTKFace(utk_fake, split="val", size=16, val_list=val)
    assert len(tr) == 4 and len(va) == 2
    assert {p.name for p in va.files} == set(val) and not {p.name for p in tr.files} & set(val)
    assert va.genders == [1, 0]  # sorted: "24_0..." (male), "30_1..." (female)
    assert va.ages == [24, 30]
    _check_image(va[0][0], 16)
    with pytest.raises(DatasetNotFoundError, match="incomplete or is not the UTKFace"):
        UTKFace(utk_fake, val_list=["1_0_0_20990101000000000.jpg.chip.jpg"])


def test_utkface_leaves_out_unparsed_names_with_warning(utk_fake: Path):
    _save(utk_fake / "holiday.jpg")
    with pytest.warns(UserWarning, match="holiday.jpg"):
        ds = UTKFace(utk_fake, split="train", size=16, val_list=[])
    assert len(ds) == len(UTK_NAMES) and ds.unparsed == ["holiday.jpg"]


def test_utkface_rejects_a_folder_without_utkface_names(tmp_path: Path):
    _save(tmp_path / "a.jpg")
    with pytest.raises(DatasetNotFoundError, match="UTKFace.tar.gz"):
        UTKFace(tmp_path, val_list=[])
    with pytest.raises(DatasetNotFoundError, match="does not exist"):
        UTKFace(tmp_path / "missing")


def test_make_utkface_split_is_reproducible_and_stratified(utk_fake: Path, tmp_path: Path):
    out = tmp_path / "val.txt"
    names = make_utkface_split(utk_fake, n_val=2, seed=1, out=out)
    assert names == make_utkface_split(utk_fake, n_val=2, seed=1) == sorted(names)
    assert read_split_file(out) == names  # the comment header is skipped
    genders = sorted(parse_utkface_name(n).gender for n in names)
    assert genders == [0, 1]  # 3 female + 3 male -> one of each
    with pytest.raises(ValueError, match="larger"):
        make_utkface_split(utk_fake, n_val=100)


# -------------------------------------------------------------------------------- folders, corrupt files
def test_image_folder_recursive_formats(tmp_path: Path):
    _save(tmp_path / "a.jpg")
    _save(tmp_path / "sub" / "b.PNG", fmt="PNG")
    _save(tmp_path / "sub" / "deeper" / "c.webp", fmt="WEBP")
    Image.new("RGBA", (12, 20), (0, 0, 0, 0)).save(tmp_path / "d.png")  # transparent -> white
    Image.new("L", (20, 20), 128).save(tmp_path / "e.jpg")  # greyscale -> RGB
    (tmp_path / "notes.txt").write_text("not an image")
    ds = ImageFolderFaces(tmp_path, size=8)
    assert len(ds) == 5 and ds.counts() == {"female": 0, "male": 0, "unknown": 5}
    for i in range(len(ds)):
        x, g = ds[i]
        _check_image(x, 8)
        assert g == -1
    white = ds[[p.name for p in ds.files].index("d.png")][0]
    assert torch.allclose(white, torch.ones_like(white))


def test_empty_folder_error_text(tmp_path: Path):
    with pytest.raises(DatasetNotFoundError) as err:
        ImageFolderFaces(tmp_path)
    text = str(err.value)
    assert str(tmp_path) in text and "no images" in text and "download_celeba_hq" in text


def test_corrupt_image_error_names_file_and_skip_counts_it(tmp_path: Path):
    _save(tmp_path / "a.jpg", (250, 250, 250))
    bad = tmp_path / "b.jpg"
    bad.write_bytes(b"this is not a jpeg")
    good = _save(tmp_path / "c.jpg", (10, 10, 10))
    truncated = tmp_path / "d.jpg"
    truncated.write_bytes(good.read_bytes()[:200])

    strict = ImageFolderFaces(tmp_path, size=8)
    with pytest.raises(CorruptImageError) as err:
        strict[1]
    assert isinstance(err.value, ValueError)
    assert str(bad) in str(err.value) and "skip_corrupt=True" in str(err.value)
    with pytest.raises(CorruptImageError, match="d.jpg"):
        strict[3]

    lenient = ImageFolderFaces(tmp_path, size=8, skip_corrupt=True)
    with pytest.warns(UserWarning, match="b.jpg"):
        x, _ = lenient[1]
    assert torch.equal(x, lenient[2][0])  # deterministic replacement: the next readable file
    with pytest.warns(UserWarning, match="d.jpg"):
        x, _ = lenient[3]
    assert torch.equal(x, lenient[0][0])  # wraps around
    assert lenient.skipped == [bad, truncated] and lenient.num_skipped == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a known bad file is skipped silently the second time
        lenient[1]
    assert lenient.num_skipped == 2
    assert strict.verify(progress=False) == [bad, truncated]


# ----------------------------------------------------------------------------------------- resolve_faces
def test_detect_layout(celeba_fake: Path, utk_fake: Path, tmp_path: Path):
    assert detect_layout(celeba_fake) == "celeba_hq"
    assert detect_layout(celeba_fake.parent) == "celeba_hq"
    assert detect_layout(utk_fake) == "utkface"
    _save(tmp_path / "photos" / "x" / "y.png")
    assert detect_layout(tmp_path / "photos") == "folder"
    (tmp_path / "void").mkdir()
    assert detect_layout(tmp_path / "void") is None
    assert detect_layout(tmp_path / "missing") is None


def test_resolve_faces_order(celeba_fake: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    photos = tmp_path / "photos"
    _save(photos / "p.jpg")
    repo = tmp_path / "repo_data"
    (repo / "splits").mkdir(parents=True)
    (repo / "splits" / "utkface_val.txt").write_text("# nothing\n")
    monkeypatch.delenv("FACELIB_DATA", raising=False)

    # 4. nothing configured -> synthetic, with a warning that says how to configure real data
    with pytest.warns(UserWarning, match="FACELIB_DATA"):
        ds = resolve_faces(size=16, n_synthetic=6, repo_data=repo)
    assert isinstance(ds, SyntheticFaces) and len(ds) == 6 and ds.size == 16
    # 3. repo data/ with a known layout
    (repo / "celeba_hq").symlink_to(celeba_fake, target_is_directory=True)
    ds = resolve_faces(split="val", size=16, repo_data=repo)
    assert isinstance(ds, CelebAHQ) and len(ds) == 2
    # 2. env var beats data/
    monkeypatch.setenv("FACELIB_DATA", str(photos))
    assert isinstance(resolve_faces(size=16, repo_data=repo), ImageFolderFaces)
    # 1. explicit argument beats the env var
    assert isinstance(resolve_faces(celeba_fake, size=16, repo_data=repo), CelebAHQ)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # explicitly asked for: no warning
        assert isinstance(resolve_faces("synthetic", size=16, n_synthetic=3), SyntheticFaces)
    ready = SyntheticFaces(n=2, size=8)
    assert resolve_faces(ready) is ready
    # a configured path that is wrong is an error, never a silent fallback
    monkeypatch.setenv("FACELIB_DATA", str(tmp_path / "typo"))
    with pytest.raises(DatasetNotFoundError, match="FACELIB_DATA"):
        resolve_faces(repo_data=repo)
    (tmp_path / "void").mkdir()
    with pytest.raises(DatasetNotFoundError, match="no face images"):
        resolve_faces(tmp_path / "void")


def test_resolve_faces_synthetic_split_differs():
    train = resolve_faces("synthetic", split="train", size=16, n_synthetic=2)
    val = resolve_faces("synthetic", split="val", size=16, n_synthetic=2)
    assert not torch.equal(train[0][0], val[0][0])


def test_describe_dataset(celeba_fake: Path):
    text = describe_dataset(CelebAHQ(celeba_fake, split="train", size=16))
    assert "CelebA-HQ train: 5 images (3 female, 2 male), 16x16" in text and str(celeba_fake) in text
    assert "not real" in describe_dataset(SyntheticFaces(n=4, size=16))
    wrapped = InpaintingDataset(SyntheticFaces(n=4, size=16), _rect_masks(16))
    assert describe_dataset(wrapped).startswith(SyntheticFaces.LABEL)
    assert describe_dataset(torch.utils.data.Subset(SyntheticFaces(n=4, size=16), [0, 1])).startswith("2 of ")


# ---------------------------------------------------------------------------------------- InpaintingDataset
def test_inpainting_dataset_items_and_determinism():
    faces = SyntheticFaces(n=6, size=16)
    ds = InpaintingDataset(faces, _rect_masks(16), seed=5)
    item = ds[2]
    assert set(item) == {"image", "mask", "gender", "index"}
    _check_image(item["image"], 16)
    assert item["mask"].shape == (1, 16, 16) and item["mask"].dtype == torch.float32
    assert set(item["mask"].unique().tolist()) == {0.0, 1.0}
    assert item["index"] == 2 and item["gender"] == faces[2][1]
    # same seed -> same masks, in any order and in a fresh instance
    again = InpaintingDataset(faces, _rect_masks(16), seed=5)
    masks = [ds[i]["mask"] for i in range(6)]
    assert all(torch.equal(masks[i], again[i]["mask"]) for i in reversed(range(6)))
    assert len({tuple(m.nonzero()[0].tolist()) for m in masks}) > 1  # items get different masks
    expected = _rect_masks(16)(np.random.default_rng([5, 0, 3]))
    assert torch.equal(ds[3]["mask"], expected)
    # a new epoch draws new masks, deterministically
    ds.set_epoch(1)
    epoch1 = [ds[i]["mask"] for i in range(6)]
    assert any(not torch.equal(a, b) for a, b in zip(masks, epoch1))
    assert torch.equal(epoch1[3], _rect_masks(16)(np.random.default_rng([5, 1, 3])))
    loader = torch.utils.data.DataLoader(ds, batch_size=3)
    batch = next(iter(loader))
    assert batch["image"].shape == (3, 3, 16, 16) and batch["mask"].shape == (3, 1, 16, 16)


def test_inpainting_dataset_checks_mask_size():
    ds = InpaintingDataset(SyntheticFaces(n=2, size=16), _rect_masks(8))
    with pytest.raises(ValueError, match=r"\(1, 8, 8\).*expected \(1, 16, 16\)"):
        ds[0]
    with pytest.raises(TypeError, match="callable"):
        InpaintingDataset(SyntheticFaces(n=2, size=16), masks="center")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------- real data
@pytest.mark.realdata
def test_utkface_real_split(utkface_root: Path):
    val = UTKFace(utkface_root, split="val", size=32)
    train = UTKFace(utkface_root, split="train", size=32)
    listed = read_split_file(fd.UTKFACE_VAL_LIST)
    assert len(listed) == len(set(listed)) == 2000
    assert all((utkface_root / name).is_file() for name in listed)
    assert len(val) == 2000 and len(train) + len(val) == 23_708
    assert not {p.name for p in train.files} & {p.name for p in val.files}
    assert val.unparsed == [] and train.unparsed == []
    # the committed list is exactly what the documented rule produces
    assert make_utkface_split(utkface_root) == sorted(listed)
    counts = val.counts()
    assert counts["female"] + counts["male"] == 2000 and abs(counts["female"] - counts["male"]) < 200
    for i in (0, 1999):
        x, g = val[i]
        _check_image(x, 32)
        assert g == parse_utkface_name(val.files[i].name).gender
    assert isinstance(resolve_faces(utkface_root, split="val", size=32), UTKFace)


@pytest.mark.realdata
def test_celeba_hq_sample(celeba_root: Path):
    expected = {"train": {"female": 25, "male": 21}, "val": {"female": 5, "male": 5}}
    for split, counts in expected.items():
        ds = CelebAHQ(celeba_root, split=split, size=64)
        assert ds.counts() == counts
        for g, name in enumerate(GENDERS):
            assert len(CelebAHQ(celeba_root, split=split, size=64, gender=name)) == counts[name]
    ds = CelebAHQ(celeba_root, split="val", size=64)
    x, g = ds[0]
    _check_image(x, 64)
    assert g == 0 and x.min() < -0.5 and x.max() > 0.5  # a real photo spans the range
    assert isinstance(resolve_faces(celeba_root, split="val", size=64), CelebAHQ)
