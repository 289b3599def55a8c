"""The ridge readout: a regressor's head solved in closed form on the frozen
pretrained encoder's sample embeddings, instead of fine-tuned by gradient.

Fine-tuning trains the sample encoder and the head for minutes; a linear
map from the pretrained embedding, its penalty chosen by grouped
cross-validation inside the training samples, fits in seconds, and on
oral-age it is as accurate with a few hundred labels (less so with 50, or
with all of them: docs/label-efficiency.md). The result is an ordinary
regressor, a linear head on the frozen encoder, so prediction, intervals,
embeddings and ensembles work as for any other.

A quantile model gets the ridge line shifted by the quantiles of its
cross-validated residuals: parallel quantile lines, non-crossing, which the
head's monotone quantile layout holds exactly.
"""
from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pandas as pd
import torch

from .config import GRADIENT_ONLY
from .errors import AAMInputError
from .spelling import spelled, spelled_metadata, spelled_pretrained
from .train.cache import cache_asv_vectors
from .train.loop import TrainingData, evaluate

# penalties tried, on standardised embeddings; the largest ones predict
# almost the training mean, which is what few labels may support
ALPHAS = tuple(float(a) for a in np.logspace(-1, 5, 13))
INNER_FOLDS = 5
# below this many labelled groups the penalty is the one-standard-error
# rule's, from it on the smallest cross-validated error's (measured on the
# grouped folds: docs/label-efficiency.md)
FEW_GROUPS = 40
# the fit is least squares: 'huber' (the default loss) is read as 'mse', and
# 'quantile' adds the residuals' quantiles; 'mae' and 'asymmetric' are not it
LOSSES = ("mse", "huber", "quantile")
# the losses each readout takes: propagation predicts one value per sample
# (propagation.check refuses 'quantile', saying so)
TAKEN = {"ridge": LOSSES, "propagation": ("mse", "huber")}
# output activations a readout honours besides 'none': the ridge line fitted
# to the target's logarithm is the head that 'exp' makes (a line in log units)
LOG_LINEAR = {"ridge": ("exp",), "propagation": ()}


def check_processes(train, n_processes: int, launcher: str) -> None:
    """The closed-form head is solved in one process: more would each solve
    the same one, the extra devices unused. `launcher`: what started them,
    in the caller's words ('n_devices' for the actions, 'torchrun'); 'auto'
    fine-tunes there."""
    if train.readout in ("fine_tune", "auto") or n_processes <= 1:
        return
    started = (f"torchrun started {n_processes} processes" if launcher == "torchrun"
               else f"{spelled('n_devices', n_processes)} would be ignored")
    instead = ("run it without torchrun" if launcher == "torchrun"
               else f"leave {spelled('n_devices')} at 1")
    how = ("solves its head in closed form" if train.readout == "ridge"
           else "spreads its labels over a graph")
    raise AAMInputError(
        f"{spelled('readout', train.readout)} {how} in one process, so {started}: "
        f"{instead}, or use {spelled('readout', 'fine_tune')}.")


def for_processes(kind: str, train, pretrained, n_processes: int, launcher: str, log):
    """train with readout 'auto' made 'fine_tune' where `launcher` starts
    several processes, said in its words (check_processes'): inside each
    process the fit knows only that there are several."""
    if train.readout != "auto" or n_processes <= 1:
        return train
    return resolve(kind, train, pretrained,
                   lambda ridge: check_processes(ridge, n_processes, launcher), log)


def check_groups(train, groups) -> None:
    """The ridge and propagation readouts choose their penalty or neighbours
    (propagation: and its intervals) by grouped cross-validation: with every
    labelled sample in one group no fold can leave that subject out, and
    folds of single samples would leak it, so the groups would be ignored."""
    if train.readout in ("fine_tune", "auto") or groups is None or len(set(groups)) > 1:
        return
    raise AAMInputError(
        f"{spelled('readout', train.readout)} chooses its "
        f"{'penalty' if train.readout == 'ridge' else 'neighbours and calibrates its intervals'}"
        f" by grouped cross-validation, but all {len(groups)} labelled samples "
        f"belong to one group ({spelled_metadata('groups')}), so no fold can leave that "
        "subject out: give labelled samples of at least two groups, or leave out "
        f"{spelled_metadata('groups')} to cross-validate by sample.")


