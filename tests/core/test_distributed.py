"""torch.distributed on CPU (gloo): 2 processes must compute what 1 computes.

The processes are started with torch.multiprocessing and meet through a
file in tmp_path; each uses one thread.
"""
import pickle
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torch.multiprocessing as mp
from scipy.spatial.distance import pdist, squareform

from aam_core import api
from aam_core.bundle import ModelBundle
from aam_core.config import FIT_TRAIN_DEFAULTS, DataConfig, ModelConfig, TrainConfig
from aam_core.fit import FitInputs, FitSettings, fit_model
from aam_core.data.batching import BatchBuilder
from aam_core.data.distances import DistanceFile
from aam_core.data.table import CountTable
from aam_core.data.tokens import tokenize
from aam_core.losses import unifrac_pair_loss
from aam_core.model import AAM
from aam_core.train.checkpoint import CHECKPOINT_FILE, Checkpoints
from aam_core.train.distributed import Distributed, Runtime
from aam_core.train.objective import Objective
from aam_core.train.task import TargetTask

WORLD = 2
# one global batch of 7 dataset rows, not in table order, split 4 + 3
GLOBAL_ROWS = np.array([5, 2, 9, 0, 7, 3, 11])
ARCHITECTURE = ModelConfig.preset("tiny", head_dropout=0.0, max_length=40)
QUIET = dict(log=lambda message: None)


def synthetic(n_samples=24, n_features=20, seed=0):
    rng = np.random.default_rng(seed)
    features = ["".join(rng.choice(list("ACGT"), size=30)) for _ in range(n_features)]
    counts = rng.poisson(4.0, size=(n_samples, n_features)) * (rng.random(
        (n_samples, n_features)) < 0.6)
    counts[:, 0] += 1
    table = CountTable.from_dense(counts, [f"s{i:02d}" for i in range(n_samples)], features)
    points = rng.normal(size=(n_samples, 3))
    distances = squareform(pdist(points)).astype(np.float32)
    target = points[:, 0]  # about z-scores, as fit trains on
    return table, distances, target


def step_inputs():
    table, distances, target = synthetic()
    tokens = tokenize(table.feature_ids, max_length=40)
    builder = BatchBuilder(table.counts, tokens, DataConfig(max_length=40))
    train = TrainConfig(nucleotide_weight=0.0, loss="mse")
    task = TargetTask.regression(torch.as_tensor(target, dtype=torch.float32), train)
    # and an alpha-diversity target (a per-sample mean, like the target)
    alpha = torch.linspace(-1.5, 1.5, len(target))
    objective = Objective(train, distances=torch.as_tensor(distances), task=task,
                          alpha=alpha)
    return builder, objective


def new_model():
    torch.manual_seed(0)
    return AAM(ARCHITECTURE, head="regression", alpha_head=True)


def gradients(model) -> dict:
    return {name: p.grad.detach().clone() for name, p in model.named_parameters()
            if p.grad is not None}


def worker(rank: int, folder: str) -> None:
    """Every 2-process scenario, in one process group (starting processes
    costs more than the scenarios)."""
    torch.set_num_threads(1)
    torch.distributed.init_process_group(
        "gloo", init_method=f"file://{folder}/rendezvous", rank=rank, world_size=WORLD)
    dist = Distributed.current()
    one_step(dist, folder)
    for strategy in ("ddp", "fsdp"):
        training_run(dist, folder, strategy)
    regressor_run(dist, folder)
    contrastive_run(dist, folder)
    for strategy in ("ddp", "fsdp"):
        frozen_run(dist, folder, strategy)
    # both ranks done before either tears gloo down: a rank that destroyed
    # the group under the other's open pair once aborted it ("terminate
    # called without an active exception", SIGABRT)
    torch.distributed.barrier()
    torch.distributed.destroy_process_group()


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gloo")
    mp.spawn(worker, args=(str(folder),), nprocs=WORLD, join=True)
    return folder


# -- one step: the loss and its gradients -------------------------------------

