"""The fast path of training: mixed precision, memory layout, fused optimiser, compilation, on-device data.

Each switch of ``TrainConfig`` (``amp``, ``channels_last``, ``fused_adam``, ``compile``, ``cuda_graphs``,
``gpu_cache``) is resolved here into a concrete setting for a device, so that ``facelib.train.train`` and
``benchmarks/train_throughput.py`` use exactly the same code:

- ``amp``: autocast dtype. bf16 has fp32's exponent range, so it needs no loss scaling; fp16 needs a
  ``GradScaler``. "auto" = bf16 on CUDA (tensor cores), off on CPU (where it is exact fp32 that is taught).
- ``channels_last``: NHWC layout, the one cuDNN's tensor-core convolutions use natively (no transposes).
- ``fused_adam``: one CUDA kernel updates all parameters instead of a loop of small kernels.
- ``compile``: ``torch.compile`` fuses BatchNorm/ReLU/elementwise ops into the convolutions' neighbours;
  ``cuda_graphs`` replays the whole step's kernel launches as one graph (mode "reduce-overhead").
- ``gpu_cache``: decode the dataset once into a uint8 tensor on the device and draw masks on the device
  (``DeviceMaskBank``), so no CPU decoding, augmentation or host-to-device copy stalls a step.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn
from .progress import tqdm

__all__ = [
    "FastPath",
    "DEVICE_TYPES",
    "resolve_device",
    "resolve_fast_path",
    "DeviceFaceCache",
    "DeviceMaskBank",
]

AMP_CHOICES = ("auto", "bf16", "fp16", "none")
COMPILE_CHOICES = ("none", "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


#: The device types facelib runs on: type -> "is it usable here?" (checked when a device is asked for).
DEVICE_TYPES: dict[str, Callable[[], bool]] = {
    "cpu": lambda: True,
    "cuda": torch.cuda.is_available,
    "mps": lambda: torch.backends.mps.is_available(),
}


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` -> ``cuda`` when available else ``cpu``; anything else must name a device of
    :data:`DEVICE_TYPES` that is usable here (``cuda:N`` with N below the number of GPUs).

    Raises:
        ValueError: one line naming the device, why it cannot be used, and the choices that work here.
    """
    if isinstance(device, str) and device.strip().lower() == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    usable = ["auto", *(t for t, ok in DEVICE_TYPES.items() if ok())]
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        more = " (cuda:1 for a second GPU)" if "cuda" in usable else ""
        raise ValueError(f"device={device!r} is not a device name: use one of {', '.join(usable)}{more}") from None
    if dev.type not in DEVICE_TYPES:
        raise ValueError(f"device={device!r}: facelib runs on {', '.join(DEVICE_TYPES)}; use one of "
                         f"{', '.join(usable)}")
    if not DEVICE_TYPES[dev.type]():
        raise ValueError(f"device={device!r} but {dev.type} is not available here (this PyTorch or machine has no "
                         f"{dev.type} device); use one of {', '.join(usable)}")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ValueError(f"device={device!r} but this machine has {torch.cuda.device_count()} GPU(s) (cuda:0 .. "
                         f"cuda:{torch.cuda.device_count() - 1}); use one of those, or auto")
    return dev


