"""Trained weights that describe themselves: ``load_pretrained("generator")`` and the ``weights/`` folder.

Each model in ``weights/`` is

- one or more ``safetensors`` files holding its ``state_dict`` in fp16 (tensors only: loading a file cannot
  run code, unlike a pickle), every file at most 15 MiB so that git hosts take it without LFS, and
- a manifest ``NAME.json`` (format ``facelib.weights/1``): the architecture and its constructor options, the
  image size, the training data and split, epochs and steps, the exact command, device and date, the
  per-epoch history, the sha256 and size of every file, and the protocol results measured with these very
  fp16 weights.

The manifest plays the part of torchvision's ``Weights.meta``: a notebook prints a model's recipe and its
protocol numbers straight from it (``load_manifest``), and ``load_pretrained`` checks every sha256 before
building the model, so a truncated or edited file gives one clear error instead of a silently wrong model.

    python -m facelib.pretrained list                        # what is in weights/

Weights are written from a training checkpoint by :mod:`facelib.export` (``python -m facelib.export``), kept
apart so that this module never imports the training code.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as safetensors_load
from safetensors.torch import save as safetensors_save
from torch import Tensor, nn

from .checkpoint import atomic_write_json, check_state_dict
from .models import build_generator, count_parameters
from .paths import WEIGHTS_DIR
from .weights_check import manifest_problem

__all__ = [
    "WEIGHTS_FORMAT",
    "MAX_FILE_BYTES",
    "WeightsNotFoundError",
    "WeightsIntegrityError",
    "resolve_weights_dir",
    "update_results",
    "protocol_results",
    "available_weights",
    "load_manifest",
    "load_state_dict",
    "load_pretrained",
    "DEFAULT",
    "Weights",
    "get_weights",
    "export_weights",
    "main",
]

WEIGHTS_FORMAT = "facelib.weights/1"
#: Largest file written by ``export_weights``: 15 MiB (GitHub warns above 50 MB; small files diff and clone well).
MAX_FILE_BYTES = 15 * 2**20


class WeightsNotFoundError(FileNotFoundError):
    """No weights of that name (the message lists the names that exist and how to make more)."""


class WeightsIntegrityError(ValueError):
    """A weights file is missing, truncated or altered (its sha256 differs from the manifest's)."""


def resolve_weights_dir(path: str | os.PathLike | None = None) -> Path:
    """The weights folder: ``path``, else ``$FACELIB_WEIGHTS``, else the repository's ``weights/``."""
    if path is not None:
        return Path(path)
    env = os.environ.get("FACELIB_WEIGHTS")
    return Path(env) if env else WEIGHTS_DIR


def available_weights(path: str | os.PathLike | None = None) -> dict[str, dict[str, Any]]:
    """``{name: manifest}`` of every model in the weights folder (an empty dict when there is none)."""
    folder = resolve_weights_dir(path)
    found: dict[str, dict[str, Any]] = {}
    for manifest in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue  # not ours (or unreadable): load_manifest reports it when asked for by name
        if isinstance(data, dict) and data.get("format") == WEIGHTS_FORMAT and not manifest_problem(data):
            found[str(data.get("name", manifest.stem))] = data
    return found


def _not_found(name: str, folder: Path) -> WeightsNotFoundError:
    names = ", ".join(available_weights(folder)) or "none"
    return WeightsNotFoundError(
        f"no weights named {name!r} in {folder} (available: {names}). Train a model (python -m facelib.train) and "
        "export it (python -m facelib.export --checkpoint ... --name NAME), or pass weights_dir=...")


def load_manifest(name: str, weights_dir: str | os.PathLike | None = None) -> dict[str, Any]:
    """The manifest of model ``name`` (architecture, training recipe, files, protocol results)."""
    folder = resolve_weights_dir(weights_dir)
    path = folder / f"{name}.json"
    if not path.is_file():
        raise _not_found(name, folder)
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise WeightsIntegrityError(f"{path} is not valid JSON ({err}); restore it: git checkout -- {path}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != WEIGHTS_FORMAT:
        manifest = manifest if isinstance(manifest, dict) else {}
        raise WeightsIntegrityError(f"{path} is not a facelib weights manifest (format {manifest.get('format')!r}, "
                                    f"expected {WEIGHTS_FORMAT!r})")
    problem = manifest_problem(manifest)
    if problem:
        raise WeightsIntegrityError(f"{path}: {problem}; restore it (git checkout -- {path}) or export the weights "
                                    "again (python -m facelib.export)")
    return manifest


def load_state_dict(name: str, weights_dir: str | os.PathLike | None = None, verify: bool = True,
                    dtype: torch.dtype = torch.float32) -> dict[str, Tensor]:
    """The ``state_dict`` of model ``name``: floating tensors cast to ``dtype`` (stored as fp16), others as stored.

    Raises:
        WeightsNotFoundError: no such model. WeightsIntegrityError: a file is missing or its sha256 differs.
    """
    folder = resolve_weights_dir(weights_dir)
    manifest = load_manifest(name, folder)
    state: dict[str, Tensor] = {}
    for entry in manifest["files"]:
        path = folder / entry["path"]
        if not path.is_file():
            raise WeightsIntegrityError(f"{path} is missing (listed in {name}.json); restore it: git checkout -- "
                                        f"{path}")
        data = path.read_bytes()
        if verify and hashlib.sha256(data).hexdigest() != entry["sha256"]:
            raise WeightsIntegrityError(
                f"{path}: sha256 differs from {name}.json (truncated or altered file, {len(data):,} bytes, "
                f"expected {entry['bytes']:,}); restore it: git checkout -- {path}")
        state.update(safetensors_load(data))
    return {k: v.to(dtype) if v.is_floating_point() else v for k, v in state.items()}


def load_pretrained(name: str, *, weights_dir: str | os.PathLike | None = None, device: str | torch.device = "cpu",
                    verify: bool = True) -> nn.Module:
    """A trained model from the weights folder, in eval mode, in float32 on ``device`` (no GPU needed).

    Example::

        g = load_pretrained("generator")                  # 64x64 classroom generator
        out = g(mask_image(image, mask), mask)            # (N, 3, 64, 64) in [-1, 1]
        load_manifest("generator")["results"]             # its protocol numbers

    Raises:
        WeightsNotFoundError: unknown name (the message lists the available ones).
        WeightsIntegrityError: a file is missing, truncated or altered.
    """
    manifest = load_manifest(name, weights_dir)
    arch = manifest["architecture"]
    model = build_generator(arch["name"], **arch.get("options", {}))
    state = load_state_dict(name, weights_dir, verify=verify)
    check_state_dict(model, state, f"weights {name!r}", "export them again from the checkpoint (python -m "
                     "facelib.export), or restore the committed files (git checkout -- weights/)")
    model.load_state_dict(state)
    return model.to(device).eval()


def _shards(state: Mapping[str, Tensor], max_bytes: int) -> list[dict[str, Tensor]]:
    """Split a state dict into groups of at most ``max_bytes`` of tensor data (in order, greedily)."""
    groups: list[dict[str, Tensor]] = [{}]
    size = 0
    for key, value in state.items():
        nbytes = value.numel() * value.element_size()
        if nbytes > max_bytes:
            raise ValueError(f"tensor {key} alone is {nbytes:,} bytes, over the {max_bytes:,}-byte file limit")
        if size + nbytes > max_bytes and groups[-1]:
            groups.append({})
            size = 0
        groups[-1][key] = value
        size += nbytes
    return groups


def export_weights(model: nn.Module, name: str, out_dir: str | os.PathLike, *, architecture: Mapping[str, Any],
                   image_size: int, training: Mapping[str, Any], description: str = "",
                   results: Mapping[str, Any] | None = None, max_file_bytes: int = MAX_FILE_BYTES) -> Path:
    """Write ``model``'s weights as fp16 safetensors files (each at most ``max_file_bytes``) and its manifest.

    Args:
        model: the trained model (any dtype/device; floating tensors are stored as fp16).
        name: the name ``load_pretrained`` will take (file stem).
        architecture: ``{"name": registry name, "options": build_generator kwargs}``.
        training: the recipe (config, data, split, epochs, steps, command, device, date, history ...).
        results: protocol results measured with these fp16 weights (may be added later with ``update_results``).

    Returns:
        The manifest's path. Old files of the same name are replaced only after the new ones are complete.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    state = {k: (v.detach().to("cpu", torch.float16) if v.is_floating_point() else v.detach().cpu()).contiguous()
             for k, v in model.state_dict().items()}
    # Leave room for each file's JSON header (name, dtype, shape and offsets: well under 200 bytes a tensor).
    groups = _shards(state, max_file_bytes - 200 * len(state) - 1024)
    files = []
    for i, group in enumerate(groups, 1):
        fname = f"{name}.safetensors" if len(groups) == 1 else f"{name}-{i:05d}-of-{len(groups):05d}.safetensors"
        blob = safetensors_save(group, metadata={"format": "pt", "name": name, "shard": f"{i}/{len(groups)}"})
        if len(blob) > max_file_bytes:
            raise ValueError(f"{fname} would be {len(blob):,} bytes, over the {max_file_bytes:,}-byte limit")
        path = out / fname
        tmp = path.with_name(f".{fname}.tmp")
        tmp.write_bytes(blob)
        os.replace(tmp, path)
        files.append({"path": fname, "bytes": len(blob), "sha256": hashlib.sha256(blob).hexdigest()})
    manifest = {
        "format": WEIGHTS_FORMAT,
        "name": name,
        "description": description,
        "architecture": {"name": architecture["name"], "options": dict(architecture.get("options", {})),
                         "class": type(model).__name__, "parameters": count_parameters(model, trainable_only=False)},
        "image_size": int(image_size),
        "dtype": "float16",
        "files": files,
        "training": dict(training),
        "results": dict(results or {}),
        "exported": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    return atomic_write_json(manifest, out / f"{name}.json")


def update_results(name: str, key: str, entry: Mapping[str, Any], weights_dir: str | os.PathLike | None = None) -> Path:
    """Store one protocol run ``entry`` under ``results[key]`` in the manifest of ``name``; other keys and the
    files with their sha256 stay as they are. ``entry`` is :func:`facelib.evaluate.manifest_results`'s layout
    (``python -m facelib.evaluate --record`` calls this)."""
    if not isinstance(entry, Mapping) or "hole_psnr" not in entry or "evaluated_at" not in entry:
        raise ValueError(f"results entry for {name!r} is not in the manifest layout (needs 'evaluated_at' and "
                         "'hole_psnr'): build it with facelib.evaluate.manifest_results")
    folder = resolve_weights_dir(weights_dir)
    manifest = load_manifest(name, folder)
    manifest["results"] = {**manifest.get("results", {}), key: dict(entry)}
    return atomic_write_json(manifest, folder / f"{name}.json")


def protocol_results(manifest: Mapping[str, Any], protocol: str = "utkface_val",
                     size: int | None = None) -> dict[str, Any]:
    """The manifest's results entry of one protocol (``results["<protocol>_<size>"]``, the layout of
    :func:`facelib.evaluate.manifest_results`), at ``size`` or else at the model's own image size, else the
    largest size it was scored at; ``{}`` when it was never scored on that protocol."""
    runs = {k: v for k, v in (manifest.get("results") or {}).items()
            if isinstance(v, Mapping) and k.rpartition("_")[0] == protocol and "hole_psnr" in v}
    if not runs:
        return {}
    for want in (size, manifest.get("image_size")):
        if want is not None and f"{protocol}_{int(want)}" in runs:
            return dict(runs[f"{protocol}_{int(want)}"])
    return dict(max(runs.values(), key=lambda v: int(v.get("evaluated_at", 0))))


#: What ``get_weights("default")`` means: the flagship, the model the README and notebook 00 lead with.
DEFAULT = "generator"


@dataclass(frozen=True)
class Weights:
    """One committed model, torchvision-style: its name, its ``meta`` (read from the manifest, never typed) and
    ``load()``. ``results(protocol, size)`` is the one results layout (``results["<protocol>_<size>"]``, written
    only by ``python -m facelib.evaluate --record``); ``headline(...)`` its table groups
    (``facelib.report.headline``).

    ``meta`` keys: ``architecture``, ``parameters``, ``image_size``, ``recipe`` (``recipes/<name>.json``, or
    None for weights exported before recipes), ``data``, ``budget`` (the manifest's ``epochs``, ``steps``,
    ``images_seen`` and ``start``; ``facelib.budget.budget(manifest)`` reads them as a ``Budget``), ``description``.
    """

    name: str
    manifest: Mapping[str, Any]
    weights_dir: Path

    @property
    def meta(self) -> dict[str, Any]:
        arch, training = self.manifest["architecture"], self.manifest.get("training", {})
        return {"architecture": arch["name"], "parameters": arch["parameters"], "image_size": self.manifest["image_size"],
                "recipe": training.get("recipe"), "data": training.get("data"),
                "budget": {key: training.get(key) for key in ("epochs", "steps", "images_seen", "start")},
                "description": self.manifest.get("description", "")}

    def results(self, protocol: str = "utkface_val", size: int | None = None) -> dict[str, Any]:
        """This model's entry for ``protocol`` (:func:`protocol_results`); ``{}`` when never scored there."""
        return protocol_results(self.manifest, protocol, size)

    def headline(self, protocol: str = "utkface_val", metric: str = "hole_psnr",
                 size: int | None = None) -> dict[str, dict[str, float]]:
        """``{"irregular 0-10%": {"mean", "ci_lo", "ci_hi", "n"}, ...}`` of ``metric`` on ``protocol``."""
        from .report import headline

        return headline(self.results(protocol, size), metric)

    def load(self, device: str | torch.device = "cpu", verify: bool = True) -> nn.Module:
        """The model, in eval mode, float32 (:func:`load_pretrained`)."""
        return load_pretrained(self.name, weights_dir=self.weights_dir, device=device, verify=verify)


def get_weights(name: str = "default", weights_dir: str | os.PathLike | None = None) -> Weights:
    """The :class:`Weights` of ``name`` (``"default"``: :data:`DEFAULT`), e.g. ``get_weights().meta["parameters"]``.

    Raises:
        WeightsNotFoundError: unknown name (the message lists the available ones).
        WeightsIntegrityError: a damaged manifest.
    """
    folder = resolve_weights_dir(weights_dir)
    name = DEFAULT if name == "default" else name
    return Weights(name, load_manifest(name, folder), folder)


# ================================================================================================== CLI
def _describe(name: str, m: Mapping[str, Any]) -> str:
    t = m.get("training", {})
    size = sum(f["bytes"] for f in m["files"])
    return (f"{name:<16} {m['architecture']['class']} ({m['architecture']['parameters']:,} parameters), "
            f"{m['image_size']}x{m['image_size']}, {t.get('epochs', '?')} epochs on {t.get('data', '?')}; "
            f"{len(m['files'])} file(s), {size / 2**20:.1f} MiB")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m facelib.pretrained",
                                     description="List the committed weights (python -m facelib.export writes them).")
    sub = parser.add_subparsers(dest="command", required=True)
    ls = sub.add_parser("list", help="the models in the weights folder")
    ls.add_argument("--weights-dir", default=None)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    found = available_weights(args.weights_dir)
    lines = [_describe(n, m) for n, m in found.items()]
    print("\n".join(lines) or f"no weights in {resolve_weights_dir(args.weights_dir)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
