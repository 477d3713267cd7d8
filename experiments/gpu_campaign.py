"""Full scale on one lent GPU in two device calls: 128x128 weights, the 6,000-case table, the speed table.

    python experiments/gpu_campaign.py plan            # the exact device `run` invocations and their budgets
    python experiments/gpu_campaign.py call1 --out DIR # (device) flagship generator + benchmarks
    python experiments/gpu_campaign.py call2 --out DIR # (device) gated, gan, context_encoder, pixel + protocol
    python experiments/gpu_campaign.py unpack DIR ...  # (here) returned files -> weights/, results/, figures/, README
    python experiments/gpu_campaign.py call1 --tiny    # the same commands at toy sizes on the CPU (the tests)

call1: train the ``generator`` preset at 128x128 for 10 epochs on the fast path (bf16 autocast, channels_last,
fused Adam, the uint8 face cache on the GPU), export fp16 weights, score them and the fp32 checkpoint on the
6,000 UTKFace protocol cases and the 56 CelebA-HQ sample faces, then run ``benchmarks/train_throughput.py`` at
256x256 (table, then ``--compare-loss``) and at 128x128. call2: train ``gated``, ``gan``, ``context_encoder``
and ``pixel`` the same way while a CPU pool runs both OpenCV baselines on every protocol case, then score
everything. Every stage has a time budget (``STAGES``); training stops, saves and records how far it got
(``TrainConfig.max_minutes``), the benchmarks are killed at theirs. What later steps need leaves in at
most 8 files of at most 16 MiB under ``--out``: the fp16 weights (15 MiB shards), one tar of the small files
(histories, run figures, per-case records, fp16 checks, benchmark output, sample outputs) and the call's log.
The data comes from the pack (``experiments/datapack.py``), unpacked on the device's local disk.

torch.compile is off for training: at 128x128 ten epochs take about as long as compiling the generator and
VGG19 for the first time, so it cannot pay within one run; the benchmark measures what it would give.
"""
from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import os
import shlex
import subprocess
import sys
import tarfile
import tempfile
import time
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for p in (str(ROOT), str(HERE)):  # the checkout's facelib and the sibling experiments, installed or not
    if p not in sys.path:
        sys.path.insert(0, p)

import datapack  # noqa: E402
from utkface_setup import LABELS  # noqa: E402  (the method names of every results table)
import torch  # noqa: E402

MiB = 2**20
UTKFACE_MANIFEST_REL = "data/protocol/utkface_val_128.csv"  # as weights manifests name it (repository-relative)
RETURN_FILES, RETURN_FILE_BYTES, RETURN_TOTAL = 8, 16 * MiB, 64 * MiB  # the device tool's limits on $OUT
CALL_MODELS = {"call1": ("generator",), "call2": ("gated", "gan", "context_encoder", "pixel")}
#: Weights of call 2 that come back when they fit the return limits, in this order (only the flagship is
#: committed: every committed byte travels with each later device call).
EXTRA_WEIGHTS_ORDER = ("context_encoder", "gan", "pixel", "gated")
#: Fixed protocol cases of the sample figure: (kind, bins, how many).
SAMPLE_PICKS = (("irregular", ("30-40%", "40-50%"), 3), ("center", ("25%",), 3), ("freeform", ("20-30%",), 3))


@dataclass(frozen=True)
class Stage:
    """One step of a call: ``kind`` in train/evaluate/bench/publish, its nominal ``budget_s``; an ``optional``
    stage is skipped when less than ``min_s`` is left."""

    name: str
    kind: str
    budget_s: float
    arg: str = ""
    optional: bool = False
    min_s: float = 0.0


