"""Fine-tuning and prediction of regressors and classifiers (DESIGN s.3-5).

api.fit_regressor / fit_classifier / predict* are the public entry points;
this module holds their work: aligning targets and conditioning metadata
with the table, fitting normalisation and weights on the training samples
only, building the network from the settings, and, at prediction, rebuilding
the per-sample context (categories, normalisation) from the saved model.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import torch

from . import intervals
from .bundle import ModelBundle
from .config import (HEAD_FIELDS, ConditioningConfig, DataConfig, ModelConfig,
                     TrainConfig)
from .data.batching import BatchBuilder, batch_rows
from .data.targets import (CategoryScaler, NORMALISATIONS, TargetScaler,
                           encode_classes, scaler_from_dict, scaling_parameters)
from .errors import AAMInputError
from .losses import TARGET_LOSSES
from .model import AAM, Ensemble
from .model.ensemble import first_member_state, members_of
from .model.conditioning import (FUSIONS, build_vocabularies, category_text,
                                 encode_conditions)
from .train.cache import cache_asv_vectors
from .train.loop import TrainingData, evaluate, fit, resolve_device
from .train.lr_finder import lr_range_test
from .train.metrics import classification_metrics, regression_metrics
from .train.objective import Objective, as_tensor
from .train.schedule import SCHEDULERS
from .train.split import member_splits
from .train.task import TargetTask, point_index

SELECTION = {"regressor": ("loss", "mae", "rmse", "r2"),
             "classifier": ("loss", "accuracy", "f1", "auroc")}
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
# parameters added after the first saved models: absent ones keep their init
OPTIONAL_WEIGHTS = ("abundance_head.",)


# -- fitting -------------------------------------------------------------------

def fit_model(kind: str, table, targets: pd.Series, sequences=None, groups=None,
              pretrained: ModelBundle | None = None, distances=None,
              conditioning: pd.DataFrame | None = None, *,
              model: str | ModelConfig = "small", head_options: dict | None = None,
              data: DataConfig = DataConfig(), train: TrainConfig = TrainConfig(),
              conditioning_config: ConditioningConfig = ConditioningConfig(),
              categories: pd.DataFrame | None = None,
              sample_weights: pd.Series | None = None, log=print) -> ModelBundle:
    """Fit a 'regressor' or a 'classifier' (see api.fit_regressor).

    `categories`: columns that normalise_by / weight_by may name besides the
    conditioning columns, used for that only (not fed to the model);
    `sample_weights`: a loss weight per sample id (missing ones weigh 1).
    """
    from . import api  # shared helpers; api imports this module lazily
    train = check_options(kind, train, conditioning_config, pretrained, log)
    api._seed_everything(train)
    architecture, data = _architecture(model, head_options, data, pretrained)
    prepared = api.prepare(table, sequences, data, log)
    if kind == "regressor":
        target = api._aligned_targets(targets, prepared.table.sample_ids, log)
    else:
        target = _aligned_classes(targets, prepared.table.sample_ids, log)
    sample_ids = list(target.index)
    counts = prepared.table.select_samples(sample_ids)
    group_values = _group_values(groups, target.index)
    # member i of an ensemble early-stops on its own grouped split (seed + i)
    splits = member_splits(len(target), train.ensemble_size, train.validation_fraction,
                           train.seed, group_values, train.ensemble_validation)
    # what all members share (normalisation, vocabularies, weights) is fitted
    # on the samples they train on: one member's, or all of them for an
    # ensemble, whose members between them train on every sample
    fit_rows = splits[0][0] if len(splits) == 1 else np.arange(len(target))
    frame = _conditioning_frame(conditioning, sample_ids, target.name)
    lookup = _lookup(frame, _conditioning_frame(categories, sample_ids, target.name))
    spec, codes = _conditioning(frame, lookup, fit_rows, conditioning_config, log)
    weights = _sample_weights(lookup, sample_weights, sample_ids, fit_rows,
                              conditioning_config, log)
    task, target_block, score_on = _task(kind, target, lookup, fit_rows, train,
                                         conditioning_config, codes, weights, log)
    n_outputs = _n_outputs(kind, target_block, train)
    device = resolve_device(train.device)
    use_distances = distances is not None and train.unifrac_weight > 0
    block = api.distance_block(distances, sample_ids) if use_distances else None
    objective = Objective(train, distances=as_tensor(block), task=task)
    builder = BatchBuilder(counts.counts, prepared.tokens, data)

    members, histories, best_epochs, out_of_fold = [], [], [], []
    asv_vectors = None  # of the frozen pretrained nucleotide encoder: alike in every member
    for index, (train_rows, val_rows) in enumerate(splits):
        member_train = replace(train, seed=train.seed + index)
        api._seed_everything(member_train)
        network = AAM(architecture,
                      "regression" if kind == "regressor" else "classification",
                      n_outputs, spec, monotone=train.target_loss == "quantile")
        if pretrained is not None:
            loaded = api.load_matching_weights(
                network, first_member_state(pretrained.state_dict))
            if index == 0:
                log(f"Started from the pretrained model: {loaded} tensors loaded.")
        _freeze(network, train)
        network.set_gradient_checkpointing(train.gradient_checkpointing)
        network.to(device)
        if train.freeze_encoder or train.freeze_nucleotide_encoder:
            # check_options allows freezing only with a pretrained model, whose
            # nucleotide encoder every member loads unchanged: encode once
            if asv_vectors is None:
                asv_vectors = cache_asv_vectors(network, prepared.tokens, device)
            network.asv_cache = asv_vectors
        training = TrainingData(builder, train_rows, val_rows, score=score_on(val_rows))
        if train.find_learning_rate and index == 0:
            found = lr_range_test(network, training, objective, member_train, device, log=log)
            train = replace(train, learning_rate=found.suggestion)
            member_train = replace(member_train, learning_rate=found.suggestion)
        selection = _selection(kind, train, len(val_rows))
        member = f" (ensemble member {index + 1} of {len(splits)})" if len(splits) > 1 else ""
        log(f"Fitting a {kind}{member} on {len(train_rows)} samples ({len(val_rows)} for "
            f"validation{', grouped' if groups is not None else ''}); objectives: "
            f"{', '.join(objective.weights)}; device {device}.")
        result = fit(network, training, objective, member_train, device, selection, log)
        if kind == "regressor" and len(val_rows):
            out_of_fold.append((val_rows, validation_predictions(
                network, training, objective, member_train, device, task)))
        network.asv_cache = None
        members.append(network)
        history = result.history.copy()
        if len(splits) > 1:
            history.insert(1, "member", index)
        histories.append(history)
        best_epochs.append(result.best_epoch)
        selected_by = result.selection_metric
    network = members[0] if len(members) == 1 else Ensemble(members)
    config = api._base_config(kind, architecture, data, train, device)
    config["training"].update(pretrained=pretrained is not None,
                              best_epoch=best_epochs[0] if len(best_epochs) == 1
                              else best_epochs,
                              selection_metric=selected_by)
    if out_of_fold:
        target_block["calibration"] = _calibration(target.to_numpy(dtype=float),
                                                   out_of_fold, train, log)
    config["target"] = target_block
    config["class_labels"] = target_block.get("labels") if kind == "classifier" else None
    config["conditioning"] = spec
    return ModelBundle(config, api._cpu_state(network),
                       pd.concat(histories, ignore_index=True))


def validation_predictions(network, training: TrainingData, objective, train, device,
                           task) -> np.ndarray:
    """A fitted member's predictions of its own validation samples, in
    target units (the samples it never trained on: out of fold)."""
    kept = {}

    def keep(predictions):
        kept["predictions"] = predictions
        return {}
    evaluate(network, replace(training, score=keep), objective, train, device)
    rows = training.val_rows
    predictions = kept["predictions"]
    scale, shift = task.scale[rows].numpy(), task.shift[rows].numpy()
    return predictions * _column(scale, predictions) + _column(shift, predictions)


def _calibration(truth: np.ndarray, out_of_fold: list, train: TrainConfig, log):
    """Conformal margin of the intervals from every member's out-of-fold
    predictions (a sample out of several members' folds counts each time)."""
    rows = np.concatenate([r for r, _ in out_of_fold])
    predicted = np.concatenate([p for _, p in out_of_fold])
    quantiles = train.quantiles if train.target_loss == "quantile" else ()
    calibrated = intervals.calibration(truth[rows], predicted,
                                       intervals.interval_level(quantiles))
    log(f"Intervals calibrated on {calibrated['n']} out-of-fold predictions: "
        f"{calibrated['level']:.0%} margin {calibrated['margin']:.3g}.")
    return calibrated


def check_options(kind: str, train: TrainConfig, conditioning: ConditioningConfig,
                  pretrained, log) -> TrainConfig:
    """Refuse settings that cannot work, before any data is read."""
    def choose(name, value, allowed):
        if value not in allowed:
            raise AAMInputError(f"{name} must be one of {tuple(allowed)}, not {value!r}.")
    if kind == "regressor":
        choose("target_loss", train.target_loss, TARGET_LOSSES)
        choose("normalisation", train.normalisation, NORMALISATIONS)
    choose("class_weight", train.class_weight, ("none", "balanced"))
    choose("scheduler", train.scheduler, SCHEDULERS)
    choose("ensemble_validation", train.ensemble_validation, ("random", "folds"))
    choose("precision", train.precision, PRECISIONS)
    choose("fusion", conditioning.fusion, FUSIONS)
    if train.selection_metric != "auto":
        choose("selection_metric", train.selection_metric, SELECTION[kind])
    if train.target_loss == "quantile" and kind == "regressor":
        levels = sorted(set(float(q) for q in train.quantiles))
        if not levels or not all(0 < q < 1 for q in levels):
            raise AAMInputError("quantiles must lie strictly between 0 and 1.")
        train = replace(train, quantiles=tuple(levels))
    if train.freeze_encoder and pretrained is None:
        raise AAMInputError("freeze_encoder needs a pretrained model: a frozen "
                            "random encoder cannot learn anything.")
    if train.freeze_nucleotide_encoder and pretrained is None:
        # it is on by default, for the pretrained case; a random nucleotide
        # encoder must learn, so it trains here
        log("No pretrained model: the nucleotide encoder trains "
            "(freeze_nucleotide_encoder applies to a pretrained one).")
        train = replace(train, freeze_nucleotide_encoder=False)
    if train.accumulation_steps < 1:
        raise AAMInputError("accumulation_steps must be at least 1.")
    if train.ensemble_size < 1:
        raise AAMInputError("ensemble_size must be at least 1 (1: a single model).")
    return train


def _architecture(model, head_options, data: DataConfig, pretrained):
    """Encoder shape and data rules (a pretrained model's, when given), then
    the head options asked for."""
    if pretrained is not None:
        # the encoder's shape and sequence rules must match its weights
        architecture = ModelConfig.from_dict(pretrained.config["architecture"])
        data = DataConfig(**pretrained.config["data"]).with_draws_of(data)
    else:
        config = ModelConfig.preset(model) if isinstance(model, str) else model
        architecture = replace(config, max_length=data.max_length)
    head_options = {k: v for k, v in (head_options or {}).items() if v is not None}
    unknown = set(head_options) - set(HEAD_FIELDS)
    if unknown:
        raise AAMInputError(f"Unknown head option(s) {sorted(unknown)}; "
                            f"choose among {HEAD_FIELDS}.")
    for name in ("regression_hidden", "classification_hidden", "output_bounds"):
        if name in head_options:
            head_options[name] = tuple(head_options[name])
    return replace(architecture, **head_options), data


def _aligned_classes(targets: pd.Series, sample_ids: list, log) -> pd.Series:
    targets = pd.Series(targets)
    targets.index = targets.index.map(str)
    aligned = targets.reindex(sample_ids)
    aligned = aligned[aligned.notna()]
    missing = len(sample_ids) - len(aligned)
    if missing:
        log(f"Dropped {missing} sample(s) that have no target value.")
    aligned = aligned.map(category_text)
    if aligned.nunique() < 2:
        raise AAMInputError(f"The target column {targets.name!r} needs at least two "
                            "classes among the table's samples.")
    if len(aligned) < 4:
        raise AAMInputError(f"Only {len(aligned)} sample(s) have both counts and a "
                            "target; a classifier needs at least 4.")
    return aligned.rename(targets.name)


def _group_values(groups, index: pd.Index):
    if groups is None:
        return None
    values = pd.Series(groups).rename(index=str).reindex(index)
    # a sample without a group is its own group: it can never leak
    values = values.astype(object).where(values.notna(),
                                         "__own__" + values.index.to_series())
    return values.to_numpy(dtype=str)


def _conditioning_frame(conditioning, sample_ids: list, target_name):
    if conditioning is None or conditioning.shape[1] == 0:
        return None
    frame = pd.DataFrame(conditioning).copy()
    frame.index = frame.index.map(str)
    frame.columns = [str(c) for c in frame.columns]
    if target_name is not None and str(target_name) in frame.columns:
        raise AAMInputError(f"The conditioning metadata holds the target column "
                            f"{target_name!r}; conditioning on it would leak the answer.")
    return frame.reindex(sample_ids)


def _lookup(frame, categories):
    """Where normalise_by / weight_by find their column: either frame."""
    if frame is None or categories is None:
        return frame if categories is None else categories
    extra = [c for c in categories.columns if c not in frame.columns]
    return frame.join(categories[extra])


def _conditioning(frame, lookup, train_rows, options: ConditioningConfig, log):
    """The model's conditioning block (vocabularies from training samples
    only: a category seen only in validation is 'unknown', as at prediction)
    and the code of every sample."""
    for what, column in (("normalise_by", options.normalise_by),
                         ("weight_by", options.weight_by)):
        if column and (lookup is None or column not in lookup.columns):
            known = [] if lookup is None else list(lookup.columns)
            raise AAMInputError(f"{what}: {column!r} is not a column of the "
                                f"conditioning metadata ({known}).")
    for child, parent in options.parents:
        if frame is None or not {child, parent} <= set(frame.columns):
            known = [] if frame is None else list(frame.columns)
            raise AAMInputError(f"Hierarchy {child}:{parent}: both must be "
                                f"conditioning columns ({known}).")
    if frame is None:
        return None, None
    vocabularies = build_vocabularies(frame.iloc[train_rows])
    spec = {**options.to_dict(), "columns": list(frame.columns),
            "vocabularies": vocabularies, "parents": dict(options.parents),
            "category_weights": dict(options.category_weights)}
    codes = encode_conditions(frame, list(frame.index), vocabularies, log,
                              columns=list(frame.columns))
    sizes = ", ".join(f"{c} ({len(v)})" for c, v in vocabularies.items())
    log(f"Conditioning on {sizes} with {options.fusion} fusion.")
    return spec, codes


def _category_values(frame, column: str) -> np.ndarray:
    return np.array([category_text(v) for v in frame[column]], dtype=object)


def _task(kind, target, frame, train_rows, train: TrainConfig,
          options: ConditioningConfig, codes, weights, log):
    """(TargetTask, the model's 'target' block, score_on): score_on(val_rows)
    is the validation score over those rows. Class weights and the target
    normalisation come from `train_rows`."""
    conditions = None if codes is None else torch.as_tensor(codes)
    if kind == "classifier":
        labels, classes = encode_classes(target.to_numpy())
        class_weights = None
        if train.class_weight == "balanced":
            counts = np.bincount(classes[train_rows], minlength=len(labels))
            # n / (k * n_c), as scikit-learn's 'balanced'; unseen classes weigh 1
            class_weights = np.where(counts > 0, len(train_rows) / (
                len(labels) * np.maximum(counts, 1)), 1.0)
        task = TargetTask.classification(classes, class_weights, sample_weights=weights,
                                         conditions=conditions)

        def score_on(val_rows):
            def score(logits):
                probabilities = torch.softmax(torch.as_tensor(logits), -1).numpy()
                return classification_metrics(classes[val_rows], probabilities)
            return score
        return task, {"name": str(target.name), "labels": labels}, score_on
    truth = target.to_numpy(dtype=float)
    if options.normalise_by:
        categories = _category_values(frame, options.normalise_by)
        scaler = CategoryScaler.fit(truth[train_rows], categories[train_rows],
                                    train.normalisation, options.normalise_by)
        shift, scale = scaler.parameters(categories, log)
    else:
        scaler = TargetScaler.fit(truth[train_rows], train.normalisation)
        shift, scale = scaling_parameters(scaler, len(truth))
    task = TargetTask.regression((truth - shift) / scale, train, sample_weights=weights,
                                 conditions=conditions, shift=as_tensor(shift),
                                 scale=as_tensor(scale))
    block = {"name": str(target.name), **scaler.to_dict()}
    if train.target_loss == "quantile":
        block["quantiles"] = list(train.quantiles)

    def score_on(val_rows):
        def score(predictions):
            original = predictions * _column(scale[val_rows], predictions) + _column(
                shift[val_rows], predictions)
            point = (original if original.ndim == 1
                     else original[:, point_index(train.quantiles)])
            metrics = regression_metrics(truth[val_rows], point)
            if original.ndim == 2:  # share of truths inside the outer quantiles
                metrics["coverage"] = float(np.mean((truth[val_rows] >= original[:, 0])
                                                    & (truth[val_rows] <= original[:, -1])))
            return metrics
        return score
    return task, block, score_on


def _column(values: np.ndarray, like: np.ndarray) -> np.ndarray:
    return values if like.ndim == 1 else values[:, None]


def _sample_weights(frame, given, sample_ids, train_rows,
                    options: ConditioningConfig, log):
    """Per-sample loss weights: the weight_by column's, times the given
    ones; None when neither is asked for."""
    weights = None
    if given is not None:
        given = pd.Series(given).rename(index=str).reindex(sample_ids)
        weights = given.fillna(1.0).to_numpy(dtype=float)
        if (weights < 0).any() or not np.isfinite(weights).all():
            raise AAMInputError("Sample weights must be finite and not negative.")
    if options.weight_by:
        by_category = _category_weights(frame, train_rows, options)
        weights = by_category if weights is None else weights * by_category
    if weights is None:
        return None
    if weights[train_rows].sum() <= 0:
        raise AAMInputError("The loss weights of the training samples are all 0.")
    log(f"Loss weights from {weights[train_rows].min():.3g} to "
        f"{weights[train_rows].max():.3g} over the training samples.")
    return as_tensor(weights)


def _category_weights(frame, train_rows, options: ConditioningConfig) -> np.ndarray:
    categories = _category_values(frame, options.weight_by)
    if options.category_weights:
        given = {str(k): float(v) for k, v in options.category_weights}
        if any(v < 0 for v in given.values()):
            raise AAMInputError("category_weights must not be negative.")
        weights = np.array([given.get(c, 1.0) for c in categories])
    else:  # inverse frequency among the training samples: n / (k * n_c)
        seen, counts = np.unique(categories[train_rows].astype(str), return_counts=True)
        per = dict(zip(seen, len(train_rows) / (len(seen) * counts)))
        weights = np.array([per.get(str(c), 1.0) for c in categories])
    return weights


def _n_outputs(kind: str, target_block: dict, train: TrainConfig) -> int:
    if kind == "classifier":
        return len(target_block["labels"])
    return len(train.quantiles) if train.target_loss == "quantile" else 1


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


# -- the network of a saved model --------------------------------------------------

def network_for(config: dict):
    """An untrained network with the shape a model config describes (an
    Ensemble of such networks for a model fitted with ensemble_size > 1)."""
    size = int(config.get("training", {}).get("ensemble_size", 1))
    if size > 1:
        return Ensemble([_single_network(config) for _ in range(size)])
    return _single_network(config)


def _single_network(config: dict) -> AAM:
    architecture = ModelConfig.from_dict(config["architecture"])
    kind = config["kind"]
    if kind == "classifier":
        return AAM(architecture, "classification", len(config["class_labels"]),
                   config.get("conditioning"))
    if kind == "regressor":
        quantiles = (config.get("target") or {}).get("quantiles")
        return AAM(architecture, "regression", len(quantiles) if quantiles else 1,
                   config.get("conditioning"), monotone=bool(quantiles))
    return AAM(architecture)


def load_weights(network, state_dict: dict):
    """Strict loading, except for parameters newer than the saved model."""
    missing, unexpected = network.load_state_dict(state_dict, strict=False)
    missing = [k for k in missing if not _optional_weight(k)]
    if missing or unexpected:
        raise AAMInputError(f"The model's weights do not match its config: missing "
                            f"{missing[:5]}, unexpected {unexpected[:5]}.")
    return network


def _optional_weight(name: str) -> bool:
    if name.startswith("members."):  # an ensemble member's: members.<i>.<name>
        name = name.split(".", 2)[2]
    return name.startswith(OPTIONAL_WEIGHTS)


# -- prediction ------------------------------------------------------------------

def forward_outputs(bundle: ModelBundle, table, sequences=None, conditioning=None, *,
                    batch_size: int = 64, device: str = "auto", n_threads: int = 0,
                    log=print, embedding_only: bool = False):
    """(sample ids, {'embedding', 'prediction'} arrays, shift, scale) for every
    usable sample of `table`, in table order; predictions in normalised units.
    `embedding_only`: an ensemble runs its first member alone (whose
    embedding is the ensemble's), not every member."""
    from . import api
    if n_threads > 0:
        torch.set_num_threads(n_threads)
    data = DataConfig(**bundle.config["data"]).for_prediction()
    prepared = api.prepare(table, sequences, data, log)
    sample_ids = prepared.table.sample_ids
    target_device = resolve_device(device)
    network = api.build_model(bundle)
    if embedding_only:
        network = members_of(network)[0]
    network = network.to(target_device)
    spec = bundle.config.get("conditioning")
    codes = None
    if spec:
        frame = None if conditioning is None else pd.DataFrame(conditioning)
        codes = torch.as_tensor(encode_conditions(frame, sample_ids, spec["vocabularies"],
                                                  log, columns=spec["columns"]))
    shift, scale = _prediction_scaling(bundle, sample_ids, conditioning, log)
    builder = BatchBuilder(prepared.table.counts, prepared.tokens, data)
    outputs = {"embedding": [], "prediction": []}
    with torch.no_grad():
        for rows in batch_rows(len(sample_ids), batch_size, None):
            context = {"shift": as_tensor(shift[rows]).to(target_device),
                       "scale": as_tensor(scale[rows]).to(target_device)}
            if codes is not None:
                context["conditions"] = codes[rows].to(target_device)
            out = network(builder.build(rows).to(target_device), context=context)
            for key in outputs:
                if key in out:
                    outputs[key].append(out[key].float().cpu().numpy())
    return sample_ids, {k: np.concatenate(v) for k, v in outputs.items() if v}, shift, scale


def _prediction_scaling(bundle, sample_ids, conditioning, log):
    target = bundle.config.get("target") or {}
    if bundle.kind != "regressor":
        return np.zeros(len(sample_ids)), np.ones(len(sample_ids))
    scaler = scaler_from_dict(target)
    categories = None
    if isinstance(scaler, CategoryScaler):
        column = scaler.column
        if conditioning is None or column not in conditioning.columns:
            log(f"Warning: no {column!r} column to undo the per-category target "
                "normalisation; using the global statistics.")
        else:
            frame = pd.DataFrame(conditioning).copy()
            frame.index = frame.index.map(str)
            categories = _category_values(frame.reindex(sample_ids), column)
    return scaling_parameters(scaler, len(sample_ids), categories, log)


def _regression_outputs(bundle, table, sequences, conditioning, options, log):
    if bundle.kind != "regressor":
        raise AAMInputError(f"This is a {bundle.kind} model; it needs a regressor.")
    sample_ids, outputs, shift, scale = forward_outputs(
        bundle, table, sequences, conditioning, log=log, **options)
    predictions = outputs["prediction"]
    original = predictions * _column(scale, predictions) + _column(shift, predictions)
    return pd.Index(sample_ids, name="SampleID"), original


def predict_regression(bundle, table, sequences=None, conditioning=None, *,
                       log=print, **options) -> pd.Series:
    """Point predictions in target units (the median of a quantile model)."""
    index, original = _regression_outputs(bundle, table, sequences, conditioning,
                                          options, log)
    if original.ndim == 2:
        original = original[:, point_index(bundle.config["target"]["quantiles"])]
    return pd.Series(original.astype(float), index=index, name="prediction")


def predict_quantiles(bundle, table, sequences=None, conditioning=None, *,
                      log=print, **options) -> pd.DataFrame:
    """One column per quantile of a model fitted with the quantile loss."""
    quantiles = (bundle.config.get("target") or {}).get("quantiles")
    if not quantiles:
        raise AAMInputError("This regressor was not fitted with the quantile loss, "
                            "so it has no prediction intervals. Refit it with "
                            "loss='quantile'.")
    index, original = _regression_outputs(bundle, table, sequences, conditioning,
                                          options, log)
    return pd.DataFrame(original.astype(float), index=index,
                        columns=[f"q{q:g}" for q in quantiles])


def predict_interval(bundle, table, sequences=None, conditioning=None, *,
                     log=print, **options) -> pd.DataFrame:
    """Columns 'prediction', 'lower', 'upper': the point prediction and a
    prediction interval, calibrated on out-of-fold errors when the model
    stores a calibration; the raw outer quantiles otherwise."""
    target = bundle.config.get("target") or {}
    quantiles, calibrated = target.get("quantiles"), target.get("calibration")
    if not quantiles and not calibrated:
        raise AAMInputError("This regressor has no prediction intervals: it was "
                            "fitted without the quantile loss and without "
                            "validation samples to calibrate them on. Refit it "
                            "(any loss, with validation) or with loss='quantile'.")
    index, original = _regression_outputs(bundle, table, sequences, conditioning,
                                          options, log)
    if original.ndim == 2:
        point = original[:, point_index(quantiles)]
        low, high = original[:, 0], original[:, -1]
    else:
        point = low = high = original
    lower, upper = intervals.interval(point, low, high, calibrated)
    return pd.DataFrame({"prediction": point, "lower": lower, "upper": upper},
                        index=index).astype(float)


def predict_classification(bundle, table, sequences=None, conditioning=None, *,
                           log=print, **options) -> tuple:
    """(predicted label Series 'prediction', class probabilities DataFrame)."""
    if bundle.kind != "classifier":
        raise AAMInputError(f"This is a {bundle.kind} model; it needs a classifier.")
    sample_ids, outputs, _, _ = forward_outputs(bundle, table, sequences, conditioning,
                                                log=log, **options)
    labels = bundle.config["class_labels"]
    probabilities = torch.softmax(torch.as_tensor(outputs["prediction"]), -1).numpy()
    index = pd.Index(sample_ids, name="SampleID")
    frame = pd.DataFrame(probabilities.astype(float), index=index, columns=labels)
    predicted = pd.Series(np.asarray(labels, dtype=object)[probabilities.argmax(1)],
                          index=index, name="prediction")
    return predicted, frame