def check(kind: str, train, data, defaults, architecture, conditioning, pretrained,
          head_options: dict, distances=None) -> None:
    """Refuse what the ridge or propagation readout cannot honour, naming
    the option."""
    def refuse(what: str):
        raise AAMInputError(f"{spelled('readout', train.readout)} {what}")
    if kind != "regressor":
        refuse("fits a regressor's head; a classifier is fine-tuned.")
    if pretrained is None:
        refuse(f"reads a pretrained encoder's embeddings: give one with "
               f"{spelled_pretrained()}, or use {spelled('readout', 'fine_tune')}.")
    if train.loss not in LOSSES:
        *others, last = [repr(loss) for loss in TAKEN[train.readout]]
        honoured = f"{', '.join(others)} or {last}"
        refuse(f"minimises the squared error: set {spelled('loss')} to {honoured}, not "
               f"{train.loss!r}.")
    for name in GRADIENT_ONLY:
        source, default = (data, type(data)()) if not hasattr(train, name) else \
            (train, defaults)
        if getattr(source, name) != getattr(default, name):
            refuse(f"trains no network, so {spelled(name, getattr(source, name))} would "
                   "be ignored: leave it at its default, or use "
                   f"{spelled('readout', 'fine_tune')}.")
    shape = {k: v for k, v in head_options.items() if k in ("hidden_layers", "hidden_width")}
    if shape.get("hidden_layers", 1) != 1 or shape.get("hidden_width", 0) != 0 or \
            architecture.regression_experts != 1 or architecture.residual_head or \
            architecture.head_dropout != type(architecture)().head_dropout:
        refuse(f"{'is linear' if train.readout == 'ridge' else 'has no layers'}: leave "
               "the head's hidden layers, width, experts, residual blocks and dropout at "
               "their defaults.")
    if any(b is not None for b in architecture.output_bounds) or \
            architecture.output_activation not in ("none", *LOG_LINEAR[train.readout]):
        honoured = " (or set it to 'exp')" if LOG_LINEAR[train.readout] else ""
        refuse(f"is unbounded: leave out the bounds and the output activation{honoured}.")
    if conditioning is not None and conditioning.shape[1]:
        refuse("reads the embedding alone: leave out the conditioning metadata.")
    if distances is not None and train.unifrac_weight > 0:
        refuse("trains no network, so the distance matrix would be ignored: leave "
               "it out.")


def resolve(kind: str, train, pretrained, refuse, log):
    """train with readout 'auto' made 'ridge' or 'fine_tune': ridge for a
    regressor read out of a pretrained encoder whose settings it honours
    (refuse(candidate) raises what the fit would refuse of it; no
    freeze_encoder: a user who sets it wants a head trained by gradient),
    else fine-tuning."""
    if train.readout != "auto":
        return train
    fine_tune = replace(train, readout="fine_tune")
    if kind != "regressor" or pretrained is None:
        return fine_tune  # nothing to read out: the only way, not worth a word
    ridge = replace(train, readout="ridge")
    why = (f"{spelled('freeze_encoder', True)} asks for a head trained by gradient."
           if train.freeze_encoder else None)
    if why is None:
        try:
            refuse(ridge)
        except AAMInputError as refusal:
            why = str(refusal)
    if why is None:
        log(f"{spelled('readout', 'auto')}: the ridge readout, a linear head solved on "
            "the frozen pretrained encoder's embeddings (fine-tuning instead: "
            f"{spelled('readout', 'fine_tune')}).")
        return ridge
    log(f"{spelled('readout', 'auto')}: fine-tuning, not the ridge readout, which "
        f"says: {why}")
    return fine_tune


def sample_embeddings(network, builder, device, batch_size: int) -> np.ndarray:
    """(n_samples, d_model) embeddings of every sample of `builder`, as
    prediction sees them (evaluation mode, no ASV dropout)."""
    network.eval()
    rng = np.random.default_rng(0)
    rows = np.arange(builder.counts.shape[0])
    kept = []
    with torch.no_grad():
        for start in range(0, len(rows), batch_size):
            batch = builder.build(rows[start:start + batch_size], rng, augment=False)
            kept.append(network(batch.to(device))["embedding"].float().cpu().numpy())
    return np.concatenate(kept).astype(np.float64)


