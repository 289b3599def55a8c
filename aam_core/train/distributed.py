"""Training past one process on torch.distributed.

torchrun (or torch's launcher API) starts the processes; this module only
joins them: NCCL on GPUs, gloo on CPUs, DDP by default, FSDP for large
models. `train.batch_size` is the GLOBAL batch: every process draws the same
epoch order (seeded by seed and epoch), cuts each global batch into one
slice per process (a Shard) and trains on its slice.

The UniFrac pair loss must see every pair of the global batch, not only the
pairs inside one slice: each process gathers all sample embeddings with an
autograd-aware all_gather, scores its own rows against all columns (pairs
i < j in global batch order, so each pair counts once over all processes),
and reads the true distances of its rows x all columns by dataset row.

Gradients: DDP and FSDP average gradients over the W processes. Process r
returns L_r = W/P * (its sum of squared pair errors), P = B(B-1)/2 pairs; the
all_gather backward sums the column gradients of every process back to the
owner, so process r's gradient is W * dL/d(its parameters' share) and the
average is exactly the gradient of the single-process loss on the whole
batch. The other terms are means over one slice; each is scaled by
(samples in the slice) * W / B, which makes an unweighted target loss the
exact mean over the global batch, and weighs the nucleotide and abundance
terms (means over masked positions) and a weighted target loss by the
slice's share of samples.
"""
from __future__ import annotations

import contextlib
import copy
import os
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from .. import losses, tracking
from ..errors import AAMInputError
from ..spelling import spelled

STRATEGIES = ("ddp", "fsdp")
# torch points to a private module instead; the public autograd-aware
# all_gather works and is what the design names
warnings.filterwarnings("ignore", category=FutureWarning,
                        message="torch.distributed.nn.functional.all_gather is deprecated")


# -- the process group -------------------------------------------------------

