"""The training loop: plain PyTorch, no framework around it (DESIGN s.5)."""
from __future__ import annotations

import contextlib
import math
import sys
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd
import torch

from ..config import TrainConfig
from ..data.batching import BatchBuilder, batch_rows
from . import checkpoint
from .batch_size import fit_batch_to_memory
from .checkpoint import Progress
from .distributed import SINGLE, Distributed, Runtime, current_runtime, per_process_batch
from .metrics import HIGHER_IS_BETTER, regression_metrics
from .objective import Objective, check_finite
from .schedule import build_scheduler


def log_to_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _silent(message: str) -> None:
    """The log of processes other than rank 0: one voice per run."""


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device='cuda' was asked for but no CUDA GPU is "
                           "visible; use device='auto' or 'cpu'.")
    return torch.device(device)


def autocast(device: torch.device, precision: str = "auto"):
    """bf16 (default) or fp16 autocast on CUDA; full precision on CPU
    (reproducible there) or when precision='fp32'."""
    if device.type == "cuda" and precision in ("auto", "bf16", "fp16"):
        dtype = torch.float16 if precision == "fp16" else torch.bfloat16
        return torch.autocast("cuda", dtype=dtype)
    return contextlib.nullcontext()


@dataclass
class TrainingData:
    builder: BatchBuilder
    train_rows: np.ndarray
    val_rows: np.ndarray
    # turns normalised predictions back into original units for metrics
    target_truth: np.ndarray | None = None
    inverse_target: Callable | None = None
    # validation predictions (in val_rows order) -> metrics; used instead of
    # inverse_target by fine-tuning (quantiles, classes, per-category scaling)
    score: Callable | None = None


@dataclass
class TrainResult:
    history: pd.DataFrame
    best_epoch: int
    selection_metric: str


class ProgressBar:
    """Batch progress on one line, only when stderr is a terminal."""

    def __init__(self, total: int, epoch: int, show: bool = True):
        self.total, self.epoch = total, epoch
        self.active = show and sys.stderr.isatty()

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
             device: torch.device, dist: Distributed = SINGLE) -> dict:
    """Mean loss terms and target metrics over all validation samples.

    The batches, rarefaction and nucleotide masks are drawn from a fixed seed,
    so epochs are compared on the same validation problem. With several
    processes each scores its slice of every batch; the sums and the
    predictions of all processes make the metrics.
    """
    rng = np.random.default_rng([train.seed + 1, dist.rank])
    generator = torch.Generator().manual_seed(train.seed + 1 + dist.rank)
    sums, count, predictions, predicted_rows = {}, 0.0, [], []
    model.eval()
    with torch.no_grad(), autocast(device, train.precision):
        for rows in batch_rows(len(data.val_rows), train.batch_size, None):
            shard = dist.shard(data.val_rows[rows])
            # validation sees samples as prediction will: no ASV dropout
            batch = data.builder.build(shard.rows, rng, augment=False).to(device)
            total, terms, out = objective(model, batch, generator, shard)
            for name, value in {"loss": total, **terms}.items():
                sums[name] = sums.get(name, 0.0) + float(value) * shard.weight
            count += shard.weight
            if "prediction" in out:
                predictions.append(out["prediction"][:shard.n_own].float().cpu().numpy())
                predicted_rows.append(shard.rows[:shard.n_own])
    sums, count = dist.sum(sums), dist.sum(count)
    metrics = {name: value / count for name, value in sums.items()}
    if not predictions:
        return metrics
    predicted = dist.gather_in_order(predicted_rows, predictions, data.val_rows)
    if data.inverse_target is not None:
        metrics.update(regression_metrics(data.target_truth[data.val_rows],
                                          data.inverse_target(predicted)))
    if data.score is not None:
        metrics.update(data.score(predicted))
    return metrics