# Device time of a task: 15 min in all, machine start (a minute or more) and transfers included. The two
# calls' budgets (sum of the stages) leave about 2.5 minutes for those.
STAGES: dict[str, tuple[Stage, ...]] = {
    "call1": (
        Stage("unpack the data pack", "setup", 20),
        Stage("train generator", "train", 140, "generator"),
        Stage("export + score generator", "evaluate", 30),
        Stage("benchmark 256x256", "bench", 120, "table256", optional=True, min_s=60),
        Stage("benchmark 256x256 --compare-loss", "bench", 40, "compare256", optional=True, min_s=25),
        Stage("benchmark 128x128", "bench", 70, "table128", optional=True, min_s=45),
        Stage("publish", "publish", 10),
    ),
    "call2": (
        Stage("unpack the data pack", "setup", 20),
        Stage("train gated", "train", 70, "gated"),
        Stage("train gan", "train", 55, "gan"),
        Stage("train context_encoder", "train", 30, "context_encoder"),
        Stage("train pixel", "train", 50, "pixel"),
        Stage("export + score all + OpenCV", "evaluate", 70),
        Stage("publish", "publish", 25),
    ),
}
MACHINE_START_S, TRANSFER_S, DEVICE_BUDGET_S = 90, 40, 900


@dataclass(frozen=True)
class Profile:
    """Sizes of a campaign: ``FULL`` on the GPU, ``TINY`` on the CPU in seconds (same code, same stages)."""

    image_size: int
    batch_size: int
    epochs: int
    max_val_images: int
    widths: tuple[int, int, int]
    num_residual: int
    vgg_weights: str | None
    device: str
    fast: dict[str, Any]
    checkpoint_every: int
    tail_s: float
    per_bin: int | None
    eval_batch: int
    workers: int
    bench: dict[str, tuple[str, ...]]
    budget_scale: float = 1.0


FULL = Profile(
    image_size=128, batch_size=32, epochs=10, max_val_images=2000, widths=(64, 128, 256), num_residual=8,
    vgg_weights="caffe", device="cuda",
    fast=dict(amp="bf16", channels_last=True, fused_adam=True, gpu_cache=True, compile=False),
    checkpoint_every=500, tail_s=15.0, per_bin=None, eval_batch=250, workers=12,
    bench={"table256": ("--size", "256", "--batch", "32", "--steps", "30"),
           "compare256": ("--size", "256", "--batch", "32", "--compare-loss", "200"),
           "table128": ("--size", "128", "--batch", "32", "--steps", "30")},
)
_TINY_BENCH = ("--device", "cpu", "--size", "32", "--batch", "2", "--vgg-weights", "none", "--widths", "8", "16",
               "32", "--num-residual", "1")
TINY = Profile(
    image_size=32, batch_size=4, epochs=2, max_val_images=8, widths=(8, 16, 16), num_residual=1,
    vgg_weights=None, device="cpu",
    fast=dict(amp="none", channels_last=False, fused_adam=False, gpu_cache=True, compile=False),
    checkpoint_every=4, tail_s=3.0, per_bin=datapack.TINY_PER_BIN, eval_batch=16, workers=1,
    bench={"table256": (*_TINY_BENCH, "--steps", "2", "--warmup", "1", "--no-loader-row"),
           "compare256": (*_TINY_BENCH, "--compare-loss", "3"),
           "table128": (*_TINY_BENCH, "--steps", "2", "--warmup", "1", "--no-loader-row")},
)


# ============================================================================================== clock
class Clock:
    """The call's wall clock: each stage gets its nominal budget (scaled), never more than what is left once the
    later mandatory stages have theirs."""

    def __init__(self, stages: tuple[Stage, ...], scale: float) -> None:
        self.stages, self.scale, self.start = stages, scale, time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def total(self) -> float:
        return sum(s.budget_s for s in self.stages) * self.scale

    def budget(self, stage: Stage) -> float:
        later = self.stages[self.stages.index(stage) + 1:]
        reserved = sum(s.budget_s for s in later if not s.optional) * self.scale
        return max(0.0, min(stage.budget_s * self.scale, self.total() - self.elapsed() - reserved))


# ============================================================================================= stages
def train_config(model: str, profile: Profile, data: dict[str, Path], runs: Path):
    """The ``TrainConfig`` of a campaign run (the preset with the campaign's sizes and fast path)."""
    from facelib.train import TrainConfig

    return TrainConfig.preset(
        model, data=str(data["utkface"]), mask_root=str(data["masks"]), image_size=profile.image_size,
        batch_size=profile.batch_size, epochs=profile.epochs, max_val_images=profile.max_val_images,
        widths=profile.widths, num_residual=profile.num_residual, vgg_weights=profile.vgg_weights,
        device=profile.device, checkpoint_every=profile.checkpoint_every, out_dir=str(runs / model),
        overwrite=True, seed=0, num_workers=0, **profile.fast)


