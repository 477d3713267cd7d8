"""Files that facelib writes for a user: never replaced without being asked, and only ours removed.

* :func:`refuse_overwrite` -- one line naming the files an output would replace and the flag that allows it
  (``--overwrite``) or the way around it (a fresh folder).
* :func:`remove_ours` -- delete the files of a folder that match the names facelib writes there, nothing else
  (a user's notes, or a checkpoint kept under another name, stay).
* :func:`check_out_folder` -- an output folder that is a file, or cannot be created, is one line before any
  work is done.

Atomic writes themselves are :func:`facelib.checkpoint.atomic_write_text` / ``atomic_torch_save`` (a crash
leaves the old file or the new one, never half of one).
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

__all__ = ["check_out_folder", "refuse_overwrite", "remove_ours"]


def refuse_overwrite(paths: Iterable[str | os.PathLike], what: str, flag: str = "--overwrite") -> None:
    """Raise FileExistsError (one line) when any of ``paths`` exists; ``what`` says what would be replaced."""
    existing = [str(p) for p in paths if Path(p).exists()]
    if existing:
        shown = ", ".join(existing[:3]) + (f" and {len(existing) - 3} more" if len(existing) > 3 else "")
        raise FileExistsError(f"{shown} already exist{'s' if len(existing) == 1 else ''}: {what} would replace "
                              f"{'it' if len(existing) == 1 else 'them'}; pass {flag} to do that, or choose a fresh "
                              "output path")


def remove_ours(folder: str | os.PathLike, patterns: Sequence[str]) -> list[Path]:
    """Delete the files directly in ``folder`` whose names fully match one of the regular expressions
    ``patterns`` (facelib's own file names); returns what was removed. Sub-folders and other files stay."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    ours = [re.compile(p) for p in patterns]
    removed = []
    for path in sorted(folder.iterdir()):
        if path.is_file() and any(p.fullmatch(path.name) for p in ours):
            path.unlink()
            removed.append(path)
    return removed


def check_out_folder(folder: str | os.PathLike, flag: str, create: bool = True) -> Path:
    """Create ``folder`` (and parents) for output (with ``create``); ValueError naming ``flag`` when it or a
    folder above it is a file, OSError (see :func:`facelib.cli_errors.os_error_line`) when it cannot be made."""
    folder = Path(folder)
    for parent in (folder, *folder.parents):
        if parent.exists():
            if not parent.is_dir():
                raise ValueError(f"{flag} {folder}: {parent} is a file, not a folder; choose another {flag}")
            break
    if create:
        folder.mkdir(parents=True, exist_ok=True)
    return folder
