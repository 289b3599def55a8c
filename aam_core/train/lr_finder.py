"""Learning-rate range test (Smith 2017): train a few steps with the rate
growing exponentially, watch the loss, and suggest a rate a decade below
the one where the smoothed loss was lowest. The model is restored after.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from ..data.batching import batch_rows


@dataclass
class RangeTest:
    history: pd.DataFrame  # lr, loss, smoothed
    suggestion: float


def lr_range_test(model, data, objective, train, device: torch.device,
                  start: float = 1e-6, end: float = 1.0, steps: int = 60,
                  log=None) -> RangeTest:
    """Runs on a copy of nothing: the weights are saved first and put back."""
    saved = {k: v.detach().clone() for k, v in model.state_dict().items()}
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=start, weight_decay=train.weight_decay)
    growth = (end / start) ** (1 / max(1, steps - 1))
    rng = np.random.default_rng(train.random_state)
    generator = torch.Generator().manual_seed(train.random_state)
    pending, records, average, best = [], [], 0.0, math.inf
    model.train()
    for step in range(steps):
        if not pending:
            pending = batch_rows(len(data.train_rows), train.batch_size, rng, drop_last=True)
        rows = pending.pop()
        lr = start * growth ** step
        for group in optimizer.param_groups:
            group["lr"] = lr
        batch = data.builder.build(data.train_rows[rows], rng,
                                   views=objective.views).to(device)
        total, _, _ = objective(model, batch, generator)
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        if train.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(params, train.grad_clip)
        optimizer.step()
        loss = total.item()
        average = 0.9 * average + 0.1 * loss
        smoothed = average / (1 - 0.9 ** (step + 1))  # bias-corrected EMA
        records.append({"lr": lr, "loss": loss, "smoothed": smoothed})
        if not math.isfinite(loss) or smoothed > 4 * best:
            break  # diverged: larger rates only get worse
        best = min(best, smoothed)
    model.load_state_dict(saved)
    history = pd.DataFrame(records)
    lowest = history.loc[history["smoothed"].idxmin(), "lr"]
    suggestion = float(max(start, lowest / 10))
    if log is not None:
        log(f"Learning-rate range test: lowest smoothed loss at {lowest:.2e}; "
            f"suggested rate {suggestion:.2e}.")
    return RangeTest(history, suggestion)