@dataclass
class BudgetReport:
    """How a budgeted training stage ended, from ``train()``'s result (the loop stops at ``max_minutes``)."""

    stopped: str  # train()'s "stopped": "epochs", "max_steps" or "time budget"
    complete_epochs: int
    partial_steps: int
    epochs_done: float
    global_step: int
    wall_s: float
    budget_s: float
    checkpoint: str
    history: list

    @classmethod
    def of(cls, result: dict[str, Any], budget_s: float, steps_per_epoch: int) -> BudgetReport:
        rows = result["history"]
        complete = sum(1 for r in rows if r.get("complete", True))
        partial = sum(int(r.get("steps", 0)) for r in rows if not r.get("complete", True))
        return cls(result["stopped"], complete, partial, complete + partial / steps_per_epoch,
                   result["global_step"], round(60 * result["minutes"], 2), float(budget_s), result["checkpoint"], rows)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        return (f"stopped by {self.stopped}: {self.complete_epochs} complete epochs + {self.partial_steps} steps "
                f"({self.epochs_done:.2f} epochs, global step {self.global_step}) in {self.wall_s:.1f} s of a "
                f"{self.budget_s:.0f} s budget")


def export_fp16(model: str, config, report, profile: Profile, weights_dir: Path, meta: dict[str, Any]) -> Path:
    """fp16 safetensors + manifest (``facelib.export.checkpoint_to_weights``) of a budgeted run's checkpoint."""
    from facelib.export import checkpoint_to_weights

    size = config.image_size
    budget = {
        "preset": model, "preset_config": config.to_dict(),
        "masks": f"{config.mask_kind} incl. the NVIDIA irregular test masks at {size}x{size}",
        "epochs": report.complete_epochs, "epochs_done": report.epochs_done, "steps": report.global_step,
        "history": report.history, "stopped": report.stopped, "time_budget_s": report.budget_s,
        "train_wall_s": report.wall_s, "torch": torch.__version__,
        "trained_until": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "data_pack": meta["pack_note"],
    }
    return checkpoint_to_weights(
        report.checkpoint, f"{model}_{profile.image_size}", weights_dir, command=meta["command"],
        description=f"{LABELS[model]} ({model} preset) at {size}x{size}, "
                    f"{report.epochs_done or report.complete_epochs:.2f} epochs on UTKFace train",
        data_note=meta["data_note"], split_note=meta["split_note"], device_note=meta["device"],
        code_commit=meta["code_commit"], extra=budget)


