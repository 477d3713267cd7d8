"""facelib.train.state: checkpoints written by the single-module train.py (format "facelib.train/1") keep
loading for ``load_generator`` and ``--resume``, and the models' parameter names (state_dict keys) stay put."""
from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch

from facelib.checkpoint import capture_rng_state, load_checkpoint
from facelib.models import (
    ContextEncoder,
    ContextEncoderDiscriminator,
    GatedInpaintingGenerator,
    InpaintingGenerator,
    PatchDiscriminator,
)
from facelib.train import TrainConfig, load_generator, train
from facelib.train.config import LEGACY_DEFAULTS

# The config dict exactly as the single-module train.py wrote it (every field, lists for tuples).
OLD_CONFIG = {
    "data": "synthetic", "image_size": 32, "n_synthetic": 16, "max_train_images": None, "max_val_images": 4,
    "masks": "rectangles", "mask_root": None, "model": "generator", "widths": [8, 16, 32], "num_residual": 1,
    "epochs": 1, "batch_size": 4, "lr": 0.0002, "betas": [0.5, 0.999], "d_lr": None, "max_steps": 2, "seed": 0,
    "pixel_loss": "l1", "pixel_weight": 1.0, "hole_weight": 1.0, "valid_weight": 1.0, "perceptual_weight": 0.0,
    "perceptual_layers": [1, 6, 11, 20, 29], "style_weight": 0.0, "tv_weight": 0.0, "vgg_weights": None,
    "adversarial": "hinge", "adv_weight": 0.01, "spectral_norm": True, "d_base": 8, "device": "cpu",
    "out_dir": "runs/old", "checkpoint_every": 100, "save_epoch_checkpoints": False, "resume": False,
    "overwrite": False, "num_workers": 0, "log_every": 10, "amp": "auto", "channels_last": "auto",
    "fused_adam": "auto", "compile": False, "cuda_graphs": False, "gpu_cache": False, "mask_bank_size": 2048,
    "vgg_target_no_grad": True,
}


def old_checkpoint(out_dir) -> dict:
    """A checkpoint as train.py wrote it after 2 steps of a GAN run, built from the model classes directly."""
    torch.manual_seed(0)
    g = InpaintingGenerator(widths=(8, 16, 32), num_residual=1)
    d = PatchDiscriminator(in_channels=3, base=8, num_layers=3, spectral_norm=True)
    g_opt, d_opt = torch.optim.Adam(g.parameters(), 2e-4, (0.5, 0.999)), torch.optim.Adam(d.parameters(), 2e-4)
    return {
        "format": "facelib.train/1", "config": {**OLD_CONFIG, "out_dir": str(out_dir)},
        "generator": g.state_dict(), "discriminator": d.state_dict(), "g_opt": g_opt.state_dict(),
        "d_opt": d_opt.state_dict(), "scaler": torch.amp.GradScaler("cpu", enabled=False).state_dict(),
        "epoch": 0, "step_in_epoch": 2, "global_step": 2,
        "epoch_sums": {"pixel": torch.tensor(1.5), "total": torch.tensor(1.6), "d_loss": torch.tensor(2.0),
                       "g_adv": torch.tensor(0.1), "d_real_acc": torch.tensor(1.0), "d_fake_acc": torch.tensor(1.0)},
        "epoch_steps": 2, "epoch_time": 0.5, "history": [], "rng": capture_rng_state(),
        "torch_version": torch.__version__,
    }


def test_old_format_checkpoint_loads_and_resumes(tmp_path):
    out = tmp_path / "old"
    (out / "checkpoints").mkdir(parents=True)
    ckpt = old_checkpoint(out)
    torch.save(ckpt, out / "checkpoints" / "last.pt")

    g, config = load_generator(out / "checkpoints" / "last.pt")
    assert isinstance(g, InpaintingGenerator) and not g.training
    assert config.to_dict() == {**ckpt["config"], **LEGACY_DEFAULTS}  # fields added since: "as before"
    assert all(torch.equal(v, ckpt["generator"][k]) for k, v in g.state_dict().items())

    resumed = TrainConfig.from_dict({**ckpt["config"], "resume": True, "max_steps": None})  # to the epoch end
    result = train(resumed, progress=False, figures=False)
    assert result["global_step"] == 4 and result["stopped"] == "epochs"  # 16 faces, batch 4
    assert len(result["history"]) == 1 and result["history"][0]["steps"] == 4  # counts the 2 old steps
    new = load_checkpoint(out / "checkpoints" / "last.pt", map_location="cpu")
    assert set(new) == set(ckpt) | {"data_identity"} and new["format"] == "facelib.train/1"  # the record is new
    assert new["generator"].keys() == ckpt["generator"].keys()


