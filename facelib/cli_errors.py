"""One error path for the command lines: an ``OSError`` becomes ``<path>: <reason>; <fix>`` and a message that
names a Python argument (``batch_size=1``, ``TrainConfig.image_size=30``) names the flag the user typed
(``--batch-size 1``).

Every ``main()`` of facelib prints ``error: <line>`` on stderr and returns 1 (2 for a bad option); these helpers
make that line. The fixes come from :data:`OS_ERROR_FIXES`, by ``errno``.
"""
from __future__ import annotations

import errno
import re
import sys
from collections.abc import Iterable

__all__ = ["OS_ERROR_FIXES", "flag_message", "os_error_line", "print_error"]

#: What to do about an OSError, by errno (anything else: "check the path").
OS_ERROR_FIXES: dict[int, str] = {
    errno.EACCES: "you may not write there: choose a folder you own, or fix its permissions",
    errno.EPERM: "you may not write there: choose a folder you own, or fix its permissions",
    errno.EROFS: "the disk is read-only: choose a folder on a writable disk",
    errno.ENOSPC: "the disk is full: free some space or choose a folder on another disk (nothing was half-written)",
    errno.EDQUOT: "your disk quota is used up: free some space or choose another disk (nothing was half-written)",
    errno.ENOTDIR: "a file stands where a folder is needed: choose another path, or move that file away",
    errno.EEXIST: "a file stands where a folder is needed: choose another path, or move that file away",
    errno.EISDIR: "a folder stands where a file is needed: choose another path",
    errno.ENOENT: "the path does not exist: check it, or create the folder above it",
    errno.ENAMETOOLONG: "the path is too long: choose a shorter one",
}


def os_error_line(err: OSError, path: object = None) -> str:
    """``"<path>: <reason>; <fix>"`` for an OSError (``path``: the path to name when ``err`` has none)."""
    where = err.filename if err.filename is not None else path
    reason = err.strerror or str(err)
    fix = OS_ERROR_FIXES.get(err.errno or 0, "check the path and the disk")
    return f"{where}: {reason}; {fix}" if where is not None else f"{reason}; {fix}"


def print_error(err: Exception, path: object = None) -> int:
    """Print ``error: <one line>`` on stderr and return 1, a failed command's exit status.

    An ``OSError`` the system raised (it carries an ``errno``: a full or read-only disk, no permission, a file
    in the way) becomes :func:`os_error_line` naming ``path`` when the error names none; facelib's own errors
    (a ``FileNotFoundError`` or ``ValueError`` raised with a message, no errno) already name the problem and
    the fix and are printed as they are.
    """
    line = os_error_line(err, path) if isinstance(err, OSError) and err.errno is not None else str(err)
    print(f"error: {line}", file=sys.stderr)
    return 1


def flag_message(text: str, names: Iterable[str]) -> str:
    """``text`` with Python spellings of the given argument names replaced by their flags: a leading
    ``name=`` or any ``TrainConfig.name=`` becomes ``--name-with-dashes`` followed by a space."""
    known = set(names)

    def flag(match: re.Match[str]) -> str:
        name = match.group(1)
        return f"--{name.replace('_', '-')} " if name in known else match.group(0)

    return re.sub(r"^(\w+)=", flag, re.sub(r"\bTrainConfig\.(\w+)=", flag, text))