class Replay:
    """Precomputed OpenCV outputs fed to ``evaluate_methods`` in case order (as ``OpenCVInpainter`` returns
    them: its 8-bit result in the hole, the input elsewhere); checks each case's hole size."""

    def __init__(self, filled: np.ndarray, holes: np.ndarray) -> None:
        self.filled, self.holes, self.pos = filled, holes, 0

    def __call__(self, masked: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        n = masked.shape[0]
        holes = mask.flatten(1).sum(1).round().long().cpu().numpy()
        if not np.array_equal(holes, self.holes[self.pos:self.pos + n]):
            raise RuntimeError(f"replayed OpenCV outputs are out of step with the cases at case {self.pos}")
        result = torch.from_numpy(self.filled[self.pos:self.pos + n]).to(masked.device).float() / 127.5 - 1
        self.pos += n
        return mask * result + (1 - mask) * masked


def opencv_chunk(job: tuple[list[dict], str, str, int, tuple[str, ...]]) -> dict[str, np.ndarray]:
    """(Worker) OpenCV outputs of some protocol cases as uint8 (N, 3, S, S), and their hole sizes."""
    from facelib.baselines import OpenCVInpainter
    from facelib.models import mask_image
    from facelib.protocol import ProtocolDataset

    import cv2

    rows, faces, masks, size, methods = job
    torch.set_num_threads(1)  # one process per core: no thread pools inside
    cv2.setNumThreads(1)
    data = ProtocolDataset(rows, faces, masks_root=masks, size=size)
    items = [data[i] for i in range(len(data))]
    image, mask = torch.stack([x["image"] for x in items]), torch.stack([x["mask"] for x in items])
    out = {"holes": mask.flatten(1).sum(1).round().long().numpy()}
    for name in methods:
        pred = OpenCVInpainter(name)(mask_image(image, mask), mask)
        out[name] = ((pred.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).numpy()
    return out


def start_opencv(pool: ProcessPoolExecutor | None, rows: list[dict], faces: Path, masks: Path, size: int,
                 chunk: int = 250) -> list[Future] | list[dict]:
    """Submit both OpenCV baselines on ``rows`` to ``pool`` (or run them here when there is none)."""
    jobs = [(rows[i:i + chunk], str(faces), str(masks), size, ("telea", "ns")) for i in range(0, len(rows), chunk)]
    if pool is None:
        return [opencv_chunk(j) for j in jobs]
    return [pool.submit(opencv_chunk, j) for j in jobs]


def collect_opencv(parts: list) -> dict[str, Replay]:
    parts = [p.result() if isinstance(p, Future) else p for p in parts]
    holes = np.concatenate([p["holes"] for p in parts])
    return {f"OpenCV {m}": Replay(np.concatenate([p[m] for p in parts]), holes) for m in ("telea", "ns")}


def protocol_sets(data: dict[str, Path], profile: Profile) -> dict[str, tuple[list[dict], Path]]:
    """``{"utkface": (rows, faces), "celeba": (rows, faces)}``: the cases scored (all 6,000 on the GPU)."""
    from facelib.protocol import read_manifest, select_cases

    sets = {"utkface": (select_cases(read_manifest(ROOT / "data" / "protocol" / "utkface_val_128.csv"),
                                     per_bin=profile.per_bin), data["utkface"])}
    if data["celeba_manifest"].is_file():
        sets["celeba"] = (read_manifest(data["celeba_manifest"]), data["celeba"])
    return sets


def sample_rows(rows: list[dict]) -> list[dict]:
    """The fixed cases of the sample figure (:data:`SAMPLE_PICKS`), in manifest order per pick."""
    out = []
    for kind, bins, n in SAMPLE_PICKS:
        out += [r for r in rows if r["mask_kind"] == kind and r["bin"] in bins][:n]
    return out


@torch.no_grad()
def score(models: dict[str, tuple[str, Path]], weights_dir: Path, data: dict[str, Path], profile: Profile,
          opencv: dict[str, dict[str, Replay]], stage_dir: Path) -> dict[str, Any]:
    """Score fp16 weights (what ships), their fp32 checkpoints and the replayed baselines on every protocol set.

    ``models``: ``{preset: (weights name, checkpoint)}``. Writes ``records_<set>.csv.gz`` (fp16 + OpenCV),
    ``samples_<set>.npz`` and returns the fp16-vs-fp32 check and the evaluation header lines.
    """
    from facelib.evaluate import (CASE_FIELDS, evaluate_methods, load_checkpoint_method, manifest_results,
                                  results_key, summary_rows)
    from facelib.models import composite, mask_image
    from facelib.pretrained import load_pretrained, update_results
    from facelib.protocol import ProtocolDataset
    from facelib.viz import describe_hardware

    device = torch.device(profile.device)
    vgg = None
    if profile.vgg_weights is not None:
        from facelib.vgg import VGG19Features

        vgg = VGG19Features(weights=profile.vgg_weights)
    size = profile.image_size
    checks: dict[str, Any] = {}
    info: dict[str, Any] = {"device": describe_hardware(device), "sets": {}}
    for set_name, (rows, faces) in protocol_sets(data, profile).items():
        dataset = ProtocolDataset(rows, faces, masks_root=data["masks"], size=size)
        methods: dict[str, Any] = {}
        for model, (name, ckpt) in models.items():
            methods[LABELS[model]] = load_pretrained(name, weights_dir=weights_dir, device=device)
            methods[f"{LABELS[model]} [fp32]"] = load_checkpoint_method(ckpt, size, device)[0]
        methods.update(opencv.get(set_name, {}))
        records = evaluate_methods(methods, dataset, device=device, batch_size=profile.eval_batch, vgg=vgg,
                                   num_workers=0 if profile.workers <= 1 else 8, progress=False)
        main = [r for r in records if not r["method"].endswith("[fp32]")]
        with gzip.open(stage_dir / f"records_{set_name}.csv.gz", "wt", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=list(CASE_FIELDS), lineterminator="\n", extrasaction="ignore")
            writer.writeheader()
            writer.writerows(main)
        summary = summary_rows(records, n_boot=200 if profile.per_bin else 1000)
        psnr = {(r["method"], r["kind"], r["bin"]): r for r in summary if r["metric"] == "hole_psnr"}
        for model, (name, _) in models.items():
            diffs = {f"{k} {b}": float(r["mean"]) - float(psnr[(f"{m} [fp32]", k, b)]["mean"])
                     for (m, k, b), r in psnr.items() if m == LABELS[model]}
            worst = max(abs(v) for v in diffs.values())
            checks.setdefault(model, {})[set_name] = {"max_abs_db": worst, "pass_0.05_db": worst <= 0.05,
                                                      "fp16_minus_fp32_db": diffs}
            if set_name == "utkface":  # the one manifest layout, the same as python -m facelib.evaluate --record
                entry = manifest_results(summary, LABELS[model], manifest=UTKFACE_MANIFEST_REL, size=size,
                                         header=[f"device: {info['device']}", "scored with these fp16 weights "
                                                 "(float32 arithmetic) by experiments/gpu_campaign.py",
                                                 f"fp16 minus fp32 weights: at most {worst:.3f} dB hole PSNR"])
                update_results(name, results_key(UTKFACE_MANIFEST_REL, size), entry, weights_dir)
        picks = sample_rows(rows)
        if picks:
            sample = ProtocolDataset(picks, faces, masks_root=data["masks"], size=size)
            image = torch.stack([sample[i]["image"] for i in range(len(sample))])
            mask = torch.stack([sample[i]["mask"] for i in range(len(sample))])
            outs = {"real": image, "mask": mask}
            if set_name in opencv:
                from facelib.baselines import OpenCVInpainter

                methods.update({f"OpenCV {m}": OpenCVInpainter(m) for m in ("telea", "ns")})
            for label, method in methods.items():
                if label.endswith("[fp32]"):
                    continue
                method.to(device).eval()
                outs[label] = composite(method(mask_image(image, mask).to(device), mask.to(device)).float()
                                        .clamp(-1, 1).cpu(), image, mask)
            np.savez_compressed(stage_dir / f"samples_{set_name}.npz",
                                **{k: ((v + 1) * 127.5).round().byte().numpy() if k != "mask" else v.byte().numpy()
                                   for k, v in outs.items()}, case_ids=np.array([int(r["case_id"]) for r in picks]))
        info["sets"][set_name] = {"cases": len(dataset), "faces": str(faces), "per_bin": profile.per_bin,
                                  "methods": [m for m in methods if not m.endswith("[fp32]")]}
    return {"fp16_check": checks, "evaluation": info}


def run_bench(key: str, profile: Profile, budget_s: float, stage_dir: Path) -> dict[str, Any]:
    """``benchmarks/train_throughput.py`` with the profile's arguments, killed at ``budget_s``."""
    cmd = [sys.executable, str(ROOT / "benchmarks" / "train_throughput.py"), *profile.bench[key]]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=budget_s)
        status = "ok" if proc.returncode == 0 else f"exit {proc.returncode}"
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        output, _ = proc.communicate()
        status = f"killed at its {budget_s:.0f} s budget"
    shown = shlex.join(["python", "benchmarks/train_throughput.py", *cmd[2:]])
    text = f"$ {shown}\n# {status}, {time.monotonic() - t0:.1f} s\n{output}"
    (stage_dir / f"bench_{key}.txt").write_text(text, encoding="utf-8")
    return {"status": status, "wall_s": round(time.monotonic() - t0, 1), "args": list(profile.bench[key])}


# ============================================================================================ publish
def publish(call: str, stage_dir: Path, weights_dir: Path, out: Path, flagship: tuple[str, ...]) -> dict[str, Any]:
    """Write the call's files to ``out`` within the return limits: flagship weights, one tar of the small
    files, optional extra weights while they fit. Rewritten after each stage, so an interrupted call still
    returns what it had."""
    out.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for path in sorted(stage_dir.rglob("*")):
            if path.is_file():
                tar.add(path, arcname=f"{call}/{path.relative_to(stage_dir).as_posix()}")
        for manifest in sorted(weights_dir.glob("*.json")):
            tar.add(manifest, arcname=f"{call}/weights/{manifest.name}")
    blob = buf.getvalue()
    if len(blob) > RETURN_FILE_BYTES:
        raise ValueError(f"{call}-results.tar.gz would be {len(blob) / MiB:.1f} MiB, over the 16 MiB file limit")
    files = {f"{call}-results.tar.gz": blob}
    budget_files, budget_bytes = RETURN_FILES - 2, RETURN_TOTAL - 2 * MiB - len(blob)  # the log and the tar
    order = [m for m in flagship] + [m for m in EXTRA_WEIGHTS_ORDER if m not in flagship]
    sent, left_out = [], []
    for model in order:
        manifests = list(weights_dir.glob(f"{model}_*.json"))
        if not manifests:
            continue
        shards = [weights_dir / f["path"] for f in json.loads(manifests[0].read_text())["files"]]
        size = sum(p.stat().st_size for p in shards)
        if len(shards) <= budget_files and size <= budget_bytes:
            files.update({p.name: p.read_bytes() for p in shards})
            budget_files, budget_bytes = budget_files - len(shards), budget_bytes - size
            sent.append(model)
        elif model in flagship:
            raise ValueError(f"the {model} weights ({len(shards)} files, {size / MiB:.1f} MiB) do not fit the return")
        else:
            left_out.append(model)
    for name, data in files.items():
        tmp = out / f".{name}.tmp"
        tmp.write_bytes(data)
        tmp.replace(out / name)
    return {"files": sorted(files), "weights_returned": sent, "weights_left_out": left_out,
            "bytes": sum(len(d) for d in files.values())}


# =============================================================================================== calls
def run_call(call: str, profile: Profile, out: Path, pack: Path, work: Path, code_commit: str = "",
             command: str = "") -> dict[str, Any]:
    """Run ``call1`` or ``call2`` (see the module docstring); returns (and publishes) the call's summary."""
    stages = STAGES[call]
    clock = Clock(stages, profile.budget_scale)
    stage_dir, weights_dir, runs = work / "stage", work / "weights", work / "runs"
    for d in (stage_dir, weights_dir, runs):
        d.mkdir(parents=True, exist_ok=True)
    pack_info = datapack.load_pack(pack)
    summary: dict[str, Any] = {
        "call": call, "tiny": profile.device == "cpu",
        "started": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "code_commit": code_commit,
        "command": command, "torch": torch.__version__, "budget_s": clock.total(), "stages": [],
        "pack": {k: pack_info[k] for k in ("created", "size", "counts", "encoding_cost", "bytes")},
    }
    meta: dict[str, Any] = {"command": command, "code_commit": code_commit, "device": "", "data_note": "",
                            "split_note": "data/splits/utkface_val.txt: every face not in the val list trains",
                            "pack_note": f"experiments/datapack.py pack of {pack_info['created']} (train faces WebP "
                                         f"q{pack_info['encoding_cost']['train']['quality']})"}
    data: dict[str, Path] = {}
    trained: dict[str, tuple[str, Path]] = {}
    pool: ProcessPoolExecutor | None = None
    opencv_parts: dict[str, list] = {}
    flagship = CALL_MODELS["call1"] if call == "call1" else ()

    def save_summary() -> None:
        summary["wall_s"] = round(clock.elapsed(), 1)
        (stage_dir / "campaign.json").write_text(json.dumps(summary, indent=1, default=str), encoding="utf-8")

    try:
        for stage in stages:
            budget = clock.budget(stage)
            entry: dict[str, Any] = {"stage": stage.name, "budget_s": round(budget, 1)}
            print(f"[{clock.elapsed():6.1f} s] {stage.name} (budget {budget:.0f} s)", flush=True)
            t0 = time.monotonic()
            if stage.optional and budget < stage.min_s * profile.budget_scale:
                entry["status"] = f"skipped: {budget:.0f} s left, needs {stage.min_s * profile.budget_scale:.0f}"
            elif stage.kind == "setup":
                data = datapack.unpack(pack, work / "data", workers=16 if profile.workers > 1 else 1)
                meta["data_note"] = (f"UTKFace train split ({pack_info['counts']['train']} faces) at "
                                     f"{profile.image_size}x{profile.image_size} from the data pack")
                if call == "call2":  # fork the OpenCV workers before CUDA starts; they run while models train
                    if profile.workers > 1:
                        pool = ProcessPoolExecutor(profile.workers)
                    for set_name, (rows, faces) in protocol_sets(data, profile).items():
                        opencv_parts[set_name] = start_opencv(pool, rows, faces, data["masks"], profile.image_size)
                entry["status"] = "ok"
            elif stage.kind == "train":
                from facelib.train import train

                from facelib.viz import describe_hardware

                # The loop stops at max_minutes, saves and records it; tail_s is left for that last validation.
                config = replace(train_config(stage.arg, profile, data, runs),
                                 max_minutes=max(budget - profile.tail_s, 1.0) / 60)
                spe = pack_info["counts"]["train"] // profile.batch_size
                report = BudgetReport.of(train(config, progress=False), budget, spe)
                meta["device"] = describe_hardware(config.device)
                export_fp16(stage.arg, config, report, profile, weights_dir, meta)
                run_out = stage_dir / "runs" / stage.arg
                run_out.mkdir(parents=True, exist_ok=True)
                for name in ("history.json", "history.csv", "loss_curves.png", "samples.png"):
                    if (Path(config.out_dir) / name).is_file():
                        (run_out / name).write_bytes((Path(config.out_dir) / name).read_bytes())
                (run_out / "budget.json").write_text(json.dumps(report.to_dict(), indent=1), encoding="utf-8")
                trained[stage.arg] = (f"{stage.arg}_{profile.image_size}", Path(report.checkpoint))
                entry.update(status=report.stopped, report=report.line())
                print("   " + report.line(), flush=True)
            elif stage.kind == "evaluate":
                opencv = {k: collect_opencv(v) for k, v in opencv_parts.items()}
                result = score(trained, weights_dir, data, profile, opencv, stage_dir)
                summary.update(result)
                entry["status"] = "ok"
            elif stage.kind == "bench":
                entry.update(run_bench(stage.arg, profile, budget, stage_dir))
            entry["wall_s"] = round(time.monotonic() - t0, 1)
            summary["stages"].append(entry)
            save_summary()
            if stage.kind in ("evaluate", "publish") or (stage.kind == "train" and call == "call1"):
                summary["returned"] = publish(call, stage_dir, weights_dir, out, flagship)
                save_summary()
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
        save_summary()
        # Whatever happened, return what there is (the summary says which stages ran).
        summary["returned"] = publish(call, stage_dir, weights_dir, out, flagship if trained else ())
        save_summary()
        publish(call, stage_dir, weights_dir, out, flagship if trained else ())
    print(f"[{clock.elapsed():6.1f} s] {call} done; returned {summary['returned']['files']}", flush=True)
    return summary


# =============================================================================================== plan
def device_command(call: str, code_commit: str, extra: str = "") -> str:
    """The shell command of a device call (install the carried wheels, run the call, keep its log)."""
    return ("python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "
            "/tmp/site .devpack/whl/*.whl && export PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1 MPLBACKEND=Agg || exit; "
            f"set -o pipefail; python3 experiments/gpu_campaign.py {call} --out $OUT --code-commit {code_commit}"
            f"{extra} 2>&1 | tee $OUT/{call}.log")


def plan_text(code_commit: str, pack: Path = datapack.DEFAULT_PACK) -> str:
    """The two device invocations, their stage budgets and the device-time arithmetic."""
    lines = []
    total = 0.0
    for call, stages in STAGES.items():
        budget = sum(s.budget_s for s in stages)
        total += budget
        timeout = int(budget + 60)
        lines.append(f"## {call}: planned {budget:.0f} s ({budget / 60:.1f} min); run(")
        lines.append(f"    command={device_command(call, code_commit)!r},")
        lines.append(f"    carry=['.devpack'], timeout_s={timeout})")
        for s in stages:
            lines.append(f"    - {s.name:<36} {s.budget_s:5.0f} s" + (" (optional: skipped below "
                                                                           f"{s.min_s:.0f} s)" if s.optional else ""))
    need = MACHINE_START_S + total + TRANSFER_S
    lines.append(f"device time: ~{MACHINE_START_S} s machine start + {total:.0f} s of commands + ~{TRANSFER_S} s of "
                 f"transfers = ~{need:.0f} s of the {DEVICE_BUDGET_S} s. Issue call2 within 30 s of call1's reply (the "
                 "machine then stays warm: no second start); with less device time left, add --budget-scale "
                 "(e.g. 0.8) to both commands. Then: python experiments/gpu_campaign.py unpack <call1 files_at> "
                 "<call2 files_at>")
    try:
        info = datapack.load_pack(pack)
        sizes = datapack.travel_sizes(ROOT)
        travels = sizes["tracked"] + sizes["untracked"] + datapack.dir_bytes(pack)
        lines.append(f"travels: {travels / MiB:.2f} MiB of 64 (tracked {sizes['tracked'] / MiB:.2f}, untracked "
                     f"{sizes['untracked'] / MiB:.2f}, .devpack {datapack.dir_bytes(pack) / MiB:.2f}; pack built "
                     f"{info['created']})" + ("" if travels <= datapack.TRAVEL_LIMIT else
                                              "  OVER THE LIMIT: rebuild the pack (datapack.py build)"))
    except FileNotFoundError as err:
        lines.append(f"no pack yet: {err}")
    return "\n".join(lines)


def _git_commit() -> str:
    try:
        return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short=12", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("plan", help="print the device invocations")
    p.add_argument("--pack", type=Path, default=datapack.DEFAULT_PACK)
    for call in STAGES:
        c = sub.add_parser(call, help=f"run {call} (on the device; --tiny on the CPU)")
        c.add_argument("--out", type=Path, default=Path(os.environ["OUT"]) if os.environ.get("OUT") else None)
        c.add_argument("--pack", type=Path, default=datapack.DEFAULT_PACK)
        c.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temporary one)")
        c.add_argument("--tiny", action="store_true", help="toy sizes on the CPU (needs a tiny pack)")
        c.add_argument("--budget-scale", type=float, default=1.0, help="multiply every stage budget")
        c.add_argument("--code-commit", default=_git_commit())
    u = sub.add_parser("unpack", help="returned files -> weights/, results/, figures/, README")
    u.add_argument("dirs", nargs="+", type=Path, help="the files_at folders of call1 and call2")
    u.add_argument("--root", type=Path, default=ROOT, help="repository to write into")
    args = parser.parse_args(argv)
    if args.command == "plan":
        print(plan_text(_git_commit(), args.pack))
        return 0
    if args.command == "unpack":
        from gpu_collect import collect

        print(collect(args.dirs, args.root))
        return 0
    if args.out is None:
        print("error: pass --out (or set OUT)", file=sys.stderr)
        return 2
    if args.budget_scale <= 0:
        print(f"error: --budget-scale must be > 0, got {args.budget_scale}", file=sys.stderr)
        return 2
    profile = replace(TINY if args.tiny else FULL, budget_scale=args.budget_scale)
    if not args.tiny and not torch.cuda.is_available():
        print("error: no CUDA device here: the full campaign runs on the lent GPU (use --tiny on a CPU)",
              file=sys.stderr)
        return 2
    command = "python experiments/gpu_campaign.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    with tempfile.TemporaryDirectory(prefix="facelib-campaign-") as tmp:
        run_call(args.command, profile, args.out, args.pack, args.work or Path(tmp), args.code_commit, command)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
