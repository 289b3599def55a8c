"""pretrain / fit_regressor / predict / embed on plain Python objects.

Inputs: a biom.Table (or CountTable), optional sequences (feature id -> DNA),
an optional skbio.DistanceMatrix, targets and groups as pandas Series indexed
by sample id. Outputs: ModelBundle (see bundle.py) and pandas objects.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Mapping

import numpy as np
import pandas as pd
import torch

from . import __version__
from .bundle import ModelBundle
from .config import (FIT_TRAIN_DEFAULTS, PRETRAIN_TRAIN_DEFAULTS, ConditioningConfig,
                     DataConfig, ModelConfig, TrainConfig)
from .data.batching import BatchBuilder
from .data.table import CountTable, clean_table
from .data.tokens import VOCAB, resolve_sequences, tokenize
from .errors import AAMInputError
from .model import AAM
from .train.loop import TrainingData, fit, log_to_stderr, resolve_device
from .train.objective import Objective, as_tensor
from .train.split import validation_split

Log = Callable[[str], None]


@dataclass
class PreparedData:
    table: CountTable
    tokens: np.ndarray  # (n_features, L) uint8, each distinct sequence once


def prepare(table, sequences: Mapping[str, str] | None, data: DataConfig,
            log: Log = log_to_stderr) -> PreparedData:
    """Clean the table and tokenise each of its features once for the run."""
    counts = table if isinstance(table, CountTable) else CountTable.from_biom(table)
    counts = clean_table(counts, data.rarefaction_depth, log)
    dna = resolve_sequences(counts.feature_ids,
                            None if sequences is None else _as_str_mapping(sequences))
    return PreparedData(counts, tokenize(dna, counts.feature_ids,
                                         data.max_length, data.truncate))


def _as_str_mapping(sequences) -> Mapping[str, str]:
    items = sequences.items() if hasattr(sequences, "items") else sequences
    return {str(k): str(v) for k, v in items}


def distance_block(distances, sample_ids: list[str]) -> np.ndarray:
    """The distances between `sample_ids`, in their order, as float32 (a
    lazy DistanceView when `distances` is a file read by data.distances)."""
    from .data.distances import DistanceFile, check_distances, matrix_positions
    if isinstance(distances, DistanceFile):
        return distances.view(sample_ids)
    index = matrix_positions(distances.ids, sample_ids, "the distance matrix")
    block = np.asarray(distances.data, dtype=np.float32)[np.ix_(index, index)]
    check_distances(block, "the distance matrix")
    return block


def _seed_everything(train: TrainConfig) -> None:
    torch.manual_seed(train.seed)
    if train.n_threads > 0:
        torch.set_num_threads(train.n_threads)


def _model_config(model: str | ModelConfig, data: DataConfig) -> ModelConfig:
    config = ModelConfig.preset(model) if isinstance(model, str) else model
    return replace(config, max_length=data.max_length)


def _base_config(kind: str, architecture: ModelConfig, data: DataConfig,
                 train: TrainConfig, device: torch.device) -> dict:
    return {"format_version": 1, "kind": kind,
            "architecture": architecture.to_dict(), "data": data.to_dict(),
            "training": train.to_dict(), "seed": train.seed, "device": str(device),
            "vocabulary": dict(VOCAB), "target": None, "class_labels": None,
            "conditioning": None,
            "versions": {"aam_core": __version__, "torch": torch.__version__}}


def pretrain(table, sequences=None, distances=None, *, model: str | ModelConfig = "small",
             data: DataConfig = DataConfig(),
             train: TrainConfig = PRETRAIN_TRAIN_DEFAULTS,
             log: Log = log_to_stderr) -> ModelBundle:
    """Self-supervised encoder: UniFrac pairs (when distances) + masked nucleotides."""
    _seed_everything(train)
    prepared = prepare(table, sequences, data, log)
    if distances is None and train.nucleotide_weight <= 0:
        raise AAMInputError("Nothing to pretrain on: give a distance matrix or a "
                            "nucleotide_weight above 0.")
    block = None if distances is None else distance_block(
        distances, prepared.table.sample_ids)
    architecture = _model_config(model, data)
    device = resolve_device(train.device)
    network = AAM(architecture).to(device)
    train_rows, val_rows = validation_split(prepared.table.n_samples,
                                            train.validation_fraction, train.seed)
    training = TrainingData(BatchBuilder(prepared.table.counts, prepared.tokens, data),
                            train_rows, val_rows)
    objective = Objective(train, distances=as_tensor(block))
    log(f"Pretraining on {prepared.table.n_samples} samples, "
        f"{len(prepared.table.feature_ids)} ASVs; objectives: "
        f"{', '.join(objective.weights)}; device {device}.")
    result = fit(network, training, objective, train, device, "loss", log)
    return ModelBundle(_base_config("encoder", architecture, data, train, device),
                       _cpu_state(network), result.history)


def _aligned_targets(targets: pd.Series, sample_ids: list[str], log: Log) -> pd.Series:
    targets = pd.Series(targets)
    targets.index = targets.index.map(str)
    if not pd.api.types.is_numeric_dtype(targets):
        raise AAMInputError(f"The target column {targets.name!r} must be numeric "
                            "for a regressor.")
    aligned = targets.reindex(sample_ids)
    missing = int(aligned.isna().sum())
    if missing:
        log(f"Dropped {missing} sample(s) that have no target value.")
    aligned = aligned.dropna()
    if len(aligned) < 4:
        raise AAMInputError(f"Only {len(aligned)} sample(s) have both counts and a "
                            "target; a regressor needs at least 4.")
    return aligned.astype(float)


def fit_regressor(table, targets: pd.Series, sequences=None, groups: pd.Series | None = None,
                  pretrained: ModelBundle | None = None, *,
                  model: str | ModelConfig = "small", data: DataConfig = DataConfig(),
                  train: TrainConfig = FIT_TRAIN_DEFAULTS,
                  log: Log = log_to_stderr, distances=None,
                  conditioning: pd.DataFrame | None = None,
                  conditioning_config: ConditioningConfig = ConditioningConfig(),
                  head_options: dict | None = None,
                  categories: pd.DataFrame | None = None,
                  sample_weights: pd.Series | None = None) -> ModelBundle:
    """Fine-tune (or train from scratch) a regressor of a numeric target.

    distances: optional skbio.DistanceMatrix for the auxiliary UniFrac term;
    conditioning: a DataFrame of categorical columns by sample id, used as
    conditioning_config says; head_options: ModelConfig head fields
    (HEAD_FIELDS) that override the preset's or the pretrained model's;
    categories: more columns that conditioning_config.normalise_by or
    weight_by may name (not fed to the model); sample_weights: a loss weight
    per sample id.
    """
    from .finetune import fit_model
    return fit_model("regressor", table, targets, sequences, groups, pretrained,
                     distances, conditioning, model=model, head_options=head_options,
                     data=data, train=train, conditioning_config=conditioning_config,
                     categories=categories, sample_weights=sample_weights, log=log)


def fit_classifier(table, targets: pd.Series, sequences=None, groups: pd.Series | None = None,
                   pretrained: ModelBundle | None = None, *,
                   model: str | ModelConfig = "small", data: DataConfig = DataConfig(),
                   train: TrainConfig = FIT_TRAIN_DEFAULTS,
                   log: Log = log_to_stderr, distances=None,
                   conditioning: pd.DataFrame | None = None,
                   conditioning_config: ConditioningConfig = ConditioningConfig(),
                   head_options: dict | None = None,
                   categories: pd.DataFrame | None = None,
                   sample_weights: pd.Series | None = None) -> ModelBundle:
    """Fine-tune (or train from scratch) a classifier of a categorical target
    (cross-entropy; train.class_weight 'balanced' or 'none'). Options as
    for fit_regressor."""
    from .finetune import fit_model
    return fit_model("classifier", table, targets, sequences, groups, pretrained,
                     distances, conditioning, model=model, head_options=head_options,
                     data=data, train=train, conditioning_config=conditioning_config,
                     categories=categories, sample_weights=sample_weights, log=log)


def load_matching_weights(network: torch.nn.Module, state_dict: dict) -> int:
    """Copy every tensor whose name and shape match; returns how many."""
    own = network.state_dict()
    matching = {k: v for k, v in state_dict.items()
                if k in own and own[k].shape == v.shape}
    network.load_state_dict(matching, strict=False)
    return len(matching)


def _cpu_state(network: torch.nn.Module) -> dict:
    return {k: v.detach().cpu().clone() for k, v in network.state_dict().items()}


def build_model(bundle: ModelBundle) -> AAM:
    """The network of a bundle (head and conditioning from its config), with
    its weights, in eval mode on CPU."""
    from .finetune import load_weights, network_for
    return load_weights(network_for(bundle.config), bundle.state_dict).eval()


def predict(bundle: ModelBundle, table, sequences=None, *, batch_size: int = 64,
            device: str = "auto", n_threads: int = 0,
            log: Log = log_to_stderr, conditioning: pd.DataFrame | None = None) -> pd.Series:
    """Predictions in original units, indexed by sample id (the median of a
    quantile regressor). `conditioning`: the categories of a conditioned
    model; missing or unseen ones use its 'unknown' embedding."""
    from .finetune import predict_regression
    return predict_regression(bundle, table, sequences, conditioning, log=log,
                              batch_size=batch_size, device=device, n_threads=n_threads)


def predict_quantiles(bundle: ModelBundle, table, sequences=None, *, batch_size: int = 64,
                      device: str = "auto", n_threads: int = 0, log: Log = log_to_stderr,
                      conditioning: pd.DataFrame | None = None) -> pd.DataFrame:
    """Each quantile of a regressor fitted with the quantile loss (columns
    'q0.1', 'q0.5', ...), in original units: prediction intervals."""
    from .finetune import predict_quantiles as quantiles
    return quantiles(bundle, table, sequences, conditioning, log=log,
                     batch_size=batch_size, device=device, n_threads=n_threads)


def predict_interval(bundle: ModelBundle, table, sequences=None, *, batch_size: int = 64,
                     device: str = "auto", n_threads: int = 0, log: Log = log_to_stderr,
                     conditioning: pd.DataFrame | None = None) -> pd.DataFrame:
    """Point prediction and interval ('prediction', 'lower', 'upper') in
    original units; the interval is calibrated on the fit's out-of-fold
    errors (config['target']['calibration'])."""
    from .finetune import predict_interval as interval
    return interval(bundle, table, sequences, conditioning, log=log,
                    batch_size=batch_size, device=device, n_threads=n_threads)


def predict_classification(bundle: ModelBundle, table, sequences=None, *,
                           batch_size: int = 64, device: str = "auto", n_threads: int = 0,
                           log: Log = log_to_stderr,
                           conditioning: pd.DataFrame | None = None) -> tuple:
    """(predicted labels: Series named 'prediction'; class probabilities:
    DataFrame with one column per class label), indexed by sample id."""
    from .finetune import predict_classification as classify
    return classify(bundle, table, sequences, conditioning, log=log,
                    batch_size=batch_size, device=device, n_threads=n_threads)


def embed(bundle: ModelBundle, table, sequences=None, *, batch_size: int = 64,
          device: str = "auto", n_threads: int = 0, log: Log = log_to_stderr,
          conditioning: pd.DataFrame | None = None) -> pd.DataFrame:
    """Sample embeddings (samples x d_model) of any model; `conditioning` as
    for predict (a conditioned model uses 'unknown' where it is missing)."""
    from .finetune import forward_outputs
    sample_ids, outputs, _, _ = forward_outputs(
        bundle, table, sequences, conditioning, batch_size=batch_size,
        device=device, n_threads=n_threads, log=log, embedding_only=True)
    embedding = outputs["embedding"]
    return pd.DataFrame(embedding, index=pd.Index(sample_ids, name="SampleID"),
                        columns=[f"dim{i + 1}" for i in range(embedding.shape[1])])


save = ModelBundle.save
load = ModelBundle.load