@dataclass(frozen=True)
class FastPath:
    """Concrete fast-path settings for one device (see the module docstring).

    Attributes:
        device: where the step runs.
        amp_dtype: autocast dtype (torch.bfloat16 / torch.float16) or None for plain fp32.
        channels_last: NHWC memory format for models and inputs.
        fused_adam: use ``torch.optim.Adam(fused=True)``.
        compile_mode: ``torch.compile`` mode, or None for eager.
        vgg_target_no_grad: compute the VGG features of the real image once per batch under ``no_grad``
            (False = the naive way: one VGG pass over ``cat([output, real])`` that also back-propagates
            through the real half).
    """

    device: torch.device
    amp_dtype: torch.dtype | None = None
    channels_last: bool = False
    fused_adam: bool = False
    compile_mode: str | None = None
    vgg_target_no_grad: bool = True

    @property
    def needs_grad_scaler(self) -> bool:
        """fp16 gradients underflow without loss scaling; bf16 and fp32 do not need it."""
        return self.amp_dtype == torch.float16

    def autocast(self) -> AbstractContextManager:
        """The autocast context of a forward pass (a no-op when ``amp_dtype`` is None)."""
        if self.amp_dtype is None:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def prepare_module(self, module: nn.Module) -> nn.Module:
        """Move ``module`` to the device (and to NHWC when ``channels_last``); returns it (not compiled)."""
        module = module.to(self.device)
        if self.channels_last:
            module = module.to(memory_format=torch.channels_last)
        return module

    def compile_module(self, module: nn.Module) -> nn.Module | Callable:
        """``torch.compile(module, mode=compile_mode)``, or ``module`` itself in eager mode."""
        if self.compile_mode is None:
            return module
        return torch.compile(module, mode=self.compile_mode)

    def prepare_input(self, x: Tensor) -> Tensor:
        """Move a batch to the device (non-blocking) in the chosen memory format."""
        x = x.to(self.device, non_blocking=True)
        if self.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def adam(self, params, lr: float, betas: Sequence[float]) -> torch.optim.Adam:
        """Adam with the fused CUDA kernel when ``fused_adam`` (falls back to the default otherwise)."""
        kwargs = {"fused": True} if self.fused_adam else {}
        return torch.optim.Adam(params, lr=lr, betas=tuple(betas), **kwargs)


def resolve_fast_path(
    device: str | torch.device = "auto",
    amp: str = "auto",
    channels_last: bool | str = "auto",
    fused_adam: bool | str = "auto",
    compile: bool | str = False,
    cuda_graphs: bool = False,
    vgg_target_no_grad: bool = True,
) -> FastPath:
    """Turn the user-facing switches into a ``FastPath`` for a device.

    "auto" means: on for CUDA, off for CPU (bf16 for ``amp``). ``compile=True`` means mode "default";
    ``cuda_graphs=True`` selects mode "reduce-overhead" (torch.compile's CUDA-graph mode) and implies compile.

    Raises:
        ValueError: an unknown value, naming the parameter and the allowed values.
    """
    dev = device if isinstance(device, torch.device) else resolve_device(device)
    cuda = dev.type == "cuda"
    if amp not in AMP_CHOICES:
        raise ValueError(f"amp={amp!r} is not one of {AMP_CHOICES}")
    amp_dtype = {"auto": torch.bfloat16 if cuda else None, "bf16": torch.bfloat16, "fp16": torch.float16,
                 "none": None}[amp]
    if amp_dtype == torch.float16 and not cuda:
        raise ValueError("amp='fp16' needs CUDA (CPU autocast supports bf16); use amp='bf16' or 'none'")

    def _auto(value: bool | str, name: str) -> bool:
        if value == "auto":
            return cuda
        if isinstance(value, bool):
            return value
        raise ValueError(f"{name}={value!r} must be True, False or 'auto'")

    use_fused = _auto(fused_adam, "fused_adam")
    if compile is True:
        mode: str | None = "default"
    elif compile in (False, None, "none"):
        mode = None
    elif compile in COMPILE_CHOICES:
        mode = str(compile)
    else:
        raise ValueError(f"compile={compile!r} is not one of False, True, {COMPILE_CHOICES}")
    if cuda_graphs:
        if not cuda:
            raise ValueError("cuda_graphs=True needs a CUDA device; set cuda_graphs=False on CPU")
        mode = "reduce-overhead"
    return FastPath(
        device=dev,
        amp_dtype=amp_dtype,
        channels_last=_auto(channels_last, "channels_last"),
        fused_adam=use_fused,
        compile_mode=mode,
        vgg_target_no_grad=vgg_target_no_grad,
    )