@dataclass(frozen=True)
class Distributed:
    """Where this process stands among the processes of one run."""
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    strategy: str = "ddp"
    backend: str = ""

    @property
    def active(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def comm_device(self) -> torch.device:
        """Where collective tensors live: NCCL needs them on this GPU."""
        if self.backend == "nccl":
            return torch.device("cuda", torch.cuda.current_device())
        return torch.device("cpu")

    @classmethod
    def current(cls, strategy: str = "ddp") -> "Distributed":
        """This process's place in an initialised process group (or alone)."""
        group = torch.distributed
        if not (group.is_available() and group.is_initialized()):
            return cls(strategy=strategy)
        return cls(rank=group.get_rank(), world_size=group.get_world_size(),
                   local_rank=int(os.environ.get("LOCAL_RANK", 0)),
                   strategy=strategy, backend=str(group.get_backend()))

    # -- collectives (each a no-op with one process) --

    def sum(self, values: dict | float):
        """Sum floats (or a dict of floats) over the processes."""
        if not self.active:
            return values
        keys = sorted(values) if isinstance(values, dict) else None
        flat = [values[k] for k in keys] if keys is not None else [values]
        tensor = torch.tensor(flat, dtype=torch.float64, device=self.comm_device)
        torch.distributed.all_reduce(tensor)
        summed = tensor.cpu().tolist()
        if keys is None:
            return summed[0]
        summed = dict(zip(keys, summed))  # sorted for the reduction, then as given
        return {key: summed[key] for key in values}

    def broadcast(self, value: Any) -> Any:
        """Rank 0's value on every process (decisions must be identical)."""
        if not self.active:
            return value
        box = [value]
        torch.distributed.broadcast_object_list(box, src=0, device=self.comm_device)
        return box[0]

    def gather_in_order(self, rows: list, values: list, order: np.ndarray) -> np.ndarray:
        """Per-sample values of every process, in the order of dataset `order`."""
        rows = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
        values = np.concatenate(values) if values else np.zeros(0)
        if not self.active:
            return values
        parts = [None] * self.world_size
        torch.distributed.all_gather_object(parts, (rows, values))
        rows = np.concatenate([p[0] for p in parts])
        values = np.concatenate([p[1] for p in parts if len(p[0])])
        sorter = np.argsort(rows, kind="stable")
        return values[sorter[np.searchsorted(rows, order, sorter=sorter)]]

    def barrier(self) -> None:
        if self.active:
            torch.distributed.barrier()

    # -- batches --

    def shard(self, global_rows: np.ndarray) -> "Shard":
        """This process's slice of one global batch (dataset rows)."""
        sizes = [len(part) for part in np.array_split(np.arange(len(global_rows)),
                                                      self.world_size)]
        start = sum(sizes[:self.rank])
        own = global_rows[start:start + sizes[self.rank]]
        # a process with no sample still runs the model (FSDP and the gather
        # need every process), on a stand-in whose results weigh nothing
        rows = own if len(own) else global_rows[:1]
        return Shard(self, np.asarray(global_rows), start, tuple(sizes), np.asarray(rows))

    def check_batches(self, batch_size: int, n_train: int) -> None:
        """Each process needs a sample of every global batch."""
        if n_train < self.world_size:
            raise AAMInputError(
                f"{self.world_size} processes need at least one training sample each, "
                f"and there are at most {n_train} (fewer once validation samples are "
                f"set aside): use fewer processes, or give more samples.")
        if batch_size < self.world_size:
            raise AAMInputError(
                f"{self.world_size} processes need global batches of at least "
                f"{self.world_size} samples, but {spelled('batch_size', batch_size)} "
                f"gives {batch_size}: raise {spelled('batch_size')} to "
                f"{self.world_size} or more, or use fewer processes.")

    # -- the model --

    def wrap(self, model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
        """DDP, FSDP, or the model itself when alone.

        FSDP shards a copy; `model` keeps its plain tensors, and `fit` loads
        the best full weights back into it at the end.
        """
        if not self.active:
            return model
        if self.strategy == "fsdp":
            return _fully_shard(copy.deepcopy(model), device)
        ids = [device.index if device.index is not None else torch.cuda.current_device()] \
            if device.type == "cuda" else None
        # some parameters take no part in a run (the token head without the
        # nucleotide loss, the abundance head without its loss); static_graph
        # would find them once, but it cannot skip the all-reduce of gradient
        # accumulation's micro-batches (no_sync), so search for them each step
        return torch.nn.parallel.DistributedDataParallel(
            model, device_ids=ids, find_unused_parameters=True)

    def no_sync(self, wrapped, sync: bool):
        """Skip the gradient all-reduce on micro-batches before an optimizer step."""
        if sync or not self.active:
            return contextlib.nullcontext()
        if isinstance(wrapped, torch.nn.parallel.DistributedDataParallel):
            return wrapped.no_sync()
        return contextlib.nullcontext()  # FSDP: reduce every micro-batch (correct, slower)

    def full_state_dict(self, wrapped: torch.nn.Module) -> dict:
        """Plain full tensors of the model's weights on every process."""
        if isinstance(wrapped, torch.nn.parallel.DistributedDataParallel):
            wrapped = wrapped.module
        if self.active and self.strategy == "fsdp":
            from torch.distributed.checkpoint.state_dict import (
                StateDictOptions, get_model_state_dict)
            state = get_model_state_dict(wrapped, options=StateDictOptions(
                full_state_dict=True))
        else:
            state = wrapped.state_dict()
        return {k: v.detach().clone() for k, v in state.items()}

    # -- randomness --

    def step_random(self, seed: int, generator: torch.Generator, *position: int):
        """Random state of one step, derived from (seed, position, rank) alone.

        Seeds `generator` (nucleotide and abundance masks) and torch's global
        generators (dropout, conditioning dropout), and returns the numpy
        generator of the step (rarefaction). Nothing random carries over from
        one step to the next, so a run resumed at any step continues exactly.
        """
        numpy_seq, mask_seq, global_seq = np.random.SeedSequence(
            [seed, *position, self.rank]).spawn(3)
        generator.manual_seed(int(mask_seq.generate_state(1, np.uint64)[0]))
        torch.manual_seed(int(global_seq.generate_state(1, np.uint64)[0]))
        return np.random.default_rng(numpy_seq)


SINGLE = Distributed()


def _fully_shard(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """FSDP2: each transformer block is one unit, the rest the root unit."""
    from torch.distributed.fsdp import fully_shard
    from ..model.aam import Block
    for module in model.modules():
        if isinstance(module, Block):
            fully_shard(module)
    return fully_shard(model)


@dataclass(frozen=True)
class Shard:
    """One process's slice of a global batch."""
    dist: Distributed
    global_rows: np.ndarray  # (B,) dataset rows of the whole global batch
    start: int               # position of this slice's first sample in it
    sizes: tuple             # samples per process
    rows: np.ndarray         # the rows this process builds (a stand-in when empty)

    @property
    def n_own(self) -> int:
        return self.sizes[self.dist.rank]

    @property
    def weight(self) -> float:
        """Share of the global batch's samples for metric sums: B / W."""
        return len(self.global_rows) / self.dist.world_size

    @property
    def share(self) -> float:
        """Factor that turns a mean over this slice into its share of the
        global mean, once DDP averages over processes."""
        return self.n_own * self.dist.world_size / len(self.global_rows)


# -- the UniFrac pair loss over the global batch -------------------------------

def gather_rows(local: torch.Tensor, sizes: tuple) -> torch.Tensor:
    """All processes' rows in rank order; gradients flow back to their owner."""
    from torch.distributed.nn.functional import all_gather
    rank = torch.distributed.get_rank()
    own = local[:sizes[rank]]
    width = max(sizes)
    if own.shape[0] < width:  # all_gather needs equal shapes: pad, then strip
        own = torch.cat([own, own.new_zeros(width - own.shape[0], *own.shape[1:])])
    parts = all_gather(own)
    return torch.cat([part[:n] for part, n in zip(parts, sizes)])


def global_pair_loss(embedding: torch.Tensor, shard: Shard, distances) -> torch.Tensor:
    """This process's L_r = W/P * sum of squared errors over its pairs."""
    from ..data.distances import take
    columns = gather_rows(embedding, shard.sizes)
    own = embedding[:shard.n_own]
    true = take(distances, shard.rows[:shard.n_own], shard.global_rows, own.device)
    errors = losses.pair_squared_errors(own, columns, shard.start, true)
    n = len(shard.global_rows)
    return errors * (shard.dist.world_size / (n * (n - 1) / 2))


def unifrac_term(embedding: torch.Tensor, rows: torch.Tensor, distances,
                 shard: Shard | None) -> torch.Tensor:
    """The UniFrac pair loss of one step: over the batch alone, or over the
    global batch when the step is one slice of it."""
    if shard is None or not shard.dist.active:
        from ..data.distances import take
        block = take(distances, rows, rows, embedding.device)
        return losses.unifrac_pair_loss(embedding, block)
    return global_pair_loss(embedding, shard, distances)


def scale_for_processes(terms: dict, shard: Shard | None) -> dict:
    """Mean-over-samples terms, scaled so DDP's average gives the global mean."""
    if shard is None or not shard.dist.active:
        return terms
    return {name: value if name == "unifrac" else value * shard.share
            for name, value in terms.items()}


# -- a run's settings beyond the model -----------------------------------------

@dataclass
class Runtime:
    """How `fit` runs: among which processes, and with which checkpoints."""
    dist: Distributed = field(default_factory=Distributed)
    checkpoints: Any = None  # checkpoint.Checkpoints, or None
    tracker: Any = tracking.NONE  # tracking.Tracker: rank 0's, when asked for

    def for_member(self, index: int) -> "Runtime":
        """The runtime of ensemble member `index`: its own checkpoints."""
        if self.checkpoints is None:
            return self
        return replace(self, checkpoints=self.checkpoints.for_member(index))

    @classmethod
    def joined(cls) -> "Runtime":
        """Among the processes this one has joined (a process group its
        caller initialised, e.g. under torchrun; else alone), without
        checkpoints or a tracker: what a plain API call runs with."""
        return cls(Distributed.current())


# -- joining and launching processes -----------------------------------------

def init_from_environment(strategy: str = "ddp", device: str = "auto") -> Distributed:
    """Join the process group torchrun describes (WORLD_SIZE, RANK, ...).

    One process (no torchrun, or --nproc_per_node 1) runs without a group.
    NCCL when the processes train on GPUs, gloo on CPUs.
    """
    if strategy not in STRATEGIES:
        raise AAMInputError(f"strategy must be one of {STRATEGIES}, not {strategy!r}.")
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return Distributed(strategy=strategy)
    if torch.distributed.is_initialized():
        return Distributed.current(strategy)
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    if use_cuda:
        visible = torch.cuda.device_count()
        if local_rank >= visible:
            raise AAMInputError(
                f"Process {local_rank} of this node has no GPU: {visible} visible. "
                "Start one process per GPU (torchrun --nproc_per_node).")
        torch.cuda.set_device(local_rank)
    torch.distributed.init_process_group("nccl" if use_cuda else "gloo")
    return Distributed.current(strategy)


def shutdown(dist: Distributed) -> None:
    if dist.active and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


def launch_local(n_processes: int, function: Callable, *args, folder: str) -> Any:
    """Run function(*args) in n_processes processes of this machine through
    torch's own launcher (the API behind torchrun); rank 0's return value.

    Each process joins the group with init_from_environment(). Used by the
    QIIME 2 actions, which cannot be started under torchrun. The launcher's
    logs go into `folder` (the caller's temporary folder, so nothing is left
    in the system's), and a process's input error reaches the caller as the
    same AAMInputError it would raise in one process.
    """
    import logging
    import uuid
    from torch.distributed.elastic.multiprocessing import DefaultLogsSpecs
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch
    from ..spelling import environment
    config = LaunchConfig(min_nodes=1, max_nodes=1, nproc_per_node=n_processes,
                          run_id=f"aam-{uuid.uuid4().hex[:8]}", rdzv_backend="c10d",
                          rdzv_endpoint="localhost:0", max_restarts=0,
                          monitor_interval=0.2, start_method="spawn",
                          logs_specs=DefaultLogsSpecs(log_dir=os.path.join(folder, "logs")))
    elastic = logging.getLogger("torch.distributed.elastic")
    level, elastic.level = elastic.level, logging.CRITICAL  # its report is ours to give
    try:
        results = elastic_launch(config, _reporting)(folder, environment(), function, *args)
    except ChildFailedError as failure:
        raise _process_error(folder, failure) from None
    finally:
        elastic.setLevel(level)
    return results[0]


def _reporting(folder: str, environment: dict, function: Callable, *args) -> Any:
    """One launched process: an input error is written down for the caller
    (and ends the process without a traceback)."""
    os.environ.update(environment)
    try:
        return function(*args)
    except AAMInputError as error:
        rank = os.environ.get("RANK", "0")
        Path(folder, f"input-error-{rank}.txt").write_text(str(error))
        raise SystemExit(1) from None


def _process_error(folder: str, failure) -> Exception:
    """The caller's error for a failed launch: the first process's input
    error, else one line naming the process and its failure."""
    written = sorted(Path(folder).glob("input-error-*.txt"))
    if written:
        return AAMInputError(written[0].read_text())
    rank, first = failure.get_first_failure()
    message = first.message if isinstance(first.message, str) else \
        (first.message or {}).get("message", {}).get("message", "")
    return RuntimeError(f"Training process {rank} failed (exit code {first.exitcode})"
                        + (f": {message.strip().splitlines()[-1]}" if message else "."))


def per_process_batch(train, dist: Distributed, adjust: Callable):
    """Run a batch-size adjustment (batch_size.fit_batch_to_memory) on one
    process's slice of the global batch, scale the answer back to the global
    batch, and take rank 0's answer everywhere."""
    if not dist.active:
        return adjust(train)
    slice_size = -(-train.batch_size // dist.world_size)
    adjusted = adjust(replace(train, batch_size=slice_size))
    if adjusted.batch_size != slice_size:
        adjusted = replace(adjusted, batch_size=adjusted.batch_size * dist.world_size)
    else:
        adjusted = replace(adjusted, batch_size=train.batch_size)
    return dist.broadcast(adjusted)
