"""Where training batches come from: the ordinary ``DataLoader`` path and the on-device uint8 cache path.

Both yield ``(image (B, 3, H, W) in [-1, 1], mask (B, 1, H, W) in {0, 1})`` per step from
``source.epoch(epoch, start_step)``, in an order that depends only on ``(seed, epoch)``, so a resumed run
continues exactly where it stopped. ``benchmarks/train_throughput.py`` times both through these public names.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Sampler

from ..fast import DeviceFaceCache, DeviceMaskBank
from ..masks import MaskGenerator
from .config import TrainConfig

__all__ = ["BatchSource", "LoaderSource", "DeviceSource", "EpochSampler", "epoch_order", "seed_int"]


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