def fit(model, data: TrainingData, objective: Objective, train: TrainConfig,
        device: torch.device, selection_metric: str = "loss",
        log: Callable[[str], None] = log_to_stderr,
        runtime: Runtime | None = None) -> TrainResult:
    """Train in place; the model ends with the weights of its best epoch.

    runtime (default: the active one, train/distributed.py): with several
    processes, each trains on its slice of every global batch of
    train.batch_size samples; runtime.checkpoints saves the run as it goes
    and resumes it exactly (train/checkpoint.py).
    """
    runtime = runtime or current_runtime()
    dist, checkpoints = runtime.dist, runtime.checkpoints
    log = log if dist.is_main else _silent
    train = per_process_batch(train, dist, lambda settings: fit_batch_to_memory(
        model, data, objective, settings, device, log))
    dist.check_batches(train.batch_size, len(data.train_rows))
    if device.type != "cuda" and train.precision in ("bf16", "fp16"):
        log(f"precision={train.precision} applies on CUDA only; CPU trains in float32.")
    wrapped = dist.wrap(model, device)
    params = [p for p in wrapped.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=train.learning_rate,
                                  weight_decay=train.weight_decay)
    n_batches = len(batch_rows(len(data.train_rows), train.batch_size, None,
                               drop_last=True))
    accumulate = max(1, train.accumulation_steps)
    scheduler = build_scheduler(optimizer, train,
                                train.epochs * math.ceil(n_batches / accumulate))
    # fp16 needs loss scaling against underflow; a disabled scaler is a no-op
    scaler = torch.amp.GradScaler("cuda", enabled=device.type == "cuda"
                                  and train.precision == "fp16")
    runner = torch.compile(wrapped, dynamic=True) if train.compile else wrapped
    # DDP's forward prepares a gradient reduction; validation runs the module
    evaluator = model if wrapped is not model and dist.strategy == "ddp" else runner
    generator = torch.Generator()  # reseeded every step: Distributed.step_random
    has_validation = len(data.val_rows) >= 2
    higher_better = HIGHER_IS_BETTER[selection_metric]
    key = f"val_{selection_metric}" if has_validation else "train_loss"
    signature = None if checkpoints is None else checkpoint.fingerprint(
        train, data, model, checkpoints.identity)
    state = None
    if checkpoints is not None and checkpoints.resume:
        state = checkpoint.restore(checkpoints, wrapped, optimizer, scheduler, scaler,
                                   signature, dist, log)
    state = state or Progress()

    def save_checkpoint():
        checkpoint.save(checkpoints, state, wrapped, optimizer, scheduler, scaler,
                        signature, dist)

    for epoch in range(state.epoch, train.epochs + 1):
        if state.stopped:
            break
        started = time.perf_counter()
        wrapped.train()
        # the epoch's order depends on (seed, epoch) alone: the same on every
        # process, and again when the run resumes in the middle of the epoch
        batches = batch_rows(len(data.train_rows), train.batch_size,
                             np.random.default_rng([train.seed, epoch]), drop_last=True)
        bar = ProgressBar(len(batches), epoch, dist.is_main)
        optimizer.zero_grad(set_to_none=True)
        for done in range(state.step + 1, len(batches) + 1):
            shard = dist.shard(data.train_rows[batches[done - 1]])
            rng = dist.step_random(train.seed, generator, epoch, done)
            batch = data.builder.build(shard.rows, rng).to(device)
            last = done % accumulate == 0 or done == len(batches)
            with dist.no_sync(wrapped, last):
                with autocast(device, train.precision):
                    total, terms, _ = objective(runner, batch, generator, shard)
                check_finite(terms, epoch)
                # gradients of a group of `accumulate` batches add up to their mean
                group = min(accumulate, len(batches) - (done - 1) // accumulate * accumulate)
                scaler.scale(total / group).backward()
            if last:
                scaler.unscale_(optimizer)
                if train.grad_clip > 0:
                    torch.nn.utils.clip_grad_norm_(params, train.grad_clip)
                scaler.step(optimizer)
                scaler.update()
                optimizer.zero_grad(set_to_none=True)
                scheduler.step()
                state.optimizer_steps += 1
            for name, value in {"loss": total, **terms}.items():
                state.sums[name] = state.sums.get(name, 0.0) + value.item() * shard.weight
            state.count += shard.weight
            state.step = done
            bar.update(done, total.item())
            if (last and done < len(batches) and checkpoints is not None
                    and checkpoints.due(state.optimizer_steps)):
                save_checkpoint()
        bar.close()
        sums, count = dist.sum(state.sums), dist.sum(state.count)
        record = {"epoch": epoch}
        record.update({f"train_{k}": v / count for k, v in sums.items()})
        if has_validation:
            record.update({f"val_{k}": v for k, v in evaluate(
                evaluator, data, objective, train, device, dist).items()})
        record["lr"] = scheduler.get_last_lr()[0]
        record["seconds"] = time.perf_counter() - started
        record = dist.broadcast(record)  # one history and one decision everywhere
        state.records.append(record)
        log(format_epoch(record, train.epochs))
        value = record.get(key, record["train_loss"])
        improved = state.best_value is None or (
            value > state.best_value if higher_better else value < state.best_value)
        scheduler.epoch_end(value, higher_better)
        if improved:
            state.best_value, state.best_epoch, state.stale = value, epoch, 0
            state.best_state = dist.full_state_dict(wrapped)
        else:
            state.stale += 1
            if has_validation and state.stale >= train.patience:
                log(f"Early stop: no better {key} for {state.stale} epochs.")
                state.stopped = True
        state.finished = state.stopped or epoch == train.epochs
        state.next_epoch()
        if checkpoints is not None:
            save_checkpoint()
    model.load_state_dict(state.best_state)
    log(f"Best epoch {state.best_epoch} ({key} {state.best_value:.4f}).")
    return TrainResult(pd.DataFrame(state.records), state.best_epoch, key)


def format_epoch(record: dict, epochs: int) -> str:
    parts = [f"epoch {record['epoch']}/{epochs}"]
    for prefix in ("train", "val"):
        values = [(k[len(prefix) + 1:], v) for k, v in record.items()
                  if k.startswith(prefix + "_")]
        if values:
            parts.append(prefix + " " + " ".join(f"{k} {v:.4g}" for k, v in values))
    parts.append(f"lr {record['lr']:.2e}  {record['seconds']:.1f}s")
    return "  ".join(parts)
