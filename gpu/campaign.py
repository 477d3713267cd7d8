"""Full scale on one lent GPU in two device calls: 128x128 weights, the 6,000-case table, the speed table.

    python -m gpu.campaign plan             # the exact device `run` invocations for the budget given
    python -m gpu.campaign call1 --out DIR  # (device) the flagship generator + the speed benchmarks
    python -m gpu.campaign call2 --out DIR  # (device) gated, gan, context_encoder, pixel + OpenCV
    python -m gpu.campaign unpack DIR ...   # (here) returned files -> weights/, results/, figures/, README
    python -m gpu.campaign call1 --tiny --out DIR   # the same code at toy sizes on the CPU (the tests)

Every command takes the device budget as flags (``gpu/budget.py``: ``--device-minutes``, ``--command-minutes``,
``--files-back``, ``--file-mib``, ``--total-mib``, ``--carry-mib``); the stages' seconds follow from them. A
training stage is ``facelib.train`` with ``max_minutes`` set to its share: the run stops at a step boundary,
saves a resumable ``last.pt`` and records why it stopped. An evaluation stage is ``python -m facelib.evaluate``
(``--pretrained ... --record``: the fp16 weights' numbers go into their manifests under
``results["utkface_val_<size>"]``, the fp32 checkpoint is scored beside them as ``<name> [fp32]``); its sample
grid is ``facelib.report.sample_cases`` + ``inpaint_all`` + ``facelib.viz.save_inpainting_grid``. What comes
back fits the return limits: the flagship's fp16 shards, one tar of the small files, other weights while they
fit, and the call's log (see gpu/README.md).

torch.compile is off for training: at 128x128 ten epochs take about as long as compiling the generator and
VGG19 for the first time, so it cannot pay within one run; the benchmark measures what it would give.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import shlex
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from gpu import datapack
from gpu.budget import (MiB, Clock, DeviceBudget, Stage, add_budget_flags, budget_flags, budget_from_args)

ROOT = Path(__file__).resolve().parents[1]
CALL_MODELS = {"call1": ("generator",), "call2": ("gated", "gan", "context_encoder", "gmcnn", "pixel")}
#: Weights of call 2 that come back when they fit the return limits, in this order (only the flagship is
#: committed: every committed byte travels with each later device call).
EXTRA_WEIGHTS_ORDER = ("context_encoder", "gmcnn", "gan", "pixel", "gated")
#: Stage weights are their seconds at 15 device minutes and 10 per command (``gpu/budget.py``).
STAGES: dict[str, tuple[Stage, ...]] = {
    "call1": (
        Stage("unpack the data pack", "setup", 20),
        Stage("train generator", "train", 140, "generator"),
        Stage("score generator (facelib.evaluate --record)", "evaluate", 30),
        Stage("benchmark 256x256", "bench", 120, "table256", optional=True, min_share=0.5),
        Stage("benchmark 256x256 --compare-loss", "bench", 40, "compare256", optional=True, min_share=0.6),
        Stage("benchmark 128x128", "bench", 70, "table128", optional=True, min_share=0.6),
        Stage("publish", "publish", 10),
    ),
    "call2": (
        Stage("unpack the data pack", "setup", 20),
        Stage("train gated", "train", 50, "gated"),
        Stage("train gan", "train", 40, "gan"),
        Stage("train context_encoder", "train", 20, "context_encoder"),
        Stage("train gmcnn", "train", 35, "gmcnn"),
        Stage("train pixel", "train", 25, "pixel"),
        Stage("score all + OpenCV (facelib.evaluate --record)", "evaluate", 90),
        Stage("publish", "publish", 23),
    ),
}


@dataclass(frozen=True)
class Profile:
    """Sizes of a campaign: ``FULL`` on the GPU, ``TINY`` on the CPU in seconds (same code, same stages)."""

    image_size: int
    batch_size: int
    epochs: int
    max_val_images: int
    widths: tuple[int, int, int] | None  # None: the preset's own (TrainConfig's defaults)
    num_residual: int | None
    vgg_weights: str | None
    device: str
    fast: dict[str, Any]
    checkpoint_every: int
    tail_s: float  # what a stop takes after max_minutes: validation, last.pt, figures
    per_bin: int | None
    eval_batch: int
    workers: int
    bench: dict[str, tuple[str, ...]] = field(default_factory=dict)


FULL = Profile(
    image_size=128, batch_size=32, epochs=10, max_val_images=2000, widths=None, num_residual=None,
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


def call_seconds(budget: DeviceBudget) -> dict[str, float]:
    """Seconds of stages each call gets under ``budget``."""
    return budget.call_seconds({call: sum(s.weight for s in stages) for call, stages in STAGES.items()})


# ============================================================================================= stages
def train_config(model: str, profile: Profile, data: dict[str, Path], runs: Path, max_minutes: float | None):
    """The ``TrainConfig`` of a campaign run: the preset with the campaign's sizes, fast path and time limit."""
    from facelib.train import TrainConfig

    return TrainConfig.preset(
        model, data=str(data["utkface"]), mask_root=str(data["masks"]), image_size=profile.image_size,
        batch_size=profile.batch_size, epochs=profile.epochs, max_val_images=profile.max_val_images,
        vgg_weights=profile.vgg_weights, device=profile.device, checkpoint_every=profile.checkpoint_every, out_dir=str(runs / model),
        overwrite=True, seed=0, num_workers=0, max_minutes=max_minutes, **profile.fast,
        **{k: v for k, v in (("widths", profile.widths), ("num_residual", profile.num_residual)) if v is not None})