def one_step(dist: Distributed, folder: str) -> None:
    builder, objective = step_inputs()
    shard = dist.shard(GLOBAL_ROWS)
    batch = builder.build(shard.rows)
    results = {}
    # the global-batch loss, as fit computes it
    model = new_model()
    wrapped = dist.wrap(model, torch.device("cpu"))
    total, terms, _ = objective(wrapped, batch, torch.Generator(), shard)
    total.backward()
    results["loss"] = dist.sum(terms["unifrac"].item()) / WORLD
    results["total"] = dist.sum(total.item()) / WORLD
    results["grads"] = gradients(model)
    # the block-diagonal shortcut: each process scores only its own pairs
    model = new_model()
    wrapped = dist.wrap(model, torch.device("cpu"))
    out = wrapped(batch)
    rows = torch.as_tensor(shard.rows)
    unifrac_pair_loss(out["embedding"], objective.distances[rows][:, rows]).backward()
    results["block_grads"] = gradients(model)
    if dist.is_main:
        Path(folder, "step.pkl").write_bytes(pickle.dumps(results))


def test_two_processes_give_the_single_process_loss_and_gradients(two_processes):
    two = pickle.loads((two_processes / "step.pkl").read_bytes())
    builder, objective = step_inputs()
    model = new_model()
    total, terms, _ = objective(model, builder.build(GLOBAL_ROWS), torch.Generator())
    total.backward()
    one = gradients(model)
    assert abs(two["loss"] - terms["unifrac"].item()) < 1e-5
    assert abs(two["total"] - total.item()) < 1e-5  # unifrac + alpha + target terms
    assert one.keys() == two["grads"].keys()
    for name, grad in one.items():
        torch.testing.assert_close(two["grads"][name], grad, atol=1e-5, rtol=0, msg=name)

    # unifrac alone, so that the comparison is about the pairs only
    model = new_model()
    out = model(builder.build(GLOBAL_ROWS))
    rows = torch.as_tensor(GLOBAL_ROWS)
    unifrac_pair_loss(out["embedding"], objective.distances[rows][:, rows]).backward()
    whole = gradients(model)
    worst = max((two["block_grads"][name] - grad).abs().max().item()
                for name, grad in whole.items())
    assert worst > 1e-3, "the block-diagonal loss should miss the cross-process pairs"


# -- whole runs: DDP and FSDP train the model one process trains ---------------

def training_inputs():
    table, distances, _ = synthetic(n_samples=20)
    dm = DistanceFile(table.sample_ids, distances)
    train = TrainConfig(epochs=2, batch_size=6, nucleotide_weight=0.0, random_state=5,
                        validation_fraction=0.2, learning_rate=3e-3)
    return table, dm, train


def training_run(dist: Distributed, folder: str, strategy: str) -> None:
    dist = replace(dist, strategy=strategy)
    table, dm, train = training_inputs()
    runtime = Runtime(dist, Checkpoints(Path(folder, strategy), every_steps=1))
    bundle = api.pretrain(table, distances=dm, model=ARCHITECTURE, train=train,
                          runtime=runtime, **QUIET)
    if dist.is_main:
        Path(folder, f"{strategy}.pkl").write_bytes(pickle.dumps(
            (bundle.state_dict, bundle.history)))


@pytest.mark.parametrize("strategy", ["ddp", "fsdp"])
def test_two_process_training_matches_one_process(two_processes, strategy):
    state, history = pickle.loads((two_processes / f"{strategy}.pkl").read_bytes())
    table, dm, train = training_inputs()
    alone = api.pretrain(table, distances=dm, model=ARCHITECTURE, train=train, **QUIET)
    np.testing.assert_allclose(history["train_loss"], alone.history["train_loss"], rtol=1e-4)
    np.testing.assert_allclose(history["val_loss"], alone.history["val_loss"], rtol=1e-4)
    # Compare what the encoder computes, the distances between embeddings:
    # some weights have a zero true gradient (a bias after the last LayerNorm
    # shifts all embeddings alike; key biases cancel in softmax), and Adam
    # turns their rounding noise into arbitrary small steps.
    trained = ModelBundle(alone.config, state, history)
    ours, theirs = (pdist(api.embed(b, table, **QUIET).to_numpy()) for b in (trained, alone))
    np.testing.assert_allclose(ours, theirs, atol=1e-4)
    # the checkpoint holds full tensors that load into one plain process
    saved = torch.load(two_processes / strategy / CHECKPOINT_FILE, weights_only=True)
    plain = AAM(ModelConfig.from_dict(alone.config["architecture"]))
    plain.load_state_dict(saved["model"])
    assert saved["world_size"] == WORLD and saved["progress"]["finished"]


