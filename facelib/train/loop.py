"""The training step and the training loop, top to bottom: ``Trainer`` and ``train()``.

Read it in this order; notebook 06 writes sections 1-2 by hand (07 adds the discriminator), under the same names:

1. ``Trainer.reconstruction_losses(image, mask, views, vgg)``: the pixel, perceptual, style and TV terms.
2. ``Trainer.train_step(image, mask)``: the discriminator step on the detached fake, then the generator step.
3. ``Trainer.validate()``: the same losses on fixed validation faces and masks, no gradient.
4. ``Trainer.run()``: epochs of steps, checkpoints, the NaN stop, the ``max_steps`` and ``max_minutes`` stops.

One training step, from data to checkpoint::

    source.epoch(e, start) -> (image, mask)      # sources.py: DataLoader or on-device cache, order from (seed, e)
    train_step(image, mask) -> losses            # below: D step, then G step
    every checkpoint_every steps / epoch end     # state.py: atomic checkpoints/last.pt
    epoch end: validate -> row -> history.csv    # history.py

The model says what its losses compare (``InpaintingModel.views``: the full image for our generators, the
centre square for the Context Encoder), so the step has no branch on the model. The GPU fast path
(``facelib.fast.FastPath``: autocast, channels_last, torch.compile, CUDA graphs, the on-device data cache)
changes speed, not what is computed; every place it enters is marked ``# fast path:``.

Reproducibility: on CPU a run is a deterministic function of its config. The data order of epoch ``e`` is a
permutation drawn from ``(seed, e)``, the mask of item ``i`` from ``(seed, e, i)`` (``InpaintingDataset``),
and a checkpoint stores the step inside the epoch, the running averages and every RNG state. Safety (the
folder lock, Ctrl-C / SIGTERM saving ``last.pt``, no overwrite by accident) is ``run_folder.py``.
"""
from __future__ import annotations

import math
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import DataLoader

from ..checkpoint import load_checkpoint
from ..fast import resolve_fast_path
from ..losses import (ADVERSARIAL_LOSSES, discriminator_loss, generator_adversarial_loss, masked_pixel_loss,
                      style_loss, total_variation_loss, weighted_pixel_loss)
from ..models import InpaintingViews, mask_image
from ..paths import last_checkpoint
from ..progress import tqdm
from ..vgg import feature_distance
from . import history as H
from . import sources
from .build import build_models
from .config import TrainConfig
from .identity import IDENTITY_KEY, compare_identity
from .run_folder import RunLock, StopSignals, TrainingInterrupted, prepare_out_dir
from .state import RunState, init_generator, restore, save_checkpoint

__all__ = ["NonFiniteLossError", "Trainer", "train"]


class NonFiniteLossError(FloatingPointError):
    """A loss became NaN or infinite; training stopped and the last good checkpoint was kept."""


def _notice(text: str) -> None:
    """One line on stderr, past the progress bar (always shown: not only with progress)."""
    tqdm.write(text, file=sys.stderr)