def solve(x: np.ndarray, z: np.ndarray, weights: np.ndarray, alpha: float):
    """(w, b) of weighted ridge on standardised columns, mapped back to x."""
    weights = weights / weights.mean()
    mean = np.average(x, axis=0, weights=weights)
    scale = x.std(axis=0) + 1e-8
    xs = (x - mean) / scale
    centre = np.average(z, weights=weights)
    gram = xs.T @ (xs * weights[:, None]) + alpha * np.eye(x.shape[1])
    beta = np.linalg.solve(gram, xs.T @ (weights * (z - centre)))
    w = beta / scale
    return w, centre - mean @ w


def inner_folds(groups: np.ndarray, seed: int) -> list:
    """Validation rows of up to INNER_FOLDS grouped folds (samples alone
    when there is one group only)."""
    labels, codes = np.unique(groups, return_inverse=True)
    if len(labels) < 2:
        labels, codes = np.arange(len(groups)), np.arange(len(groups))
    k = min(INNER_FOLDS, len(labels))
    fold_of = np.random.default_rng(seed).permutation(len(labels)) % k
    return [np.flatnonzero(fold_of[codes] == f) for f in range(k)]


def check_weighted_folds(folds: list, weights: np.ndarray) -> None:
    """Every sample of loss weight above 0 in one inner fold: the other
    folds would fit on weights of 0 (a line of nan) and score nothing, so
    no penalty could be chosen (numpy's 'zero-size array')."""
    if len(folds) < 2 or all(weights[np.setdiff1d(np.arange(len(weights)), rows)].sum() > 0
                             for rows in folds):
        return
    raise AAMInputError(
        f"{spelled('readout', 'ridge')} chooses its penalty by grouped cross-validation, "
        f"but every training sample with a loss weight above 0 ({int((weights > 0).sum())} of "
        f"{len(weights)}, {spelled_metadata('loss_weights')}) falls in one of its "
        f"{len(folds)} folds, so the others would fit on nothing: give more samples (of "
        f"more groups) a weight above 0, or use {spelled('readout', 'fine_tune')}.")


def choose_alpha(x, z, weights, groups, seed: int):
    """(alpha, out-of-fold residuals at it): with fewer than FEW_GROUPS
    labelled groups, the largest penalty whose grouped cross-validated
    absolute error is within one standard error of the best one's; with
    more, the best one. With few groups the fold errors scatter widely and
    the smallest mean is often luck, so the more shrunk line is safer; with
    many, the smallest mean is a fair estimate and the rule only shrinks a
    line that the data support."""
    folds = inner_folds(groups, seed)
    check_weighted_folds(folds, weights)
    # a fold whose samples all weigh 0 (loss weights) has no error to score
    scored = [rows for rows in folds if weights[rows].sum() > 0]
    errors, residuals = [], []
    for alpha in ALPHAS:
        left_out = np.empty(len(z))
        for rows in folds:
            keep = np.setdiff1d(np.arange(len(z)), rows)
            w, b = solve(x[keep], z[keep], weights[keep], alpha)
            left_out[rows] = z[rows] - (x[rows] @ w + b)
        errors.append([np.average(np.abs(left_out[rows]), weights=weights[rows])
                       for rows in scored])
        residuals.append(left_out)
    errors = np.array(errors)  # (alphas, folds of some weight)
    mean = errors.mean(axis=1)
    spread = errors.std(axis=1, ddof=1) / np.sqrt(len(scored)) if len(scored) > 1 \
        else np.zeros(len(ALPHAS))
    best = int(np.argmin(mean))
    distinct = np.unique(groups).size
    # one group only: the samples are the units, as inner_folds deals them
    units = distinct if distinct > 1 else len(groups)
    if units >= FEW_GROUPS:
        return ALPHAS[best], residuals[best]
    chosen = int(np.flatnonzero(mean <= mean[best] + spread[best]).max())
    return ALPHAS[chosen], residuals[chosen]


