"""Fine-tuning (or training from scratch) a regressor or a classifier.

fit_regressor / fit_classifier take plain Python objects by sample id; the
supervision (targets, normalisation, conditioning, weights) is fitted on the
training samples only (supervision.py), then one network, or an ensemble of
networks each early-stopped on its own grouped validation split, is trained
by the loop in train/loop.py.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np
import pandas as pd
import torch

from . import arguments, fit_checks, intervals, propagation, readout, supervision
from .bundle import ModelBundle
from .config import (DEFAULT_PRESET, FIT_TRAIN_DEFAULTS, HEAD_FIELDS, HEAD_SHAPE,
                     ConditioningConfig, DataConfig, ModelConfig, TrainConfig)
from .data.batching import BatchBuilder
from .data.prepare import distance_block, prepare
from .data.split import member_splits
from .data.targets import point_index
from .errors import AAMInputError
from .model import AAM, Ensemble
from .model.build import cpu_state, load_matching_weights, new_config, run_record
from .model.ensemble import first_member_state
from .option import check_applies, check_fields, check_needs, choices_of
from .spelling import spelled, spelled_metadata, spelled_pretrained
from .train.cache import cache_asv_vectors
from .train.device import resolve_device, seed_everything
from .train.distributed import Runtime
from .train.loop import TrainingData, evaluate, fit, log_to_stderr
from .train.lr_finder import lr_range_test
from .train.objective import Objective, as_tensor

Log = Callable[[str], None]
# the validation metrics that may pick the best epoch, by kind
SELECTION = {kind: tuple(c for c in choices_of(TrainConfig, "selection_metric",
                                               f"fit-{kind}") if c != "auto")
             for kind in ("regressor", "classifier")}


@dataclass
class FitInputs:
    """What a fine-tuning run reads; Series and DataFrames by sample id."""
    table: object
    targets: pd.Series
    sequences: object = None
    groups: pd.Series | None = None
    pretrained: ModelBundle | None = None
    distances: object = None            # skbio.DistanceMatrix or a DistanceFile
    conditioning: pd.DataFrame | None = None
    # columns normalise_by / weight_by may name, not fed to the model
    categories: pd.DataFrame | None = None
    sample_weights: pd.Series | None = None


@dataclass
class FitSettings:
    model: str | ModelConfig = DEFAULT_PRESET
    head_options: dict | None = None    # HEAD_FIELDS/HEAD_SHAPE, also when pretrained
    data: DataConfig = DataConfig()
    train: TrainConfig = FIT_TRAIN_DEFAULTS
    conditioning: ConditioningConfig = ConditioningConfig()


_TRAIN_DOC = """

    train: start from the fit's defaults, FIT_TRAIN_DEFAULTS (e.g.
    dataclasses.replace(FIT_TRAIN_DEFAULTS, epochs=5)); a bare TrainConfig()
    holds pretraining's (the masked-nucleotide loss on, the nucleotide
    encoder trained, 20 epochs)."""


def _fitter(kind: str, doc: str):
    def fit_kind(table, targets: pd.Series, sequences=None, groups=None,
                 pretrained: ModelBundle | None = None, *,
                 model: str | ModelConfig = DEFAULT_PRESET, data: DataConfig = DataConfig(),
                 train: TrainConfig = FIT_TRAIN_DEFAULTS, log: Log = log_to_stderr,
                 distances=None, conditioning: pd.DataFrame | None = None,
                 conditioning_config: ConditioningConfig = ConditioningConfig(),
                 head_options: dict | None = None, categories=None,
                 sample_weights=None) -> ModelBundle:
        inputs = FitInputs(table, targets, sequences, groups, pretrained, distances,
                           conditioning, categories, sample_weights)
        settings = FitSettings(model, head_options, data, train, conditioning_config)
        return fit_model(kind, inputs, settings, log)
    fit_kind.__name__ = fit_kind.__qualname__ = f"fit_{kind}"
    fit_kind.__doc__ = doc + _TRAIN_DOC
    return fit_kind


fit_regressor = _fitter("regressor", """Fine-tune (or train from scratch) a
    regressor of a numeric target.

    distances: optional skbio.DistanceMatrix for the auxiliary UniFrac term;
    conditioning: a DataFrame of categorical columns by sample id, used as
    conditioning_config says; head_options: ModelConfig head fields
    (HEAD_FIELDS) that override the preset's or the pretrained model's, the
    head's shape also as hidden_layers and hidden_width (HEAD_SHAPE);
    categories: more columns that conditioning_config.normalise_by or
    weight_by may name (not fed to the model); sample_weights: a loss weight
    per sample id (missing ones weigh 1).""")
fit_classifier = _fitter("classifier", """Fine-tune (or train from scratch) a
    classifier of a categorical target (cross-entropy; train.class_weight
    'balanced' or 'none'). Options as for fit_regressor.""")


@dataclass
class _Run:
    """One fine-tuning run, set up: what each ensemble member trains with."""
    kind: str
    architecture: ModelConfig
    spec: dict | None
    n_outputs: int
    train: TrainConfig
    device: object
    builder: BatchBuilder
    tokens: np.ndarray
    objective: Objective
    score_on: Callable
    runtime: Runtime


def fit_model(kind: str, inputs: FitInputs, settings: FitSettings, log: Log,
              runtime: Runtime | None = None) -> ModelBundle:
    """Fit a 'regressor' or a 'classifier', among the processes of `runtime`
    (default: those this process has joined; no checkpoints, no tracker)."""
    runtime = runtime or Runtime.joined()
    started = time.perf_counter()
    _check_settings(inputs, settings, log)
    train = check_options(kind, settings.train, settings.conditioning,
                          inputs.pretrained, log)
    inputs = _checked_inputs(inputs)  # after the settings, which need no data
    fit_checks.check_groups_column(kind, inputs.groups, inputs.targets)
    fit_checks.check_weights_column(kind, inputs.sample_weights, inputs.targets)
    seed_everything(train)
    data = settings.data
    if inputs.pretrained is not None:
        data = data.under_pretrained(DataConfig(**inputs.pretrained.config["data"]))
    prepared = prepare(inputs.table, inputs.sequences, data, log,
                       encoder=inputs.pretrained is not None)
    data = prepared.data  # max_length 0 resolved to the longest sequence
    architecture = _architecture(kind, settings.model, settings.head_options, data,
                                 inputs.pretrained, log)
    fit_checks.check_head(kind, train, architecture)
    # readout 'auto' never spreads labels, so the targets do not wait for it
    target = supervision.aligned_targets(kind, inputs.targets, prepared.table.sample_ids,
                                         log, train.readout == "propagation",
                                         prepared.dropped, data.rarefaction_depth)
    groups = supervision.group_values(inputs.groups, target.index, log)
    train, architecture = _settle_readout(kind, train, inputs, settings, data, architecture,
                                          groups, runtime.dist.world_size,
                                          prepared.table.n_samples, log, target)
    if kind == "regressor":
        _check_target_range(target, architecture)
        _check_head_precision(target, architecture)
    sample_ids = list(target.index)
    # member i of an ensemble early-stops on its own grouped split (seed + i),
    # or on the i-th of disjoint grouped folds; the propagation readout's one
    # head takes every labelled sample (its cross-validation is its own)
    one_head = train.readout == "propagation"
    splits = member_splits(len(target), 1 if one_head else train.ensemble_size,
                           0.0 if one_head else train.validation_fraction,
                           train.random_state, groups, train.ensemble_validation)
    _say_unused_groups(groups, train, splits, log)
    if kind == "classifier":
        supervision.refuse_class_groups(inputs.groups, target)
        supervision.check_classes(target, splits, train.ensemble_validation, log)
    # what all members share (normalisation, vocabularies, weights) is fitted
    # on the samples they train on: one member's, or all of them for an
    # ensemble, whose members between them train on every sample
    fit_rows = splits[0][0] if len(splits) == 1 else np.arange(len(target))
    spec, task, block, score_on = _supervise(kind, target, inputs, fit_rows, train,
                                             settings.conditioning, log)
    supervision.check_member_weights(task.sample_weights, splits)
    use_distances = _uses_distances(inputs.distances, train, log)
    distances = distance_block(inputs.distances, sample_ids) if use_distances else None
    run = _Run(kind, architecture, spec, _n_outputs(kind, block, train), train,
               resolve_device(train.device),
               BatchBuilder(prepared.table.select_samples(sample_ids).counts,
                            prepared.tokens, data),
               prepared.tokens, Objective(train, distances=as_tensor(distances),
                                          task=task), score_on, runtime)
    members, histories, best_epochs, selected_by, train, out_of_fold = _fit_heads(
        run, splits, inputs.pretrained, groups, prepared, sample_ids, log)
    if out_of_fold:
        block["calibration"] = _calibration(target.to_numpy(dtype=float), out_of_fold,
                                            train, log)
        _track_validation(target.to_numpy(dtype=float), out_of_fold, train,
                          runtime.tracker)
    network = members[0] if len(members) == 1 else Ensemble(members)
    config = new_config(kind, architecture, data, train, run.device)
    config["training"].update(pretrained=inputs.pretrained is not None,
                              distance_scale=run.objective.distance_scale
                              if use_distances else None,
                              best_epoch=best_epochs[0] if len(best_epochs) == 1
                              else best_epochs, selection_metric=selected_by,
                              run=run_record(prepared, splits,
                                             prepared.table.n_samples - len(target),
                                             time.perf_counter() - started))
    config.update(target=block, conditioning=spec,
                  class_labels=block.get("labels") if kind == "classifier" else None)
    return ModelBundle(config, cpu_state(network), pd.concat(histories, ignore_index=True))


def _check_settings(inputs: FitInputs, settings: FitSettings, log) -> None:
    """The Python API's settings objects and pretrained model of the kinds
    fit reads (refused by name otherwise)."""
    arguments.check_settings(settings.model, settings.data, settings.train, log,
                             defaults="FIT_TRAIN_DEFAULTS",
                             conditioning_config=settings.conditioning,
                             head_options=settings.head_options)
    if inputs.pretrained is not None:
        arguments.check_bundle(inputs.pretrained, "pretrained=")


def _checked_inputs(inputs: FitInputs) -> FitInputs:
    """The Python API's per-sample arguments of the kinds fit reads (refused
    by name otherwise); groups and sample weights as Series by sample id."""
    if inputs.targets is None:
        raise AAMInputError("targets= is None: give the targets, a pandas Series "
                            "indexed by sample id (e.g. metadata['age']).")
    arguments.by_sample(inputs.targets, "targets")
    arguments.check_conditioning(inputs.conditioning)
    arguments.check_conditioning(inputs.categories, "categories")
    return replace(inputs, groups=arguments.by_sample(inputs.groups, "groups"),
                   sample_weights=arguments.by_sample(inputs.sample_weights,
                                                      "sample_weights"))


def _settle_readout(kind, train, inputs: FitInputs, settings: FitSettings, data,
                    architecture, groups, world_size: int, n_samples: int, log,
                    target: pd.Series) -> tuple:
    """(train with readout 'auto' resolved, checked against what its readout
    cannot honour, the targets too; the architecture its head needs)."""
    def refuse(candidate: TrainConfig) -> None:
        _check_readout(kind, candidate, inputs, settings, data, architecture, world_size)
        readout.check_groups(candidate, groups)
        if kind == "regressor":
            _check_log_target(target, architecture, candidate.readout)
    train = readout.resolve(kind, train, inputs.pretrained, refuse, log)
    refuse(train)
    if train.readout != "fine_tune":
        # a linear map, or the samples of the table and their spread labels
        architecture = replace(architecture, regression_hidden=(), neighbour_nodes=(
            n_samples if train.readout == "propagation" else 0))
    return train, architecture


def _check_readout(kind, train, inputs: FitInputs, settings: FitSettings, data,
                   architecture, world_size: int) -> None:
    """Refuse a ridge or propagation readout with what it cannot honour."""
    if train.readout == "fine_tune":
        return
    readout.check_processes(train, world_size, "torchrun")
    readout.check(kind, train, data, FIT_TRAIN_DEFAULTS, architecture, inputs.conditioning,
                  inputs.pretrained, settings.head_options or {}, inputs.distances)
    propagation.check(kind, train, FIT_TRAIN_DEFAULTS)


def _fit_heads(run: _Run, splits, pretrained, groups, prepared, sample_ids: list, log):
    """Each member's head (and encoder, when fine-tuned) as the readout
    says; returns what _fit_members does."""
    make = lambda say: _member_network(run, pretrained, say)  # noqa: E731
    errors = lambda member, rows: validation_errors(  # noqa: E731
        member, rows, run.objective, run.train, run.device)
    if run.train.readout == "ridge":
        return readout.fit_members(run, splits, make, errors, groups, log)
    if run.train.readout == "propagation":  # every sample of the table is a node
        everyone = BatchBuilder(prepared.table.counts, prepared.tokens, run.builder.data)
        labelled = pd.Index(prepared.table.sample_ids).get_indexer(sample_ids)
        return propagation.fit_members(run, make, groups, everyone, labelled, log)
    return _fit_members(run, splits, pretrained, groups is not None, log)


def _supervise(kind, target, inputs: FitInputs, fit_rows, train, options, log):
    """(conditioning spec, TargetTask, the model's target block, score_on)."""
    sample_ids = list(target.index)
    frame = supervision.conditioning_frame(inputs.conditioning, sample_ids, target.name,
                                           spelled_metadata("conditioning"))
    supervision.refuse_subject_conditioning(frame, inputs.groups)
    fit_checks.check_normalise_by(options, target.name)
    # weighing by the target's own column is allowed (a classifier's classes)
    columns = supervision.lookup(frame, supervision.conditioning_frame(
        inputs.categories, sample_ids, None))
    supervision.refuse_subject_normalisation(columns, options.normalise_by, inputs.groups)
    spec, codes = supervision.conditioning(frame, columns, fit_rows, options, log)
    weights = supervision.sample_weights(columns, inputs.sample_weights, sample_ids,
                                         fit_rows, options, log)
    conditions = None if codes is None else torch.as_tensor(codes)
    if kind == "classifier":
        task, block, score_on = supervision.classification_task(
            target, fit_rows, train, conditions, weights)
    else:
        task, block, score_on = supervision.regression_task(
            target, columns, fit_rows, train, options, conditions, weights, log)
    return spec, task, block, score_on


def _say_unused_groups(groups, train: TrainConfig, splits, log) -> None:
    """Fine-tuning reads groups only to split validation samples off."""
    if groups is not None and train.readout == "fine_tune" and not any(
            len(validation) for _, validation in splits):
        log(f"The {spelled_metadata('groups')} are not used: "
            f"{spelled('validation_fraction', train.validation_fraction)} holds no "
            "validation samples for them to keep apart.")


def _fit_members(run: _Run, splits, pretrained, grouped: bool, log):
    """Train each member on its split; (members, histories, best epochs,
    selection metric, the settings, with a found learning rate, and a
    regressor's out-of-fold predictions: (validation rows, predictions) of
    each member)."""
    members, histories, best_epochs, selected_by, out_of_fold = [], [], [], "loss", []
    asv_vectors = None  # of the frozen pretrained nucleotide encoder: alike in every member
    for index, (train_rows, val_rows) in enumerate(splits):
        member_train = replace(run.train, random_state=run.train.random_state + index)
        seed_everything(member_train)
        network = _member_network(run, pretrained, log if index == 0 else None)
        if run.train.freeze_encoder or run.train.freeze_nucleotide_encoder:
            # check_options allows freezing only with a pretrained model, whose
            # nucleotide encoder every member loads unchanged: encode once
            if asv_vectors is None:
                log(f"Encoding {len(run.tokens)} distinct ASV sequences once with the "
                    "frozen nucleotide encoder...")
                asv_vectors = cache_asv_vectors(network, run.tokens, run.device)
                log("ASV vectors cached.")
            network.asv_cache = asv_vectors
        training = TrainingData(run.builder, train_rows, val_rows,
                                score=run.score_on(val_rows))
        if run.train.find_learning_rate and index == 0:
            found = lr_range_test(network, training, run.objective, member_train,
                                  run.device, log=log)
            run.train = replace(run.train, learning_rate=found.suggestion)
            member_train = replace(member_train, learning_rate=found.suggestion)
        run.runtime.tracker.member(index, len(splits))
        member = (f" (ensemble member {index + 1} of {len(splits)})"
                  if len(splits) > 1 else "")
        log(f"Fitting a {run.kind}{member} on {len(train_rows)} samples ({len(val_rows)} "
            f"for validation{', grouped' if grouped and len(val_rows) else ''}); objectives: "
            f"{', '.join(run.objective.weights)}; device {run.device}.")
        result = fit(network, training, run.objective, member_train, run.device,
                     _selection(run.kind, run.train, len(val_rows)), log,
                     run.runtime.for_member(index))
        if run.kind == "regressor" and len(val_rows):
            out_of_fold.append((val_rows, validation_errors(
                network, training, run.objective, member_train, run.device)))
        network.asv_cache = None
        members.append(network)
        history = result.history.copy()
        if len(splits) > 1:
            history.insert(1, "member", index)
        histories.append(history)
        best_epochs.append(result.best_epoch)
        selected_by = result.selection_metric
    return members, histories, best_epochs, selected_by, run.train, out_of_fold


def validation_errors(network, training: TrainingData, objective: Objective,
                      train: TrainConfig, device) -> np.ndarray:
    """A fitted member's errors (prediction - truth) on its own validation
    samples, in target units: samples of groups it never trained on (out
    of fold). Taken on the normalised scale: the shift, held in 32 bits,
    would round a target of 1e9 to 64 units."""
    kept = {}

    def keep(predictions):
        kept["predictions"] = predictions
        return {}
    evaluate(network, replace(training, score=keep), objective, train, device)
    task, rows = objective.task, training.val_rows
    predictions = kept["predictions"].astype(np.float64)
    truth = task.values[rows].numpy().astype(np.float64)
    scale = task.scale[rows].numpy().astype(np.float64)
    if predictions.ndim == 2:
        truth, scale = truth[:, None], scale[:, None]
    return (predictions - truth) * scale


def _out_of_fold(truth: np.ndarray, out_of_fold: list) -> tuple:
    """(true values, predictions) of the members' validation samples, in
    target units, at 64-bit precision."""
    rows = np.concatenate([r for r, _ in out_of_fold])
    errors = np.concatenate([e for _, e in out_of_fold])
    truth = truth[rows]
    return truth, errors + (truth[:, None] if errors.ndim == 2 else truth)


def _calibration(truth: np.ndarray, out_of_fold: list, train: TrainConfig, log) -> dict:
    """The conformal margin of the intervals, from every member's
    out-of-fold predictions (a sample in several members' validation sets
    counts each time)."""
    truth, predicted = _out_of_fold(truth, out_of_fold)
    quantiles = train.quantiles if train.loss == "quantile" else ()
    calibrated = intervals.calibration(truth, predicted,
                                       intervals.interval_level(quantiles))
    needed = intervals.too_few(calibrated)
    if len(quantiles) == 1:  # a level of 0%: no interval to calibrate
        log(f"No intervals: the model predicts one quantile ({quantiles[0]:g}), and an "
            "interval needs a lower and an upper one, so this model's intervals will be "
            "refused (its point predictions are not affected).")
    elif needed:
        log(f"No intervals: one at {calibrated['level']:.0%} needs at least {needed} "
            f"out-of-fold predictions, and the validation samples gave "
            f"{calibrated['n']}, so this model's intervals will be refused (its point "
            "predictions are not affected).")
    else:
        log(f"Intervals calibrated on {calibrated['n']} out-of-fold predictions: "
            f"{calibrated['level']:.0%} margin {calibrated['margin']:.3g}.")
    return calibrated


def _track_validation(truth: np.ndarray, out_of_fold: list, train: TrainConfig,
                      tracker) -> None:
    """The validation scatter for --tensorboard / --mlflow-uri (point
    predictions of a quantile model: its median)."""
    truth, predicted = _out_of_fold(truth, out_of_fold)
    if predicted.ndim == 2:
        predicted = predicted[:, point_index(train.quantiles)]
    tracker.validation(truth, predicted)


def _member_network(run: _Run, pretrained, log) -> AAM:
    network = AAM(run.architecture,
                  "regression" if run.kind == "regressor" else "classification",
                  run.n_outputs, run.spec, monotone=run.train.loss == "quantile")
    if pretrained is not None:
        loaded = load_matching_weights(network, first_member_state(pretrained.state_dict))
        if log is not None:
            log(f"Started from the pretrained model: {loaded} tensors loaded.")
    _freeze(network, run.train)
    network.set_gradient_checkpointing(run.train.gradient_checkpointing)
    return network.to(run.device)


def check_options(kind: str, train: TrainConfig, conditioning: ConditioningConfig,
                  pretrained, log) -> TrainConfig:
    """Refuse settings that cannot work, before any data is read."""
    if train.selection_metric != "auto" and train.selection_metric not in SELECTION[kind]:
        raise AAMInputError(f"{spelled('selection_metric')} must be one of {SELECTION[kind]} for a "
                            f"{kind}, not {train.selection_metric!r}.")
    check_fields(replace(train, selection_metric="auto"))
    check_fields(conditioning)
    fit_checks.check_training(train, conditioning, pretrained is not None)
    check_applies(train, f"fit_{kind}")  # after the rules that say more
    check_applies(conditioning, f"fit_{kind}")
    check_needs(train, f"fit_{kind}")
    if train.loss == "quantile" and kind == "regressor":
        fit_checks.check_quantiles(train.quantiles)
        train = replace(train, quantiles=tuple(sorted(float(q) for q in train.quantiles)))
    if train.freeze_encoder and pretrained is None:
        raise AAMInputError(f"{spelled('freeze_encoder', True)} needs a pretrained model "
                            f"({spelled_pretrained()}): a frozen random encoder cannot "
                            "learn anything.")
    if train.freeze_nucleotide_encoder and pretrained is None:
        # it is on by default, for the pretrained case; a random nucleotide
        # encoder must learn, so it trains here
        log("No pretrained model: the nucleotide encoder trains "
            f"({spelled('freeze_nucleotide_encoder')} applies to a pretrained one).")
        train = replace(train, freeze_nucleotide_encoder=False)
    return train


def _uses_distances(distances, train: TrainConfig, log) -> bool:
    """Whether the auxiliary distance loss runs; a weight set for it without
    a distance matrix is refused, a matrix with weight 0 said to be unused."""
    if distances is None:
        if train.unifrac_weight not in (0, FIT_TRAIN_DEFAULTS.unifrac_weight):
            raise AAMInputError(
                f"{spelled('unifrac_weight', train.unifrac_weight)} weighs the "
                "auxiliary distance loss, but no distance matrix was given, so it "
                f"would be ignored: give the distance matrix, or leave "
                f"{spelled('unifrac_weight')} at its default.")
        return False
    if train.unifrac_weight <= 0:
        log(f"{spelled('unifrac_weight')} is 0: the distance matrix given is not used.")
        return False
    if train.freeze_encoder:  # the distance loss trains the encoder alone
        raise AAMInputError(
            f"{spelled('freeze_encoder', True)} keeps the whole pretrained encoder from "
            "learning, so the distance matrix (its auxiliary loss) would be ignored: "
            f"leave it out, or leave out {spelled('freeze_encoder')}.")
    return True


def _check_log_target(target: pd.Series, architecture: ModelConfig, used: str) -> None:
    """The ridge readout under 'exp' fits the targets' logarithm, which
    needs them above 0; targets of 0 fine-tuning fits (its 'exp' predicts
    down to 0), so readout 'auto' falls back to it. Targets below 0 no
    readout fits: _check_target_range says so, not this."""
    if used != "ridge" or architecture.output_activation != "exp" or (target < 0).any():
        return
    zero = target[target == 0]
    if len(zero):
        examples = ", ".join(f"{i}: {v:g}" for i, v in zero.head(3).items())
        raise AAMInputError(
            f"{spelled('readout', 'ridge')} with {spelled('output_activation', 'exp')} fits "
            f"a line to the target's logarithm, but {len(zero)} of the {len(target)} "
            f"targets are 0 (e.g. {examples}): use {spelled('readout', 'fine_tune')} (its "
            "'exp' predicts down to 0), leave out the activation, or check the target "
            "column.")


def _check_target_range(target: pd.Series, architecture: ModelConfig) -> None:
    """Training targets the head can never predict (beyond its bounds, or
    negative under a non-negative activation) are refused: the fit would
    silently pull every prediction of them to the bound, whatever the
    readout."""
    lower, upper = architecture.output_range
    lower_name = "the lower bound"
    if architecture.output_activation != "none":
        lower_name = f"the floor of {spelled('output_activation', architecture.output_activation)}"
    limits = [(lower, target < lower, "below", lower_name) if _finite(lower) else None,
              (upper, target > upper, "above", "the upper bound") if _finite(upper) else None]
    for bound, outside, side, name in filter(None, limits):
        if outside.any():
            examples = ", ".join(f"{i}: {v:g}" for i, v in target[outside].head(3).items())
            raise AAMInputError(
                f"{int(outside.sum())} of the {len(target)} targets lie {side} "
                f"{name} ({bound:g}) of the predictions (e.g. {examples}), which the "
                "model can never predict. Widen or leave out the bound (or the "
                "activation), or check the target column.")


def _check_head_precision(target: pd.Series, architecture: ModelConfig) -> None:
    """A head with an output activation or bounds applies them in the
    target's units, in 32-bit numbers: the mean and spread of targets below
    their smallest normal number would be 0 there, and the predictions NaN
    (fine-tuning would stop on a loss of nan, the ridge readout on a
    division by 0)."""
    if not any(_finite(limit) for limit in architecture.output_range):
        return
    largest = float(np.abs(target.to_numpy(dtype=float)).max())
    if not 0.0 < largest < supervision.SMALLEST_TARGET:
        return
    what = (spelled("output_activation", architecture.output_activation)
            if architecture.output_activation != "none" else
            f"the bounds ({spelled('lower_bound')}, {spelled('upper_bound')})")
    raise AAMInputError(
        f"The target column {target.name!r} holds values no larger than {largest:g}, "
        f"too small for the model's 32-bit numbers in which the head applies {what}: "
        "give the target in other units (e.g. scaled by a power of ten), or leave out "
        f"{what}.")


def _finite(value) -> bool:
    return value is not None and bool(np.isfinite(value))


def _architecture(kind: str, model, head_options, data: DataConfig, pretrained, log):
    """Encoder shape (a pretrained model's, when given), then the head
    options asked for."""
    if pretrained is not None:
        # the encoder's shape must match its weights
        architecture = ModelConfig.from_dict(pretrained.config["architecture"])
        check_preset(model, architecture, log)
        # a propagation readout's stored samples are its head's, not the encoder's
        architecture = replace(architecture, neighbour_nodes=0)
    else:
        config = ModelConfig.preset(model) if isinstance(model, str) else model
        architecture = replace(config, max_length=data.max_length)
    head_options = {k: v for k, v in (head_options or {}).items() if v is not None}
    unknown = set(head_options) - set(HEAD_FIELDS) - set(HEAD_SHAPE)
    if unknown:
        raise AAMInputError(f"Unknown head option(s) {sorted(unknown)}; "
                            f"choose among {HEAD_FIELDS + HEAD_SHAPE}.")
    for name in ("regression_hidden", "classification_hidden", "output_bounds"):
        if name in head_options:
            head_options[name] = tuple(head_options[name])
    fit_checks.check_head_options(kind, head_options)
    return replace(architecture, **_head_widths(kind, architecture, head_options))


def _head_widths(kind: str, architecture: ModelConfig, head_options: dict) -> dict:
    """The head options with a shape given as hidden_layers and hidden_width
    (0: the encoder's width) made into the widths of the kind's head; a depth
    left out keeps the head's, a width left out is the encoder's."""
    head = dict(head_options)
    layers, width = (head.pop(name, None) for name in HEAD_SHAPE)
    if layers is None and width is None:
        return head
    field = "classification_hidden" if kind == "classifier" else "regression_hidden"
    depth = len(getattr(architecture, field)) if layers is None else layers
    head.setdefault(field, (width or architecture.d_model,) * depth)
    return head


def check_preset(model, pretrained: ModelConfig, log) -> None:
    """A pretrained model fixes the encoder's shape: the default preset
    gives way to it with a notice; another preset that differs is an error."""
    if not isinstance(model, str):
        return
    shape = ("d_model", "n_heads", "nucleotide_layers", "sample_layers")
    asked = ModelConfig.preset(model)
    if all(getattr(asked, f) == getattr(pretrained, f) for f in shape):
        return
    sizes = ", ".join(f"{f} {getattr(pretrained, f)}" for f in shape)
    if model == DEFAULT_PRESET:
        log(f"The pretrained model's encoder shape is used ({sizes}).")
        return
    raise AAMInputError(
        f"{spelled('preset', model)} does not match the pretrained model, whose "
        f"encoder has {sizes}. Leave the preset at its default "
        f"({DEFAULT_PRESET!r}: the pretrained model's shape is used), or "
        "pretrain with this preset.")


def _n_outputs(kind: str, target_block: dict, train: TrainConfig) -> int:
    if kind == "classifier":
        return len(target_block["labels"])
    return len(train.quantiles) if train.loss == "quantile" else 1


def _freeze(network: AAM, train: TrainConfig) -> None:
    if train.freeze_encoder:
        network.sample_encoder.requires_grad_(False)
    if train.freeze_encoder or train.freeze_nucleotide_encoder:
        network.nucleotide_encoder.requires_grad_(False)


def _selection(kind: str, train: TrainConfig, n_validation: int) -> str:
    if n_validation < 2:
        return "loss"
    if train.selection_metric != "auto":
        return train.selection_metric
    return "mae" if kind == "regressor" else "loss"
