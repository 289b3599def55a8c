"""Where and how a run computes: the device, mixed precision, the seed."""
from __future__ import annotations

import contextlib

import torch

from ..config import TrainConfig
from ..errors import AAMInputError
from ..spelling import spelled
from ..threads import set_torch_threads


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise AAMInputError(f"{spelled('device', 'cuda')} was asked for, but no CUDA "
                            "GPU is visible on this machine (or this torch has no CUDA "
                            f"support); use {spelled('device', 'auto')} or "
                            f"{spelled('device', 'cpu')}.")
    return torch.device(device)


def autocast(device: torch.device, precision: str = "auto"):
    """bf16 (default) or fp16 autocast on CUDA; full precision on CPU
    (reproducible there) or when precision='fp32'."""
    if device.type == "cuda" and precision in ("auto", "bf16", "fp16"):
        dtype = torch.float16 if precision == "fp16" else torch.bfloat16
        return torch.autocast("cuda", dtype=dtype)
    return contextlib.nullcontext()


def seed_everything(train: TrainConfig) -> None:
    torch.manual_seed(train.random_state)
    set_torch_threads(train.n_threads)