class DeviceFaceCache:
    """A whole face dataset decoded once into one uint8 tensor on the device.

    256x256 RGB costs 196 KiB per face in uint8 (4x less than float32): 23,708 UTKFace faces take 4.7 GB,
    which fits an H100 with room to spare. A batch is then an index + a cast, with no CPU work.

    Args:
        faces: a dataset of ``(image (3, H, W) in [-1, 1], gender)`` items (``facelib.data``).
        device: where to keep the tensor.
        progress: show a tqdm bar while decoding.

    Attributes:
        images: (N, 3, H, W) uint8 on ``device``.
    """

    def __init__(self, faces, device: torch.device | str, progress: bool = True) -> None:
        n = len(faces)
        if n == 0:
            raise ValueError("DeviceFaceCache: the dataset is empty")
        first = faces[0][0]
        self.images = torch.empty((n, *first.shape), dtype=torch.uint8, device=device)
        for i in tqdm(range(n), desc="decoding faces to the device", disable=not progress, leave=False):
            img = faces[i][0]
            # [-1, 1] -> [0, 255], rounded: the uint8 copy loses at most half a grey level.
            self.images[i] = ((img.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).to(device)

    def __len__(self) -> int:
        return self.images.shape[0]

    def batch(self, indices: Tensor) -> Tensor:
        """Images ``indices`` (on the device) as float32 (B, 3, H, W) in [-1, 1]."""
        return self.images.index_select(0, indices).float().div_(127.5).sub_(1.0)


class DeviceMaskBank:
    """Masks drawn on the device from a bank pre-generated once by an ordinary mask generator.

    Drawing free-form strokes or loading NVIDIA masks is CPU work; instead ``n`` masks are generated once
    (deterministically from ``seed``) and stored as uint8 on the device, and each batch picks random masks
    and applies a random one of the 8 flips/transposes of the square, so a bank of 2,048 gives 16,384
    distinct masks with the same hole-size distribution, at the cost of an index and a few ``torch.where``.

    Args:
        mask_gen: a ``facelib.masks`` generator, ``gen(rng) -> (1, size, size)``, or a fixed (1, size, size)
            mask tensor (e.g. the Context Encoder's centre mask, used as is).
        n: bank size.
        seed: seed of the NumPy generator that fills the bank.
        device: where to keep the bank.
        augment: apply random flips/transposes (off for a fixed mask).
    """

    def __init__(self, mask_gen, n: int = 2048, seed: int = 0, device: torch.device | str = "cpu",
                 augment: bool = True, progress: bool = True) -> None:
        if isinstance(mask_gen, Tensor):
            bank = mask_gen.reshape(1, 1, *mask_gen.shape[-2:]).to(torch.uint8)
            augment = False
        else:
            rng = np.random.default_rng([seed, 20_480])  # a stream of its own, distinct from the datasets'
            masks = [mask_gen(rng) for _ in tqdm(range(n), desc="mask bank", disable=not progress, leave=False)]
            bank = torch.stack(masks).to(torch.uint8)
        self.bank = bank.to(device)
        self.augment = augment

    def __len__(self) -> int:
        return self.bank.shape[0]

    def sample(self, batch_size: int, generator: torch.Generator) -> Tensor:
        """(B, 1, size, size) float32 masks in {0, 1} on the bank's device; ``generator`` lives there too."""
        dev = self.bank.device
        idx = torch.randint(len(self), (batch_size,), device=dev, generator=generator)
        m = self.bank.index_select(0, idx)
        if self.augment:
            flips = torch.randint(2, (3, batch_size, 1, 1, 1), device=dev, generator=generator).bool()
            m = torch.where(flips[0], m.flip(-1), m)
            m = torch.where(flips[1], m.flip(-2), m)
            m = torch.where(flips[2], m.transpose(-1, -2), m)
        return m.float()