def head_target(task, activation: str) -> np.ndarray:
    """What the line is fitted to. Under 'exp' the head predicts
    shift * exp(raw) in target units (heads.py, RegressionHead.finish; shift
    floored at 1e-3 scales), each sample with its own shift and scale (per
    category of normalise_by): the line is fitted to log(target) less each
    sample's log(shift), so raw is the line itself."""
    z = task.values.numpy().astype(np.float64)
    if activation != "exp":
        return z
    shift = np.broadcast_to(task.shift.numpy().astype(np.float64).reshape(-1), z.shape)
    scale = np.broadcast_to(task.scale.numpy().astype(np.float64).reshape(-1), z.shape)
    return np.log(z * scale + shift) - np.log(np.maximum(shift, 1e-3 * scale))


def set_head(network, w: np.ndarray, b: float, offsets: np.ndarray) -> None:
    """The linear head's weights: output 0 is the line plus offsets[0]; each
    next (a quantile model's) adds a constant step, through the softplus of
    the head's monotone layout."""
    layer = network.head.mlp[-1]
    with torch.no_grad():
        layer.weight.zero_()
        layer.weight[0] = torch.as_tensor(w, dtype=layer.weight.dtype)
        layer.bias[0] = float(b + offsets[0])
        steps = np.maximum(np.diff(offsets), 1e-4)
        for k, step in enumerate(steps, start=1):
            layer.bias[k] = float(step + np.log(-np.expm1(-step)))  # softplus^-1


def fit_members(run, splits, make_network, predict_validation, groups, log):
    """One embedding pass of the frozen encoder, then a closed-form head per
    member's split; returns what fit._fit_members does (members, histories,
    best epochs, selection metric, settings, out-of-fold predictions).
    make_network(log) builds a member from the pretrained model;
    predict_validation(member, training_data) gives its predictions of the
    validation rows in target units."""
    started = time.perf_counter()
    network = make_network(log)
    network.asv_cache = cache_asv_vectors(network, run.tokens, run.device)
    x = sample_embeddings(network, run.builder, run.device, run.train.batch_size)
    task = run.objective.task
    z = head_target(task, network.head.activation)
    weights = np.ones(len(z)) if task.sample_weights is None else \
        task.sample_weights.numpy().astype(np.float64)
    units = np.asarray(groups if groups is not None else np.arange(len(z)), dtype=str)
    quantiles = run.train.quantiles if run.train.loss == "quantile" else ()
    members, histories, out_of_fold = [], [], []
    for index, (train_rows, val_rows) in enumerate(splits):
        member = network if index == 0 else make_network(None)
        member.asv_cache = network.asv_cache
        alpha, residuals = choose_alpha(x[train_rows], z[train_rows], weights[train_rows],
                                        units[train_rows], run.train.random_state + index)
        w, b = solve(x[train_rows], z[train_rows], weights[train_rows], alpha)
        offsets = np.quantile(residuals, quantiles) if quantiles else np.zeros(1)
        set_head(member, w, b, offsets)
        history = {"epoch": 1, "ridge_alpha": alpha}
        for side, rows in (("train", train_rows), ("val", val_rows)):
            if len(rows):
                scored = TrainingData(run.builder, train_rows, rows, score=run.score_on(rows))
                history.update({f"{side}_{k}": v for k, v in evaluate(
                    member, scored, run.objective, run.train, run.device).items()})
        if run.kind == "regressor" and len(val_rows):
            out_of_fold.append((val_rows, predict_validation(
                member, TrainingData(run.builder, train_rows, val_rows))))
        which = f" (member {index + 1} of {len(splits)})" if len(splits) > 1 else ""
        scored = (f"validation MAE {history['val_mae']:.4g}" if "val_mae" in history
                  else "no validation samples")
        log(f"Ridge readout{which} on {len(train_rows)} samples: penalty {alpha:g}, chosen "
            f"by grouped cross-validation; {scored}.")
        history["seconds"] = time.perf_counter() - started
        # --tensorboard/--mlflow-uri: the fit's one 'epoch' (the default
        # readout's, so a tracked run is never left without its metrics)
        run.runtime.tracker.member(index, len(splits))
        run.runtime.tracker.epoch(history)
        histories.append(pd.DataFrame([{**history,
                                        **({"member": index} if len(splits) > 1 else {})}]))
        members.append(member)
    for member in members:
        member.asv_cache = None
    return members, histories, [1] * len(members), "loss", run.train, out_of_fold