def train_stage(model: str, budget_s: float, profile: Profile, data: dict[str, Path], work: Path,
                meta: dict[str, str]) -> dict[str, Any]:
    """Train ``model`` within ``budget_s`` (``max_minutes``), export its fp16 weights, keep its history."""
    from facelib.export import checkpoint_to_weights
    from facelib.train import train
    from facelib.viz import describe_hardware

    max_minutes = max(budget_s - profile.tail_s, 1.0) / 60
    config = train_config(model, profile, data, work / "runs", max_minutes)
    t0 = time.monotonic()
    result = train(config, progress=False)
    wall = time.monotonic() - t0
    name = f"{model}_{profile.image_size}"
    checkpoint_to_weights(
        result["checkpoint"], name, work / "weights", command=meta["command"], code_commit=meta["code_commit"],
        description=f"{model} preset at {profile.image_size}x{profile.image_size}, trained on UTKFace train "
                    f"for at most {max_minutes:.2f} min on a lent GPU",
        data_note=meta["data_note"], split_note="data/splits/utkface_val.txt: every face not in the val list trains",
        device_note=describe_hardware(config.device),
        extra={"preset": model, "stopped": result["stopped"], "max_minutes": round(max_minutes, 3),
               "train_wall_s": round(wall, 1), "data_pack": meta["pack_note"]})
    run_out = work / "stage" / "runs" / model
    run_out.mkdir(parents=True, exist_ok=True)
    for f in ("history.json", "history.csv", "loss_curves.png", "samples.png"):
        if (Path(config.out_dir) / f).is_file():
            (run_out / f).write_bytes((Path(config.out_dir) / f).read_bytes())
    line = (f"{model}: stopped by {result['stopped']} at step {result['global_step']} after {wall:.0f} s "
            f"(max_minutes {max_minutes:.2f})")
    return {"status": str(result["stopped"]), "report": line, "weights": name, "checkpoint": str(result["checkpoint"])}


def evaluate_argv(trained: dict[str, dict[str, Any]], work: Path, data: dict[str, Path], profile: Profile,
                  set_name: str, baselines: bool) -> list[str]:
    """The ``python -m facelib.evaluate`` arguments that score one protocol set: the fp16 weights (recorded in
    their manifests for the UTKFace protocol), their fp32 checkpoints, and optionally both OpenCV baselines."""
    argv = ["--pretrained", *(t["weights"] for t in trained.values()), "--weights-dir", str(work / "weights"),
            "--size", str(profile.image_size), "--out", str(work / "stage" / f"eval_{set_name}"), "--overwrite",
            "--device", profile.device, "--batch-size", str(profile.eval_batch), "--no-progress",
            "--num-workers", str(8 if profile.workers > 1 else 0), "--vgg-weights", profile.vgg_weights or "off",
            "--realism-per-group", "0", "--no-identity", "--masks", str(data["masks"])]
    for t in trained.values():
        argv += ["--checkpoint", f"{t['weights']} [fp32]={t['checkpoint']}"]
    if set_name == "utkface":
        argv += ["--faces", str(data["utkface"]), "--record"]
        if profile.per_bin is not None:
            argv += ["--per-bin", str(profile.per_bin)]
    else:
        argv += ["--faces", str(data["celeba"]), "--manifest", str(data["celeba_manifest"])]
    return argv + (["--baseline", "telea", "ns"] if baselines else [])


