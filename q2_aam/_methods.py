"""Thin adapters: QIIME 2 views -> plain Python -> aam_core.api.

Defaults come from aam_core's config dataclasses so the plugin and the `aam`
CLI cannot drift apart. aam_core.api (and with it torch) is imported inside
each action, never at plugin load.
"""
from dataclasses import fields

import biom
import pandas as pd
import qiime2
import skbio

from aam_core.bundle import ModelBundle
from aam_core.config import (FIT_TRAIN_DEFAULTS, PRETRAIN_TRAIN_DEFAULTS, DataConfig,
                             TrainConfig)
from aam_core.errors import AAMInputError

from . import _fit_options as _fo
from ._distributed import on_devices

_D = DataConfig()
_T = TrainConfig()
_P, _F = PRETRAIN_TRAIN_DEFAULTS, FIT_TRAIN_DEFAULTS

# QIIME 2 parameter name -> settings field, where the two differ: the plugin
# keeps q2-sample-classifier's vocabulary (DESIGN s.8).
_RENAMED = {'random_state': 'seed', 'loss': 'target_loss'}


def _settings(params: dict) -> tuple:
    """Split an action's parameters into DataConfig and TrainConfig."""
    named = {_RENAMED.get(k, k): v for k, v in params.items()}

    def build(cls):
        return cls(**{f.name: named[f.name] for f in fields(cls)
                      if f.name in named})
    return build(DataConfig), build(TrainConfig)


def _sequences(sequences):
    if sequences is None:
        return None
    return {str(k): str(v) for k, v in sequences.items()}


def _matched_targets(table: biom.Table, column: qiime2.MetadataColumn,
                     missing_samples: str) -> tuple:
    """Targets for the table's samples; samples lacking metadata are an
    error or are dropped, as in q2-sample-classifier."""
    targets = column.to_series()
    missing = [i for i in table.ids() if i not in targets.index]
    if missing and missing_samples == 'error':
        raise AAMInputError(
            f'{len(missing)} sample(s) of the table are not in the metadata '
            f'(e.g. {", ".join(missing[:5])}). Add them, or pass '
            "missing_samples='ignore' to drop them.")
    if missing:
        table = table.filter(missing, invert=True, inplace=False)
    return table, targets.loc[list(table.ids())]


def pretrain(table: biom.Table,
             sequences: pd.Series = None,
             distance_matrix: skbio.DistanceMatrix = None,
             preset: str = 'small',
             epochs: int = _P.epochs,
             batch_size: int = _P.batch_size,
             learning_rate: float = _P.learning_rate,
             weight_decay: float = _P.weight_decay,
             warmup_fraction: float = _P.warmup_fraction,
             validation_fraction: float = _P.validation_fraction,
             patience: int = _P.patience,
             mask_ratio: float = _P.mask_ratio,
             nucleotide_weight: float = _P.nucleotide_weight,
             unifrac_weight: float = _P.unifrac_weight,
             rarefaction_depth: int = _D.rarefaction_depth,
             asv_dropout: float = _D.asv_dropout,
             max_asvs: int = _D.max_asvs,
             max_length: int = _D.max_length,
             truncate: bool = _D.truncate,
             random_state: int = _P.seed,
             device: str = _P.device,
             n_threads: int = _P.n_threads,
             scheduler: str = _P.scheduler,
             lr_cycles: int = _P.lr_cycles,
             plateau_patience: int = _P.plateau_patience,
             accumulation_steps: int = _P.accumulation_steps,
             precision: str = _P.precision,
             compile: bool = _P.compile,
             gradient_checkpointing: bool = _P.gradient_checkpointing,
             auto_batch_size: bool = _P.auto_batch_size,
             abundance_weight: float = _P.abundance_weight,
             abundance_mask_ratio: float = _P.abundance_mask_ratio,
             n_devices: int = 1
             ) -> ModelBundle:
    from aam_core import api
    data, train = _settings(locals())
    return on_devices(n_devices, api.pretrain, table, _sequences(sequences),
                      distance_matrix, model=preset, data=data, train=train)


