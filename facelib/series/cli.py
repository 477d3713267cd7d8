"""``python -m facelib.series run|prepare ...`` (part of :mod:`facelib.series`; usage in its docstring)."""
from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .parameters import PROFILES, ParameterError, notebook_parameters, parameters_for
from .paths import notebook_paths, repo_root
from .runner import NotebookFailedError, format_times, prepare, run

def _literal(text: str) -> Any:
    """``-p`` values: Python literals (``64``, ``[16, 32]``, ``None``, ``True``), anything else a string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m facelib.series", description=sys.modules[__package__].__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("run", "prepare"):
        p = sub.add_parser(name, help=f"{name} the notebooks")
        p.add_argument("--small", action="store_true", help="inject the test sizes (facelib.series.SMALL)")
        p.add_argument("--profile", choices=sorted(PROFILES),
                       help="named sizes: laptop (the defaults, minutes on a CPU) or gpu (full size, CUDA)")
        p.add_argument("--data", help="face folder or 'synthetic' (default: FACELIB_DATA, data/, then synthetic)")
        p.add_argument("--figures", help="figures folder (default: figures/ of the repo; OUT/figures with "
                                         "--small or prepare)")
        p.add_argument("--only", action="append", help="notebook name prefixes, e.g. `01,05` (repeatable)")
        p.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                       help="set a parameter in every selected notebook that declares it (Python literal)")
    sub.choices["run"].add_argument("--out", default="build/series", help="executed notebooks go here")
    sub.choices["run"].add_argument("--overwrite", action="store_true",
                                    help="with -p, let the figures replace the committed ones in figures/")
    sub.choices["prepare"].add_argument("out_dir", help="parameterised copies go here")
    return parser


def _extra_for(paths: Sequence[Path], pairs: Sequence[Sequence[str]]) -> dict[Path, dict[str, Any]]:
    """``-p`` values per notebook: only notebooks that declare the name get it; a name nobody declares fails."""
    extra: dict[Path, dict[str, Any]] = {p: {} for p in paths}
    for name, text in pairs:
        takers = [p for p in paths if name in notebook_parameters(p)]
        if not takers:
            raise ParameterError(f"-p {name}: no selected notebook has a parameter called {name!r}")
        for p in takers:
            extra[p][name] = _literal(text)
    return extra


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        paths = notebook_paths(only=args.only)
        extra = _extra_for(paths, args.parameter)
        for path in paths:  # refuse a bad parameter before anything runs
            parameters_for(path, args.small, args.data, args.figures or "figures", extra[path], args.profile)
        if args.command == "run" and args.parameter and not args.small and args.figures is None \
                and not args.overwrite:
            # The committed figures were drawn at the notebooks' own values; -p would redraw them at others.
            raise ValueError(f"-p {args.parameter[0][0]} changes what the notebooks draw, and their figures would "
                             f"replace the committed ones in {repo_root() / 'figures'}: pass --figures DIR (a fresh "
                             "folder), or --overwrite to replace them")
        if args.command == "prepare":
            for path in paths:
                prepare(args.out_dir, args.small, args.data, args.figures, [path.stem], extra[path], args.profile)
                print(Path(args.out_dir) / path.name)
            return 0
        from ..data.photographs import faces_banner  # which faces the run uses, before the first notebook

        print(faces_banner(args.data), flush=True)
        times: list[tuple[str, float]] = []
        try:
            for path in paths:
                times += run(args.out, args.small, args.data, args.figures, [path.stem], extra[path],
                             profile=args.profile)
        finally:
            if times:
                print("\n" + format_times(times))
    except (ParameterError, NotebookFailedError, FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0
