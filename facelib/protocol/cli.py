"""``python -m facelib.protocol build|summary``: write a manifest by the rule, or count its cases per (kind,
bin)."""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ..cli_errors import print_error
from ..data import read_split_file
from ..safe_io import refuse_overwrite
from .manifest import KINDS, PROTOCOL_SEED, build_manifest, count_cases, list_faces, read_manifest, write_manifest

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m facelib.protocol",
        description="Build or summarise an evaluation manifest (see the facelib.protocol docstring for the rule).")
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="write a manifest CSV")
    src = b.add_mutually_exclusive_group(required=True)
    src.add_argument("--split-list", help="a split file of face names (UTKFace: data/splits/utkface_val.txt)")
    src.add_argument("--faces", help="a folder of faces, searched recursively (CelebA-HQ: celeba_hq/val)")
    b.add_argument("--size", type=int, required=True, help="image side in pixels (UTKFace 128, CelebA-HQ 256)")
    b.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS, help="mask kinds (default all)")
    b.add_argument("--seed", type=int, default=PROTOCOL_SEED, help=f"protocol seed (default {PROTOCOL_SEED})")
    b.add_argument("--out", required=True, help="manifest CSV to write")
    b.add_argument("--overwrite", action="store_true", help="replace --out when it exists")
    s = sub.add_parser("summary", help="print the number of cases per (kind, bin)")
    s.add_argument("manifest")
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            if args.size < 4 or args.size % 4:
                print(f"error: --size {args.size}: the manifest's size must be a multiple of 4 (at least 4), e.g. 128",
                      file=sys.stderr)
                return 2
            if not args.overwrite:
                refuse_overwrite([args.out], "building this manifest")
            names = read_split_file(args.split_list) if args.split_list else list_faces(args.faces)
            rows = build_manifest(names, args.size, kinds=args.kinds, seed=args.seed)
            path = write_manifest(rows, args.out)
            print(f"wrote {path}: {len(rows)} cases over {len(set(names))} faces at {args.size}x{args.size}")
        else:
            rows = read_manifest(args.manifest)
        for (kind, bin_label), n in count_cases(rows).items():
            print(f"  {kind:9s} {bin_label:7s} {n}")
    except (OSError, ValueError) as err:
        return print_error(err)
    return 0
