"""The run folder's safety: one run per folder, no run overwritten by accident, a clean stop on Ctrl-C.

* :class:`RunLock` holds ``out_dir`` (``out_dir/.lock``, an ``flock`` the kernel drops when the process ends,
  even by ``kill -9``), so two runs never write the same ``checkpoints/last.pt``.
* :func:`prepare_out_dir` decides between a fresh start and a resume, and refuses to overwrite a run unless
  asked (``overwrite``), deleting only the files a run writes.
* :class:`StopSignals` turns Ctrl-C (SIGINT) and SIGTERM into a stop at the next step boundary, where the loop
  saves ``last.pt`` and raises :class:`TrainingInterrupted`; a second signal stops at once without saving.

The checkpoint itself (what it holds, the atomic write, the exact restore) is ``facelib.train.state``.
"""
from __future__ import annotations

import os
import re
import signal
import threading
from pathlib import Path
from typing import Any

from ..paths import EPOCH_CHECKPOINT, EPOCH_CHECKPOINT_RE, LAST_CHECKPOINT, checkpoint_dir, history_file, last_checkpoint
from ..safe_io import remove_ours
from .config import TrainConfig

try:
    import fcntl
except ImportError:  # not on Windows: runs there are not locked
    fcntl = None  # type: ignore[assignment]

__all__ = ["RUN_CHECKPOINT_FILES", "RunLock", "RunLockedError", "StopSignals", "TrainingInterrupted",
           "epoch_checkpoints", "prepare_out_dir"]


class RunLockedError(RuntimeError):
    """Another live training run holds ``out_dir`` (its pid is in the message)."""


class RunLock:
    """Holds a run folder: an exclusive ``fcntl.flock`` on ``out_dir/.lock``, which holds the holder's pid.

    The kernel releases the lock when the process ends in any way (``kill -9`` included), so a stale ``.lock``
    file of a dead process never blocks the next run. The file itself stays (removing it would let two runs
    lock two different files); it is emptied on release. Use as a context manager or ``acquire()/release()``.
    """

    def __init__(self, out_dir: str | Path) -> None:
        self.out_dir = Path(out_dir)
        self.path = self.out_dir / ".lock"
        self._fd: int | None = None

    def holder(self) -> str:
        """The pid written in the lock file ("unknown" when there is none)."""
        try:
            text = self.path.read_text(encoding="ascii", errors="replace").strip()
        except OSError:
            return "unknown"
        return text.split()[0] if text and text.split()[0].isdigit() else "unknown"

    def acquire(self) -> RunLock:
        if fcntl is None or self._fd is not None:
            return self
        self.out_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RunLockedError(
                f"{self.out_dir} is in use by another training run (pid {self.holder()}, lock {self.path}): wait "
                "for it to finish or stop it (Ctrl-C saves its checkpoint), or choose another out_dir"
            ) from None
        except OSError:  # a filesystem without locks (some network mounts): run unlocked rather than not at all
            os.close(fd)
            return self
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        self._fd = fd
        return self

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.ftruncate(fd, 0)
        finally:
            os.close(fd)  # closing drops the flock

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


#: The names a run writes in ``out_dir/checkpoints`` (all that ``overwrite`` removes there).
RUN_CHECKPOINT_FILES: tuple[str, ...] = (re.escape(LAST_CHECKPOINT), EPOCH_CHECKPOINT_RE)


def epoch_checkpoints(out_dir: str | Path) -> list[Path]:
    """``out_dir/checkpoints/epoch_{k}.pt`` files, by epoch."""
    found = [(int(m.group(1)), p) for p in checkpoint_dir(out_dir).glob(EPOCH_CHECKPOINT.format("*"))
             if (m := re.fullmatch(EPOCH_CHECKPOINT_RE, p.name))]
    return [p for _, p in sorted(found)]


