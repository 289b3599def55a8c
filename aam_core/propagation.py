"""The propagation readout: a regressor's labels spread over the neighbour
graph of the frozen pretrained encoder's embeddings of every sample in the
table, labelled or not (label propagation), instead of a head fitted on
the labelled samples alone.

Pretraining saw many samples without labels; a head fitted on a few
labelled ones uses none of them. Here each unlabelled sample becomes a node
of the graph, and takes the weighted mean of its neighbours' values until
the values settle with the labelled ones held fixed (the harmonic solution
of Zhu, Ghahramani and Lafferty, 2003). A new sample gets the mean of its
k nearest nodes. So a few labels reach every region of the embedding that
the unlabelled samples fill, e.g. a study none of the labelled samples
comes from but some unlabelled ones do. On oral-age with 50-150 labels,
from an encoder pretrained also on contrastive views (or on weighted with
unweighted UniFrac), it beats fine-tuning and the forest; from one
pretrained on unweighted UniFrac alone it does not (docs/label-efficiency.md).
"""
from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pandas as pd
import torch
from scipy import sparse

from .config import ONE_HEAD, ONE_HEAD_AS_DONE
from .errors import AAMInputError
from .readout import inner_folds, sample_embeddings
from .spelling import spelled
from .train.cache import cache_asv_vectors
from .train.loop import TrainingData, evaluate

# neighbours of each node in the graph and of a new sample, chosen by
# grouped cross-validation inside the labelled samples
NEIGHBOURS = (5, 10, 20, 40)
# sweeps of the spreading: labels travel one neighbour per sweep
SWEEPS = 100
# rows of the distance matrix taken at once when finding neighbours
CHUNK = 1024


def nearest(x: np.ndarray, nodes: np.ndarray, k: int, leave_self: bool = False):
    """(distances, indices) of each row's k nearest nodes; leave_self: x is
    nodes, and a node is not its own neighbour."""
    k = min(k, len(nodes) - leave_self)
    nodes_t = torch.from_numpy(np.array(nodes, dtype=np.float64))  # a writable copy
    found_d, found_i = [], []
    for start in range(0, len(x), CHUNK):
        part = torch.from_numpy(np.array(x[start:start + CHUNK], dtype=np.float64))
        d = torch.cdist(part, nodes_t, compute_mode="donot_use_mm_for_euclid_dist")
        if leave_self:
            d[torch.arange(len(part)), torch.arange(start, start + len(part))] = np.inf
        values, index = d.topk(k, dim=-1, largest=False)
        found_d.append(values.numpy())
        found_i.append(index.numpy())
    return np.concatenate(found_d), np.concatenate(found_i)


def graph(x: np.ndarray, k: int) -> sparse.csr_matrix:
    """The symmetric k-nearest-neighbour graph of the rows of x, Gaussian
    weights on a bandwidth of the median distance to the k-th neighbour."""
    return graph_of(*nearest(x, x, k, leave_self=True))


def graph_of(distances: np.ndarray, index: np.ndarray) -> sparse.csr_matrix:
    """graph() from each node's nearest other nodes (distances ascending),
    found already: as many as a column each."""
    bandwidth = float(np.median(distances[:, -1])) or 1.0
    weights = np.exp(-(distances / bandwidth) ** 2)
    n, k = index.shape
    w = sparse.csr_matrix((weights.ravel(), (np.repeat(np.arange(n), k), index.ravel())),
                          shape=(n, n))
    return ((w + w.T) / 2).tocsr()


