"""Applying a saved model: predictions, embeddings, and the one prediction
context they and feature importance share.

A model's per-sample context at prediction is rebuilt from its config alone:
the category codes of a conditioned model, in the column order it was fitted
with (config.json stores the vocabularies with sorted keys, so that order is
taken from its 'columns', never from the vocabularies), and the target
normalisation (shift, scale) of a regressor.
"""
from __future__ import annotations

import difflib
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd
import torch

from . import intervals
from .arguments import check_bundle, check_conditioning, check_log
from .bundle import ModelBundle
from .config import DataConfig, ModelConfig
from .data.batching import BatchBuilder, batch_rows
from .data.prepare import PreparedData, prepare
from .data.targets import (CategoryScaler, category_values, point_index,
                           scaler_from_dict, scaling_parameters)
from .errors import AAMInputError, article, refuse_disjoint
from .model.build import build_model
from .model.conditioning import encode_conditions
from .model.ensemble import members_of
from .option import of_kind
from .settings import BY_NAME
from .spelling import spelled, spelled_metadata
from .threads import set_torch_threads
from .train.cache import cache_members
from .train.device import resolve_device
from .train.loop import log_to_stderr, silent

Log = Callable[[str], None]


@dataclass
class PredictionContext:
    """What a model needs per sample besides its ASVs, by table row."""
    shift: np.ndarray                # (n,) target shift (0 for non-regressors)
    scale: np.ndarray                # (n,) target scale (1 for non-regressors)
    codes: torch.Tensor | None       # (n, n_columns) category codes, or None

    def rows(self, rows, device) -> dict:
        context = {"shift": torch.as_tensor(self.shift[rows], dtype=torch.float32).to(device),
                   "scale": torch.as_tensor(self.scale[rows], dtype=torch.float32).to(device)}
        if self.codes is not None:
            context["conditions"] = self.codes[rows].to(device)
        return context


def prediction_context(bundle: ModelBundle, sample_ids: list, conditioning, log: Log,
                       *, embedding_only: bool = False) -> PredictionContext:
    """The context of each sample, as the model was trained with.
    `embedding_only`: the embedding comes before conditioning and target
    normalisation (but for a cross-attention fusion, which reads the
    conditioning inside the sample encoder), so it needs only the columns
    metadata_columns names for it."""
    columns = metadata_columns(bundle, embedding_only)
    _refuse_absent_columns(bundle, conditioning, columns, embedding_only)
    if conditioning is not None and not columns:
        _refuse_unread(bundle, conditioning, embedding_only)
    if conditioning is not None:
        refuse_disjoint(pd.DataFrame(conditioning).index, sample_ids,
                        "the conditioning metadata",
                        "every sample would be predicted as of an unknown category",
                        "give the metadata of these samples.")
    if embedding_only and not columns:
        log = silent  # what the metadata lacks is no news for this embedding
    shift, scale = _target_scaling(bundle, sample_ids, conditioning, log)
    spec = bundle.config.get("conditioning")
    codes = None
    if spec:
        frame = None if conditioning is None else pd.DataFrame(conditioning)
        codes = torch.as_tensor(encode_conditions(
            frame, sample_ids, spec["vocabularies"], spec["columns"], log))
    return PredictionContext(shift, scale, codes)


def _refuse_unread(bundle: ModelBundle, conditioning, embedding_only: bool) -> None:
    given = list(pd.DataFrame(conditioning).columns)[:5]
    if embedding_only and metadata_columns(bundle):
        raise AAMInputError(
            f"{read_after_embedding(bundle)}, so the metadata given (columns {given}) "
            "would not change the embedding: leave it out.")
    raise AAMInputError(
        "This model was fitted without conditioning (and without a per-category "
        "target normalisation), so it takes no metadata: the conditioning "
        f"metadata given (columns {given}) would be ignored. Leave it out, or use "
        "the model fitted with it.")


def read_after_embedding(bundle: ModelBundle) -> str:
    """What of the model reads metadata after the sample embedding: its
    conditioning (not of a cross-attention fusion), or only the column its
    target is normalised by, which is no conditioning at all."""
    spec = bundle.config.get("conditioning") or {}
    if spec.get("columns"):
        return (f"This model's conditioning enters after the sample embedding (fusion "
                f"{spec.get('fusion', 'add')!r})")
    by = (bundle.config.get("target") or {}).get("by")
    return (f"This model reads metadata only to undo the normalisation of its target "
            f"per category of {by!r}, after the sample embedding")