def prepare_out_dir(config: TrainConfig) -> Path | None:
    """Make ``out_dir/checkpoints``; returns the checkpoint to resume from, or None for a fresh start.

    - ``resume_from``: that checkpoint (it must exist). When ``out_dir`` holds another run's files (a checkpoint
      or history and ``resume_from`` is not in ``out_dir/checkpoints``), ``overwrite`` is needed.
    - ``resume``: ``out_dir/checkpoints/last.pt``; without it, a fresh start only when ``out_dir`` holds no run
      (no history, no epoch checkpoints) or with ``overwrite`` (which deletes them).
    - neither: a fresh start; ``overwrite`` is needed (and deletes the old files) when ``out_dir`` holds a run.

    ``overwrite`` deletes only what a run writes: ``history.json``, ``history.csv`` and the
    :data:`RUN_CHECKPOINT_FILES` of ``checkpoints/``; other files there stay.

    Raises:
        FileExistsError: the folder holds a run that this call would overwrite (one line naming the way out).
        FileNotFoundError: ``resume_from`` does not exist.
    """
    out_dir, last = Path(config.out_dir), last_checkpoint(config.out_dir)
    histories = [p for p in (history_file(out_dir, "json"), history_file(out_dir, "csv")) if p.exists()]
    epochs = epoch_checkpoints(out_dir)

    def wipe() -> None:  # only the files a run writes: anything else in the folder is the user's
        remove_ours(checkpoint_dir(out_dir), RUN_CHECKPOINT_FILES)
        for path in histories:
            path.unlink(missing_ok=True)

    if config.resume_from is not None:
        source = Path(config.resume_from).expanduser()
        if not source.is_file():
            listed = ", ".join(str(p) for p in [*([last] if last.exists() else []), *epochs]) or "none"
            raise FileNotFoundError(f"resume_from={config.resume_from!r}: no such checkpoint file (checkpoints in "
                                    f"{out_dir}: {listed})")
        ours = source.resolve().parent == (out_dir / "checkpoints").resolve()
        if (last.exists() or histories) and not ours and not config.overwrite:
            raise FileExistsError(
                f"{out_dir} holds another run ({(last if last.exists() else histories[0])}) that resuming from "
                f"{source} would overwrite: pass overwrite=True (--overwrite) to do that, or choose another out_dir"
            )
        (out_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
        return source
    if config.resume:
        if last.exists():
            return last
        if histories or epochs:
            if not config.overwrite:
                hint = (f"resume from an epoch checkpoint with resume_from (--resume-from {epochs[-1]}; present: "
                        f"{', '.join(p.name for p in epochs)})" if epochs else "there is no epoch checkpoint to "
                        "resume from")
                raise FileExistsError(
                    f"cannot resume {out_dir}: {last} is missing but the folder holds a run "
                    f"({', '.join(p.name for p in histories) or 'epoch checkpoints'}); {hint}, or pass "
                    "overwrite=True (--overwrite) to start afresh (deletes its history and checkpoints)"
                )
            wipe()
    else:
        existing = [p for p in (last, *histories, *epochs) if p.exists()]
        if existing:
            if not config.overwrite:
                raise FileExistsError(
                    f"{out_dir} already holds a training run ({existing[0]}). Pass resume=True (--resume) to "
                    "continue it, overwrite=True (--overwrite) to start afresh there, or choose another out_dir"
                )
            wipe()
    (out_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
    return None


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) or SIGTERM stopped a run at a step boundary; ``last.pt`` holds that step.

    Attributes: ``signum``, ``signal_name``, ``global_step``, ``checkpoint`` (the path written).
    """

    def __init__(self, signum: int, global_step: int, checkpoint: Path) -> None:
        self.signum, self.global_step, self.checkpoint = signum, global_step, Path(checkpoint)
        self.signal_name = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
        super().__init__(f"training interrupted ({self.signal_name}) at global step {global_step}: checkpoint saved "
                         f"to {checkpoint}; continue with resume=True (--resume) and the same options")


class StopSignals:
    """While active, SIGINT and SIGTERM only set ``signum``: the loop stops at the next step boundary, where the
    state is consistent. A second signal raises ``KeyboardInterrupt`` at once (nothing saved). Signal handlers
    can only be installed from the main thread; elsewhere this does nothing."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.signum: int | None = None
        self._old: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        if self.signum is not None:
            raise KeyboardInterrupt(f"second {signal.Signals(signum).name}: stopped at once, without saving")
        self.signum = signum

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                try:
                    self._old[sig] = signal.signal(sig, self._handle)
                except (ValueError, OSError):
                    pass
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old if old is not None else signal.SIG_DFL)
        self._old = {}
