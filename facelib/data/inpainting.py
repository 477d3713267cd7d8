"""The wrapper that pairs every face with a deterministic hole mask (seeded by item and epoch)."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

__all__ = ["InpaintingDataset"]


class InpaintingDataset(Dataset):
    """Pairs every face with a hole mask.

    Args:
        faces: a dataset of ``(image (3, H, W) in [-1, 1], gender)``.
        masks: a mask generator ``gen(rng: numpy.random.Generator) -> Tensor (1, H, W)`` with values {0, 1},
            1 = hole (see facelib.masks).
        seed: the mask of item ``i`` in epoch ``e`` comes from ``numpy.random.default_rng([seed, e, i])``, so it
            is the same in every run, in every DataLoader worker and in any order; ``set_epoch`` changes it.

    Items: ``dict(image=(3, H, W) float32 in [-1, 1], mask=(1, H, W) float32 in {0, 1}, gender=int, index=int)``.
    """

    def __init__(self, faces: Dataset, masks: Callable[[np.random.Generator], Tensor], seed: int = 0) -> None:
        if not callable(masks):
            raise TypeError(f"masks must be a callable gen(rng) -> Tensor (1, H, W), got {type(masks).__name__}")
        if seed < 0:
            raise ValueError(f"seed must be >= 0 (numpy seed sequence), got {seed}")
        self.faces, self.masks, self.seed = faces, masks, seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Draw a different (still deterministic) set of masks for ``epoch``."""
        if epoch < 0:
            raise ValueError(f"epoch must be >= 0, got {epoch}")
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.faces)  # type: ignore[arg-type]

    def mask_for(self, index: int) -> Tensor:
        """The mask ``(1, H, W)`` float32 of item ``index`` in the current epoch."""
        rng = np.random.default_rng([self.seed, self.epoch, index])
        return torch.as_tensor(self.masks(rng), dtype=torch.float32)

    def __getitem__(self, index: int) -> dict[str, Tensor | int]:
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"index {index} out of range for InpaintingDataset with {n} items")
        index %= n
        image, gender = self.faces[index]
        mask = self.mask_for(index)
        expected = (1, *image.shape[-2:])
        if tuple(mask.shape) != expected:
            raise ValueError(
                f"mask generator {type(self.masks).__name__} gave a mask of shape {tuple(mask.shape)} but the face "
                f"images are {tuple(image.shape)}: expected {expected}. Build the masks with the image size "
                f"(e.g. make_masks(name, size={image.shape[-1]}))"
            )
        return {"image": image, "mask": mask, "gender": int(gender), "index": index}
