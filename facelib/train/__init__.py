"""Training of the inpainting generators, one module per concept:

==============  ==========================================================================================
``config``      ``TrainConfig``: the single source of every option (name, default, help, choices); ``PRESETS``
``build``       models, optimisers and the mask generator from a config (models from ``facelib.models.MODELS``)
``sources``     the run's faces (``build_data``); ``LoaderSource`` (DataLoader), ``DeviceSource`` (uint8 device cache)
``loop``        ``Trainer`` and ``train()``, top to bottom: the losses, ``train_step`` (D step, then G step),
                validation, the epochs, the NaN, ``max_steps`` and ``max_minutes`` stops
``history``     the per-epoch rows, ``history.csv`` / ``history.json``, the figures
``state``       checkpoints (format ``facelib.train/1``), exact resume, ``init_from``, ``load_generator``
``run_folder``  the folder lock, fresh start or resume, overwrite, Ctrl-C / SIGTERM saving ``last.pt``
``cli``         ``python -m facelib.train`` (the fast-path switches themselves live in ``facelib.fast``)
==============  ==========================================================================================

Usage::

    python -m facelib.train --model list                       # the models and presets
    python -m facelib.train --model gan --data /path/to/faces --out-dir runs/gan

    from facelib.train import TrainConfig, train
    history = train(TrainConfig.preset("generator", epochs=2, out_dir="runs/g"))["history"]

Outputs in ``out_dir``: ``history.csv`` / ``history.json`` (one row per epoch, rewritten atomically after each
epoch; ``history.json`` ends with the run's ``stopped`` and ``minutes``), ``checkpoints/last.pt`` (atomic; every ``checkpoint_every`` steps and at each epoch end),
``loss_curves.png`` and ``samples.png`` (masked / output / composite / real on fixed validation faces).
"""
from .build import Models, build_discriminator, build_generator, build_masks, build_models, build_mrf, build_vgg
from .cli import add_config_options, build_parser, config_from_args, list_models, main
from .config import MODEL_NAMES, PRESETS, SMALL, Preset, TrainConfig, label
from .loop import NonFiniteLossError, Trainer, train
from .run_folder import RunLock, RunLockedError, TrainingInterrupted
from .sources import DeviceSource, EpochSampler, LoaderSource, epoch_order
from .state import RunState, load_generator

__all__ = [
    "TrainConfig",
    "PRESETS",
    "Preset",
    "label",
    "SMALL",
    "MODEL_NAMES",
    "NonFiniteLossError",
    "TrainingInterrupted",
    "RunLock",
    "RunLockedError",
    "Trainer",
    "Models",
    "RunState",
    "LoaderSource",
    "DeviceSource",
    "EpochSampler",
    "epoch_order",
    "build_generator",
    "build_discriminator",
    "build_vgg",
    "build_mrf",
    "build_masks",
    "build_models",
    "train",
    "load_generator",
    "add_config_options",
    "build_parser",
    "config_from_args",
    "list_models",
    "main",
]
