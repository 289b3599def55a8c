"""A memory-aware batch cap on CUDA (fixed batch size on CPU).

The asked-for batch size is what one optimizer step sees. On a GPU, one
trial step on the samples with the most ASVs measures the peak memory; when
that batch does not fit in the free memory, it is split into micro-batches
that do, and gradients are accumulated over them (so the optimizer still
sees about the same number of samples per step). The UniFrac pair loss then
covers the pairs within each micro-batch only.
"""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import torch

from .device import autocast

HEADROOM = 0.8  # share of the free memory a training step may use


def fit_batch_to_memory(model, data, objective, train, device: torch.device,
                        log=None):
    """`train`, with batch_size and accumulation_steps adjusted to memory."""
    if device.type != "cuda" or not train.auto_batch_size:
        return train
    wanted = min(train.batch_size, len(data.train_rows))
    sizes = np.diff(data.builder.counts.indptr)[data.train_rows]
    heaviest = data.train_rows[np.argsort(-sizes, kind="stable")]
    free = torch.cuda.mem_get_info(device)[0]
    size = wanted
    while size >= 2:
        peak = _trial_step(model, data, objective, heaviest[:size], device,
                           train.precision)
        if peak is not None and peak <= HEADROOM * free:
            break
        if peak is None:
            size //= 2
        else:  # activation memory grows about linearly with the batch
            size = min(size - 1, int(size * HEADROOM * free / peak))
    size = max(2, size)
    if size >= wanted:
        return train
    steps = math.ceil(wanted / size)
    if log is not None:
        log(f"A batch of {wanted} does not fit in GPU memory; using batches of "
            f"{size} with gradients accumulated over {steps} of them.")
    return replace(train, batch_size=size,
                   accumulation_steps=train.accumulation_steps * steps)


def _trial_step(model, data, objective, rows, device, precision) -> int | None:
    """Peak bytes of one forward+backward on these rows; None when out of memory."""
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats(device)
    base = torch.cuda.memory_allocated(device)
    try:
        # a contrastive step holds two views of every sample: measure both
        batch = data.builder.build(rows, None, views=objective.views).to(device)
        with autocast(device, precision):
            total, _, _ = objective(model, batch, torch.Generator().manual_seed(0))
        total.backward()
        peak = torch.cuda.max_memory_allocated(device) - base
    except torch.cuda.OutOfMemoryError:
        peak = None
    model.zero_grad(set_to_none=True)
    torch.cuda.empty_cache()
    return peak
