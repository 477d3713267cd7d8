"""Training throughput of the inpainting generator, switch by switch, with the very step ``facelib.train`` runs.

Issue "Training speed: close to the H100's limit". Each row adds one switch of ``TrainConfig`` to the one above
and times ``facelib.train.Trainer.train_step`` (the very step ``train()`` runs) on the seed-sized model (10.8 M
parameters) with the VGG19 perceptual loss, at 256x256, batch 8 by default:

    naive fp32 eager -> + bf16 autocast -> + channels_last -> + fused Adam -> + VGG target once under no_grad
    -> + torch.compile -> + CUDA graphs -> + GPU uint8 data cache with on-device masks (end to end)

Rows before the last feed the same seeded synthetic batches, already on the device; the last row also runs
the data path (indexing the uint8 cache, drawing masks from the on-device bank). A reference row feeds the
fast step from the ordinary CPU ``DataLoader`` instead. Step time is the median over ``--steps`` steps after
``--warmup`` steps, each bracketed by ``torch.cuda.synchronize()``; images/s = batch / median step time.
"share of limit" divides by ``--limit`` images/s (1,800: the issue's arithmetic limit of an H100); the FLOPs
of one fast step are also counted (``torch.utils.flop_counter``) and turned into a limit at ``--peak-tflops``.

    python benchmarks/train_throughput.py                                   # the full table on a GPU
    python benchmarks/train_throughput.py --compare-loss 200                # fp32 vs fast path, loss curves
    python benchmarks/train_throughput.py --device cpu --size 32 --batch 2 --steps 3   # CI smoke test
"""
from __future__ import annotations

import argparse
import datetime as _dt
import gc
import platform
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

# Run against the checkout this file lives in (also when the package is not installed).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from torch.utils.data import Dataset, Subset  # noqa: E402

from facelib.data import InpaintingDataset, SyntheticFaces, resolve_faces  # noqa: E402
from facelib.train import (  # noqa: E402
    DeviceSource,
    LoaderSource,
    Trainer,
    TrainConfig,
    add_config_options,
    build_masks,
)

#: The benchmark's setting as overrides of ``TrainConfig`` (its flags are the config's options, see parse_args).
BENCH_DEFAULTS = {"image_size": 256, "masks": "freeform", "num_workers": 4}

# (label, TrainConfig overrides relative to the row above, needs CUDA, needs compile)
STAGES: list[tuple[str, dict, bool, bool]] = [
    ("naive fp32 eager", {}, False, False),
    ("+ bf16 autocast", {"amp": "bf16"}, False, False),
    ("+ channels_last", {"channels_last": True}, False, False),
    ("+ fused Adam", {"fused_adam": True}, False, False),
    ("+ VGG target once, no_grad", {"vgg_target_no_grad": True}, False, False),
    ("+ torch.compile", {"compile": "default"}, False, True),
    ("+ CUDA graphs", {"compile": False, "cuda_graphs": True}, True, True),
    ("+ GPU uint8 cache, GPU masks (e2e)", {"gpu_cache": True}, False, False),
]


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    # The model, data and device options are TrainConfig's own (help, types, choices); the short names are
    # this script's historical spellings.
    add_config_options(p, ("device", "image_size", "batch_size", "widths", "num_residual", "vgg_weights", "masks",
                           "mask_root", "seed", "num_workers"), defaults=BENCH_DEFAULTS, suppress=False,
                       aliases={"image_size": ["--size"], "batch_size": ["--batch"], "num_workers": ["--workers"]})
    p.add_argument("--steps", type=int, default=50, help="timed steps per row")
    p.add_argument("--warmup", type=int, default=None, help="untimed steps first (default: 10 on CUDA, 1 on CPU; "
                   "compiled rows get 3 more)")
    p.add_argument("--limit", type=float, default=1800.0, help="arithmetic limit in images/s for 'share of limit'")
    p.add_argument("--peak-tflops", type=float, default=989.0,
                   help="dense bf16 peak of the device for the FLOP-based limit (H100 SXM: 989)")
    p.add_argument("--cpu-compile", action="store_true", help="also run the torch.compile rows on CPU (slow)")
    p.add_argument("--no-loader-row", action="store_true", help="skip the CPU DataLoader reference row")
    p.add_argument("--faces", type=int, default=None, help="faces in the data-path rows (default: enough for "
                   "warm-up + steps)")
    p.add_argument("--real-data", default=None, metavar="FOLDER",
                   help="real faces for the data-path rows (e.g. the UTKFace folder: its training split, decoded from "
                        "disk); with --mask-root the masks include the NVIDIA bank. Default: synthetic faces")
    p.add_argument("--compare-loss", type=int, default=0, metavar="N",
                   help="instead of the table: train fp32 and the fast path N steps from the same init and data "
                        "and report the max relative difference of the smoothed losses")
    return p.parse_args(argv)


