"""The classroom models: trained on this project's 2-core CPU at 64x64, committed to ``weights/``, scored in full.

    python experiments/classroom.py command generator     # the exact training command (resumable)
    python experiments/classroom.py train generator       # run it (continues runs/classroom/generator if there)
    python experiments/classroom.py export generator --epoch 6 --code-commit SHA   # -> weights/generator.*
    python experiments/classroom.py evaluate              # every weights/ model + OpenCV: 6,000 UTKFace cases
                                                          # and 168 CelebA-HQ sample cases, at 64x64
    python experiments/classroom.py evaluate --add --models gmcnn   # a new model alone, added to those tables
    python experiments/classroom.py report                # manifests' results, summary.md, figures/classroom_*
    python experiments/classroom.py report --readme       # ... and summary.md's tables into README.md

The recipe of every classroom model: all 21,708 UTKFace training faces (the committed split) at 64x64, batch
16, holes mixed from rectangles, DeepFill v2 strokes and the NVIDIA irregular masks (a bank of 8,192 drawn
once, x8 by flips and transposes), bf16 autocast and channels_last on the CPU, faces decoded once into a
uint8 tensor (``--gpu-cache``: on a CPU the same cache removes JPEG decoding from every step).

Needs FACELIB_UTKFACE, FACELIB_MASKS and (for the cross-dataset check) FACELIB_CELEBA_HQ.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's facelib, also when run as a script from elsewhere

from facelib.baselines import BASELINES  # noqa: E402
from facelib.paths import (  # noqa: E402
    CELEBA_MANIFEST, REPO_ROOT, RESULTS_DIR, RUNS_DIR, UTKFACE_MANIFEST, epoch_checkpoint, history_file, last_checkpoint,
    repo_relative,
)
from facelib.recipe import Recipe, config_flags, load_recipe, recipe_names  # noqa: E402
from facelib.report import TABLE_GROUPS  # noqa: E402
from facelib.train.config import PRESETS  # noqa: E402

RUNS = RUNS_DIR / "classroom"
RESULTS = RESULTS_DIR / "classroom-64"
EVAL_SIZE = 64

#: The adversarial weight of ``gan``, the one the pilot picked (``pilot`` / ``pilot-evaluate`` / ``pilot-report``
#: stages; results/gan-pilot/pilot.md says the rule and the numbers).
GAN_ADV_WEIGHT = str(PRESETS["gan"].overrides["adv_weight"])
#: The GAN pilot: from the flagship's epoch-6 weights, a few steps on a subset for each adversarial weight (0: the
#: control arm, no discriminator), everything else as the classroom recipe (smaller mask bank and validation).
PILOT_WEIGHTS: tuple[str, ...] = ("0", "0.003", "0.01", "0.03")
PILOT_FLAGS: tuple[str, ...] = ("--mask-bank-size", "2048", "--max-train-images", "4096", "--max-val-images", "256",
                                "--max-steps", "150", "--checkpoint-every", "50", "--log-every", "25")
PILOT_RUNS = RUNS_DIR / "pilot"
PILOT_RESULTS = RESULTS_DIR / "gan-pilot"
#: The classroom runs: every committed recipe (``recipes/<name>.json``: its preset, the epochs of its run, where it
#: starts (``init_from``: committed weights, read from the worktree the run trains in, so replacing weights/ later
#: never changes a running start), its run folder, the weights name it exports to, a line for the manifest). The
#: flagship's first 6 epochs ran from scratch (``generator``); ``generator_cont`` continues them for 4 more with a
#: fresh optimiser, the control arm of the GAN ablation (``gan``: the same start plus a hinge PatchGAN).
MODELS: dict[str, Recipe] = {name: load_recipe(name) for name in recipe_names()}
#: The classroom weights, in table order: every preset with weights.
WEIGHTS: tuple[str, ...] = tuple(p.weights for p in PRESETS.values() if p.weights)
#: The shared part of every classroom recipe, as training flags (the pilot's arms run with it too).
COMMON: tuple[str, ...] = tuple(config_flags(load_recipe("classroom").config))


def env_dir(name: str) -> str:
    """The folder in environment variable ``name``; exits with a hint when it is unset or missing."""
    value = os.environ.get(name)
    if not value or not Path(value).is_dir():
        sys.exit(f"set {name} to the folder (see data/README.md); got {value!r}")
    return value


def train_command(model: str) -> list[str]:
    """The exact ``python -m facelib.train`` command of a classroom model (``--resume`` continues a run)."""
    recipe = MODELS[model]
    return [sys.executable, "-m", "facelib.train", "--model", recipe.preset, "--data", env_dir("FACELIB_UTKFACE"),
            "--mask-root", env_dir("FACELIB_MASKS"), *config_flags(recipe.config), "--out-dir", str(RUNS / recipe.run),
            "--resume"]


def pilot_command(weight: str) -> list[str]:
    """One arm of the GAN pilot (``weight`` "0": the control arm, the flagship's losses alone)."""
    arm = ["--model", "generator"] if float(weight) == 0 else ["--model", "gan", "--adv-weight", weight]
    return [sys.executable, "-m", "facelib.train", *arm, "--init-from", "generator", "--data",
            env_dir("FACELIB_UTKFACE"), "--mask-root", env_dir("FACELIB_MASKS"), *COMMON, *PILOT_FLAGS,
            "--epochs", "1", "--out-dir", str(PILOT_RUNS / pilot_arm(weight)), "--resume"]


def pilot_arm(weight: str) -> str:
    return "control" if float(weight) == 0 else f"gan_w{weight}"


def pilot_evaluate(runs: Path = PILOT_RUNS, out: Path = PILOT_RESULTS / "protocol", per_bin: int = 25) -> Path:
    """Every pilot arm on the first ``per_bin`` protocol cases of each group, with KID/FID on them: what the
    adversarial weight does to accuracy (hole PSNR) and to realism (KID) after the pilot's steps."""
    from facelib.evaluate import main as evaluate_main

    arms = [f"--checkpoint=w{w}={last_checkpoint(runs / pilot_arm(w))}" for w in PILOT_WEIGHTS]
    args = [*arms, "--size", str(EVAL_SIZE), "--per-bin", str(per_bin), "--realism-per-group", str(per_bin),
            "--no-identity", "--faces", env_dir("FACELIB_UTKFACE"), "--masks", env_dir("FACELIB_MASKS"),
            "--batch-size", "32", "--out", str(out), "--overwrite"]
    if evaluate_main(args) != 0:
        sys.exit(f"evaluation into {out} failed")
    return out


def pilot_finals(runs: Path = PILOT_RUNS) -> dict[str, dict]:
    """The last history row of every pilot arm that ran, by adversarial weight."""
    paths = {w: history_file(runs / pilot_arm(w)) for w in PILOT_WEIGHTS}
    return {w: json.loads(p.read_text(encoding="utf-8"))["history"][-1] for w, p in paths.items() if p.is_file()}


def pilot_record(runs: Path = PILOT_RUNS) -> dict:
    """The GAN pilot as the ``gan`` manifest records it (issue 21: "record the pilot in the manifest"): its flags,
    every arm's final validation losses and D balance, the rule and the choice, and the report's path."""
    keys = ("global_step", "val_pixel", "val_perceptual", "train_d_loss", "train_d_real_acc", "train_d_fake_acc")
    finals = pilot_finals(runs)
    return {"report": repo_relative(PILOT_RESULTS / "pilot.md"), "start": "the committed 6-epoch generator weights",
            "flags": " ".join(PILOT_FLAGS), "command": "python experiments/classroom.py pilot",
            "arms": {w: {k: finals[w].get(k) for k in keys} if w in finals else "not run" for w in PILOT_WEIGHTS},
            "choice": pilot_choice(finals)}


#: Recipes whose setting a pilot chose, and that pilot's record (written into the exported manifest).
PILOTS = {"gan": pilot_record}


def pilot_report(runs: Path = PILOT_RUNS, out: Path = PILOT_RESULTS) -> Path:
    """``results/gan-pilot/pilot.md``: each arm's validation losses after the pilot's steps, and its D/G balance."""
    rows, finals = [], pilot_finals(runs)
    for weight in PILOT_WEIGHTS:
        if weight not in finals:
            rows.append(f"| {weight} | not run | | | | |")
            continue
        last = finals[weight]
        d = last.get("train_d_loss")
        acc = ("-" if d is None else f"{last['train_d_real_acc']:.2f} / {last['train_d_fake_acc']:.2f}")
        rows.append(f"| {weight} | {last['global_step']} | {last['val_pixel']:.4f} | {last['val_perceptual']:.2f} | "
                    f"{'-' if d is None else f'{d:.3f}'} | {acc} |")
    choice = pilot_choice(finals)
    text = "\n".join([
        "# GAN pilot: which adversarial weight for `gan`", "",
        f"From the committed 6-epoch `generator` weights (fresh optimiser), each arm trained with "
        f"`{' '.join(PILOT_FLAGS)}` on UTKFace at 64x64 (hinge PatchGAN with spectral norm, the gan preset; weight "
        f"0 = no discriminator), then validated on the first 256 validation faces with fixed holes. Commands: "
        "`python experiments/classroom.py pilot` prints them.", "",
        "| adversarial weight | steps | val pixel | val perceptual | D loss (train) | D accuracy real / fake |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |", *rows, "", choice, "", *pilot_protocol(out / "protocol"), ""])
    out.mkdir(parents=True, exist_ok=True)
    from facelib.checkpoint import atomic_write_text

    return atomic_write_text(text, out / "pilot.md")


def pilot_choice(finals: dict[str, dict]) -> str:
    """The rule that picks ``gan``'s weight: among the adversarial arms whose validation pixel loss is within 1% of
    the control arm's (the adversarial term must not cost accuracy), the lowest validation perceptual distance."""
    if "0" not in finals or len(finals) < 2:
        return "Choice: not made (the control arm and at least one adversarial arm must have run)."
    base = finals["0"]["val_pixel"]
    ok = {w: r for w, r in finals.items() if w != "0" and r["val_pixel"] <= 1.01 * base}
    if not ok:
        return f"Choice: none (every adversarial arm's val pixel is over 1% above the control's {base:.4f})."
    pick = min(ok, key=lambda w: ok[w]["val_perceptual"])
    return (f"Choice (rule: val pixel within 1% of the control's {base:.4f}, then the lowest val perceptual): "
            f"adversarial weight {pick} (val perceptual {ok[pick]['val_perceptual']:.2f} vs the control's "
            f"{finals['0']['val_perceptual']:.2f}). After so few steps the arms barely differ: read the protocol table.")


def pilot_protocol(folder: Path) -> list[str]:
    """The pilot's protocol table (hole PSNR and KID per arm), when ``pilot-evaluate`` ran."""
    from facelib.report import read_results, results_table

    if not (folder / "results.csv").is_file():
        return ["Protocol subset: not evaluated (`python experiments/classroom.py pilot-evaluate`)."]
    res = read_results(folder / "results.csv")
    groups = (("irregular", "all"), ("center", "25%"), ("freeform", "all"))
    header = [ln for ln in (folder / "results.md").read_text(encoding="utf-8").splitlines()
              if ln.startswith(("- cases scored", "- realism", "- command", "- device"))]
    return ["## On protocol cases (results/gan-pilot/protocol)", "", *header, "", "Hole PSNR (dB):", "",
            results_table(res, "hole_psnr", groups), "", "KID (lower is more realistic; mean +- subset std):", "",
            results_table(res, "kid", groups, digits=4)]


def printable(cmd: list[str]) -> str:
    """The command as one would type it from the repository root (paths to the data as given)."""
    return " ".join(["python" if c == sys.executable else shlex.quote(c) for c in cmd]).replace(str(ROOT) + "/", "")


def export(model: str, epoch: int | None, code_commit: str, device_note: str, runs: Path = RUNS,
           init_weights_dir: Path | None = None) -> Path:
    """Export ``runs/RUN/checkpoints/epoch_K.pt`` (or last.pt) to the weights folder (FACELIB_WEIGHTS or weights/);
    a run that started from committed weights reads their manifest in ``init_weights_dir`` (default: the weights
    folder; pass the training worktree's ``weights/`` when those were replaced since)."""
    from facelib.export import checkpoint_to_weights
    from facelib.pretrained import resolve_weights_dir

    recipe = MODELS[model]
    ckpt = epoch_checkpoint(runs / recipe.run, epoch) if epoch else last_checkpoint(runs / recipe.run)
    # The planned schedule next to what was exported: the learning rate is constant (no scheduler), so an
    # export after epoch K of the planned N is the same model a run of --epochs K would have written.
    planned = {"planned_epochs": recipe.config["epochs"], "exported_epoch": epoch or "last", "recipe": recipe.path}
    if model in PILOTS:  # the pilot's runs sit beside the classroom runs (runs/pilot next to runs/classroom)
        planned["pilot"] = PILOTS[model](runs.parent / PILOT_RUNS.name)
    return checkpoint_to_weights(
        ckpt, recipe.weights, resolve_weights_dir(), command=printable(train_command(model)), description=recipe.about,
        data_note="UTKFace (Zhang et al. 2017), aligned and cropped faces at 64x64",
        split_note="train: the 21,708 faces not listed in data/splits/utkface_val.txt; val: the first 512 of "
                   "its 2,000 faces, fixed masks", device_note=device_note, code_commit=code_commit, extra=planned,
        init_weights_dir=init_weights_dir)


def evaluate(names: list[str], results: Path = RESULTS, per_bin: int | None = None, add: bool = False) -> None:
    """Every named weights model and both OpenCV baselines on the whole UTKFace protocol and the CelebA sample
    (``per_bin``: only the first N cases of every group, for a preview; the README's table uses all).
    ``add``: score only ``names`` and add their rows to the tables already in ``results`` (a newly trained
    model; ``facelib.evaluate --add`` checks that the cases and settings are those of that run)."""
    from facelib.evaluate import main as evaluate_main

    # --record: facelib.evaluate stores each model's numbers in its weights manifest (the one results layout);
    # --overwrite: this stage regenerates the committed tables.
    scope = ["--add"] if add else ["--baseline", *BASELINES, "--overwrite"]
    base = ["--size", str(EVAL_SIZE), *scope, "--pretrained", *names, "--batch-size", "32", "--record"]
    subset = ["--per-bin", str(per_bin)] if per_bin else []
    runs = [(results, ["--faces", env_dir("FACELIB_UTKFACE"), *subset]),
            (celeba_dir(results), ["--faces", env_dir("FACELIB_CELEBA_HQ"), "--manifest", str(CELEBA_MANIFEST)])]
    for out, args in runs:
        if evaluate_main([*base, *args, "--masks", env_dir("FACELIB_MASKS"), "--out", str(out)]) != 0:
            sys.exit(f"evaluation into {out} failed")


# ============================================================================================ the report
GROUPS = TABLE_GROUPS


def celeba_dir(results: Path) -> Path:
    """Where the CelebA-HQ sample results of an evaluation into ``results`` go: ``<results>-celeba``."""
    return results.with_name(results.name + "-celeba")


def goal_check(results: dict, model: str = "generator") -> list[str]:
    """The issue's goals for the flagship, each said with its numbers: ahead of the better OpenCV method in every
    group (by >= 1 dB hole PSNR from 10% holes up, on the centre square and on free-form strokes), ahead on the
    perceptual distance everywhere. (The Context Encoder is judged at equal epochs: :func:`centre_check`.)"""
    lines = []
    for k, b in GROUPS:
        ours = results[(model, k, b, "hole_psnr")]["mean"]
        best_cv = max(results[(cv.label, k, b, "hole_psnr")]["mean"] for cv in BASELINES.values())
        need = 0.0 if (k, b) == ("irregular", "0-10%") else 1.0
        p_ours = results[(model, k, b, "perceptual")]["mean"]
        p_cv = min(results[(cv.label, k, b, "perceptual")]["mean"] for cv in BASELINES.values())
        verdict = "met" if ours - best_cv > need and p_ours < p_cv else "NOT met"
        lines.append(f"- {k} {b}: hole PSNR {ours:.2f} vs the better OpenCV {best_cv:.2f} dB ({ours - best_cv:+.2f}, "
                     f"goal > +{need:.0f}); perceptual {p_ours:.1f} vs {p_cv:.1f}: {verdict}")
    return lines


EQUAL_EPOCHS = RESULTS_DIR / "context-encoder-equal-epochs"


def equal_epochs(epoch: int, runs: Path = RUNS, out: Path = EQUAL_EPOCHS) -> Path:
    """The Context Encoder's checkpoint after ``epoch`` epochs against the committed generator, which must have
    trained exactly as many epochs (the fairness rule), on all 2,000 centre-square cases at 64x64."""
    from facelib.evaluate import main as evaluate_main
    from facelib.pretrained import load_manifest

    have = load_manifest("generator")["training"]["epochs"]
    if have != epoch:
        sys.exit(f"error: the committed generator has {have} epochs: compare at --epoch {have}, or restore the "
                 f"{epoch}-epoch weights first (git log -- weights/generator.json names the commit that has them)")
    ckpt = epoch_checkpoint(runs / MODELS["context_encoder"].run, epoch)
    args = ["--size", str(EVAL_SIZE), "--kinds", "center", "--pretrained", "generator", "--checkpoint",
            f"context_encoder={ckpt}", "--faces", env_dir("FACELIB_UTKFACE"), "--batch-size", "32", "--out", str(out),
            "--overwrite"]
    if evaluate_main(args) != 0:
        sys.exit(f"evaluation into {out} failed")
    from facelib.checkpoint import atomic_write_json, load_checkpoint

    steps = int(load_checkpoint(ckpt)["global_step"])
    atomic_write_json({"epochs": epoch, "generator": "weights/generator.json (from scratch)",
                       "context_encoder": {"checkpoint": printable([str(ckpt)]), "steps": steps,
                                           "start": "scratch"}}, out / "budget.json")
    return out


#: The commit whose weights/generator.* are the flagship after 6 epochs from scratch (sha256 338a97a042d5...), scored
#: on the whole protocol there: the equal-budget control of every model trained 6 epochs from scratch.
CONTROL_COMMIT = "d0f6506"


def _git_show(commit: str, path: Path) -> str:
    spec = f"{commit}:{repo_relative(path)}"
    done = subprocess.run(["git", "-C", str(REPO_ROOT), "show", spec], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"error: git show {spec} failed ({done.stderr.strip() or 'no output'}): this needs the repository's "
                 "history (a clone, not an archive)")
    return done.stdout


def control(commit: str = CONTROL_COMMIT, results: Path = RESULTS, out: Path | None = None) -> Path:
    """Keep the flagship of ``commit`` (its weights manifest, with the protocol numbers recorded there) as the
    equal-budget control ``results/controls/generator-<K>-epochs.json``, after checking that its numbers join the
    current tables: the same scoring settings (``facelib.evaluate.adding``) and, as the proof that scoring has
    not changed since, the same OpenCV rows to the last digit in both protocol folders (OpenCV has no weights)."""
    from facelib.budget import control_path
    from facelib.checkpoint import atomic_write_json
    from facelib.evaluate.adding import SAME_SETTINGS, header_lines, markdown_header

    full = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "--verify", f"{commit}^{{commit}}"],
                          capture_output=True, text=True).stdout.strip() or commit
    manifest = json.loads(_git_show(full, REPO_ROOT / "weights" / "generator.json"))
    checks = []
    for folder in (results, celeba_dir(results)):
        then_md, now_md = _git_show(full, folder / "results.md"), (folder / "results.md").read_text(encoding="utf-8")
        then, now = (header_lines(markdown_header(md)) for md in (then_md, now_md))
        differ = [k for k in SAME_SETTINGS if then.get(k) != now.get(k)]
        opencv = lambda text: [line for line in text.splitlines() if line.startswith("OpenCV")]
        rows_then, rows_now = opencv(_git_show(full, folder / "results.csv")), opencv(
            (folder / "results.csv").read_text(encoding="utf-8"))
        if differ or not rows_now or rows_then != rows_now:
            sys.exit(f"error: {repo_relative(folder)} at {commit} does not join today's tables ("
                     f"{'settings differ: ' + ', '.join(differ) if differ else 'the OpenCV rows differ'}): score "
                     "the control again instead (python -m facelib.evaluate --add --checkpoint ...)")
        checks.append(f"{repo_relative(folder)}: settings ({', '.join(SAME_SETTINGS)}) and all {len(rows_now)} OpenCV "
                      f"rows of results.csv equal at {full[:7]} and today")
    epochs = manifest["training"]["epochs"]
    manifest["control"] = {
        "about": f"the flagship after {epochs} epochs from scratch, kept as the equal-budget control of models "
                 f"trained {epochs} epochs from scratch; weights/generator.* now hold a longer-trained flagship",
        "commit": full, "weights": f"git show {full[:7]}:weights/<file> for the files listed under 'files'",
        "results": f"recorded at {full[:7]} by python experiments/classroom.py evaluate (the same protocol run)",
        "checked": checks, "command": printable(["python", "experiments/classroom.py", "control", "--commit", commit]),
    }
    return atomic_write_json(manifest, control_path("generator", epochs, out))