class Trainer:
    """A run built from a ``TrainConfig``: its models, losses, step, data and loop. ``train()`` is the front door.

    Attributes (after construction): config, fast (``facelib.fast.FastPath``), models (``build.Models``; its
    generator, discriminator (or None), vgg (or None), mrf (or None), g_opt, d_opt (or None) and scaler also as
    attributes of the trainer), state (``RunState``: epoch, step_in_epoch, global_step, history, ...), data
    (``sources.RunData``: train_faces, val_faces, val_set, source, steps_per_epoch; None with
    ``build_data=False``, e.g. the benchmarks, which call ``train_step`` on their own batches), out_dir,
    second_stage (whether the discriminator and ID-MRF terms are on; ``run`` sets it per epoch from
    ``config.stage2_epoch``: GMCNN first trains on reconstruction alone).
    """

    def __init__(self, config: TrainConfig, progress: bool = True, build_data: bool = True) -> None:
        self.started = time.monotonic()  # the time budget (config.max_minutes) counts from here
        self.config, self.progress = config, progress
        self.fast = resolve_fast_path(config.device, config.amp, config.channels_last, config.fused_adam,
                                      config.compile, config.cuda_graphs, config.vgg_target_no_grad)
        self.models = m = build_models(config, self.fast)  # fast path: channels_last modules, fused Adam
        self.generator, self.discriminator, self.vgg, self.mrf = m.generator, m.discriminator, m.vgg, m.mrf
        self.g_opt, self.d_opt, self.scaler = m.g_opt, m.d_opt, m.scaler
        # fast path: torch.compile wraps each forward (without compile, compile_module returns the module).
        self._g_eager = m.generator.predictor()  # type: ignore[operator]
        self._g_fwd = self.fast.compile_module(self._g_eager)
        self._d_fwd = self.fast.compile_module(m.discriminator) if m.discriminator is not None else None
        self._vgg_fwd = self.fast.compile_module(m.vgg) if m.vgg is not None else None
        self._mrf_fwd = self.fast.compile_module(m.mrf) if m.mrf is not None else None
        self._d_threshold = ADVERSARIAL_LOSSES[config.adversarial].threshold if m.discriminator is not None else 0.0
        self.second_stage = True
        self.out_dir = Path(config.out_dir)
        self.state = RunState()
        self.last_good_step: int | None = None
        self.data = sources.build_data(config, self.fast.device, progress, self._log) if build_data else None

    @property
    def checkpoint_path(self) -> Path:
        return last_checkpoint(self.out_dir)

    # --------------------------------------------------------------------------------- 1. the losses
    def _forward(self, image: Tensor, mask: Tensor, g_fwd: Callable) -> InpaintingViews:
        """Generator forward and the model's views of it (output, composite, pixel pair, D's fake and real)."""
        masked = mask_image(image, mask)
        return self.generator.views(g_fwd(masked, mask), image, mask, masked)  # type: ignore[operator]

    def reconstruction_losses(self, image: Tensor, mask: Tensor, views: InpaintingViews,
                              vgg: Callable | None) -> dict[str, Tensor]:
        """The reconstruction terms of ``views`` against the real ``image``: ``pixel``, and with a ``vgg``
        ``perceptual`` (and ``style``), and ``tv``. Notebook 06's function of this name with ``views.output``
        as its ``output``; ``vgg`` is the compiled or the eager VGG19 (None when the perceptual loss is off).

        image (N, 3, H, W) in [-1, 1], mask (N, 1, H, W) in {0, 1}; returns scalar tensors (unweighted).
        """
        c = self.config
        terms: dict[str, Tensor] = {}
        pred, target = views.pixel_pred.float(), views.pixel_target.float()
        if views.pixel_weights is None:
            terms["pixel"] = masked_pixel_loss(pred, target, mask, kind=c.pixel_loss, hole_weight=c.hole_weight,
                                               valid_weight=c.valid_weight)
        else:  # the model weights its own pixels (the Context Encoder's overlap band, GMCNN's confidence)
            terms["pixel"] = weighted_pixel_loss(pred, target, views.pixel_weights, kind=c.pixel_loss)
        if vgg is not None:
            out = views.output
            if self.fast.vgg_target_no_grad:  # fast path (on by default): the real image's features once
                # The real image's features are constants of the loss: one pass, no graph, no backward.
                with torch.no_grad():
                    feats_real = vgg(image)
                feats_out = vgg(out)
            else:  # the benchmark's naive baseline: one pass over both halves, backward through the real one too
                feats = vgg(torch.cat([out, image], dim=0))
                n = out.shape[0]
                feats_out, feats_real = [f[:n] for f in feats], [f[n:] for f in feats]
            terms["perceptual"] = feature_distance(feats_out, feats_real)
            if c.style_weight > 0:
                terms["style"] = style_loss(feats_out, feats_real)
        if c.tv_weight > 0:
            terms["tv"] = total_variation_loss(views.composite.float(), mask)
        return terms

    def weighted_total(self, terms: dict[str, Tensor]) -> Tensor:
        """The generator's loss: each term times its weight in the config."""
        c = self.config
        weights = {"pixel": c.pixel_weight, "perceptual": c.perceptual_weight, "style": c.style_weight,
                   "tv": c.tv_weight, "g_adv": c.adv_weight, "mrf": c.mrf_weight}
        return sum(weights[k] * v for k, v in terms.items() if k in weights)  # type: ignore[return-value]

    # ------------------------------------------------------------------------------- 2. one step
    def train_step(self, image: Tensor, mask: Tensor) -> dict[str, Tensor]:
        """One optimisation step: the discriminator (when there is one and the second stage is on), then the
        generator. Notebook 06 writes the generator half by hand under this name, notebook 07 the D half.

        image (N, 3, H, W) in [-1, 1] and mask (N, 1, H, W) in {0, 1}, on the device. Returns detached scalar
        losses, still on the device (no host synchronisation): ``pixel``, ``perceptual``, ``style``, ``tv``,
        ``total``; with ID-MRF ``mrf``; with a discriminator ``d_loss``, ``g_adv``, ``d_real_acc``, ``d_fake_acc``.
        """
        c, fast = self.config, self.fast
        if fast.compile_mode == "reduce-overhead":  # fast path: CUDA graphs need the step's start marked
            torch.compiler.cudagraph_mark_step_begin()
        image, mask = fast.prepare_input(image), fast.prepare_input(mask)  # fast path: device, channels_last
        logs: dict[str, Tensor] = {}
        d_fwd = self._d_fwd if self.second_stage else None
        mrf_fwd = self._mrf_fwd if self.second_stage else None
        with fast.autocast():  # fast path: bf16 / fp16 autocast (a no-op in fp32)
            views = self._forward(image, mask, self._g_fwd)

        if d_fwd is not None:
            # 1. Discriminator step on the detached fake: no gradient reaches the generator.
            with fast.autocast():
                real_logits = d_fwd(views.real)
                fake_logits = d_fwd(views.fake.detach())
                d_loss = discriminator_loss(real_logits.float(), fake_logits.float(), kind=c.adversarial)
            self.d_opt.zero_grad(set_to_none=True)  # type: ignore[union-attr]
            # fast path: the scaler multiplies the loss for fp16 only; otherwise it is the plain backward/step
            self.scaler.scale(d_loss).backward()
            self.scaler.step(self.d_opt)
            logs["d_loss"] = d_loss.detach()
            logs["d_real_acc"] = (real_logits.detach().float() > self._d_threshold).float().mean()
            logs["d_fake_acc"] = (fake_logits.detach().float() < self._d_threshold).float().mean()

        # 2. Generator step: reconstruction losses, plus the updated discriminator's judgement of the fake.
        with fast.autocast():
            terms = self.reconstruction_losses(image, mask, views, self._vgg_fwd)
            if mrf_fwd is not None:
                # On the composite: the known pixels are the real ones, so the hole's patches are what it judges.
                terms["mrf"] = mrf_fwd(views.composite, image)
            if d_fwd is not None:
                # The discriminator's own parameters also receive gradients here, which its next zero_grad
                # discards (cheaper than toggling requires_grad, which recompiles).
                terms["g_adv"] = generator_adversarial_loss(d_fwd(views.fake).float(), kind=c.adversarial)
            total = self.weighted_total(terms)
        self.g_opt.zero_grad(set_to_none=True)
        self.scaler.scale(total).backward()
        self.scaler.step(self.g_opt)
        self.scaler.update()
        logs.update({k: v.detach() for k, v in terms.items()})
        logs["total"] = total.detach()
        return logs

    # --------------------------------------------------------------------------------- 3. validation
    @torch.no_grad()
    def evaluate(self, image: Tensor, mask: Tensor) -> tuple[dict[str, Tensor], Tensor]:
        """Validation losses (no adversarial term) and the output (N, 3, H, W) in [-1, 1], with the eager
        (uncompiled) modules; call it with the generator in eval mode (``validate`` does)."""
        image, mask = self.fast.prepare_input(image), self.fast.prepare_input(mask)
        with self.fast.autocast():
            views = self._forward(image, mask, self._g_eager)
            terms = self.reconstruction_losses(image, mask, views, self.vgg)
        return {k: v.float() for k, v in terms.items()}, views.output.float()

    def validate(self) -> dict[str, float]:
        """Average validation losses over ``data.val_set`` (fixed masks), generator in eval mode."""
        self.generator.eval()
        sums: dict[str, float] = {}
        count = 0
        try:
            for batch in DataLoader(self.data.val_set, batch_size=self.config.batch_size,  # type: ignore[union-attr]
                                    num_workers=self.config.num_workers):
                terms, _ = self.evaluate(batch["image"], batch["mask"])
                n = batch["image"].shape[0]
                for k, v in terms.items():
                    sums[k] = sums.get(k, 0.0) + float(v) * n
                count += n
        finally:
            self.generator.train()
        return {k: v / count for k, v in sums.items()}

    # ------------------------------------------------------------------------------------- 4. the loop
    def run(self, figures: bool = True) -> dict[str, Any]:
        """Train until ``epochs``, ``max_steps`` or ``max_minutes``; returns ``train()``'s result dict.

        Raises:
            RunLockedError: another run holds ``out_dir``.
            TrainingInterrupted: Ctrl-C / SIGTERM; ``last.pt`` holds the step where it stopped.
        """
        with RunLock(self.out_dir), StopSignals() as stop:
            return self._run(figures, stop)

    def out_of_time(self) -> bool:
        """Whether the run has used up ``config.max_minutes`` of wall-clock time (never without a budget)."""
        budget = self.config.max_minutes
        return budget is not None and time.monotonic() - self.started > 60.0 * budget

    def _run(self, figures: bool, stop: StopSignals) -> dict[str, Any]:
        self._start()
        c, s, data = self.config, self.state, self.data
        assert data is not None, "Trainer(build_data=False) has no data to run on"
        self._log(f"training {c.model} on {H.describe(data.train_faces)}; masks {c.mask_kind}; device "
                  f"{self.fast.device}, amp {self.fast.amp_dtype}, compile {self.fast.compile_mode}")
        if c.stage2_epoch >= c.epochs and (self.discriminator is not None or self.mrf is not None):
            _notice(f"stage2_epoch={c.stage2_epoch} >= epochs={c.epochs}: this run never reaches the second stage "
                    "(its discriminator and ID-MRF loss stay off)")
        stopped, first_step = "epochs", s.global_step
        # fast path: on CUDA, reading a loss value waits for the GPU, so NaN checks come every log_every steps.
        check_every = 1 if self.fast.device.type == "cpu" else c.log_every
        total_steps = min(c.epochs * data.steps_per_epoch, c.max_steps or math.inf)
        bar = tqdm(total=total_steps, initial=min(s.global_step, total_steps), desc="training",
                   disable=not self.progress, dynamic_ncols=True)
        header = True
        try:
            while s.epoch < c.epochs:
                if c.max_steps is not None and s.global_step >= c.max_steps:
                    stopped = "max_steps"
                    break
                if s.global_step > first_step and self.out_of_time():  # ran out during validation
                    stopped = "time budget"
                    break
                interval: dict[str, Tensor] = {}
                interval_start, reason = s.global_step + 1, None
                # The stage follows the epoch (restored by a resume), so a resumed run trains as it would have.
                self.second_stage = s.epoch >= c.stage2_epoch
                t0 = time.perf_counter()
                for image, mask in data.source.epoch(s.epoch, s.step_in_epoch):
                    logs = self.train_step(image, mask)
                    s.global_step += 1
                    s.step_in_epoch += 1
                    s.epoch_steps += 1
                    for k, v in logs.items():
                        s.epoch_sums[k] = s.epoch_sums.get(k, 0) + v.float()
                        interval[k] = interval.get(k, 0) + v.float()
                    bar.update(1)
                    # Where to stop: the step count, then the clock (checked after a step, so a run always
                    # makes progress, and a chain of resumes with a small budget still ends).
                    if c.max_steps is not None and s.global_step >= c.max_steps:
                        reason = "max_steps"
                    elif self.out_of_time():
                        reason = "time budget"
                    due_ckpt = s.global_step % c.checkpoint_every == 0
                    if s.global_step % check_every == 0 or due_ckpt or reason or \
                            s.step_in_epoch == data.steps_per_epoch:
                        self._check_finite(interval, interval_start)
                        if s.global_step % c.log_every == 0 and self.progress:
                            n = s.global_step - interval_start + 1
                            bar.set_postfix({k: f"{float(v) / n:.4f}" for k, v in interval.items()
                                             if k in ("pixel", "perceptual", "mrf", "d_loss", "g_adv")})
                        interval, interval_start = {}, s.global_step + 1
                    if due_ckpt or reason:
                        s.epoch_time += time.perf_counter() - t0
                        t0 = time.perf_counter()
                        self.save_checkpoint()
                    if reason:
                        break
                    if stop.signum is not None:
                        raise self._interrupted(stop, interval, interval_start)
                s.epoch_time += time.perf_counter() - t0
                complete = s.step_in_epoch >= data.steps_per_epoch
                row = H.epoch_row(c, s.epoch, s.epoch_sums, s.epoch_steps, self.validate(), complete,
                                  s.global_step, s.epoch_time, adversarial=self.discriminator is not None)
                H.print_row(row, header, self._log)
                header = False
                if complete:
                    s.next_epoch(row)
                    self.save_checkpoint(epoch_file=c.save_epoch_checkpoints)
                    H.write_history(c, s.history)
                    if stop.signum is not None and s.epoch < c.epochs:
                        raise self._interrupted(stop, {}, s.global_step + 1)
                else:  # stopped inside the epoch: show the partial row, a resume continues it
                    H.write_history(c, s.history + [row])
                if reason and (not complete or s.epoch < c.epochs):  # at the last epoch's end: all epochs done
                    stopped = reason
                    break
        finally:
            bar.close()
        rows = s.history if stopped == "epochs" else H.read_history(self.out_dir, s.history)
        minutes = round((time.monotonic() - self.started) / 60.0, 4)
        H.write_history(c, rows, stopped=stopped, minutes=minutes)
        if stopped == "time budget":
            _notice(f"time budget of {c.max_minutes} minutes used ({minutes} min): stopped at global step "
                    f"{s.global_step}; {self.checkpoint_path} holds it, continue with resume=True (--resume)")
        return {"history": rows, "out_dir": str(self.out_dir), "checkpoint": str(self.checkpoint_path),
                "global_step": s.global_step, "stopped": stopped, "minutes": minutes, "config": c.to_dict(),
                "figures": self._figures(rows) if figures else {}}

    def _interrupted(self, stop: StopSignals, interval: dict[str, Tensor], interval_start: int) -> TrainingInterrupted:
        """Save ``last.pt`` at the current step (after the NaN check) and describe the stop."""
        if interval:
            self._check_finite(interval, interval_start)
        if self.last_good_step != self.state.global_step:
            self.save_checkpoint()
        return TrainingInterrupted(int(stop.signum), self.state.global_step, self.checkpoint_path)  # type: ignore

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

    def _log(self, text: str) -> None:
        if self.progress:
            tqdm.write(text)

    # ------------------------------------------------------------------------------ checkpoints
    def save_checkpoint(self, epoch_file: bool = False) -> Path:
        identity = self.data.identity if self.data is not None else None
        path = save_checkpoint(self.config, self.models, self.state, epoch_file, identity)
        self.last_good_step = self.state.global_step
        return path

    def load_state_dict(self, ckpt: dict[str, Any], source: str | Path | None = None) -> None:
        ignore = set(self.data.unused_fields) if self.data is not None else set()
        if self.data is not None:
            # The same faces under another spelling of --data (relative, absolute, moved) may resume; other
            # faces may not. An older checkpoint without the record compares the data string as before.
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                same = compare_identity(ckpt.get(IDENTITY_KEY), self.data.identity, source or self.checkpoint_path)
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
            self.config.init_from = saved_init  # in place: the caller's config then describes the run

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
            _notice(f"generator initialised from {init_generator(self.config, self.generator)}")

    # ------------------------------------------------------------------------------------ figures
    def _figures(self, rows: list[dict[str, Any]]) -> dict[str, str]:
        data, out = self.data, {}
        assert data is not None
        if rows:
            out["loss_curves"] = str(H.save_loss_curves(rows, self.out_dir / "loss_curves.png",
                                                        title=f"{self.config.model}: {H.describe(data.train_faces)}"))
        batch = [data.val_set[i] for i in range(min(8, len(data.val_set)))]
        image, mask = torch.stack([b["image"] for b in batch]), torch.stack([b["mask"] for b in batch])
        self.generator.eval()
        try:
            output = self.evaluate(image, mask)[1].cpu().contiguous()
        finally:
            self.generator.train()
        out["samples"] = str(H.save_samples(image, mask, output, self.out_dir / "samples.png",
                                            title=f"{self.config.model}, global step {self.state.global_step}: "
                                                  f"fixed validation faces ({H.describe(data.val_faces)})"))
        return out


def train(config: TrainConfig, progress: bool = True, figures: bool = True) -> dict[str, Any]:
    """Train a generator as configured.

    Args:
        config: the run (see ``TrainConfig``); ``config.resume`` continues ``out_dir/checkpoints/last.pt``.
        progress: show the tqdm bar and print the per-epoch table.
        figures: write ``loss_curves.png`` and ``samples.png`` at the end.

    Returns:
        ``dict(history=[row per epoch], out_dir, checkpoint, global_step, stopped="epochs"|"max_steps"|
        "time budget", minutes (wall clock of this call), config, figures={"loss_curves": path, "samples": path})``;
        the rows are described in ``facelib.train.history``; ``history.json`` records ``stopped`` and
        ``minutes`` too.

    Raises:
        FileExistsError: ``out_dir`` holds a run and neither ``resume`` nor ``overwrite`` is set.
        CheckpointError: resuming with a different configuration.
        NonFiniteLossError: a loss became NaN/inf (the last good checkpoint is kept).
        TrainingInterrupted: Ctrl-C / SIGTERM (``last.pt`` saved at that step).
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"train() expects a TrainConfig, got {type(config).__name__}")
    return Trainer(config, progress=progress).run(figures=figures)
