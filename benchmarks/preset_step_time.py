"""Step time of training presets on this machine, stage by stage: what a CPU training budget is planned from.

Times ``facelib.train.Trainer.train_step`` (the step ``train()`` runs) on seeded synthetic faces with the preset's own
masks, already in memory (no data loading). A preset with a second stage (``stage2_epoch > 0``, e.g. ``gmcnn``)
gets one row per stage: stage 1 without the discriminator and ID-MRF, stage 2 with them. Step time is the
median (and the minimum, less sensitive to other jobs on a shared core) over ``--steps`` steps after ``--warmup``
steps; images/s = batch / median step time.

    taskset -c 1 env OMP_NUM_THREADS=1 python benchmarks/preset_step_time.py --presets generator gmcnn \\
        --size 64 --batch 16 --amp bf16 --channels-last true
"""
from __future__ import annotations

import argparse
import datetime as _dt
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from facelib.data import SyntheticFaces  # noqa: E402
from facelib.models import count_parameters  # noqa: E402
from facelib.train import PRESETS, Trainer, TrainConfig, build_masks  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--presets", nargs="+", default=["generator", "gmcnn"], choices=list(PRESETS))
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--amp", default="bf16")
    p.add_argument("--channels-last", default="true", choices=["true", "false"])
    p.add_argument("--vgg-weights", default="caffe", help="caffe (the training default) or none (tests)")
    p.add_argument("--steps", type=int, default=8, help="timed steps per row")
    p.add_argument("--warmup", type=int, default=2)
    return p.parse_args(argv)


def batches(config: TrainConfig, n: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    faces = SyntheticFaces(n * config.batch_size, size=config.image_size, seed=0)
    masks = build_masks(config)
    rng = np.random.default_rng(0)
    out = []
    for b in range(n):
        idx = range(b * config.batch_size, (b + 1) * config.batch_size)
        image = torch.stack([faces[i][0] for i in idx])  # (image in [-1, 1], gender)
        mask = torch.stack([masks(rng) for _ in idx])
        out.append((image, mask))
    return out


def time_stage(trainer: Trainer, data, second_stage: bool, steps: int, warmup: int) -> list[float]:
    trainer.second_stage = second_stage
    times = []
    for i in range(warmup + steps):
        image, mask = data[i % len(data)]
        t0 = time.perf_counter()
        logs = trainer.train_step(image, mask)
        float(logs["total"])  # the step is done
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    return times


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(f"date: {_dt.date.today()}  torch {torch.__version__}  {platform.processor() or platform.machine()}  "
          f"threads {torch.get_num_threads()}")
    print(f"{args.size}x{args.size}, batch {args.batch}, amp {args.amp}, channels_last {args.channels_last}, "
          f"median of {args.steps} steps after {args.warmup}")
    print(f"{'preset':<12} | {'stage':<28} | {'G params':>10} | {'median s':>8} | {'min s':>6} | {'images/s':>8}")
    for name in args.presets:
        config = TrainConfig.preset(name, image_size=args.size, batch_size=args.batch, amp=args.amp,
                                    channels_last=args.channels_last == "true", device="cpu",
                                    vgg_weights=None if args.vgg_weights == "none" else args.vgg_weights,
                                    out_dir="runs/bench-unused")
        trainer = Trainer(config, progress=False, build_data=False)
        data = batches(config, 2)
        params = count_parameters(trainer.generator)
        stages = [("stage 1 (reconstruction)", False), ("stage 2 (+ ID-MRF, critics)", True)] \
            if config.stage2_epoch > 0 else [("single stage", True)]
        for label, second in stages:
            times = time_stage(trainer, data, second, args.steps, args.warmup)
            seconds = statistics.median(times)
            print(f"{name:<12} | {label:<28} | {params:>10,} | {seconds:>8.3f} | {min(times):>6.3f} | "
                  f"{args.batch / seconds:>8.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