def centre_check(equal: dict, epochs: int) -> str:
    """The flagship against the Context Encoder on the centre square, both after ``epochs`` epochs on the same
    faces from scratch: the difference and whether the 95% intervals separate them."""
    from facelib.evaluate import compare_sentence

    key = ("center", "25%", "hole_psnr")
    return "- " + compare_sentence("generator", equal[("generator", *key)], "context_encoder",
                                   equal[("context_encoder", *key)], f"centre square, both after {epochs} epochs "
                                   "from scratch on the same 21,708 faces")


def figures(results: Path, folder: Path, names: list[str], cases: str) -> list[Path]:
    """The classroom figures: per-epoch losses (from the manifests), hole PSNR per bin, and sample fills."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from facelib.baselines import OpenCVInpainter
    from facelib.pretrained import load_manifest, load_pretrained
    from facelib.report import inpaint_all, plot_by_bin, plot_loss_curves, read_results, sample_cases
    from facelib.viz import add_caption, save_inpainting_grid

    folder.mkdir(parents=True, exist_ok=True)
    manifests = {n: load_manifest(n) for n in names}
    about = "; ".join(f"{n}: {m['training']['epochs']} epochs ({m['training']['steps']} steps of batch "
                      f"{m['training']['batch_size']}) on {m['training']['device'] or 'CPU'}"
                      for n, m in manifests.items())
    made = [folder / "classroom_loss_curves.png", folder / "classroom_hole_psnr_by_bin.png",
            folder / "classroom_samples.png"]
    fig = plot_loss_curves({n: m["training"]["history"] for n, m in manifests.items()})
    add_caption(fig, f"Per-epoch train and validation (512 fixed UTKFace validation faces) losses of the classroom "
                     f"weights in weights/, 64x64. {about}.")
    fig.savefig(made[0], dpi=120, bbox_inches="tight")
    plt.close(fig)
    fig = plot_by_bin(read_results(results))
    add_caption(fig, f"Hole PSNR per mask bin (mean, 95% bootstrap interval), {repo_relative(UTKFACE_MANIFEST)} at "
                     f"64x64, {cases.split(':')[1].split('(')[0].strip()} cases, fp16 weights. {about}.")
    fig.savefig(made[1], dpi=120, bbox_inches="tight")
    plt.close(fig)
    image, mask = sample_cases(env_dir("FACELIB_UTKFACE"), env_dir("FACELIB_MASKS"), EVAL_SIZE)
    methods = {n: load_pretrained(n) for n in names} | {b.label: OpenCVInpainter(m) for m, b in BASELINES.items()}
    save_inpainting_grid(inpaint_all(methods, image, mask), made[2], n=image.shape[0],
                         title="protocol cases (irregular, centre, free-form) filled by the classroom weights and "
                               "OpenCV; composites keep the known pixels",
                         caption=f"UTKFace validation faces at 64x64. {about}. The Context Encoder only fills "
                                 "its centre square.")
    return made


def centre_section(folder: Path = EQUAL_EPOCHS) -> str:
    """The report's Context Encoder paragraph, from ``python experiments/classroom.py equal-epochs`` when it ran."""
    from facelib.report import read_results

    if not (folder / "results.csv").is_file():
        return "not measured: run `python experiments/classroom.py equal-epochs --epoch K` (K = the generator's epochs)"
    header = [ln[2:] for ln in (folder / "results.md").read_text(encoding="utf-8").splitlines()
              if ln.startswith(("- weights:", "- command:"))]
    epochs = json.loads((folder / "budget.json").read_text(encoding="utf-8"))["epochs"]
    return "\n".join([centre_check(read_results(folder / "results.csv"), epochs), *(f"- {h}" for h in header)])


