"""The training loop: ``Trainer`` builds a run from a ``TrainConfig`` and runs epochs, validation and history.

One training step, from data to checkpoint::

    source.epoch(e, start) -> (image, mask)      # sources.py: DataLoader or on-device cache, order from (seed, e)
    step(image, mask) -> losses                  # step.py: D step, then G step (fast path: facelib.fast)
    every checkpoint_every steps / epoch end     # state.py: atomic checkpoints/last.pt
    epoch end: validate -> row -> history.csv    # history.py

Reproducibility: on CPU a run is a deterministic function of its config. The data order of epoch ``e`` is a
permutation drawn from ``(seed, e)``, the mask of item ``i`` from ``(seed, e, i)`` (``InpaintingDataset``),
and a checkpoint stores the step inside the epoch, the running averages and every RNG state.

Safety: a run holds its folder (``state.RunLock``); Ctrl-C (SIGINT) or SIGTERM stops it at the end of the
current step, saves ``last.pt`` there (atomically) and raises :class:`TrainingInterrupted`; a second signal
stops at once without saving. Notices (a fresh start despite ``resume``, ``init_from``) go to stderr, also
without a progress bar.
"""
from __future__ import annotations

import math
import signal
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Subset

from ..progress import tqdm
from ..checkpoint import load_checkpoint
from ..data import ImageFolderFaces, InpaintingDataset, UTKFace, describe_dataset, resolve_faces
from ..fast import resolve_fast_path
from ..models import composite, mask_image
from . import history as H
from .build import build_masks, build_models
from .config import TrainConfig
from .identity import IDENTITY_KEY, check_out_dir_outside_data, compare_identity, data_identity
from .sources import BatchSource, DeviceSource, LoaderSource
from .state import RunLock, RunState, checkpoint_path, init_generator, prepare_out_dir, restore, save_checkpoint
from .step import TrainStep

__all__ = ["NonFiniteLossError", "TrainingInterrupted", "Trainer", "train"]


class NonFiniteLossError(FloatingPointError):
    """A loss became NaN or infinite; training stopped and the last good checkpoint was kept."""


def _notice(text: str) -> None:
    """One line on stderr, past the progress bar (always shown: not only with progress)."""
    tqdm.write(text, file=sys.stderr)


def _describe(ds: Dataset) -> str:
    try:
        return describe_dataset(ds)
    except Exception:  # describe is cosmetic; never fail a run on it
        return f"{type(ds).__name__} ({len(ds)} items)"  # type: ignore[arg-type]


