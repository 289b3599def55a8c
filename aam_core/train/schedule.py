"""Learning-rate schedules as multipliers of the base rate per step."""
from __future__ import annotations

import math

import torch

from ..config import TrainConfig
from ..errors import AAMInputError
from ..option import choices_of
from ..spelling import spelled


def warmup_cosine(total_steps: int, warmup_fraction: float):
    """Linear warm-up over a fraction of the steps, then cosine decay to 0."""
    warmup = max(1, int(round(total_steps * warmup_fraction)))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total_steps - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
    return factor


def warmup_cosine_restarts(total_steps: int, warmup_fraction: float, cycles: int):
    """Warm-up, then `cycles` cosine decays, each restarting at the peak rate."""
    warmup = max(1, int(round(total_steps * warmup_fraction)))
    after_warmup = max(1, total_steps - warmup)
    if cycles > after_warmup:  # a cycle shorter than a step never decays
        raise AAMInputError(
            f"{spelled('lr_cycles')} is {cycles}, but the run makes only "
            f"{after_warmup} optimizer step(s) after warm-up: each cycle would be "
            "shorter than one step and the rate would stay at its peak. Lower "
            f"{spelled('lr_cycles')} to at most {after_warmup}, or train for more "
            f"{spelled('epochs')}.")
    period = after_warmup / max(1, cycles)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = ((step - warmup) % period) / period
        return 0.5 * (1.0 + math.cos(math.pi * progress))
    return factor


SCHEDULERS = choices_of(TrainConfig, "scheduler")


class Scheduler:
    """One interface over the schedules: `step()` after each optimizer step,
    `epoch_end(value, higher_is_better)` after each epoch (only the plateau
    schedule uses it: it lowers the rate when the selection metric stalls)."""

    def __init__(self, optimizer, train, total_steps: int):
        if train.scheduler not in SCHEDULERS:
            raise ValueError(f"scheduler must be one of {SCHEDULERS}, not "
                             f"{train.scheduler!r}.")
        self.kind = train.scheduler
        if self.kind == "cosine":
            factor = warmup_cosine(total_steps, train.warmup_fraction)
        elif self.kind == "cosine_restarts":
            factor = warmup_cosine_restarts(total_steps, train.warmup_fraction,
                                            train.lr_cycles)
        else:  # warm-up, then constant until the metric stalls
            warmup = max(1, int(round(total_steps * train.warmup_fraction)))

            def factor(step: int) -> float:
                return min(1.0, (step + 1) / warmup)
        self.lambda_lr = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
        self.optimizer = optimizer
        self.patience, self.drop = train.plateau_patience, train.plateau_factor
        self.multiplier, self.best, self.stale = 1.0, None, 0

    def step(self) -> None:
        self.lambda_lr.step()
        if self.multiplier != 1.0:
            for group in self.optimizer.param_groups:
                group["lr"] *= self.multiplier

    def epoch_end(self, value: float, higher_is_better: bool) -> None:
        if self.kind != "plateau":
            return
        better = self.best is None or (value > self.best if higher_is_better
                                       else value < self.best)
        if better:
            self.best, self.stale = value, 0
            return
        self.stale += 1
        if self.stale >= self.patience:
            self.multiplier *= self.drop
            self.stale = 0
            for group in self.optimizer.param_groups:
                group["lr"] *= self.drop

    def get_last_lr(self) -> list:
        return [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict:
        """What a checkpoint keeps (train/checkpoint.py); the rates themselves
        are in the optimizer's state."""
        return {"lambda_lr": self.lambda_lr.state_dict(), "multiplier": self.multiplier,
                "best": self.best, "stale": self.stale}

    def load_state_dict(self, state: dict) -> None:
        self.lambda_lr.load_state_dict(state["lambda_lr"])
        self.multiplier, self.best, self.stale = (state["multiplier"], state["best"],
                                                  state["stale"])


def build_scheduler(optimizer, train, total_steps: int) -> Scheduler:
    return Scheduler(optimizer, train, total_steps)