def base_config(args: argparse.Namespace) -> TrainConfig:
    """The naive row: every fast switch off; the seed model and losses."""
    options = TrainConfig.fields_in(vars(args))
    options.pop("num_workers")  # only the DataLoader reference row uses workers
    return TrainConfig.preset(
        "generator", **options, amp="none", channels_last=False, fused_adam=False, compile=False,
        vgg_target_no_grad=False, data="synthetic", out_dir="runs/benchmark-unused",
    )


def fast_overrides(device: torch.device, compile_ok: bool) -> dict:
    over: dict = {}
    for _, o, needs_cuda, needs_compile in STAGES:
        if (needs_cuda and device.type != "cuda") or (needs_compile and not compile_ok):
            continue
        over.update(o)
    over.pop("gpu_cache", None)
    return over


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def data_faces(config: TrainConfig, n: int, real_data: str | None) -> Dataset:
    """The first ``n`` faces of the data-path rows: real training faces from ``real_data`` (JPEGs decoded from
    disk on every read) or seeded synthetic faces."""
    if real_data is None:
        return SyntheticFaces(n=n, size=config.image_size, seed=config.seed)
    faces = resolve_faces(real_data, split="train", size=config.image_size)
    return Subset(faces, range(min(n, len(faces))))


def make_batches(config: TrainConfig, n_batches: int, device: torch.device) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Seeded synthetic faces + masks, on the device: the same tensors for every row."""
    faces = SyntheticFaces(n=n_batches * config.batch_size, size=config.image_size, seed=config.seed)
    ds = InpaintingDataset(faces, build_masks(config), seed=config.seed)
    out = []
    for b in range(n_batches):
        items = [ds[b * config.batch_size + i] for i in range(config.batch_size)]
        out.append((torch.stack([it["image"] for it in items]).to(device),
                    torch.stack([it["mask"] for it in items]).to(device)))
    return out


def time_row(trainer: Trainer, batches, steps: int, warmup: int, data_iter=None) -> dict:
    device = trainer.fast.device
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    times = []
    for i in range(warmup + steps):
        sync(device)
        t0 = time.perf_counter()
        if data_iter is not None:
            image, mask = next(data_iter)
        else:
            image, mask = batches[i % len(batches)]
        logs = trainer.train_step(image, mask)
        sync(device)
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    loss = float(logs["total"])
    step = statistics.median(times)
    return {
        "step_ms": 1000 * step,
        "images_per_s": trainer.config.batch_size / step,
        "peak_gib": torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None,
        "loss": loss,
    }


def endless(source, start_epoch: int = 0):
    epoch = start_epoch
    while True:
        yield from source.epoch(epoch, 0)
        epoch += 1


def release(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    try:
        torch._dynamo.reset()
    except Exception:
        pass


def count_flops(config: TrainConfig, batch) -> float | None:
    """FLOPs of one training step (forward + backward of G and VGG), per image."""
    try:
        trainer = Trainer(replace(config, compile=False, cuda_graphs=False), progress=False, build_data=False)
        with FlopCounterMode(display=False) as counter:
            trainer.train_step(*batch)
        return counter.get_total_flops() / config.batch_size
    except Exception as exc:  # the count is informative only
        print(f"(FLOP count failed: {exc})")
        return None


def header(device: torch.device, args: argparse.Namespace, params: int) -> None:
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else (platform.processor() or "CPU")
    print(f"date: {_dt.datetime.now().isoformat(timespec='seconds')}")
    print(f"device: {device} ({name}); torch {torch.__version__}, CUDA {torch.version.cuda}, "
          f"threads {torch.get_num_threads()}")
    print(f"model: InpaintingGenerator widths {tuple(args.widths)}, {args.num_residual} residual blocks, "
          f"{params:,} parameters; L1 + {TrainConfig().perceptual_weight:g} x VGG19 perceptual "
          f"({args.vgg_weights or 'none'} weights); {args.image_size}x{args.image_size}, batch {args.batch_size}; "
          f"median of {args.steps} steps")
    data = (f"{args.real_data} (training split, images decoded from disk)" if args.real_data else "synthetic faces")
    print(f"data-path rows: {data}; masks {args.masks}" + (f" + NVIDIA bank {args.mask_root}" if args.mask_root
                                                               else ""))


def run_table(args: argparse.Namespace) -> int:
    config = base_config(args)
    device = Trainer(config, progress=False, build_data=False).fast.device
    warmup = args.warmup if args.warmup is not None else (10 if device.type == "cuda" else 1)
    compile_ok = device.type == "cuda" or args.cpu_compile
    batches = make_batches(config, 4, device)
    probe = Trainer(config, progress=False, build_data=False)
    params = sum(p.numel() for p in probe.generator.parameters())
    del probe
    header(device, args, params)

    rows: list[tuple[str, dict | str]] = []
    cfg = config
    for label, overrides, needs_cuda, needs_compile in STAGES:
        cfg = replace(cfg, **overrides)
        if needs_cuda and device.type != "cuda":
            rows.append((label, "skipped: needs CUDA"))
            cfg = replace(cfg, **{k: False for k in overrides})
            continue
        if needs_compile and not compile_ok:
            rows.append((label, "skipped on CPU (pass --cpu-compile)"))
            cfg = replace(cfg, compile=False, cuda_graphs=False)
            continue
        try:
            trainer = Trainer(cfg, progress=False, build_data=False)
            extra = 3 if cfg.compile or cfg.cuda_graphs else 0
            data_iter = None
            if cfg.gpu_cache:
                n = args.faces or max(4, warmup + extra + args.steps + 1) * cfg.batch_size
                source = DeviceSource(data_faces(cfg, n, args.real_data), build_masks(cfg), cfg, device,
                                      progress=False)
                data_iter = endless(source)
            rows.append((label, time_row(trainer, batches, args.steps, warmup + extra, data_iter)))
        except Exception as exc:  # e.g. compile unavailable: report, keep going without this switch
            rows.append((label, f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:80]}"))
            cfg = replace(cfg, **{k: v for k, v in config.to_dict().items() if k in overrides})
        finally:
            trainer = None  # noqa: F841
            release(device)

    if not args.no_loader_row:
        # Reference: the same fast step fed by the ordinary CPU data path (decode + masks on CPU, DataLoader).
        workers = args.num_workers if device.type == "cuda" else 0
        label = f"  ref: fast step + CPU DataLoader ({workers} workers)"
        try:
            lcfg = replace(cfg, gpu_cache=False, num_workers=workers)
            trainer = Trainer(lcfg, progress=False, build_data=False)
            n = args.faces or max(4, warmup + 3 + args.steps + 1) * lcfg.batch_size
            faces = data_faces(lcfg, n, args.real_data)
            source = LoaderSource(InpaintingDataset(faces, build_masks(lcfg), seed=lcfg.seed), lcfg,
                                  pin_memory=device.type == "cuda")
            extra = 3 if lcfg.compile or lcfg.cuda_graphs else 0
            rows.append((label, time_row(trainer, batches, args.steps, warmup + extra, endless(source))))
        except Exception as exc:
            rows.append((label, f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:80]}"))
        finally:
            release(device)

    flops = count_flops(replace(cfg, gpu_cache=False), batches[0])
    print_table(rows, args.limit)
    if flops:
        limit = args.peak_tflops * 1e12 / flops
        print(f"\nFLOPs per image of one fast training step (torch.utils.flop_counter): {flops / 1e9:.1f} GFLOP -> "
              f"{limit:,.0f} images/s at {args.peak_tflops:g} TFLOP/s; 'share of limit' uses --limit "
              f"{args.limit:,.0f} images/s")
    return 0


def print_table(rows, limit: float) -> None:
    naive = next((r["images_per_s"] for _, r in rows if isinstance(r, dict)), None)
    width = max(len(label) for label, _ in rows)
    cols = ["step ms", "images/s", "peak GiB", "vs naive", "of limit"]
    print()
    print(f"{'stage':<{width}} | " + " | ".join(f"{c:>9}" for c in cols))
    print("-" * width + "-+-" + "-+-".join("-" * 9 for _ in cols))
    for label, r in rows:
        if isinstance(r, str):
            print(f"{label:<{width}} | {r}")
            continue
        peak = f"{r['peak_gib']:>9.2f}" if r["peak_gib"] is not None else f"{'n/a':>9}"
        ratio = r["images_per_s"] / naive if naive else float("nan")
        print(f"{label:<{width}} | {r['step_ms']:>9.2f} | {r['images_per_s']:>9.1f} | {peak} | "
              f"{ratio:>8.2f}x | {100 * r['images_per_s'] / limit:>8.1f}%")


def smooth(values: list[float], window: int) -> list[float]:
    """Trailing moving average (window clipped at the start)."""
    out, acc = [], 0.0
    for i, v in enumerate(values):
        acc += v
        if i >= window:
            acc -= values[i - window]
        out.append(acc / min(i + 1, window))
    return out


def run_compare(args: argparse.Namespace) -> int:
    """Train the naive fp32 path and the fast path N steps each from the same init on the same batches."""
    config = base_config(args)
    device = Trainer(config, progress=False, build_data=False).fast.device
    compile_ok = device.type == "cuda" or args.cpu_compile
    fast_cfg = replace(config, **fast_overrides(device, compile_ok))
    batches = make_batches(config, 16, device)
    header(device, args, sum(p.numel() for p in Trainer(config, progress=False, build_data=False)
                                 .generator.parameters()))
    curves = {}
    for name, cfg in (("fp32", config), ("fast", fast_cfg)):
        trainer = Trainer(cfg, progress=False, build_data=False)  # same seed -> same initial weights
        logs = [trainer.train_step(*batches[i % len(batches)]) for i in range(args.compare_loss)]
        curves[name] = {k: [float(x[k]) for x in logs] for k in ("total", "pixel", "perceptual")}
        release(device)
    window = max(1, min(20, args.compare_loss // 5))
    print(f"\nfast path: {fast_overrides(device, compile_ok)}")
    print(f"{args.compare_loss} steps, losses smoothed over {window} steps; relative difference |fast-fp32|/fp32")
    print(f"{'loss':<11} | {'fp32 start':>10} | {'fp32 end':>9} | {'fast end':>9} | {'max rel diff':>12}")
    for k in ("total", "pixel", "perceptual"):
        a, b = smooth(curves["fp32"][k], window), smooth(curves["fast"][k], window)
        rel = max(abs(x - y) / max(abs(x), 1e-12) for x, y in zip(a, b))
        print(f"{k:<11} | {a[0]:>10.4f} | {a[-1]:>9.4f} | {b[-1]:>9.4f} | {100 * rel:>11.2f}%")
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.backends.cudnn.benchmark = True
    if args.compare_loss:
        return run_compare(args)
    return run_table(args)


if __name__ == "__main__":
    sys.exit(main())