def evaluate_stage(trained: dict[str, dict[str, Any]], work: Path, data: dict[str, Path], profile: Profile,
                   baselines: bool) -> dict[str, Any]:
    """Score every protocol set with ``facelib.evaluate``, then the sample grid of the UTKFace cases."""
    from facelib.evaluate import main as evaluate_main

    sets = ["utkface"] + (["celeba"] if data["celeba_manifest"].is_file() else [])
    for set_name in sets:
        if evaluate_main(evaluate_argv(trained, work, data, profile, set_name, baselines)) != 0:
            raise RuntimeError(f"python -m facelib.evaluate failed on the {set_name} protocol (its error is above)")
    samples_figure(trained, work, data, profile, baselines)
    return {"status": "ok", "sets": sets}


def samples_figure(trained: dict[str, dict[str, Any]], work: Path, data: dict[str, Path], profile: Profile,
                   baselines: bool) -> Path:
    """The fixed protocol cases inpainted by the call's fp16 weights (and OpenCV), on the CPU: a few images."""
    from facelib.baselines import OpenCVInpainter
    from facelib.pretrained import load_pretrained
    from facelib.protocol import UTKFACE_MANIFEST, read_manifest, select_cases, write_manifest
    from facelib.report import inpaint_all, sample_cases
    from facelib.viz import save_inpainting_grid

    manifest = work / "scored_cases.csv"  # the cases scored: the sample picks come from them (tiny: per_bin)
    write_manifest(select_cases(read_manifest(UTKFACE_MANIFEST), per_bin=profile.per_bin), manifest)
    image, mask = sample_cases(data["utkface"], data["masks"], profile.image_size, manifest=manifest)
    methods = {t["weights"]: load_pretrained(t["weights"], weights_dir=work / "weights") for t in trained.values()}
    if baselines:
        methods |= {f"OpenCV {m}": OpenCVInpainter(m) for m in ("telea", "ns")}
    path = work / "stage" / "samples.png"
    return save_inpainting_grid(inpaint_all(methods, image, mask), path, n=image.shape[0],
                                title="the same protocol cases (irregular, centre, free-form) inpainted by every "
                                      "method; composites keep the known pixels",
                                caption=f"UTKFace val faces at {profile.image_size}x{profile.image_size} (data pack), "
                                        "fp16 weights. The Context Encoder only fills its centre square.")


def run_bench(key: str, profile: Profile, budget_s: float, stage_dir: Path) -> dict[str, Any]:
    """``benchmarks/train_throughput.py`` with the profile's arguments, killed at ``budget_s``."""
    cmd = [sys.executable, str(ROOT / "benchmarks" / "train_throughput.py"), *profile.bench[key]]
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"}, start_new_session=True)
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
    return {"status": status, "args": list(profile.bench[key])}


# ============================================================================================ publish
def publish(call: str, work: Path, out: Path, flagship: tuple[str, ...], budget: DeviceBudget) -> dict[str, Any]:
    """Write the call's files to ``out`` within ``budget``'s return limits: one tar of the small files (stage
    folder + weights manifests), the flagship's shards, other weights while they fit; one file is kept for the
    call's log. Rewritten after each stage, so an interrupted call still returns what it had."""
    stage_dir, weights_dir = work / "stage", work / "weights"
    out.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for path in sorted(stage_dir.rglob("*")):
            if path.is_file():
                tar.add(path, arcname=f"{call}/{path.relative_to(stage_dir).as_posix()}")
        for manifest in sorted(weights_dir.glob("*.json")):
            tar.add(manifest, arcname=f"{call}/weights/{manifest.name}")
    blob = buf.getvalue()
    if len(blob) > budget.file_mib * MiB:
        raise ValueError(f"{call}-results.tar.gz would be {len(blob) / MiB:.1f} MiB, over --file-mib {budget.file_mib}")
    files = {f"{call}-results.tar.gz": blob}
    files_left, bytes_left = budget.files_back - 2, budget.total_mib * MiB - 2 * MiB - len(blob)  # log + tar
    sent, left_out = [], []
    for model in [*flagship, *(m for m in EXTRA_WEIGHTS_ORDER if m not in flagship)]:
        manifests = list(weights_dir.glob(f"{model}_*.json"))
        if not manifests:
            continue
        shards = [weights_dir / f["path"] for f in json.loads(manifests[0].read_text())["files"]]
        size = sum(p.stat().st_size for p in shards)
        fits = all(p.stat().st_size <= budget.file_mib * MiB for p in shards)
        if fits and len(shards) <= files_left and size <= bytes_left:
            files.update({p.name: p.read_bytes() for p in shards})
            files_left, bytes_left = files_left - len(shards), bytes_left - size
            sent.append(model)
        elif model in flagship:
            raise ValueError(f"the {model} weights ({len(shards)} files, {size / MiB:.1f} MiB) do not fit the return "
                             f"limits (--files-back {budget.files_back}, --file-mib {budget.file_mib}, "
                             f"--total-mib {budget.total_mib})")
        else:
            left_out.append(model)
    for name, blob in files.items():
        tmp = out / f".{name}.tmp"
        tmp.write_bytes(blob)
        tmp.replace(out / name)
    return {"files": sorted(files), "weights_returned": sent, "weights_left_out": left_out}


