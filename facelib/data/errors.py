"""The errors of the face datasets: an image that cannot be decoded, a dataset folder that is not there."""
from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = ["CorruptImageError", "DatasetNotFoundError"]


class CorruptImageError(ValueError):
    """An image file that cannot be decoded. ``path`` names it; the message is one line naming the fix.

    The same single line reaches the main process when a DataLoader worker (``num_workers > 0``) hits the
    file: torch re-raises a worker's exception as ``CorruptImageError(text)`` where ``text`` is "Caught
    CorruptImageError in DataLoader worker process N. Original Traceback ..." (the worker's whole traceback);
    the constructor recognises that text, keeps it in ``worker_traceback`` and restores the original line,
    ``path`` and ``reason``. Pickling keeps ``(path, reason)`` too.
    """

    _SUFFIX = (". Remove or replace this file, or pass skip_corrupt=True to the dataset (training: --skip-corrupt) "
               "to skip unreadable images.")

    def __init__(self, path: str | os.PathLike, reason: object = "") -> None:
        self.worker_traceback: str | None = None
        text = str(path)
        if not reason and text.startswith(f"Caught {type(self).__name__} ") and "\nOriginal Traceback" in text:
            self.worker_traceback = text
            path, reason = self._parse_worker_text(text)
        self.path = Path(path)
        self.reason = str(reason)
        super().__init__(f"cannot read image {self.path}: {self.reason or 'unreadable'}{self._SUFFIX}")

    @classmethod
    def _parse_worker_text(cls, text: str) -> tuple[str, str]:
        """``(path, reason)`` from the last line of a worker traceback, ``"<module>.CorruptImageError: <ours>"``."""
        ours = text.rsplit(f"{cls.__module__}.{cls.__qualname__}: ", 1)[-1].strip()
        match = re.fullmatch(r"cannot read image (.+?): (.*)" + re.escape(cls._SUFFIX), ours, flags=re.S)
        if match is None:  # not our wording after all: keep the worker's last line as the reason
            return "<image read by a DataLoader worker>", ours.splitlines()[-1] if ours else "unreadable"
        reason = match.group(2)
        return match.group(1), "" if reason == "unreadable" else reason

    def __reduce__(self) -> tuple[type, tuple[Path, str]]:
        # Default exception pickling would call CorruptImageError(message), i.e. take the message as the path.
        return type(self), (self.path, self.reason)


class DatasetNotFoundError(FileNotFoundError):
    """A dataset folder that is missing, empty or not in the expected layout; the message says how to fix it."""