def fit_regressor(table: biom.Table,
                  metadata: qiime2.NumericMetadataColumn,
                  sequences: pd.Series = None,
                  pretrained_model: ModelBundle = None,
                  distance_matrix: skbio.DistanceMatrix = None,
                  groups: qiime2.CategoricalMetadataColumn = None,
                  conditioning: qiime2.Metadata = None,
                  preset: str = 'small',
                  epochs: int = _F.epochs,
                  batch_size: int = _F.batch_size,
                  learning_rate: float = _F.learning_rate,
                  weight_decay: float = _F.weight_decay,
                  warmup_fraction: float = _F.warmup_fraction,
                  validation_fraction: float = _F.validation_fraction,
                  patience: int = _F.patience,
                  loss: str = _F.target_loss,
                  quantiles: list = list(_F.quantiles),
                  huber_delta: float = _F.huber_delta,
                  overprediction_weight: float = _F.overprediction_weight,
                  underprediction_weight: float = _F.underprediction_weight,
                  normalisation: str = _F.normalisation,
                  normalise_by: qiime2.CategoricalMetadataColumn = None,
                  loss_weights: qiime2.MetadataColumn = None,
                  hidden_layers: int = len(_fo._M.regression_hidden),
                  hidden_width: int = 0,
                  head_dropout: float = _fo._M.head_dropout,
                  residual_head: bool = _fo._M.head_residual,
                  output_activation: str = _fo._M.output_activation,
                  lower_bound: float = float('-inf'),
                  upper_bound: float = float('inf'),
                  selection_metric: str = _F.selection_metric,
                  freeze_encoder: bool = _F.freeze_encoder,
                  freeze_nucleotide_encoder: bool = _F.freeze_nucleotide_encoder,
                  ensemble_size: int = _F.ensemble_size,
                  mask_ratio: float = _F.mask_ratio,
                  nucleotide_weight: float = _F.nucleotide_weight,
                  unifrac_weight: float = _F.unifrac_weight,
                  fusion: str = _fo._C.fusion,
                  conditional_output: bool = _fo._C.output_scaling,
                  hierarchical: bool = False,
                  unknown_rate: float = _fo._C.unknown_rate,
                  find_learning_rate: bool = _F.find_learning_rate,
                  scheduler: str = _F.scheduler,
                  lr_cycles: int = _F.lr_cycles,
                  plateau_patience: int = _F.plateau_patience,
                  accumulation_steps: int = _F.accumulation_steps,
                  precision: str = _F.precision,
                  compile: bool = _F.compile,
                  gradient_checkpointing: bool = _F.gradient_checkpointing,
                  auto_batch_size: bool = _F.auto_batch_size,
                  abundance_weight: float = _F.abundance_weight,
                  abundance_mask_ratio: float = _F.abundance_mask_ratio,
                  rarefaction_depth: int = _D.rarefaction_depth,
                  asv_dropout: float = _D.asv_dropout,
                  max_asvs: int = _D.max_asvs,
                  max_length: int = _D.max_length,
                  truncate: bool = _D.truncate,
                  missing_samples: str = 'error',
                  random_state: int = _F.seed,
                  device: str = _F.device,
                  n_threads: int = _F.n_threads,
                  n_devices: int = 1) -> ModelBundle:
    from aam_core import api
    return _fit('regression', api.fit_regressor, dict(locals()))


def _fit(kind: str, fit_function, params: dict) -> ModelBundle:
    """Shared body of fit-regressor and fit-classifier."""
    params['quantiles'] = tuple(params.get('quantiles') or _T.quantiles)
    data, train = _settings(params)
    table, targets = _matched_targets(params['table'], params['metadata'],
                                      params['missing_samples'])
    groups = params['groups']
    frame = _conditioning_view(params['conditioning'])
    return on_devices(
        params.get('n_devices', 1), fit_function,
        table, targets, _sequences(params['sequences']),
        groups=None if groups is None else groups.to_series(),
        pretrained=params['pretrained_model'], model=params['preset'],
        data=data, train=train, distances=params['distance_matrix'],
        conditioning=frame,
        conditioning_config=_fo.conditioning_config(params, frame),
        categories=_fo.categories(params),
        sample_weights=_fo.sample_weights(params),
        head_options=_fo.head_options(params, kind))


def predict_regression(table: biom.Table,
                       model: ModelBundle,
                       sequences: pd.Series = None,
                       conditioning: qiime2.Metadata = None,
                       batch_size: int = 64,
                       device: str = _T.device,
                       n_threads: int = _T.n_threads) -> pd.Series:
    from aam_core import api
    # a Series named 'prediction', as q2-sample-classifier writes it
    return api.predict(model, table, _sequences(sequences),
                       batch_size=batch_size, device=device,
                       n_threads=n_threads,
                       conditioning=_conditioning_view(conditioning))


def predict_regression_interval(table: biom.Table,
                                model: ModelBundle,
                                sequences: pd.Series = None,
                                conditioning: qiime2.Metadata = None,
                                batch_size: int = 64,
                                device: str = _T.device,
                                n_threads: int = _T.n_threads
                                ) -> (pd.Series, pd.Series, pd.Series):
    from aam_core import api
    frame = api.predict_interval(
        model, table, _sequences(sequences), batch_size=batch_size,
        device=device, n_threads=n_threads,
        conditioning=_conditioning_view(conditioning))
    return tuple(frame[c].rename('prediction')
                 for c in ('prediction', 'lower', 'upper'))


def _conditioning_view(conditioning):
    return None if conditioning is None else conditioning.to_dataframe()
