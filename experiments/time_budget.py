"""Training under a wall-clock budget, around the public ``facelib.train.train``.

``train_with_budget(config, budget_s)`` runs ``train(config)`` once and makes it stop, save and say how far it
got before ``budget_s`` seconds have passed (the model build, the data cache and compilation count too):

* soft stop at ``budget_s - tail_s``: a watcher thread sets ``config.max_steps = 1`` on the very config object
  the run reads, so the trainer's own ``max_steps`` stop takes over at the end of the current step: it writes
  ``checkpoints/last.pt``, validates, records the partial epoch in ``history.json`` and draws its figures;
  ``tail_s`` is the time that takes;
* hard stop at ``budget_s + grace_s`` (main thread only): should the soft stop not take (a trainer that no
  longer reads ``max_steps`` live), a signal raises :class:`TimeBudgetExceeded` inside the run; the last
  checkpoint (at most ``checkpoint_every`` steps old) is what remains.

Why a thread and not epoch-by-epoch resumes: every ``train()`` call rebuilds the model, decodes every face into
the GPU cache and compiles again, which costs more than an epoch at 128x128 on an H200.
"""
from __future__ import annotations

import signal
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from facelib.train import TrainConfig, train


class TimeBudgetExceeded(RuntimeError):
    """The run outlived its budget and its grace period; it was interrupted (hard stop)."""


@dataclass
class BudgetReport:
    """How a budgeted run ended.

    Attributes:
        stopped: ``"epochs"`` (all epochs done), ``"time_budget"`` (soft stop), ``"hard_stop"`` or ``"max_steps"``
            (the config's own limit).
        complete_epochs: epochs finished; partial_steps: steps of the unfinished epoch (0 when none).
        epochs_done: ``complete_epochs + partial_steps / steps_per_epoch`` (when ``steps_per_epoch`` is known).
        global_step, wall_s, budget_s, soft_stop_at_s (None when it did not fire), checkpoint, history.
    """

    stopped: str
    complete_epochs: int
    partial_steps: int
    epochs_done: float | None
    global_step: int
    wall_s: float
    budget_s: float
    soft_stop_at_s: float | None
    checkpoint: str
    history: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        done = f"{self.epochs_done:.2f}" if self.epochs_done is not None else "?"
        return (f"stopped by {self.stopped}: {self.complete_epochs} complete epochs + {self.partial_steps} steps "
                f"({done} epochs, global step {self.global_step}) in {self.wall_s:.1f} s of a {self.budget_s:.0f} s "
                "budget")


def _raise_budget(signum: int, frame: Any) -> None:
    raise TimeBudgetExceeded("the training run outlived its time budget and grace period")


def _from_checkpoint(path: Path) -> tuple[int, list[dict[str, Any]]]:
    from facelib.checkpoint import load_checkpoint

    if not path.is_file():
        return 0, []
    ckpt = load_checkpoint(path, map_location="cpu")
    return int(ckpt["global_step"]), list(ckpt.get("history", []))


def train_with_budget(config: TrainConfig, budget_s: float, *, tail_s: float = 15.0, grace_s: float = 30.0,
                      steps_per_epoch: int | None = None, progress: bool = False,
                      figures: bool = True) -> BudgetReport:
    """Run ``train(config)`` within ``budget_s`` seconds (see the module docstring); returns how it ended.

    ``config.max_steps`` is restored afterwards (the checkpoint keeps the value the stop used).
    Raises ValueError for a budget that leaves no time to train.
    """
    if budget_s <= tail_s:
        raise ValueError(f"budget_s={budget_s} must exceed tail_s={tail_s} (the time a stop takes)")
    original_max_steps = config.max_steps
    start = time.monotonic()
    done = threading.Event()
    fired: dict[str, float] = {}
    main = threading.current_thread() is threading.main_thread()
    main_ident = threading.main_thread().ident

    def watch() -> None:
        if done.wait(budget_s - tail_s):
            return
        fired["soft"] = time.monotonic() - start
        config.max_steps = 1  # <= global_step from the first step on: the trainer stops after this step
        if done.wait(tail_s + grace_s) or not main:
            return
        fired["hard"] = time.monotonic() - start
        signal.pthread_kill(main_ident, signal.SIGUSR1)  # type: ignore[arg-type]

    previous = signal.signal(signal.SIGUSR1, _raise_budget) if main else None
    watcher = threading.Thread(target=watch, name="time-budget", daemon=True)
    watcher.start()
    result: dict[str, Any] | None = None
    try:
        result = train(config, progress=progress, figures=figures)
    except TimeBudgetExceeded:
        result = None
    finally:
        done.set()
        watcher.join()
        if main:
            signal.signal(signal.SIGUSR1, previous)
        config.max_steps = original_max_steps
    checkpoint = Path(config.out_dir) / "checkpoints" / "last.pt"
    if result is None:
        stopped = "hard_stop"
        global_step, history = _from_checkpoint(checkpoint)
    else:
        global_step, history = int(result["global_step"]), list(result["history"])
        stopped = "epochs" if result["stopped"] == "epochs" else ("time_budget" if "soft" in fired else "max_steps")
    complete = sum(1 for r in history if r.get("complete", True))
    partial = sum(int(r.get("steps", 0)) for r in history if not r.get("complete", True))
    if stopped == "hard_stop" and steps_per_epoch:
        partial = max(0, global_step - complete * steps_per_epoch)
    return BudgetReport(
        stopped=stopped, complete_epochs=complete, partial_steps=partial,
        epochs_done=(complete + partial / steps_per_epoch) if steps_per_epoch else None,
        global_step=global_step, wall_s=round(time.monotonic() - start, 2), budget_s=float(budget_s),
        soft_stop_at_s=round(fired["soft"], 2) if "soft" in fired else None, checkpoint=str(checkpoint),
        history=history)
