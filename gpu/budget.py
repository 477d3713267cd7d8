"""What one lent GPU allows, as parameters, and how the campaign's calls and stages share it.

The device tool's limits change (its README, ``/work/.library/device/README.md``, says what they are today), so
none is a constant here: :class:`DeviceBudget` holds them, every command takes them as flags
(:func:`add_budget_flags`), and each stage's seconds follow from them. A stage has a *weight*; the calls'
weights share the device time left after the machine's start and each call's transfers and slack, and no call
gets more than one command may run. With today's limits (15 device minutes, 10 per command) the weights are
the stages' seconds.
"""
from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

MiB = 2**20


@dataclass(frozen=True)
class DeviceBudget:
    """The lent machine's limits and the overheads of a call, in the units the device tool states them."""

    device_minutes: float = 15.0  # device time of the whole campaign: starts, idle waits, transfers included
    command_minutes: float = 10.0  # the longest one command may run (its timeout_s)
    files_back: int = 8  # files that come back from $OUT
    file_mib: float = 16.0  # the largest file that comes back
    total_mib: float = 64.0  # all files back together
    carry_mib: float = 64.0  # what travels: tracked + untracked files + carried paths (the data pack)
    start_s: float = 90.0  # one machine start (the second call reuses the warm machine)
    transfer_s: float = 20.0  # per call: sending the tree, fetching $OUT
    slack_s: float = 30.0  # per call: timeout_s over the call's stages (Python start, the log)

    def __post_init__(self) -> None:
        for name in ("device_minutes", "command_minutes", "files_back", "file_mib", "total_mib", "carry_mib"):
            if getattr(self, name) <= 0:
                raise ValueError(f"--{name.replace('_', '-')} must be > 0, got {getattr(self, name):g}")

    def call_seconds(self, weights: dict[str, float]) -> dict[str, float]:
        """Seconds of stages per call: the device time left after overheads, shared by weight, capped so that
        a call with its slack fits one command. Raises ValueError when nothing is left to share."""
        left = self.device_minutes * 60 - self.start_s - len(weights) * (self.transfer_s + self.slack_s)
        if left <= 0:
            raise ValueError(f"--device-minutes {self.device_minutes:g} leaves no time after the machine start and "
                             f"the transfers ({self.start_s + len(weights) * (self.transfer_s + self.slack_s):.0f} s)")
        total = sum(weights.values())
        cap = self.command_minutes * 60 - self.slack_s
        return {call: min(left * w / total, cap) for call, w in weights.items()}


def add_budget_flags(parser: argparse.ArgumentParser) -> None:
    """The budget's flags: ``--device-minutes``, ``--command-minutes``, ``--files-back``, ``--file-mib``,
    ``--total-mib``, ``--carry-mib``."""
    d = DeviceBudget()
    parser.add_argument("--device-minutes", type=float, default=d.device_minutes,
                        help="device time of the whole campaign, starts and transfers included")
    parser.add_argument("--command-minutes", type=float, default=d.command_minutes, help="longest one command")
    parser.add_argument("--files-back", type=int, default=d.files_back, help="files that come back from $OUT")
    parser.add_argument("--file-mib", type=float, default=d.file_mib, help="largest file back (MiB)")
    parser.add_argument("--total-mib", type=float, default=d.total_mib, help="all files back together (MiB)")
    parser.add_argument("--carry-mib", type=float, default=d.carry_mib, help="what may travel to the device (MiB)")


def budget_from_args(args: argparse.Namespace) -> DeviceBudget:
    return DeviceBudget(device_minutes=args.device_minutes, command_minutes=args.command_minutes,
                        files_back=args.files_back, file_mib=args.file_mib, total_mib=args.total_mib,
                        carry_mib=args.carry_mib)


def budget_flags(b: DeviceBudget) -> str:
    """The flags that hand ``b`` on to a device command (empty for the defaults)."""
    d = DeviceBudget()
    return "".join(f" --{n.replace('_', '-')} {getattr(b, n):g}" for n in
                   ("device_minutes", "command_minutes", "files_back", "file_mib", "total_mib", "carry_mib")
                   if getattr(b, n) != getattr(d, n))


@dataclass(frozen=True)
class Stage:
    """One step of a call: ``kind`` in setup/train/evaluate/bench/publish, its ``weight`` (its seconds at today's
    limits); an ``optional`` stage is skipped when less than ``min_share`` of its weight is left."""

    name: str
    kind: str
    weight: float
    arg: str = ""
    optional: bool = False
    min_share: float = 0.0


class Clock:
    """A call's wall clock: a stage gets its share of the call's seconds, never more than what is left once the
    later mandatory stages have theirs."""

    def __init__(self, stages: tuple[Stage, ...], seconds: float) -> None:
        self.stages, self.start = stages, time.monotonic()
        self.scale = seconds / sum(s.weight for s in stages)

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def total(self) -> float:
        return sum(s.weight for s in self.stages) * self.scale

    def nominal(self, stage: Stage) -> float:
        return stage.weight * self.scale

    def budget(self, stage: Stage) -> float:
        later = self.stages[self.stages.index(stage) + 1:]
        reserved = sum(self.nominal(s) for s in later if not s.optional)
        return max(0.0, min(self.nominal(stage), self.total() - self.elapsed() - reserved))