def control_section(epochs: int = 6) -> str:
    """Every committed classroom model with the budget of the flagship's first ``epochs`` epochs (the control of
    ``control``), group by group: hole-PSNR verdict and KID comparison (``facelib.budget.verdict_lines``)."""
    from facelib.budget import budget_line, load_control, same_budget, verdict_lines
    from facelib.pretrained import available_weights

    reference = load_control("generator", epochs)
    if reference is None:
        return "no control: run python experiments/classroom.py control"
    peers = {n: m for n, m in available_weights().items() if n in WEIGHTS and same_budget(m, reference)}
    lines = [f"- control: {budget_line(reference)} (weights of {reference['control']['commit'][:7]})"]
    for name, manifest in peers.items():
        verdicts = verdict_lines(name, manifest, f"generator ({epochs} epochs)", reference)
        lines += [f"- {budget_line(manifest)}", "", "```", *verdicts, "```", ""]
    return "\n".join(lines) if peers else lines[0] + "\n\nno committed model has this budget yet"


def report(results: Path = RESULTS, figures_dir: Path = REPO_ROOT / "figures") -> Path:
    """Write ``results/summary.md`` and the figures (each model's numbers went into its weights manifest when
    ``evaluate`` ran: ``python -m facelib.evaluate --record``)."""
    from facelib.pretrained import available_weights
    from facelib.report import read_results, results_table

    utk, celeba = read_results(results), read_results(celeba_dir(results))
    header = [line[2:] for line in (results / "results.md").read_text(encoding="utf-8").splitlines()
              if line.startswith(("- data:", "- cases scored", "- evaluation size", "- weights:", "- device:",
                                  "- date:", "- command:", "- added by a later run"))]
    celeba_groups = (("irregular", "all"), ("center", "25%"), ("freeform", "all"))
    text = "\n\n".join([
        "# Classroom models at 64x64: the whole protocol", "\n".join(f"- {h}" for h in header),
        "## Hole PSNR (dB, mean and 95% bootstrap interval)", results_table(utk, "hole_psnr"),
        "## VGG19 perceptual distance (lower is better)", results_table(utk, "perceptual", digits=1),
        "## Realism: KID (lower is better; mean +- std over subsets, n sampled cases)", results_table(utk, "kid", digits=4),
        "## Realism: FID (lower is better; biased upwards at a few hundred samples)", results_table(utk, "fid", digits=1),
        "## Identity: dlib face-descriptor distance of fill and real face (lower is better)",
        results_table(utk, "identity", digits=3) if any(k[3] == "identity" for k in utk) else "not computed",
        "## The flagship against the goals", "\n".join(goal_check(utk)) if ("generator", "center", "25%",
                                                                            "hole_psnr") in utk else "no generator",
        "## The Context Encoder at equal epochs (the 2,000 centre cases)", centre_section(),
        "## At equal budget with the flagship's first 6 epochs (results/controls/generator-6-epochs.json)",
        control_section(),
        "## Cross-dataset: the 56 CelebA-HQ sample faces (hole PSNR)", results_table(celeba, "hole_psnr", celeba_groups),
    ])
    names = [n for n in WEIGHTS if n in available_weights()]
    pictures = figures(results, figures_dir, names, next(h for h in header if h.startswith("cases scored")))
    text += "\n\n" + "\n".join(f"![{p.stem}]({os.path.relpath(p, results)})" for p in pictures)
    path = results / "summary.md"
    path.write_text(text + "\n", encoding="utf-8")
    return path