# =============================================================================================== calls
def run_call(call: str, profile: Profile, out: Path, pack: Path, work: Path, budget: DeviceBudget = DeviceBudget(),
             code_commit: str = "", command: str = "") -> dict[str, Any]:
    """Run ``call1`` or ``call2`` (see the module docstring) under ``budget``; returns (and publishes) its summary."""
    import torch

    stages = STAGES[call]
    clock = Clock(stages, call_seconds(budget)[call])
    stage_dir = work / "stage"
    for d in (stage_dir, work / "weights", work / "runs"):
        d.mkdir(parents=True, exist_ok=True)
    pack_info = datapack.load_pack(pack)
    summary: dict[str, Any] = {
        "call": call, "tiny": profile.device == "cpu", "code_commit": code_commit, "command": command,
        "started": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "torch": torch.__version__,
        "device_budget": budget.__dict__, "budget_s": round(clock.total(), 1), "stages": [],
        "pack": {k: pack_info[k] for k in ("created", "size", "counts", "encoding_cost", "bytes")},
    }
    meta = {"command": command, "code_commit": code_commit,
            "data_note": f"UTKFace train split ({pack_info['counts']['train']} faces) at {profile.image_size}x"
                         f"{profile.image_size} from the data pack",
            "pack_note": f"gpu/datapack.py pack of {pack_info['created']} (train faces WebP "
                         f"q{pack_info['encoding_cost']['train']['quality']})"}
    data: dict[str, Path] = {}
    trained: dict[str, dict[str, Any]] = {}
    flagship = CALL_MODELS["call1"] if call == "call1" else ()

    def save_summary() -> None:
        summary["wall_s"] = round(clock.elapsed(), 1)
        (stage_dir / "campaign.json").write_text(json.dumps(summary, indent=1, default=str), encoding="utf-8")

    try:
        for stage in stages:
            budget_s = clock.budget(stage)
            entry: dict[str, Any] = {"stage": stage.name, "budget_s": round(budget_s, 1)}
            print(f"[{clock.elapsed():6.1f} s] {stage.name} (budget {budget_s:.0f} s)", flush=True)
            t0 = time.monotonic()
            if stage.optional and budget_s < stage.min_share * clock.nominal(stage):
                entry["status"] = f"skipped: {budget_s:.0f} s left of {clock.nominal(stage):.0f}"
            elif stage.kind == "setup":
                data = datapack.unpack(pack, work / "data", workers=16 if profile.workers > 1 else 1)
                entry["status"] = "ok"
            elif stage.kind == "train":
                trained[stage.arg] = train_stage(stage.arg, budget_s, profile, data, work, meta)
                entry.update(status=trained[stage.arg]["status"], report=trained[stage.arg]["report"])
                print("   " + entry["report"], flush=True)
            elif stage.kind == "evaluate":
                entry.update(evaluate_stage(trained, work, data, profile, baselines=call == "call2"))
            elif stage.kind == "bench":
                entry.update(run_bench(stage.arg, profile, budget_s, stage_dir))
            entry["wall_s"] = round(time.monotonic() - t0, 1)
            summary["stages"].append(entry)
            save_summary()
            if stage.kind in ("evaluate", "publish") or (stage.kind == "train" and call == "call1"):
                summary["returned"] = publish(call, work, out, flagship, budget)
    finally:
        save_summary()  # whatever happened, return what there is (the summary says which stages ran)
        summary["returned"] = publish(call, work, out, flagship if trained else (), budget)
        save_summary()
        publish(call, work, out, flagship if trained else (), budget)
    print(f"[{clock.elapsed():6.1f} s] {call} done; returned {summary['returned']['files']}", flush=True)
    return summary


# =============================================================================================== plan
def device_command(call: str, code_commit: str, budget: DeviceBudget = DeviceBudget()) -> str:
    """The shell command of a device call (install the carried wheels, run the call, keep its log)."""
    return ("python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "
            "/tmp/site .devpack/whl/*.whl && export PYTHONPATH=/tmp/site:. PYTHONUNBUFFERED=1 MPLBACKEND=Agg || exit; "
            f"set -o pipefail; python3 -m gpu.campaign {call} --out $OUT --code-commit {code_commit}"
            f"{budget_flags(budget)} 2>&1 | tee $OUT/{call}.log")


