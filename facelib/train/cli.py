"""The command line, ``python -m facelib.train`` / ``facelib-train``: one ``--kebab-case`` option per
``TrainConfig`` field, with the field's help, type and choices (nothing restated here).

    python -m facelib.train --model list                       # the models and presets
    python -m facelib.train --model generator --epochs 5 --out-dir runs/g
    python -m facelib.train --model gan --data /path/to/faces --out-dir runs/gan
    python -m facelib.train --out-dir runs/g --epochs 10 --resume   # continue (or extend) a run
    python -m facelib.train --out-dir runs/g --resume-from runs/g/checkpoints/epoch_2.pt   # from an epoch

Ctrl-C (or SIGTERM) saves ``last.pt`` at the current step and prints the command that resumes; errors and
notices are one line on stderr.

Other scripts (``benchmarks/train_throughput.py``) add a subset of the same options with
:func:`add_config_options`, so their flags are the config's too.
"""
from __future__ import annotations

import argparse
import shlex
import signal
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import fields
from typing import Any

from ..checkpoint import CheckpointError
from ..cli_errors import flag_message, os_error_line
from ..safe_io import check_out_folder
from .config import MODEL_NAMES, PRESETS, TrainConfig
from .loop import NonFiniteLossError, train
from .run_folder import RunLockedError, TrainingInterrupted

__all__ = ["add_config_options", "build_parser", "list_models", "config_from_args", "main"]


def add_config_options(parser: argparse.ArgumentParser, names: Iterable[str] | None = None,
                       defaults: Mapping[str, Any] | None = None,
                       aliases: Mapping[str, Sequence[str]] | None = None,
                       suppress: bool = True) -> argparse.ArgumentParser:
    """Add ``--kebab-case`` options for ``TrainConfig`` fields to ``parser``.

    Args:
        names: the fields to add (default: all, in declaration order).
        defaults: defaults that differ from the dataclass's (e.g. a benchmark's image size).
        aliases: extra flags per field, e.g. ``{"image_size": ["--size"]}``.
        suppress: leave options that are not given out of the namespace (so a preset's values stay), instead
            of filling in the default.
    """
    defaults, aliases = dict(defaults or {}), dict(aliases or {})
    wanted = None if names is None else set(names)
    for f in fields(TrainConfig):
        if wanted is not None and f.name not in wanted:
            continue
        meta = f.metadata
        default = defaults.get(f.name, f.default)
        flags = ["--" + f.name.replace("_", "-"), *aliases.get(f.name, ())]
        kwargs: dict[str, Any] = {"dest": f.name, "default": argparse.SUPPRESS if suppress else default,
                                  "help": f"{meta.get('help', '')} (default: {default!r})"}
        if f.name == "model":
            kwargs["choices"] = (*MODEL_NAMES, *[p for p in PRESETS if p not in MODEL_NAMES], "list")
            kwargs["help"] = "architecture or preset ('list' prints them); default: generator"
        elif isinstance(f.default, bool) and "parse" not in meta:
            kwargs["action"] = argparse.BooleanOptionalAction
        elif "nargs" in meta:
            kwargs["nargs"], kwargs["type"] = meta["nargs"], meta["parse"]
        else:
            kwargs["type"] = meta["parse"] if "parse" in meta else (str if f.default is None else type(f.default))
            if "choices" in meta and None not in meta["choices"]:
                kwargs["choices"] = meta["choices"]
        kwargs["help"] = kwargs["help"].replace("%", "%%")
        parser.add_argument(*flags, **kwargs)
    return parser


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser: one ``--kebab-case`` option per ``TrainConfig`` field (defaults from the preset)."""
    parser = argparse.ArgumentParser(
        prog="python -m facelib.train",
        description="Train a face-inpainting generator. Options not given take the preset's value "
                    "(see --model list), else the TrainConfig default.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar / table output")
    return add_config_options(parser)


def list_models() -> str:
    """One line per model / preset (what ``--model list`` prints)."""
    width = max(map(len, PRESETS))
    return "\n".join(f"{name:<{width}}  {p.description}" for name, p in PRESETS.items())


def config_from_args(argv: Sequence[str] | None = None) -> tuple[TrainConfig | None, bool]:
    """Parse the command line into ``(config, progress)``; ``config`` is None for ``--model list``."""
    args = vars(build_parser().parse_args(argv))
    progress = not args.pop("no_progress")
    name = args.pop("model", "generator")
    if name == "list":
        return None, progress
    return TrainConfig.preset(name, **args), progress


def resume_command(argv: Sequence[str]) -> str:
    """The command line that continues a run started with ``argv``: the same options without ``--resume-from``
    and ``--overwrite`` (``last.pt`` now holds the run), plus ``--resume``."""
    kept: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg in ("--resume-from", "--overwrite", "--resume"):
            skip = arg == "--resume-from"
            continue
        if arg.startswith("--resume-from="):
            continue
        kept.append(arg)
    return " ".join(["python -m facelib.train", *map(shlex.quote, kept), "--resume"])


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m facelib.train`` / ``facelib-train``; returns the exit code.

    Exit codes: 0 done, 1 an error (one line on stderr), 2 a bad option, 128 + signal number after Ctrl-C (130)
    or SIGTERM (143).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    names = [f.name for f in fields(TrainConfig)]
    try:
        config, progress = config_from_args(argv)
        if config is not None:
            check_out_folder(config.out_dir, "--out-dir", create=False)
    except ValueError as exc:
        print(f"error: {flag_message(str(exc), names)}", file=sys.stderr)
        return 2
    if config is None:
        print(list_models())
        return 0
    try:
        result = train(config, progress=progress)
    except (FileExistsError, CheckpointError, NonFiniteLossError, FileNotFoundError, ValueError,
            RunLockedError) as exc:
        print(f"error: {flag_message(str(exc), names)}", file=sys.stderr)
        return 1
    except OSError as exc:  # a read-only or full disk: the last good checkpoint is kept (writes are atomic)
        print(f"error: {os_error_line(exc, config.out_dir)}", file=sys.stderr)
        return 1
    except TrainingInterrupted as exc:
        print(f"interrupted ({exc.signal_name}) at global step {exc.global_step}: checkpoint saved to "
              f"{exc.checkpoint}; resume with: {resume_command(argv)}", file=sys.stderr)
        return 128 + exc.signum
    except KeyboardInterrupt as exc:  # before the loop, or a second Ctrl-C: nothing saved now
        print(f"interrupted ({exc or 'Ctrl-C'}): nothing saved now; checkpoints already in {config.out_dir}/checkpoints "
              "are kept", file=sys.stderr)
        return 128 + signal.SIGINT
    print(f"done ({result['stopped']}): {result['global_step']} steps; history {config.out_dir}/history.csv, "
          f"checkpoint {result['checkpoint']}")
    return 0