def metadata_columns(bundle: ModelBundle, embedding_only: bool = False) -> list:
    """The metadata columns a model reads at prediction: its conditioning
    columns and the column its target is normalised by. Its embedding reads
    only the conditioning of a cross-attention fusion (the other fusions
    add the categories after the sample encoder)."""
    spec = bundle.config.get("conditioning") or {}
    columns = list(spec.get("columns") or [])
    if embedding_only:
        return columns if spec.get("fusion") == "cross_attention" else []
    by = (bundle.config.get("target") or {}).get("by") if bundle.kind == "regressor" else None
    return columns + ([by] if by and by not in columns else [])


def _refuse_absent_columns(bundle: ModelBundle, conditioning, columns: list,
                           embedding_only: bool) -> None:
    """A prediction without a column the model reads would be made for an
    'unknown' category, or in the global units of a target normalised per
    category (years off for every sample): the same refusal as the `aam`
    command's, for the actions and the library."""
    given = [] if conditioning is None else list(pd.DataFrame(conditioning).columns)
    absent = [c for c in columns if c not in given]
    if not absent:
        return
    # the embedding reads a column only as conditioning
    by = None if embedding_only else (bundle.config.get("target") or {}).get("by")
    roles = [f"{c!r} (its target was normalised per category of it)" if c == by
             else f"{c!r} (its conditioning)" for c in absent]
    raise AAMInputError(
        f"This model reads the metadata column(s) {', '.join(roles)} "
        + ("to embed" if embedding_only else "to predict") + ", and "
        + ("no metadata was given" if conditioning is None
           else f"the metadata given lacks them (it has {given[:5]})")
        + f": give the samples' metadata, with those columns, as "
        f"{spelled_metadata('conditioning')}.")


def _target_scaling(bundle, sample_ids, conditioning, log):
    if bundle.kind != "regressor":
        return np.zeros(len(sample_ids)), np.ones(len(sample_ids))
    scaler = scaler_from_dict(bundle.config.get("target") or {})
    categories = None
    if isinstance(scaler, CategoryScaler) and conditioning is not None \
            and scaler.column in conditioning.columns:
        frame = pd.DataFrame(conditioning).copy()
        frame.index = frame.index.map(str)
        categories = category_values(frame.reindex(sample_ids), scaler.column)
    return scaling_parameters(scaler, len(sample_ids), categories, log)


@dataclass
class Application:
    """A saved model set up on a table: network, batches and context."""
    prepared: PreparedData
    builder: BatchBuilder
    network: torch.nn.Module
    context: PredictionContext
    device: torch.device

    @property
    def sample_ids(self) -> list:
        return self.prepared.table.sample_ids


def apply_model(bundle: ModelBundle, table, sequences, conditioning, *, device: str,
                n_threads: int, log: Log, embedding_only: bool = False) -> Application:
    """Everything predict, embed and feature importance share. An embedding
    needs only what metadata_columns names for it."""
    check_bundle(bundle)
    check_log(log)
    check_conditioning(conditioning)
    set_torch_threads(n_threads)
    data = DataConfig(**bundle.config["data"]).for_prediction()
    prepared = prepare(table, sequences, data, log, model_rules=True)
    target_device = resolve_device(device)
    context = prediction_context(bundle, prepared.table.sample_ids, conditioning, log,
                                 embedding_only=embedding_only)
    return Application(prepared, BatchBuilder(prepared.table.counts, prepared.tokens, data),
                       build_model(bundle).to(target_device), context, target_device)


# what **options of the functions below may hold: forward_outputs' settings
APPLY_OPTIONS = ("batch_size", "device", "n_threads")


