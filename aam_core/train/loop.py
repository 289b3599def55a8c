"""The training loop: plain PyTorch, no framework around it (DESIGN s.5)."""
from __future__ import annotations

import contextlib
import sys
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd
import torch

from ..config import TrainConfig
from ..data.batching import BatchBuilder, batch_rows
from .metrics import HIGHER_IS_BETTER, regression_metrics
from .objective import Objective, check_finite
from .schedule import warmup_cosine


def log_to_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device='cuda' was asked for but no CUDA GPU is "
                           "visible; use device='auto' or 'cpu'.")
    return torch.device(device)


def autocast(device: torch.device):
    """bf16 autocast on CUDA; full precision on CPU (reproducible there)."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


@dataclass
class TrainingData:
    builder: BatchBuilder
    train_rows: np.ndarray
    val_rows: np.ndarray
    # turns normalised predictions back into original units for metrics
    target_truth: np.ndarray | None = None
    inverse_target: Callable | None = None


@dataclass
class TrainResult:
    history: pd.DataFrame
    best_epoch: int
    selection_metric: str


class ProgressBar:
    """Batch progress on one line, only when stderr is a terminal."""

    def __init__(self, total: int, epoch: int):
        self.total, self.epoch = total, epoch
        self.active = sys.stderr.isatty()

    def update(self, done: int, loss: float) -> None:
        if self.active:
            width = 30
            filled = int(width * done / self.total)
            sys.stderr.write(f"\repoch {self.epoch} [{'#' * filled}{'.' * (width - filled)}]"
                             f" {done}/{self.total} loss {loss:.4f}")
            sys.stderr.flush()

    def close(self) -> None:
        if self.active:
            sys.stderr.write("\r" + " " * 79 + "\r")


def evaluate(model, data: TrainingData, objective: Objective, train: TrainConfig,
             device: torch.device) -> dict:
    """Mean loss terms and target metrics over all validation samples.

    The batches, rarefaction and nucleotide masks are drawn from a fixed seed,
    so epochs are compared on the same validation problem.
    """
    rng = np.random.default_rng(train.seed + 1)
    generator = torch.Generator().manual_seed(train.seed + 1)
    sums, count, predictions = {}, 0, []
    model.eval()
    with torch.no_grad(), autocast(device):
        for rows in batch_rows(len(data.val_rows), train.batch_size, None):
            batch = data.builder.build(data.val_rows[rows], rng).to(device)
            total, terms, out = objective(model, batch, generator)
            for name, value in {"loss": total, **terms}.items():
                sums[name] = sums.get(name, 0.0) + float(value) * batch.size
            count += batch.size
            if "prediction" in out:
                predictions.append(out["prediction"].float().cpu().numpy())
    metrics = {name: value / count for name, value in sums.items()}
    if predictions and data.inverse_target is not None:
        predicted = data.inverse_target(np.concatenate(predictions))
        metrics.update(regression_metrics(data.target_truth[data.val_rows], predicted))
    return metrics


def fit(model, data: TrainingData, objective: Objective, train: TrainConfig,
        device: torch.device, selection_metric: str = "loss",
        log: Callable[[str], None] = log_to_stderr) -> TrainResult:
    """Train in place; the model ends with the weights of its best epoch."""
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=train.learning_rate,
                                  weight_decay=train.weight_decay)
    steps_per_epoch = len(batch_rows(len(data.train_rows), train.batch_size, None,
                                     drop_last=True))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, warmup_cosine(train.epochs * steps_per_epoch, train.warmup_fraction))
    rng = np.random.default_rng(train.seed)                    # order, rarefaction
    generator = torch.Generator().manual_seed(train.seed)      # nucleotide masks
    has_validation = len(data.val_rows) >= 2
    higher_better = HIGHER_IS_BETTER[selection_metric]
    best_value, best_epoch, best_state, stale = None, 0, None, 0
    records = []
    for epoch in range(1, train.epochs + 1):
        started = time.perf_counter()
        model.train()
        sums, count = {}, 0
        batches = batch_rows(len(data.train_rows), train.batch_size, rng, drop_last=True)
        bar = ProgressBar(len(batches), epoch)
        for done, rows in enumerate(batches, 1):
            batch = data.builder.build(data.train_rows[rows], rng).to(device)
            with autocast(device):
                total, terms, _ = objective(model, batch, generator)
            check_finite(terms, epoch)
            optimizer.zero_grad(set_to_none=True)
            total.backward()
            if train.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(params, train.grad_clip)
            optimizer.step()
            scheduler.step()
            for name, value in {"loss": total, **terms}.items():
                sums[name] = sums.get(name, 0.0) + value.item() * batch.size
            count += batch.size
            bar.update(done, total.item())
        bar.close()
        record = {"epoch": epoch}
        record.update({f"train_{k}": v / count for k, v in sums.items()})
        if has_validation:
            record.update({f"val_{k}": v for k, v in
                           evaluate(model, data, objective, train, device).items()})
        record["lr"] = scheduler.get_last_lr()[0]
        record["seconds"] = time.perf_counter() - started
        records.append(record)
        log(format_epoch(record, train.epochs))
        key = f"val_{selection_metric}" if has_validation else "train_loss"
        value = record.get(key, record["train_loss"])
        improved = best_value is None or (value > best_value if higher_better
                                          else value < best_value)
        if improved:
            best_value, best_epoch, stale = value, epoch, 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            stale += 1
            if has_validation and stale >= train.patience:
                log(f"Early stop: no better {key} for {stale} epochs.")
                break
    model.load_state_dict(best_state)
    log(f"Best epoch {best_epoch} ({key} {best_value:.4f}).")
    return TrainResult(pd.DataFrame(records), best_epoch, key)


def format_epoch(record: dict, epochs: int) -> str:
    parts = [f"epoch {record['epoch']}/{epochs}"]
    for prefix in ("train", "val"):
        values = [(k[len(prefix) + 1:], v) for k, v in record.items()
                  if k.startswith(prefix + "_")]
        if values:
            parts.append(prefix + " " + " ".join(f"{k} {v:.4g}" for k, v in values))
    parts.append(f"lr {record['lr']:.2e}  {record['seconds']:.1f}s")
    return "  ".join(parts)
