"""Where training batches come from: the faces of a run (:func:`build_data`), the ordinary ``DataLoader`` path
and the on-device uint8 cache path.

Both yield ``(image (B, 3, H, W) in [-1, 1], mask (B, 1, H, W) in {0, 1})`` per step from
``source.epoch(epoch, start_step)``, in an order that depends only on ``(seed, epoch)``, so a resumed run
continues exactly where it stopped. ``benchmarks/train_throughput.py`` times both through these public names.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Sampler, Subset

from ..data import ImageFolderFaces, InpaintingDataset, UTKFace, resolve_faces
from ..fast import DeviceFaceCache, DeviceMaskBank
from ..masks import MaskGenerator
from .build import build_masks
from .config import TrainConfig
from .identity import check_out_dir_outside_data, data_identity

__all__ = ["BatchSource", "LoaderSource", "DeviceSource", "EpochSampler", "RunData", "build_data", "epoch_order",
           "seed_int"]


class BatchSource(Protocol):
    """What the training loop iterates over."""

    def epoch(self, epoch: int, start_step: int) -> Iterator[tuple[Tensor, Tensor]]:
        """The batches of ``epoch`` from step ``start_step`` on."""
        ...


def seed_int(*keys: int) -> int:
    """A 63-bit seed derived from a tuple of integers (NumPy's SeedSequence mixes them well)."""
    return int(np.random.SeedSequence([int(k) for k in keys]).generate_state(2, np.uint64)[0] >> np.uint64(1))


def epoch_order(n: int, seed: int, epoch: int) -> Tensor:
    """The data order of an epoch: a permutation of ``range(n)`` determined by ``(seed, epoch)``."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed_int(seed, epoch, 1)))


class EpochSampler(Sampler[int]):
    """Shuffled indices whose order depends only on ``(seed, epoch)``, optionally starting at a batch.

    Unlike ``RandomSampler`` it draws nothing from the global RNG, and ``start`` lets a resumed run skip the
    batches already trained on in the interrupted epoch.
    """

    def __init__(self, n: int, seed: int) -> None:
        self.n, self.seed = n, seed
        self.epoch, self.start = 0, 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        self.epoch, self.start = epoch, start

    def __iter__(self) -> Iterator[int]:
        return iter(epoch_order(self.n, self.seed, self.epoch)[self.start:].tolist())

    def __len__(self) -> int:
        return self.n - self.start


class LoaderSource:
    """The ordinary data path: an ``InpaintingDataset`` (CPU decoding and masks) through a ``DataLoader``.

    Args:
        dataset: ``facelib.data.InpaintingDataset`` (items ``{"image", "mask"}``; ``set_epoch`` reseeds masks).
        config: batch size, workers and seed. pin_memory: for a CUDA device.
    """

    def __init__(self, dataset: Dataset, config: TrainConfig, pin_memory: bool) -> None:
        self.dataset = dataset
        self.sampler = EpochSampler(len(dataset), config.seed)  # type: ignore[arg-type]
        self.batch_size = config.batch_size
        # A dedicated generator: the DataLoader then draws its worker base seed from it, not from the global
        # torch RNG, whose state the checkpoints track for the model.
        self.loader = DataLoader(dataset, batch_size=config.batch_size, sampler=self.sampler,
                                 num_workers=config.num_workers, drop_last=True, pin_memory=pin_memory,
                                 generator=torch.Generator().manual_seed(config.seed))

    def epoch(self, epoch: int, start_step: int) -> Iterator[tuple[Tensor, Tensor]]:
        self.dataset.set_epoch(epoch)  # type: ignore[attr-defined]
        self.sampler.set_epoch(epoch, start_step * self.batch_size)
        for batch in self.loader:
            yield batch["image"], batch["mask"]


class DeviceSource:
    """The ``gpu_cache`` data path: uint8 faces and a mask bank on the device; masks of step ``i`` of epoch
    ``e`` come from a device generator seeded with ``(seed, e, i)``, so resuming stays deterministic.

    Args:
        faces: a face dataset (items ``(image, ...)``), decoded once into ``DeviceFaceCache``.
        mask_gen: the hole generator that fills the ``DeviceMaskBank``.
        config: seed, batch size and ``mask_bank_size``. device: where everything lives.
    """

    def __init__(self, faces: Dataset, mask_gen: MaskGenerator, config: TrainConfig, device: torch.device,
                 progress: bool) -> None:
        self.cache = DeviceFaceCache(faces, device, progress=progress)
        self.bank = DeviceMaskBank(mask_gen, n=config.mask_bank_size, seed=config.seed, device=device,
                                   progress=progress)
        self.seed, self.batch_size, self.device = config.seed, config.batch_size, device
        self.gen = torch.Generator(device=device)

    def epoch(self, epoch: int, start_step: int) -> Iterator[tuple[Tensor, Tensor]]:
        order = epoch_order(len(self.cache), self.seed, epoch).to(self.device)
        for i in range(start_step, len(self.cache) // self.batch_size):
            idx = order[i * self.batch_size:(i + 1) * self.batch_size]
            self.gen.manual_seed(seed_int(self.seed, epoch, i, 2))
            yield self.cache.batch(idx), self.bank.sample(self.batch_size, self.gen)


@dataclass
class RunData:
    """The faces of a run and where its batches come from (:func:`build_data`).

    Attributes:
        train_faces, val_faces: the face datasets (after ``max_train_images`` / ``max_val_images``).
        val_set: ``InpaintingDataset`` of the validation faces with fixed masks (epoch 0 of ``seed + 1``).
        source: the training batches (``LoaderSource`` or, with ``gpu_cache``, ``DeviceSource``).
        steps_per_epoch: full batches per epoch. identity: ``facelib.train.identity.data_identity`` of the faces
        before any subset (in every checkpoint). unused_fields: config fields that change nothing with these
        faces (a resume may differ in them).
    """

    train_faces: Dataset
    val_faces: Dataset
    val_set: InpaintingDataset
    source: BatchSource
    steps_per_epoch: int
    identity: dict[str, Any]
    unused_fields: set[str] = field(default_factory=set)


def build_data(config: TrainConfig, device: torch.device, progress: bool, log: Callable[[str], None]) -> RunData:
    """Resolve the run's faces (``facelib.data.resolve_faces``), hold out its validation faces and build the
    batch source. Warnings of the data (synthetic faces, validating on the training images) are shown once each.

    Raises:
        ValueError: fewer training faces than ``batch_size``, or ``out_dir`` inside the data folder.
    """
    c = config
    data_options = {"val_fraction": c.val_fraction, "skip_corrupt": c.skip_corrupt, "utkface_subset": c.utkface_subset}
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
    identity = data_identity(train_faces, val_faces)
    root = getattr(train_faces, "root", None)
    # Fields that change nothing with these data: a resume may differ in them (``Trainer.load_state_dict``).
    unused = set()
    if not (isinstance(train_faces, UTKFace) and train_faces.missing_val > 0):
        unused.add("utkface_subset")
        if not isinstance(train_faces, ImageFolderFaces):
            unused.add("val_fraction")
    if isinstance(train_faces, ImageFolderFaces) and train_faces.files != val_faces.files:
        log(f"{train_faces.root} has no split of its own: validating on {len(val_faces)} of its "
            f"{len(train_faces) + len(val_faces)} images, held out by facelib.data.folder_split "
            f"(val_fraction={c.val_fraction}); they never train")
    if c.max_train_images is not None and c.max_train_images < len(train_faces):
        train_faces = Subset(train_faces, range(c.max_train_images))
    if c.max_val_images is not None and c.max_val_images < len(val_faces):
        val_faces = Subset(val_faces, range(c.max_val_images))
    if len(train_faces) < c.batch_size:
        raise ValueError(f"only {len(train_faces)} training faces for batch_size={c.batch_size}: lower "
                         "batch_size or use more images (max_train_images / n_synthetic)")
    check_out_dir_outside_data(c.out_dir, root)
    mask_gen = build_masks(c)
    source: BatchSource
    if c.gpu_cache:  # fast path: faces decoded once into a uint8 tensor on the device, masks drawn there
        source = DeviceSource(train_faces, mask_gen, c, device, progress)
    else:
        source = LoaderSource(InpaintingDataset(train_faces, mask_gen, seed=c.seed), c,
                              pin_memory=device.type == "cuda")
    # Validation masks are fixed (epoch 0 of their own seed), so val losses compare across epochs.
    val_set = InpaintingDataset(val_faces, mask_gen, seed=c.seed + 1)
    return RunData(train_faces, val_faces, val_set, source, len(train_faces) // c.batch_size, identity, unused)
