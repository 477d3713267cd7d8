"""The structure a weights manifest (``weights/<name>.json``, :mod:`facelib.pretrained`) must have before
anything reads it: a damaged or hand-edited manifest is one line naming the field, not a ``KeyError``."""
from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["manifest_problem"]


def manifest_problem(manifest: dict[str, Any]) -> str | None:
    """What is wrong with the structure of a weights manifest (None when nothing): the fields the loaders
    read must be there with the right types, so a damaged file is one line, not a KeyError."""
    arch, files = manifest.get("architecture"), manifest.get("files")
    if not isinstance(arch, dict) or not isinstance(arch.get("name"), str) or not isinstance(arch.get("options", {}),
                                                                                             dict):
        return "'architecture' must be an object with a 'name' (and 'options')"
    if not isinstance(manifest.get("image_size"), int):
        return "'image_size' must be an integer"
    if not isinstance(files, list) or not files:
        return "'files' is missing or empty: the manifest must list its safetensors files"
    for entry in files:
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str) or not isinstance(
                entry.get("sha256"), str) or not isinstance(entry.get("bytes"), int):
            return f"'files' entry {entry!r} must have 'path', 'bytes' and 'sha256'"
        if Path(entry["path"]).name != entry["path"]:
            return f"'files' entry {entry['path']!r} must be a file name in the weights folder"
    return None
