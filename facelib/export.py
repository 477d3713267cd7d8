"""A ``facelib.train`` checkpoint -> committed fp16 weights with their manifest (``facelib.pretrained``).

    python -m facelib.export --checkpoint runs/g/checkpoints/epoch_6.pt --name generator \\
        --command-line "python -m facelib.train ..."        # -> weights/generator.safetensors + generator.json

Kept apart from ``pretrained`` so that loading weights never reads a checkpoint; neither imports the training
package (the generator and its stored config come from :mod:`facelib.generator_checkpoint`).
"""
from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from collections.abc import Mapping, Sequence
from typing import Any

from .checkpoint import load_checkpoint
from .generator_checkpoint import read_generator
from .models import MODELS, generator_options
from .cli_errors import print_error
from .pretrained import WeightsIntegrityError, export_weights, load_manifest, resolve_weights_dir
from .safe_io import refuse_overwrite

__all__ = ["checkpoint_to_weights", "start_of", "main"]


def checkpoint_to_weights(checkpoint: str | os.PathLike, name: str, out_dir: str | os.PathLike, *,
                          command: str = "", description: str = "", data_note: str = "", split_note: str = "", device_note: str = "",
                          init_from: str | None = None, code_commit: str = "",
                          extra: Mapping[str, Any] | None = None,
                          init_weights_dir: str | os.PathLike | None = None) -> Path:
    """Export the generator of ``checkpoint`` as fp16 weights named ``name`` in ``out_dir``; returns the manifest.

    The manifest records the run's full ``TrainConfig``, its per-epoch history (train/val pixel and perceptual
    losses), completed epochs and steps, and the words given here for the command, data, device and origin;
    ``extra`` adds or replaces recipe fields (e.g. a budgeted GPU run's time budget and stop reason).

    The budget is stated in full: ``epochs``, ``steps`` and ``images_seen`` count every epoch behind these
    weights; ``start`` says where the run began (from scratch, or the committed weights it was initialised from,
    with their sha256 and budget; the optimiser then starts afresh) and ``this_run`` what the checkpoint's own run
    added. A run initialised from weights ``NAME`` reads ``NAME``'s manifest in ``init_weights_dir`` (default:
    the weights folder), so export before those weights are replaced.
    """
    path = Path(checkpoint)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} not found: training writes <out_dir>/checkpoints/last.pt and, "
                                "with --save-epoch-checkpoints, epoch_K.pt")
    ckpt = load_checkpoint(path, map_location="cpu")
    model, config = read_generator(path)
    history = list(ckpt.get("history", []))
    own_epochs, own_steps = sum(1 for row in history if row.get("complete", True)), int(ckpt["global_step"])
    start = start_of(config["init_from"], init_weights_dir)
    prior = start.get("training", {})
    # A run that started from committed weights continues their schedule: its budget and its per-epoch table
    # count the earlier epochs and steps too (their rows first, this run's renumbered after them, so an epoch's
    # global_step is the steps behind the weights at its end, as in a run that never stopped).
    offset, step_offset = int(prior.get("epochs", 0)), int(prior.get("steps", 0))
    history = ([{**row, "run": start["weights"]} for row in prior.get("history", [])]
               + [{**row, "epoch": int(row["epoch"]) + offset}
                  | ({"global_step": int(row["global_step"]) + step_offset} if "global_step" in row else {})
                  for row in history])
    images = own_steps * config["batch_size"] + int(prior.get("images_seen", 0))
    training: dict[str, Any] = {
        "preset_config": config,
        "data": data_note or str(config["data"]),
        "split": split_note,
        "masks": MODELS[config["model"]].mask_kind(config["masks"]) + (" incl. NVIDIA irregular masks"
                                                                 if config["mask_root"] else ""),
        "epochs": offset + own_epochs,
        "steps": int(prior.get("steps", 0)) + own_steps,
        "images_seen": images,
        "batch_size": config["batch_size"],
        "start": {k: v for k, v in start.items() if k != "training"},
        "this_run": {"epochs": own_epochs, "steps": own_steps, "images_seen": own_steps * config["batch_size"]},
        "history": history,
        "command": command,
        "device": device_note,
        "code_commit": code_commit,
        "torch": ckpt.get("torch_version"),
        "trained_until": datetime.fromtimestamp(path.stat().st_mtime, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "init_from": init_from or config["init_from"],
        "checkpoint": path.name,
        **(extra or {}),
    }
    architecture = {"name": config["model"], "options": generator_options(config["model"], config["image_size"],
                                                                           config["widths"], config["num_residual"])}
    return export_weights(model, name, out_dir, architecture=architecture, image_size=config["image_size"],
                          training=training, description=description)


def start_of(init_from: str | None, weights_dir: str | os.PathLike | None = None) -> dict[str, Any]:
    """Where a run began: ``{"from": "scratch"}``, a checkpoint file, or committed weights with their budget,
    sha256 and (under ``"training"``, for the caller) their recipe and per-epoch history."""
    if init_from is None:
        return {"from": "scratch"}
    if Path(init_from).suffix == ".pt":
        return {"from": "checkpoint", "checkpoint": str(init_from),
                "note": "initialised from a training checkpoint's generator; its budget is not recorded here"}
    m = load_manifest(init_from, weights_dir)
    t = m.get("training", {})
    return {"from": "weights", "weights": init_from, "sha256": [f["sha256"] for f in m["files"]],
            "epochs": t.get("epochs"), "steps": t.get("steps"), "command": t.get("command"),
            "code_commit": t.get("code_commit"), "device": t.get("device"),
            "optimiser": "fresh: only the generator's weights carry over (no optimiser state)",
            "training": {**t, "images_seen": t.get("images_seen", (t.get("steps") or 0) * (t.get("batch_size") or 0))}}


# ================================================================================================== CLI
def build_parser() -> argparse.ArgumentParser:
    ex = argparse.ArgumentParser(prog="python -m facelib.export",
                                 description="A facelib.train checkpoint -> fp16 safetensors + manifest.")
    ex.add_argument("--checkpoint", required=True, help="e.g. runs/g/checkpoints/epoch_6.pt")
    ex.add_argument("--name", required=True, help="the name load_pretrained will take")
    ex.add_argument("--weights-dir", default=None, help="output folder (default: the repository's weights/)")
    ex.add_argument("--command-line", default="", help="the exact training command, recorded in the manifest")
    ex.add_argument("--description", default="")
    ex.add_argument("--data-note", default="", help="what data and split trained it, in words")
    ex.add_argument("--split-note", default="", help="the train/val split, in words")
    ex.add_argument("--device-note", default="", help="the training hardware, in words")
    ex.add_argument("--init-from", default=None, help="weights the run started from, if any (e.g. generator)")
    ex.add_argument("--code-commit", default="", help="the git commit the training code ran at")
    ex.add_argument("--overwrite", action="store_true", help="replace weights of the same name (their manifest, "
                    "history and results; files the old manifest listed and the new one does not are removed)")
    return ex


def _replaced_files(name: str, folder: Path, overwrite: bool) -> set[str]:
    """The files of the weights ``name`` that an export would replace (refused without ``overwrite``)."""
    path = folder / f"{name}.json"
    if not path.exists():
        return set()
    if not overwrite:
        refuse_overwrite([path], f"exporting weights {name!r} (its history and results would be lost)")
    try:
        return {entry["path"] for entry in load_manifest(name, folder)["files"]}
    except (WeightsIntegrityError, OSError):
        return set()  # a damaged manifest: replace it, remove nothing it may (not) list


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    folder = resolve_weights_dir(args.weights_dir)
    try:
        old = _replaced_files(args.name, folder, args.overwrite)
        path = checkpoint_to_weights(args.checkpoint, args.name, folder,
                                     command=args.command_line, description=args.description,
                                     data_note=args.data_note, split_note=args.split_note, device_note=args.device_note,
                                     init_from=args.init_from, code_commit=args.code_commit)
        listed = {entry["path"] for entry in load_manifest(args.name, folder)["files"]}
        for stale in old - listed:  # the old shards only: files the old manifest listed, nothing else
            (folder / stale).unlink(missing_ok=True)
    except (OSError, ValueError) as err:
        return print_error(err, folder)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