class Trainer:
    """Builds everything a run needs from a ``TrainConfig`` and runs the loop. ``train()`` is the front door.

    Attributes (after construction): config, fast (FastPath), models (``build.Models``: generator,
    discriminator, vgg, g_opt, d_opt, scaler, also reachable as attributes of the trainer), step (TrainStep),
    state (RunState: epoch, step_in_epoch, global_step, history, ...), source, train_faces, val_faces, val_set,
    out_dir.
    """

    def __init__(self, config: TrainConfig, progress: bool = True, build_data: bool = True) -> None:
        self.config, self.progress = config, progress
        self.fast = resolve_fast_path(config.device, config.amp, config.channels_last, config.fused_adam,
                                      config.compile, config.cuda_graphs, config.vgg_target_no_grad)
        self.models = build_models(config, self.fast)
        m = self.models
        self.generator, self.discriminator, self.vgg = m.generator, m.discriminator, m.vgg
        self.g_opt, self.d_opt, self.scaler = m.g_opt, m.d_opt, m.scaler
        self.step = TrainStep(config, self.fast, m.generator, m.discriminator, m.vgg, m.g_opt, m.d_opt, m.scaler,
                              m.mrf)
        self.out_dir = Path(config.out_dir)
        self.state = RunState()
        self.last_good_step: int | None = None
        if build_data:
            self._build_data()

    # Counters of the run (kept as attributes for callers of the single-module version).
    epoch = property(lambda self: self.state.epoch)
    step_in_epoch = property(lambda self: self.state.step_in_epoch)
    global_step = property(lambda self: self.state.global_step)
    history = property(lambda self: self.state.history)

    @property
    def checkpoint_path(self) -> Path:
        return checkpoint_path(self.out_dir)

    # ------------------------------------------------------------------------------------------ data
    def _build_data(self) -> None:
        c = self.config
        data_options = {"val_fraction": c.val_fraction, "skip_corrupt": c.skip_corrupt,
                        "utkface_subset": c.utkface_subset}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            train_faces = resolve_faces(c.data, split="train", size=c.image_size, n_synthetic=c.n_synthetic,
                                        seed=c.seed, **data_options)
            val_faces = resolve_faces(c.data, split="val", size=c.image_size,
                                      n_synthetic=min(c.n_synthetic, c.max_val_images or c.n_synthetic),
                                      seed=c.seed, **data_options)
            files = getattr(train_faces, "files", None)
            if files is not None and files == getattr(val_faces, "files", None):
                warnings.warn(f"validating on the training images: {train_faces.root} has no split of its own and "
                              "val_fraction=0, so the validation losses measure memorisation, not inpainting of "
                              "unseen faces (val_fraction=0.1 holds out a seeded tenth)", stacklevel=2)
        with warnings.catch_warnings():
            warnings.simplefilter("always")  # show the "synthetic faces" warning on every run, each text once
            for w in {str(w.message): w for w in caught}.values():
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        # What the run trains on, before any subset: recorded in every checkpoint and checked on resume.
        self._faces = (train_faces, val_faces)
        self.data_identity = data_identity(train_faces, val_faces)
        # Fields that change nothing with these data: a resume may differ in them (see ``load_state_dict``).
        subset = isinstance(train_faces, UTKFace) and train_faces.missing_val > 0
        self.unused_fields = set()
        if not subset:
            self.unused_fields.add("utkface_subset")
            if not isinstance(train_faces, ImageFolderFaces):
                self.unused_fields.add("val_fraction")
        if isinstance(train_faces, ImageFolderFaces) and train_faces.files != val_faces.files:
            self._log(f"{train_faces.root} has no split of its own: validating on {len(val_faces)} of its "
                      f"{len(train_faces) + len(val_faces)} images, held out by facelib.data.folder_split "
                      f"(val_fraction={c.val_fraction}); they never train")
        if c.max_train_images is not None and c.max_train_images < len(train_faces):
            train_faces = Subset(train_faces, range(c.max_train_images))
        if c.max_val_images is not None and c.max_val_images < len(val_faces):
            val_faces = Subset(val_faces, range(c.max_val_images))
        if len(train_faces) < c.batch_size:
            raise ValueError(f"only {len(train_faces)} training faces for batch_size={c.batch_size}: lower "
                             "batch_size or use more images (max_train_images / n_synthetic)")
        check_out_dir_outside_data(c.out_dir, getattr(self._faces[0], "root", None))
        self.train_faces, self.val_faces = train_faces, val_faces
        self.mask_gen = build_masks(c)
        self.steps_per_epoch = len(train_faces) // c.batch_size
        self.source: BatchSource
        if c.gpu_cache:
            self.source = DeviceSource(train_faces, self.mask_gen, c, self.fast.device, self.progress)
        else:
            self.source = LoaderSource(InpaintingDataset(train_faces, self.mask_gen, seed=c.seed), c,
                                       pin_memory=self.fast.device.type == "cuda")
        # Validation masks are fixed (epoch 0 of their own seed), so val losses compare across epochs.
        self.val_set = InpaintingDataset(val_faces, self.mask_gen, seed=c.seed + 1)

    # ----------------------------------------------------------------------------------- checkpoints
    def save_checkpoint(self, epoch_file: bool = False) -> Path:
        path = save_checkpoint(self.config, self.models, self.state, epoch_file, getattr(self, "data_identity", None))
        self.last_good_step = self.state.global_step
        return path

    def load_state_dict(self, ckpt: dict[str, Any], source: str | Path | None = None) -> None:
        ignore = set(getattr(self, "unused_fields", set()))
        if hasattr(self, "data_identity"):
            # The same faces under another spelling of --data (relative, absolute, moved) may resume; other
            # faces may not. An older checkpoint without the record compares the data string as before.
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                same = compare_identity(ckpt.get(IDENTITY_KEY), self.data_identity, source or self.checkpoint_path)
            for w in caught:
                _notice(f"warning: {w.message}")
            if same:
                ignore.add("data")
        restore(ckpt, self.config, self.models, self.state, self.fast.device, source=source, ignore=ignore)
        self.last_good_step = self.state.global_step
        # A resumed run keeps where its weights came from (init_from applies to a fresh run only).
        saved_init = ckpt["config"].get("init_from")
        if self.config.init_from != saved_init:
            if self.config.init_from is not None:
                _notice(f"init_from={self.config.init_from!r} ignored: a resumed run restores its own weights "
                        f"(this one started from {saved_init!r})")
            # In place: callers may steer the run through this very object (experiments/time_budget.py).
            self.config.init_from = saved_init

    def _start(self) -> None:
        resume_from = prepare_out_dir(self.config)
        if resume_from is not None:
            self.load_state_dict(load_checkpoint(resume_from, map_location=self.fast.device), source=resume_from)
            s = self.state
            self._log(f"resumed {resume_from}: epoch {s.epoch}, step {s.step_in_epoch} of the epoch, global step "
                      f"{s.global_step}")
            return
        if self.config.resume:
            _notice(f"resume=True but {self.checkpoint_path} does not exist and {self.out_dir} holds no run: "
                    "starting a new run")
        if self.config.init_from is not None:
            what = init_generator(self.config, self.generator)
            _notice(f"generator initialised from {what}")

    # ------------------------------------------------------------------------------------------ logging
    def _log(self, text: str) -> None:
        if self.progress:
            tqdm.write(text)

    def _check_finite(self, interval: dict[str, Tensor], first_step: int) -> None:
        values = {k: float(v) for k, v in interval.items()}
        bad = [k for k, v in values.items() if not math.isfinite(v)]
        if bad:
            step = self.state.global_step
            where = f"step {step}" if first_step == step else f"steps {first_step}-{step}"
            kept = (f"the last good checkpoint {self.checkpoint_path} (global step {self.last_good_step}) was "
                    "kept untouched" if self.last_good_step is not None else "no checkpoint was written yet")
            raise NonFiniteLossError(
                f"non-finite loss at {where}: " + ", ".join(f"{k}={values[k]}" for k in bad)
                + f". Training stopped; {kept}. Lower the learning rate (lr={self.config.lr}), the loss weights, "
                "or use amp='none' / 'bf16' instead of fp16"
            )

    # ------------------------------------------------------------------------------------------ the loop
    def validate(self) -> dict[str, float]:
        """Average validation losses over ``val_faces`` with fixed masks (generator in eval mode)."""
        self.generator.eval()
        sums: dict[str, float] = {}
        count = 0
        loader = DataLoader(self.val_set, batch_size=self.config.batch_size, shuffle=False,
                            num_workers=self.config.num_workers)
        try:
            for batch in loader:
                terms, _ = self.step.evaluate(batch["image"], batch["mask"])
                n = batch["image"].shape[0]
                for k, v in terms.items():
                    sums[k] = sums.get(k, 0.0) + float(v) * n
                count += n
        finally:
            self.generator.train()
        return {k: v / count for k, v in sums.items()}

    def _row(self, val: dict[str, float], complete: bool) -> dict[str, Any]:
        s = self.state
        return H.epoch_row(self.config, s.epoch, s.epoch_sums, s.epoch_steps, val, complete, s.global_step,
                           s.epoch_time, adversarial=self.discriminator is not None)

    def run(self, figures: bool = True) -> dict[str, Any]:
        """Train until ``epochs`` (or ``max_steps``); returns ``train()``'s result dict.

        Raises:
            RunLockedError: another run holds ``out_dir``.
            TrainingInterrupted: Ctrl-C / SIGTERM; ``last.pt`` holds the step where it stopped.
        """
        with RunLock(self.out_dir), _StopSignals() as stop:
            return self._run(figures, stop)

    def _interrupted(self, stop: _StopSignals, interval: dict[str, Tensor], interval_start: int) -> TrainingInterrupted:
        """Save ``last.pt`` at the current step (after the NaN check) and describe the stop."""
        if interval:
            self._check_finite(interval, interval_start)
        if self.last_good_step != self.state.global_step:
            self.save_checkpoint()
        return TrainingInterrupted(int(stop.signum), self.state.global_step, self.checkpoint_path)

    def _run(self, figures: bool, stop: _StopSignals) -> dict[str, Any]:
        self._start()
        c, s = self.config, self.state
        self._log(f"training {c.model} on {_describe(self.train_faces)}; masks {c.mask_kind}; device "
                  f"{self.fast.device}, amp {self.fast.amp_dtype}, compile {self.fast.compile_mode}")
        if c.stage2_epoch >= c.epochs and (self.discriminator is not None or self.models.mrf is not None):
            _notice(f"stage2_epoch={c.stage2_epoch} >= epochs={c.epochs}: this run never reaches the second stage "
                    "(its discriminator and ID-MRF loss stay off)")
        stopped = "epochs"
        check_every = 1 if self.fast.device.type == "cpu" else c.log_every
        total_steps = c.epochs * self.steps_per_epoch
        if c.max_steps is not None:
            total_steps = min(total_steps, c.max_steps)
        bar = tqdm(total=total_steps, initial=min(s.global_step, total_steps), desc="training",
                   disable=not self.progress, dynamic_ncols=True)
        header = True
        try:
            while s.epoch < c.epochs:
                if c.max_steps is not None and s.global_step >= c.max_steps:
                    stopped = "max_steps"
                    break
                interval: dict[str, Tensor] = {}
                interval_start = s.global_step + 1
                # The stage follows the epoch (restored by a resume), so a resumed run trains as it would have.
                self.step.second_stage = s.epoch >= c.stage2_epoch
                t0 = time.perf_counter()
                for image, mask in self.source.epoch(s.epoch, s.step_in_epoch):
                    logs = self.step(image, mask)
                    s.global_step += 1
                    s.step_in_epoch += 1
                    s.epoch_steps += 1
                    for k, v in logs.items():
                        s.epoch_sums[k] = s.epoch_sums.get(k, 0) + v.float()
                        interval[k] = interval.get(k, 0) + v.float()
                    bar.update(1)
                    due_ckpt = s.global_step % c.checkpoint_every == 0
                    hit_max = c.max_steps is not None and s.global_step >= c.max_steps
                    if s.global_step % check_every == 0 or due_ckpt or hit_max or \
                            s.step_in_epoch == self.steps_per_epoch:
                        self._check_finite(interval, interval_start)
                        if s.global_step % c.log_every == 0 and self.progress:
                            n = s.global_step - interval_start + 1
                            bar.set_postfix({k: f"{float(v) / n:.4f}" for k, v in interval.items()
                                             if k in ("pixel", "perceptual", "mrf", "d_loss", "g_adv")})
                        interval, interval_start = {}, s.global_step + 1
                    if due_ckpt or hit_max:
                        s.epoch_time += time.perf_counter() - t0
                        t0 = time.perf_counter()
                        self.save_checkpoint()
                    if hit_max:
                        break
                    if stop.signum is not None:
                        raise self._interrupted(stop, interval, interval_start)
                s.epoch_time += time.perf_counter() - t0
                complete = s.step_in_epoch >= self.steps_per_epoch
                row = self._row(self.validate(), complete)
                H.print_row(row, header, self._log)
                header = False
                if complete:
                    s.next_epoch(row)
                    self.save_checkpoint(epoch_file=c.save_epoch_checkpoints)
                    H.write_history(c, s.history)
                    if stop.signum is not None and s.epoch < c.epochs:
                        raise self._interrupted(stop, {}, s.global_step + 1)
                else:  # stopped by max_steps inside the epoch: show the partial row, resume continues it
                    H.write_history(c, s.history + [row])
                    stopped = "max_steps"
                    break
        finally:
            bar.close()
        rows = s.history if stopped == "epochs" else H.read_history(self.out_dir, s.history)
        return {
            "history": rows,
            "out_dir": str(self.out_dir),
            "checkpoint": str(self.checkpoint_path),
            "global_step": s.global_step,
            "stopped": stopped,
            "config": c.to_dict(),
            "figures": self._figures(rows) if figures else {},
        }

    # ------------------------------------------------------------------------------------------ figures
    def _figures(self, rows: list[dict[str, Any]]) -> dict[str, str]:
        out: dict[str, str] = {}
        if rows:
            out["loss_curves"] = str(H.save_loss_curves(rows, self.out_dir / "loss_curves.png",
                                                        title=f"{self.config.model}: {_describe(self.train_faces)}"))
        out["samples"] = str(self._samples(self.out_dir / "samples.png"))
        return out

    def _samples(self, path: Path, n: int = 8) -> Path:
        n = min(n, len(self.val_set))
        batch = [self.val_set[i] for i in range(n)]
        image = torch.stack([b["image"] for b in batch])
        mask = torch.stack([b["mask"] for b in batch])
        self.generator.eval()
        try:
            _, output = self.step.evaluate(image, mask)
        finally:
            self.generator.train()
        output = output.cpu().contiguous()
        rows = {"masked": mask_image(image, mask), "output": output, "composite": composite(output, image, mask),
                "real": image}
        return H.save_samples(rows, path, title=f"{self.config.model}, global step {self.state.global_step}: "
                                                f"fixed validation faces ({_describe(self.val_faces)})")


def train(config: TrainConfig, progress: bool = True, figures: bool = True) -> dict[str, Any]:
    """Train a generator as configured.

    Args:
        config: the run (see ``TrainConfig``); ``config.resume`` continues ``out_dir/checkpoints/last.pt``.
        progress: show the tqdm bar and print the per-epoch table.
        figures: write ``loss_curves.png`` and ``samples.png`` at the end.

    Returns:
        ``dict(history=[row per epoch], out_dir, checkpoint, global_step, stopped="epochs"|"max_steps", config,
        figures={"loss_curves": path, "samples": path})``; the rows are described in ``facelib.train.history``.

    Raises:
        FileExistsError: ``out_dir`` holds a run and neither ``resume`` nor ``overwrite`` is set.
        CheckpointError: resuming with a different configuration.
        NonFiniteLossError: a loss became NaN/inf (the last good checkpoint is kept).
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"train() expects a TrainConfig, got {type(config).__name__}")
    return Trainer(config, progress=progress).run(figures=figures)