def spread(w: sparse.csr_matrix, labelled: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Every node's value: the labelled ones fixed at z, each other one the
    weighted mean of its neighbours' (the labelled mean where no label
    reaches)."""
    degree = np.asarray(w.sum(axis=1)).ravel()
    degree[degree == 0] = 1.0
    values = np.full(w.shape[0], z.mean())
    values[labelled] = z
    for _ in range(SWEEPS):
        values = w @ values / degree
        values[labelled] = z
    return values


def predict(nodes: np.ndarray, values: np.ndarray, x: np.ndarray, k: int) -> np.ndarray:
    """Each row of x: its k nearest nodes' values, weighted by inverse
    distance (as NeighbourReadout does in the model)."""
    distances, index = nearest(x, nodes, k)
    return _weighted(values, distances, index)


def _weighted(values, distances, index) -> np.ndarray:
    weights = 1.0 / (distances + 1e-9)
    return (values[index] * weights).sum(axis=1) / weights.sum(axis=1)


def held_out(x: np.ndarray, values: np.ndarray, rows: np.ndarray, k: int) -> np.ndarray:
    """Predictions of the nodes `rows` from their k nearest other nodes, as
    if they were new samples."""
    distances, index = nearest(x[rows], x, k + 1)
    distances = np.where(index == rows[:, None], np.inf, distances)
    return _weighted(values, distances, index)


def choose_k(x: np.ndarray, labelled: np.ndarray, z: np.ndarray, groups: np.ndarray,
             seed: int) -> tuple:
    """(k, out-of-fold residuals at it, the graph at it): the number of
    neighbours whose grouped cross-validated absolute error is smallest.
    While its fold is left out a labelled sample is an unlabelled node, and
    it is predicted from its k nearest other nodes, as a new sample is."""
    folds = inner_folds(groups, seed)
    tried = [k for k in NEIGHBOURS if k < len(x)] or [max(1, len(x) - 1)]
    # the nearest nodes once, for the largest k: each smaller k's are its first
    distances, index = nearest(x, x, max(tried), leave_self=True)
    best = None
    for k in tried:
        w = graph_of(distances[:, :k], index[:, :k])
        residuals = np.empty(len(z))
        for rows in folds:
            keep = np.setdiff1d(np.arange(len(z)), rows)
            values = spread(w, labelled[keep], z[keep])
            residuals[rows] = z[rows] - held_out(x, values, labelled[rows], k)
        error = np.abs(residuals).mean()
        if best is None or error < best[0]:
            best = (error, k, residuals, w)
    return best[1:]


def check(kind: str, train, defaults) -> None:
    """Refuse what the propagation readout cannot honour (the ridge
    readout's checks, readout.check, apply too); `defaults`: the fit's."""
    if train.readout != "propagation":
        return
    for name in ONE_HEAD:
        value, done = getattr(train, name), ONE_HEAD_AS_DONE.get(name)
        if value not in (getattr(defaults, name), done):
            also = "" if done is None else f" (or set it to {done})"
            raise AAMInputError(
                f"{spelled('readout', 'propagation')} fits one head on every labelled "
                f"sample, its intervals calibrated by its own grouped cross-validation, "
                f"so {spelled(name, value)} would be ignored: leave it at its "
                f"default{also}, or use {spelled('readout', 'ridge')} or "
                f"{spelled('readout', 'fine_tune')}.")
    if kind == "regressor" and train.loss == "quantile":
        raise AAMInputError(
            f"{spelled('readout', 'propagation')} predicts one value per sample, not "
            f"quantiles: set {spelled('loss')} to 'huber' or 'mse', or use "
            f"{spelled('readout', 'ridge')} or {spelled('readout', 'fine_tune')} for "
            "quantiles.")


def fit_members(run, make_network, groups, everyone, labelled, log):
    """One embedding pass of the frozen encoder over every sample of the
    table (`everyone`, a BatchBuilder; `labelled`: the positions in it of
    the target's rows), then the labels of every labelled sample spread over
    the graph: one head, whose grouped cross-validation chose k and gives
    the out-of-fold errors that calibrate its intervals. Returns what
    fit._fit_members does."""
    started = time.perf_counter()
    task = run.objective.task
    if task.sample_weights is not None:
        raise AAMInputError(
            f"{spelled('readout', 'propagation')} spreads every label alike, so sample "
            "weights would be ignored: leave them out, or use "
            f"{spelled('readout', 'ridge')} or {spelled('readout', 'fine_tune')}.")
    network = make_network(log)
    network.asv_cache = cache_asv_vectors(network, run.tokens, run.device)
    x = sample_embeddings(network, everyone, run.device, run.train.batch_size)
    z = task.values.numpy().astype(np.float64)
    units = np.asarray(groups if groups is not None else np.arange(len(z)), dtype=str)
    unlabelled = len(x) - len(z)
    if not unlabelled:
        log("The table holds no sample without a target, so the labels spread over "
            "the labelled samples alone (a neighbour regression): add the unlabelled "
            "samples you pretrained on to the table.")
    k, residuals, w = choose_k(x, labelled, z, units, run.train.random_state)
    set_head(network, x, spread(w, labelled, z), k)
    rows = np.arange(len(z))
    scored = TrainingData(run.builder, rows, rows, score=run.score_on(rows))
    fitted = {f"train_{key}": v for key, v in evaluate(
        network, scored, run.objective, run.train, run.device).items()}
    # predictions - truth in target units, of samples whose own label was
    # held out: what fit._calibration reads from the members' validation
    errors = -residuals * task.scale.numpy().astype(np.float64)
    cv_mae = float(np.abs(errors).mean())
    log(f"Propagation readout: {len(z)} labelled and {unlabelled} unlabelled samples, "
        f"{k} neighbours chosen by grouped cross-validation (its MAE {cv_mae:.4g}).")
    record = {"epoch": 1, "neighbours": k, **fitted, "cv_mae": cv_mae,
              "seconds": time.perf_counter() - started}
    run.runtime.tracker.epoch(record)  # --tensorboard/--mlflow-uri: its one 'epoch'
    history = pd.DataFrame([record])
    network.asv_cache = None
    one = replace(run.train, ensemble_size=1)  # what the saved model holds
    return [network], [history], [1], "loss", one, [(rows, errors)]


def set_head(network, nodes: np.ndarray, values: np.ndarray, k: int) -> None:
    head = network.head.mlp
    with torch.no_grad():
        head.nodes.copy_(torch.as_tensor(nodes, dtype=head.nodes.dtype))
        head.values.copy_(torch.as_tensor(values, dtype=head.values.dtype)[:, None])
        head.k.fill_(k)