def plan_text(code_commit: str, budget: DeviceBudget = DeviceBudget(), pack: Path = datapack.DEFAULT_PACK) -> str:
    """The device invocations, their stage seconds and the device-time arithmetic under ``budget``."""
    seconds = call_seconds(budget)
    lines = []
    for call, stages in STAGES.items():
        clock = Clock(stages, seconds[call])
        timeout = int(min(seconds[call] + budget.slack_s, budget.command_minutes * 60))
        lines += [f"## {call}: {seconds[call]:.0f} s of stages; run(",
                  f"    command={device_command(call, code_commit, budget)!r},",
                  f"    carry=['.devpack'], timeout_s={timeout})"]
        lines += [f"    - {s.name:<48} {clock.nominal(s):5.0f} s" + (" (optional)" if s.optional else "")
                  for s in stages]
    need = budget.start_s + sum(seconds.values()) + len(seconds) * (budget.transfer_s + budget.slack_s)
    lines.append(f"device time: {budget.start_s:.0f} s machine start + {sum(seconds.values()):.0f} s of stages + "
                 f"{len(seconds)} x ({budget.transfer_s:.0f} s transfers + {budget.slack_s:.0f} s slack) = "
                 f"{need:.0f} s "
                 f"of --device-minutes {budget.device_minutes:g}. Issue call2 as soon as call1 replies (the machine "
                 "stays warm only briefly), then: python -m gpu.campaign unpack <call1 files_at> <call2 files_at>")
    try:
        info = datapack.load_pack(pack)
        sizes = datapack.travel_sizes(ROOT)
        travels = sizes["tracked"] + sizes["untracked"] + datapack.dir_bytes(pack)
        lines.append(f"travels: {travels / MiB:.2f} MiB of {budget.carry_mib:g} (pack built {info['created']})"
                     + ("" if travels <= budget.carry_mib * MiB else
                        "  OVER THE LIMIT: run from the slim branch (python -m gpu.slim; git switch gpu-slim) and "
                        "rebuild the pack (python -m gpu.datapack build)"))
    except FileNotFoundError as err:
        lines.append(f"no pack yet: {err}")
    return "\n".join(lines)


def _git_commit() -> str:
    """HEAD's code commit, short; on the slim branch (gpu.slim) its source commit, the one main's history keeps."""
    from gpu.slim import source_commit

    try:
        return source_commit(ROOT)[:12]
    except (OSError, RuntimeError):
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gpu.campaign", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("plan", help="print the device invocations")
    p.add_argument("--pack", type=Path, default=datapack.DEFAULT_PACK)
    add_budget_flags(p)
    for call in STAGES:
        c = sub.add_parser(call, help=f"run {call} (on the device; --tiny on the CPU)")
        c.add_argument("--out", type=Path, default=Path(os.environ["OUT"]) if os.environ.get("OUT") else None)
        c.add_argument("--pack", type=Path, default=datapack.DEFAULT_PACK)
        c.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temporary one)")
        c.add_argument("--tiny", action="store_true", help="toy sizes on the CPU (needs a tiny pack)")
        c.add_argument("--code-commit", default=_git_commit())
        add_budget_flags(c)
    u = sub.add_parser("unpack", help="returned files -> weights/, results/, figures/, README")
    u.add_argument("dirs", nargs="+", type=Path, help="the files_at folders of call1 and call2")
    u.add_argument("--root", type=Path, default=ROOT, help="repository to write into")
    args = parser.parse_args(argv)
    if args.command == "unpack":
        from gpu.collect import collect

        print(collect(args.dirs, args.root))
        return 0
    try:
        budget = budget_from_args(args)
        call_seconds(budget)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.command == "plan":
        print(plan_text(_git_commit(), budget, args.pack))
        return 0
    if args.out is None:
        print("error: pass --out (or set OUT)", file=sys.stderr)
        return 2
    import torch

    if not args.tiny and not torch.cuda.is_available():
        print("error: no CUDA device here: the full campaign runs on the lent GPU (use --tiny on a CPU)",
              file=sys.stderr)
        return 2
    command = "python -m gpu.campaign " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    with tempfile.TemporaryDirectory(prefix="facelib-campaign-") as tmp:
        run_call(args.command, TINY if args.tiny else FULL, args.out, args.pack, args.work or Path(tmp), budget,
                 args.code_commit, command)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
