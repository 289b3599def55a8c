"""The training loop: plain PyTorch, no framework around it."""
from __future__ import annotations

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
from ..spelling import spelled
from . import checkpoint
from .batch_size import fit_batch_to_memory
from .cache import cache_asv_vectors
from .checkpoint import Progress
from .device import autocast
from .distributed import SINGLE, Distributed, Runtime, per_process_batch
from .metrics import HIGHER_IS_BETTER
from .objective import Objective, check_finite
from .schedule import build_scheduler


def log_to_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def silent(message: str) -> None:
    """A log that says nothing: processes other than rank 0 (one voice per
    run), and what a caller has no use for."""


@dataclass
class TrainingData:
    builder: BatchBuilder
    train_rows: np.ndarray
    val_rows: np.ndarray
    # validation predictions (in val_rows order) -> target metrics in the
    # target's own units (supervision.py)
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
    rng = np.random.default_rng([train.random_state + 1, dist.rank])
    generator = torch.Generator().manual_seed(train.random_state + 1 + dist.rank)
    sums, count, predictions, predicted_rows = {}, 0.0, [], []
    model.eval()
    with torch.no_grad(), autocast(device, train.precision):
        for rows in batch_rows(len(data.val_rows), train.batch_size, None):
            shard = dist.shard(data.val_rows[rows])
            # validation sees samples as prediction will: no ASV dropout (the
            # contrastive objective's views are drawn from the fixed seed)
            batch = data.builder.build(shard.rows, rng, augment=False,
                                       views=objective.views).to(device)
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
    if data.score is not None:
        metrics.update(data.score(predicted))
    return metrics


def fit(model, data: TrainingData, objective: Objective, train: TrainConfig,
        device: torch.device, selection_metric: str = "loss",
        log: Callable[[str], None] = log_to_stderr,
        runtime: Runtime | None = None) -> TrainResult:
    """Train in place; the model ends with the weights of its best epoch.

    runtime (default: one process, no checkpoints, no tracker): with several
    processes, each trains on its slice of every global batch of
    train.batch_size samples; runtime.checkpoints saves the run as it goes
    and resumes it exactly (train/checkpoint.py); runtime.tracker gets each
    epoch's record.
    """
    runtime = runtime or Runtime()
    log = log if runtime.dist.is_main else silent
    train = per_process_batch(train, runtime.dist, lambda settings: fit_batch_to_memory(
        model, data, objective, settings, device, log))
    runtime.dist.check_batches(train.batch_size, len(data.train_rows))
    if device.type != "cuda" and train.precision in ("bf16", "fp16"):
        log(f"{spelled('precision', train.precision)} applies on CUDA only; CPU trains "
            "in float32.")
    run = _Training(model, data, objective, train, device, runtime, selection_metric)
    state = run.restore(log) or Progress()
    runtime.tracker.resumed(state.records)
    for epoch in range(state.epoch, train.epochs + 1):
        if state.stopped:
            break
        started = time.perf_counter()
        run.freeze_nucleotides(epoch, log)
        run.epoch(epoch, state)
        run.end_epoch(epoch, state, started, log)
    run.module().asv_cache = None
    model.load_state_dict(state.best_state)
    if run.has_validation:
        log(f"Best epoch {state.best_epoch} ({run.key} {state.best_value:.4g}).")
    else:  # one validation sample scores no epoch reliably (nor R2, nor AUROC)
        why = ("no validation samples" if not len(data.val_rows) else
               "one validation sample is too few")
        log(f"Kept the last epoch, {state.best_epoch} ({why} to choose another).")
    return TrainResult(pd.DataFrame(state.records), state.best_epoch, run.key)