def contrastive_run(dist: Distributed, folder: str) -> None:
    """Each process's views meet the negatives of its own slice; the UniFrac
    pairs of the first views still span the global batch."""
    table, dm, train = training_inputs()
    bundle = api.pretrain(table, distances=dm, model=ARCHITECTURE,
                          train=replace(train, contrastive_weight=1.0),
                          runtime=Runtime(dist), **QUIET)
    if dist.is_main:
        Path(folder, "contrastive.pkl").write_bytes(pickle.dumps(bundle.history))


def test_two_processes_pretrain_with_the_contrastive_objective(two_processes):
    history = pickle.loads((two_processes / "contrastive.pkl").read_bytes())
    assert np.isfinite(history[["train_unifrac", "train_contrastive"]].to_numpy()).all()


def frozen_inputs():
    table, dm, train = training_inputs()
    return table, dm, replace(train, epochs=3, nucleotide_weight=1.0, nucleotide_epochs=1)


def frozen_run(dist: Distributed, folder: str, strategy: str) -> None:
    """nucleotide_epochs: each process (FSDP: from its shards) caches the
    frozen nucleotide encoder's ASV vectors after the first epoch."""
    table, dm, train = frozen_inputs()
    bundle = api.pretrain(table, distances=dm, model=ARCHITECTURE, train=train,
                          runtime=Runtime(replace(dist, strategy=strategy)), **QUIET)
    if dist.is_main:
        Path(folder, f"frozen-{strategy}.pkl").write_bytes(pickle.dumps(bundle.history))


@pytest.mark.parametrize("strategy", ["ddp", "fsdp"])
def test_two_processes_freeze_the_nucleotide_encoder_as_one_does(two_processes, strategy):
    # (each process masks its own slice's nucleotides, so the losses are not
    # one process's bit for bit, as without the nucleotide loss above)
    history = pickle.loads((two_processes / f"frozen-{strategy}.pkl").read_bytes())
    assert np.isfinite(history["train_nucleotide"].iloc[0])
    assert history["train_nucleotide"].iloc[1:].isna().all()
    assert np.isfinite(history[["train_unifrac", "val_unifrac", "val_nucleotide"]]
                       .to_numpy()).all()
    assert history["train_unifrac"].iloc[-1] < history["train_unifrac"].iloc[0]


# -- fine-tuning: validation metrics over all samples, gradient accumulation ----

def regressor_inputs():
    table, _, target = synthetic(n_samples=24)
    target = pd.Series(target * 10 + 40, index=table.sample_ids, name="age")
    train = replace(FIT_TRAIN_DEFAULTS, epochs=3, batch_size=4, accumulation_steps=2,
                    validation_fraction=0.25, random_state=2, learning_rate=3e-3)
    return table, target, train


def regressor_run(dist: Distributed, folder: str) -> None:
    table, target, train = regressor_inputs()
    bundle = fit_model("regressor", FitInputs(table, target),
                       FitSettings(model=ARCHITECTURE, train=train), QUIET["log"],
                       Runtime(dist))
    if dist.is_main:
        Path(folder, "regressor.pkl").write_bytes(pickle.dumps(bundle.history))


def test_two_process_validation_metrics_cover_every_sample(two_processes):
    history = pickle.loads((two_processes / "regressor.pkl").read_bytes())
    table, target, train = regressor_inputs()
    alone = api.fit_regressor(table, target, model=ARCHITECTURE, train=train, **QUIET)
    for column in ("train_loss", "val_loss", "val_mae", "val_r2"):
        np.testing.assert_allclose(history[column], alone.history[column], rtol=1e-4,
                                   err_msg=column)