#: The README section that shows the whole-protocol tables, up to the next section, and the summary.md sections
#: (by their title's first words) whose table it copies, in the README's order.
README_SECTION = ("### Results: the whole protocol at 64x64", "### Earlier: five models at an equal, tiny budget")
README_TABLES = ("Hole PSNR", "VGG19 perceptual", "Realism: KID", "Realism: FID", "Cross-dataset")


def markdown_tables(text: str) -> list[str]:
    """The markdown tables of ``text`` (runs of lines starting with ``|``), in order."""
    tables, current = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append("\n".join(current))
            current = []
    return tables


def readme_tables(summary: Path, readme: Path) -> Path:
    """Copy the tables of ``summary`` (what ``report`` wrote) over the README's tables of the same results, one by
    one and in place: the README's prose around them is kept, its numbers are the report's."""
    sections = {}
    for block in summary.read_text(encoding="utf-8").split("\n## ")[1:]:
        found = markdown_tables(block)
        if found:
            sections[block.splitlines()[0]] = found[0]
    new = []
    for start in README_TABLES:
        match = [table for title, table in sections.items() if title.startswith(start)]
        if len(match) != 1:
            raise ValueError(f"{summary} has {len(match)} sections titled {start!r}...: rerun the report")
        new.append(match[0])
    text = readme.read_text(encoding="utf-8")
    try:
        a, b = text.index(README_SECTION[0]), text.index(README_SECTION[1])
    except ValueError:
        raise ValueError(f"{readme} has no section {README_SECTION[0]!r} followed by {README_SECTION[1]!r}") from None
    section, old = text[a:b], markdown_tables(text[a:b])
    if len(old) != len(new):
        raise ValueError(f"the README's results section holds {len(old)} tables, the report {len(new)}")
    for before, after in zip(old, new):
        section = section.replace(before, after, 1)
    readme.write_text(text[:a] + section + text[b:], encoding="utf-8")
    return readme


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="stage", required=True)
    for stage in ("command", "train"):
        sub.add_parser(stage).add_argument("model", choices=tuple(MODELS))
    ex = sub.add_parser("export")
    ex.add_argument("model", choices=tuple(MODELS))
    ex.add_argument("--epoch", type=int, default=None, help="export checkpoints/epoch_K.pt (default: last.pt)")
    ex.add_argument("--code-commit", required=True, help="the commit the training code ran at")
    ex.add_argument("--device-note", default="2-core AMD EPYC CPU (avx512_bf16, no AMX), 1-2 intra-op threads, "
                                             "bf16 autocast + channels_last")
    ev = sub.add_parser("evaluate")
    ev.add_argument("--models", nargs="+", default=None, help="weights names (default: all classroom weights)")
    ev.add_argument("--per-bin", type=int, default=None, help="first N cases per group only (a preview)")
    ev.add_argument("--add", action="store_true", help="score only --models and add them to the committed tables "
                    "(same cases and settings, checked): a newly trained model in the time of one method")
    eq = sub.add_parser("equal-epochs", help="context_encoder epoch_K.pt vs the committed K-epoch generator, centre")
    eq.add_argument("--epoch", type=int, required=True, help="K: the committed generator's epochs")
    eq.add_argument("--runs", type=Path, default=RUNS, help="folder of the training runs (default: %(default)s)")
    co = sub.add_parser("control", help="keep the flagship of an earlier commit as an equal-budget control")
    co.add_argument("--commit", default=CONTROL_COMMIT, help="the commit whose weights/generator.* it is "
                    "(default: %(default)s, the flagship after 6 epochs)")
    sub.add_parser("pilot", help="print the GAN pilot's commands (one per adversarial weight)")
    sub.add_parser("pilot-evaluate", help="the pilot's arms on a protocol subset, with KID/FID")
    sub.add_parser("pilot-report", help="results/gan-pilot/pilot.md from the pilot's runs")
    for name in ("pilot-evaluate", "pilot-report"):
        sub.choices[name].add_argument("--runs", type=Path, default=PILOT_RUNS, help="the pilot's runs folder")
    rep = sub.add_parser("report")
    rep.add_argument("--figures", type=Path, default=REPO_ROOT / "figures", help="figures folder (default: %(default)s)")
    rep.add_argument("--readme", action="store_true", help="also copy summary.md's tables into README.md's results")
    for p in (ev, rep):
        p.add_argument("--results", type=Path, default=RESULTS, help="results folder (default: %(default)s)")
    ex.add_argument("--runs", type=Path, default=RUNS, help="folder of the training runs (default: %(default)s)")
    ex.add_argument("--init-weights-dir", type=Path, default=None,
                    help="where the weights a run started from are (default: the weights folder)")
    args = parser.parse_args(argv)
    if args.stage == "command":
        print(printable(train_command(args.model)))
    elif args.stage == "train":
        # exec, not a child process: the run is this very process, so a SIGTERM sent to it (or Ctrl-C) reaches the
        # trainer, which saves its checkpoint and stops; a child would train on, orphaned, after its parent died.
        command = train_command(args.model)
        os.chdir(ROOT)
        os.execv(command[0], command)
    elif args.stage == "export":
        try:
            path = export(args.model, args.epoch, args.code_commit, args.device_note, args.runs, args.init_weights_dir)
            print(f"wrote {path}")
        except (FileNotFoundError, ValueError) as err:
            sys.exit(f"error: {err}")
    elif args.stage == "pilot":
        print("\n".join(printable(pilot_command(w)) for w in PILOT_WEIGHTS))
    elif args.stage == "pilot-evaluate":
        print(f"wrote {pilot_evaluate(args.runs)}")
    elif args.stage == "pilot-report":
        print(pilot_report(args.runs).read_text(encoding="utf-8"))
    elif args.stage == "control":
        print(f"wrote {control(args.commit)}")
    elif args.stage == "equal-epochs":
        print(f"wrote {equal_epochs(args.epoch, args.runs)}")
    elif args.stage == "evaluate":
        from facelib.pretrained import available_weights

        if args.add and not args.models:
            sys.exit("evaluate --add: name the new models, e.g. --models gmcnn")
        names = args.models or [n for n in WEIGHTS if n in available_weights()]
        if not names:
            sys.exit("no classroom weights in weights/: export a trained model first (see --help)")
        evaluate(names, args.results, args.per_bin, add=args.add)
    else:
        summary = report(args.results, args.figures)
        print(summary.read_text(encoding="utf-8"))
        if args.readme:
            try:
                print(f"wrote the tables of {readme_tables(summary, REPO_ROOT / 'README.md')}")
            except ValueError as err:
                sys.exit(f"error: {err}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