class _Training:
    """One run of the loop: the model as it trains (wrapped for several
    processes, compiled if asked), its optimizer, schedule and loss scaler."""

    def __init__(self, model, data: TrainingData, objective: Objective,
                 train: TrainConfig, device: torch.device, runtime: Runtime,
                 selection_metric: str):
        self.model, self.data, self.objective = model, data, objective
        self.train, self.device = train, device
        self.dist, self.checkpoints = runtime.dist, runtime.checkpoints
        self.tracker = runtime.tracker
        self.wrapped = self.dist.wrap(model, device)
        self.params = [p for p in self.wrapped.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(self.params, lr=train.learning_rate,
                                           weight_decay=train.weight_decay)
        self.accumulate = max(1, train.accumulation_steps)
        self.n_batches = len(batch_rows(len(data.train_rows), train.batch_size, None,
                                        drop_last=True, accumulate=self.accumulate))
        self.scheduler = build_scheduler(self.optimizer, train, train.epochs * math.ceil(
            self.n_batches / self.accumulate))
        # fp16 needs loss scaling against underflow; a disabled scaler is a no-op
        self.scaler = torch.amp.GradScaler("cuda", enabled=device.type == "cuda"
                                           and train.precision == "fp16")
        self.runner = (torch.compile(self.wrapped, dynamic=True) if train.compile
                       else self.wrapped)
        # DDP's forward prepares a gradient reduction; validation runs the module
        self.evaluator = (model if self.wrapped is not model and self.dist.strategy == "ddp"
                          else self.runner)
        self.generator = torch.Generator()  # reseeded every step: Distributed.step_random
        self.has_validation = len(data.val_rows) >= 2
        self.higher_better = HIGHER_IS_BETTER[selection_metric]
        self.key = f"val_{selection_metric}" if self.has_validation else "train_loss"
        self.signature = None if self.checkpoints is None else checkpoint.fingerprint(
            train, data, model, self.checkpoints.identity)

    def module(self) -> torch.nn.Module:
        """The model the steps run: DDP's module, FSDP's sharded copy, or it."""
        wrapped = self.wrapped
        return wrapped.module if isinstance(
            wrapped, torch.nn.parallel.DistributedDataParallel) else wrapped

    def freeze_nucleotides(self, epoch: int, log) -> None:
        """After train.nucleotide_epochs (also when a run resumes later than
        that) the nucleotide encoder is frozen: every ASV's vector is
        computed once, and the training steps read them and leave out the
        masked-nucleotide term. Nothing random is drawn, so a resumed run
        caches the same vectors."""
        after = self.train.nucleotide_epochs
        if not after or epoch <= after or self.objective.nucleotides_frozen:
            return
        module = self.module()
        sharded = hasattr(module, "unshard")  # FSDP2: the root's own parameters
        if sharded:
            module.unshard()
        cache_asv_vectors(module, self.data.builder.tokens, self.device)
        if sharded:
            module.reshard()
        self.objective.nucleotides_frozen = True
        resumed = "" if epoch == after + 1 else f" (this run resumed at epoch {epoch})"
        log(f"{spelled('nucleotide_epochs', after)}: the nucleotide encoder is frozen from "
            f"epoch {after + 1} on{resumed}; its {len(self.data.builder.tokens)} ASV vectors "
            "are cached and the sample encoder trains alone (the validation loss still scores every "
            "objective).")

    def restore(self, log) -> Progress | None:
        if self.checkpoints is None or not self.checkpoints.resume:
            return None
        return checkpoint.restore(self.checkpoints, self.wrapped, self.optimizer,
                                  self.scheduler, self.scaler, self.signature,
                                  self.dist, log)

    def save(self, state: Progress) -> None:
        checkpoint.save(self.checkpoints, state, self.wrapped, self.optimizer,
                        self.scheduler, self.scaler, self.signature, self.dist)

    def epoch(self, epoch: int, state: Progress) -> None:
        """The epoch's remaining steps (all of them unless resuming)."""
        train, dist = self.train, self.dist
        self.wrapped.train()
        # the epoch's order depends on (seed, epoch) alone: the same on every
        # process, and again when the run resumes in the middle of the epoch
        batches = batch_rows(len(self.data.train_rows), train.batch_size,
                             np.random.default_rng([train.random_state, epoch]), drop_last=True,
                             accumulate=self.accumulate)
        bar = ProgressBar(len(batches), epoch, dist.is_main)
        self.optimizer.zero_grad(set_to_none=True)
        for done in range(state.step + 1, len(batches) + 1):
            shard = dist.shard(self.data.train_rows[batches[done - 1]])
            rng = dist.step_random(train.random_state, self.generator, epoch, done)
            batch = self.data.builder.build(shard.rows, rng,
                                            views=self.objective.views).to(self.device)
            last = done % self.accumulate == 0 or done == len(batches)
            with dist.no_sync(self.wrapped, last):
                with autocast(self.device, train.precision):
                    total, terms, _ = self.objective(self.runner, batch, self.generator,
                                                     shard)
                check_finite(terms, epoch)
                # gradients of a group of `accumulate` batches add up to their mean
                group = min(self.accumulate, len(batches) - (done - 1) // self.accumulate
                            * self.accumulate)
                self.scaler.scale(total / group).backward()
            if last:
                self.step(state)
            for name, value in {"loss": total, **terms}.items():
                state.sums[name] = state.sums.get(name, 0.0) + value.item() * shard.weight
            state.count += shard.weight
            state.step = done
            bar.update(done, total.item())
            if (last and done < len(batches) and self.checkpoints is not None
                    and self.checkpoints.due(state.optimizer_steps)):
                self.save(state)
        bar.close()

    def step(self, state: Progress) -> None:
        self.scaler.unscale_(self.optimizer)
        if self.train.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.params, self.train.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        self.scheduler.step()
        state.optimizer_steps += 1

    def end_epoch(self, epoch: int, state: Progress, started: float, log) -> None:
        """Record the epoch, keep the best weights, decide on stopping."""
        trained = time.perf_counter()  # the epoch's training steps end here
        dist = self.dist
        sums, count = dist.sum(state.sums), dist.sum(state.count)
        record = {"epoch": epoch}
        record.update({f"train_{k}": v / count for k, v in sums.items()})
        if self.has_validation:
            frozen, self.objective.nucleotides_frozen = self.objective.nucleotides_frozen, False
            record.update({f"val_{k}": v for k, v in evaluate(
                self.evaluator, self.data, self.objective, self.train, self.device,
                dist).items()})
            self.objective.nucleotides_frozen = frozen
        record["lr"] = self.scheduler.get_last_lr()[0]
        record["seconds"] = time.perf_counter() - started
        record = dist.broadcast(record)  # one history and one decision everywhere
        state.records.append(record)
        self.tracker.epoch(record)  # the one place epochs reach --tensorboard/--mlflow-uri
        value = record.get(self.key, record["train_loss"])
        if value != value and all(r.get(self.key) == r.get(self.key) for r in state.records[:-1]):
            log(f"{self.key} is undefined (nan): the validation samples cannot score it "
                "(e.g. they hold one class only), so no later epoch can beat the first "
                "one so scored. Choose another selection metric, or more validation "
                "samples.")
        # without validation samples the training loss (noisy under dropout
        # and augmentation) picks nothing: the last epoch is kept, as the
        # validation_fraction help says
        improved = not self.has_validation or state.best_value is None or (
            value > state.best_value if self.higher_better else value < state.best_value)
        self.scheduler.epoch_end(value, self.higher_better)
        if improved:
            state.best_value, state.best_epoch, state.stale = value, epoch, 0
            state.best_state = dist.full_state_dict(self.wrapped)
        else:
            state.stale += 1
        samples = min(self.n_batches * self.train.batch_size, len(self.data.train_rows))
        log(format_epoch(record, self.train.epochs) + "  " + format_pace(
            state.records, self.train.epochs, samples / max(trained - started, 1e-9),
            (state.stale, self.train.patience) if self.has_validation else None))
        if self.has_validation and state.stale >= self.train.patience:
            log(f"Early stop: no better {self.key} for {state.stale} epochs.")
            state.stopped = True
        state.finished = state.stopped or epoch == self.train.epochs
        state.next_epoch()
        if self.checkpoints is not None:
            self.save(state)


def format_epoch(record: dict, epochs: int) -> str:
    parts = [f"epoch {record['epoch']}/{epochs}"]
    for prefix in ("train", "val"):
        values = [(k[len(prefix) + 1:], v) for k, v in record.items()
                  if k.startswith(prefix + "_")]
        if values:
            parts.append(prefix + " " + " ".join(f"{k} {v:.4g}" for k, v in values))
    parts.append(f"lr {record['lr']:.2e}  {record['seconds']:.1f}s")
    return "  ".join(parts)


def format_pace(records: list, epochs: int, samples_per_second: float,
                patience: tuple | None) -> str:
    """How the run goes: training samples per second (validation excluded),
    time elapsed over the epochs so far, time left if every remaining epoch
    runs (early stopping may end sooner), and epochs without improvement
    out of the patience (`patience`: (stale, patience), None without
    validation, where nothing stops early)."""
    seconds = [r["seconds"] for r in records]
    left = (epochs - records[-1]["epoch"]) * sum(seconds) / len(seconds)
    parts = [f"{samples_per_second:.1f} samples/s",
             f"elapsed {_duration(sum(seconds))}", f"ETA {_duration(left)}"]
    if patience is not None:
        parts.append(f"no improvement {patience[0]}/{patience[1]}")
    return "  ".join(parts)


def _duration(seconds: float) -> str:
    """12s, 3m05s, 1h02m."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