# sha256 of the space-joined state_dict keys, recorded with the single-module train.py's models.
PARAMETER_NAMES = {
    "InpaintingGenerator": (44, "3bb89041325ce8d4"),
    "GatedInpaintingGenerator": (58, "3df372517c6a920f"),
    "ContextEncoder": (29, "8ae018f8c5e2487a"),
    "PatchDiscriminator": (20, "39c61d6146051e7a"),
    "ContextEncoderDiscriminator": (10, "b5050d93734d28ae"),
}


@pytest.mark.parametrize("model", [
    InpaintingGenerator(widths=(8, 16, 32), num_residual=1),
    GatedInpaintingGenerator(widths=(8, 16, 32), num_residual=1),
    ContextEncoder(image_size=32, base=8, bottleneck_channels=64),
    PatchDiscriminator(base=8, spectral_norm=True),
    ContextEncoderDiscriminator(hole_size=16, base=8),
], ids=lambda m: type(m).__name__)
def test_parameter_names_are_unchanged(model):
    keys = list(model.state_dict())
    digest = hashlib.sha256(" ".join(keys).encode()).hexdigest()[:16]
    assert (len(keys), digest) == PARAMETER_NAMES[type(model).__name__], keys


def test_training_holds_out_the_protocols_masks(tmp_path):
    """The NVIDIA masks the committed manifests score on never reach training (by default)."""
    from PIL import Image

    from facelib.protocol import protocol_mask_ids
    from facelib.train.build import build_masks

    held = sorted(protocol_mask_ids())[:3]
    free = sorted(set(range(2000)) - protocol_mask_ids())[:3]
    (tmp_path / "m").mkdir()
    for number in held + free:  # NVIDIA's first bin: a hole of 3 rows of 32 (9.4%)
        Image.fromarray(np.pad(np.full((3, 32), 255, np.uint8), ((0, 29), (0, 0)))).save(tmp_path / "m" /
                                                                                        f"{number:05d}.png")
    config = TrainConfig(data="synthetic", image_size=32, masks="irregular", mask_root=str(tmp_path / "m"))
    assert [int(p.stem) for p in build_masks(config).files] == free
    off = TrainConfig(data="synthetic", image_size=32, masks="irregular", mask_root=str(tmp_path / "m"),
                      holdout_protocol_masks=False)
    assert [int(p.stem) for p in build_masks(off).files] == sorted(held + free)


def test_a_run_from_before_the_holdout_resumes_as_it_trained(tmp_path):
    """A checkpoint's config without ``holdout_protocol_masks`` trained with every mask: it reads as False, and
    resuming it with today's default says so in one line instead of silently changing its masks."""
    from facelib.checkpoint import CheckpointError
    from facelib.train.state import restore

    assert TrainConfig.from_dict({**OLD_CONFIG, "out_dir": str(tmp_path)}).holdout_protocol_masks is False
    ckpt = old_checkpoint(tmp_path)
    today = TrainConfig.from_dict({**OLD_CONFIG, "out_dir": str(tmp_path), "holdout_protocol_masks": True})
    with pytest.raises(CheckpointError, match="holdout_protocol_masks: checkpoint False vs now True"):
        restore(ckpt, today, None, None, torch.device("cpu"))


def test_a_run_from_before_the_safety_fields_resumes_with_todays_defaults(tmp_path):
    """Checkpoints written before val_fraction, utkface_subset, skip_corrupt, resume_from and init_from (e.g. a
    long run in progress) resume with today's defaults where those fields change nothing (data with a split of
    its own); a folder run from before keeps validating on its training images unless told otherwise."""
    from facelib.checkpoint import CheckpointError
    from facelib.train.state import restore

    out = tmp_path / "old"
    (out / "checkpoints").mkdir(parents=True)
    before = {**OLD_CONFIG, "out_dir": str(out), "holdout_protocol_masks": True}  # what the last format wrote
    ckpt = {**old_checkpoint(out), "config": before}
    torch.save(ckpt, out / "checkpoints" / "last.pt")
    assert TrainConfig.from_dict(before).val_fraction == 0.0  # "as before": no hold-out
    today = TrainConfig(**{**before, "resume": True, "max_steps": None})  # val_fraction etc. at their defaults
    assert today.val_fraction == 0.1
    result = train(today, progress=False, figures=False)
    assert result["global_step"] == 4 and result["stopped"] == "epochs"
    # Where val_fraction matters (restore is told which fields change nothing), the difference is one line.
    with pytest.raises(CheckpointError, match="val_fraction: checkpoint 0.0 vs now 0.1"):
        restore(ckpt, today, None, None, torch.device("cpu"))