def _known(options: dict) -> dict:
    """The options, or an error naming one the caller misspelt."""
    unknown = sorted(set(options) - set(APPLY_OPTIONS))
    if unknown:
        close = difflib.get_close_matches(unknown[0], APPLY_OPTIONS, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise AAMInputError(f"Unknown option(s) {', '.join(unknown)}{hint}: prediction "
                            f"and embedding take {', '.join(APPLY_OPTIONS)}.")
    for name in ("batch_size", "n_threads"):
        option = BY_NAME[name].at("predict")  # their declared kind and lower bound
        value = options.get(name, option.default)
        value = int(value) if isinstance(value, np.integer) else value
        if not of_kind(option.kind, value) or value < option.low:
            raise AAMInputError(f"{name} must be a whole number of {option.low} or more, "
                                f"not {value!r}.")
    _known_device(options.get("device", "auto"))
    return options


def _known_device(device) -> None:
    """The device among the declared choices, before torch reads it (torch's
    own refusal lists its dozen device types, or asserts)."""
    option = BY_NAME["device"].at("predict")
    problem = option.problem(device)
    if problem:
        raise AAMInputError(f"{spelled('device')} {problem} ({option.help})")


def forward_outputs(bundle: ModelBundle, table, sequences=None, conditioning=None, *,
                    batch_size: int = 64, device: str = "auto", n_threads: int = 0,
                    log: Log = log_to_stderr, embedding_only: bool = False):
    """(the application, {'embedding', 'prediction'} arrays) for every usable
    sample of `table`, in table order; predictions in normalised units.
    `embedding_only`: an ensemble runs its first member alone (whose
    embedding is the ensemble's), not every member."""
    run = apply_model(bundle, table, sequences, conditioning, device=device,
                      n_threads=n_threads, log=log, embedding_only=embedding_only)
    network = members_of(run.network)[0] if embedding_only else run.network
    cache_vectors(network, run.prepared.tokens, run.device, log)
    outputs = {"embedding": [], "prediction": []}
    with torch.no_grad():
        for rows in batch_rows(len(run.sample_ids), batch_size, None):
            out = network(run.builder.build(rows).to(run.device),
                          context=run.context.rows(rows, run.device))
            for key in outputs:
                if key in out:
                    outputs[key].append(out[key].float().cpu().numpy())
    return run, {k: np.concatenate(v) for k, v in outputs.items() if v}


def cache_vectors(network, tokens: np.ndarray, device, log: Log) -> None:
    """Encode each ASV of the table once per member (the longest silent
    step before the batches of a large table: say so)."""
    n_members = len(members_of(network))
    log(f"Encoding {len(tokens)} distinct ASV sequences once"
        f"{f' for each of {n_members} ensemble members' if n_members > 1 else ''}...")
    started = time.perf_counter()
    cache_members(network, tokens, device)
    # also the step before embeddings, so it names no prediction
    log(f"ASV vectors cached in {time.perf_counter() - started:.1f}s; reading "
        "the samples.")


def _in_target_units(values: np.ndarray, context: PredictionContext) -> np.ndarray:
    shift, scale = context.shift, context.scale
    if values.ndim == 2:
        shift, scale = shift[:, None], scale[:, None]
    return values * scale + shift


def _a_regressor(bundle) -> None:
    check_bundle(bundle)
    if bundle.kind != "regressor":
        raise AAMInputError(f"This is {article(bundle.kind)} model; it needs a regressor.")


def _regression_outputs(bundle, table, sequences, conditioning, options, log):
    _a_regressor(bundle)
    run, outputs = forward_outputs(bundle, table, sequences, conditioning, log=log,
                                   **_known(options))
    return (pd.Index(run.sample_ids, name="SampleID"),
            _in_target_units(outputs["prediction"], run.context))


def predict_regression(bundle, table, sequences=None, conditioning=None, *,
                       log: Log = log_to_stderr, **options) -> pd.Series:
    """Point predictions in target units (the median of a quantile model)."""
    index, original = _regression_outputs(bundle, table, sequences, conditioning,
                                          options, log)
    if original.ndim == 2:
        original = original[:, point_index(bundle.config["target"]["quantiles"])]
    return pd.Series(original.astype(float), index=index, name="prediction")


def predict_quantiles(bundle, table, sequences=None, conditioning=None, *,
                      log: Log = log_to_stderr, **options) -> pd.DataFrame:
    """One column per quantile of a model fitted with the quantile loss."""
    _a_regressor(bundle)
    quantiles = (bundle.config.get("target") or {}).get("quantiles")
    if not quantiles:
        raise AAMInputError("This regressor was not fitted with the quantile loss, "
                            "so it has no quantiles to predict. Refit it with "
                            f"{spelled('loss', 'quantile')}, or predict an interval "
                            "(calibrated on its validation samples).")
    index, original = _regression_outputs(bundle, table, sequences, conditioning,
                                          options, log)
    return pd.DataFrame(original.astype(float), index=index,
                        columns=[f"q{q:g}" for q in quantiles])


def predict_interval(bundle, table, sequences=None, conditioning=None, *,
                     log: Log = log_to_stderr, **options) -> pd.DataFrame:
    """Columns 'prediction', 'lower', 'upper': the point prediction and a
    prediction interval, widened by the margin the model was calibrated
    with on its out-of-fold errors (the raw outer quantiles of a quantile
    model that has none)."""
    target = bundle.config.get("target") or {}
    quantiles, calibrated = target.get("quantiles"), target.get("calibration")
    if bundle.kind == "regressor" and not quantiles and not calibrated:
        raise AAMInputError("This regressor has no prediction intervals: it was "
                            "fitted without the quantile loss and without "
                            "validation samples to calibrate them on. Refit it with "
                            f"{spelled('validation_fraction')} above 0 (any loss), or "
                            f"with {spelled('loss', 'quantile')}.")
    if quantiles and len(quantiles) < 2:
        raise AAMInputError(
            f"This regressor predicts one quantile ({quantiles[0]:g}), and an interval "
            "needs a lower and an upper one: refit it with two quantiles or more "
            "(e.g. 0.1 0.5 0.9), or predict without an interval.")
    needed = intervals.too_few(calibrated) if calibrated else 0
    if needed:
        raise AAMInputError(
            f"This regressor's intervals were calibrated on {calibrated['n']} out-of-fold "
            f"prediction(s); an interval at {calibrated['level']:.0%} needs at least "
            f"{needed}, so it would cover what it claims only by luck. Refit it with "
            f"more samples, a larger {spelled('validation_fraction')} or a larger "
            f"{spelled('ensemble_size')} (each member predicts its own validation "
            "samples).")
    index, original = _regression_outputs(bundle, table, sequences, conditioning,
                                          options, log)
    if original.ndim == 2:
        point = original[:, point_index(quantiles)]
        low, high = original[:, 0], original[:, -1]
    else:
        point = low = high = original
    lower, upper = intervals.within(*intervals.interval(point, low, high, calibrated),
                                    ModelConfig.from_dict(bundle.config["architecture"])
                                    .output_range)
    return pd.DataFrame({"prediction": point, "lower": lower, "upper": upper},
                        index=index).astype(float)


def predict_classification(bundle, table, sequences=None, conditioning=None, *,
                           log: Log = log_to_stderr, **options) -> tuple:
    """(predicted label Series 'prediction', class probabilities DataFrame)."""
    check_bundle(bundle)
    if bundle.kind != "classifier":
        raise AAMInputError(f"This is {article(bundle.kind)} model; it needs a classifier.")
    run, outputs = forward_outputs(bundle, table, sequences, conditioning,
                                   log=log, **_known(options))
    labels = bundle.config["class_labels"]
    probabilities = torch.softmax(torch.as_tensor(outputs["prediction"]), -1).numpy()
    index = pd.Index(run.sample_ids, name="SampleID")
    frame = pd.DataFrame(probabilities.astype(float), index=index, columns=labels)
    predicted = pd.Series(np.asarray(labels, dtype=object)[probabilities.argmax(1)],
                          index=index, name="prediction")
    return predicted, frame


def embed(bundle: ModelBundle, table, sequences=None, conditioning=None, *,
          log: Log = log_to_stderr, **options) -> pd.DataFrame:
    """Sample embeddings (samples x d_model) of any model: the sample
    encoder's output. A conditioned model's metadata enters after it, so
    none is needed, except for a cross-attention fusion, whose sample
    encoder reads the conditioning columns: give them as `conditioning`."""
    run, outputs = forward_outputs(bundle, table, sequences, conditioning, log=log,
                                   embedding_only=True, **_known(options))
    embedding = outputs["embedding"]
    return pd.DataFrame(embedding, index=pd.Index(run.sample_ids, name="SampleID"),
                        columns=[f"dim{i + 1}" for i in range(embedding.shape[1])])
