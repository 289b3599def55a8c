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
from aam_core.config import FIT_TRAIN_DEFAULTS, DataConfig, TrainConfig
from aam_core.errors import AAMInputError

_D = DataConfig()
_T = TrainConfig()

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
             epochs: int = _T.epochs,
             batch_size: int = _T.batch_size,
             learning_rate: float = _T.learning_rate,
             weight_decay: float = _T.weight_decay,
             warmup_fraction: float = _T.warmup_fraction,
             validation_fraction: float = _T.validation_fraction,
             patience: int = _T.patience,
             mask_ratio: float = _T.mask_ratio,
             nucleotide_weight: float = _T.nucleotide_weight,
             unifrac_weight: float = _T.unifrac_weight,
             rarefaction_depth: int = _D.rarefaction_depth,
             max_asvs: int = _D.max_asvs,
             max_length: int = _D.max_length,
             truncate: bool = _D.truncate,
             random_state: int = _T.seed,
             device: str = _T.device,
             n_threads: int = _T.n_threads) -> ModelBundle:
    from aam_core import api
    data, train = _settings(locals())
    return api.pretrain(table, _sequences(sequences), distance_matrix,
                        model=preset, data=data,
                        train=train)


def fit_regressor(table: biom.Table,
                  metadata: qiime2.NumericMetadataColumn,
                  sequences: pd.Series = None,
                  pretrained_model: ModelBundle = None,
                  groups: qiime2.CategoricalMetadataColumn = None,
                  preset: str = 'small',
                  epochs: int = _T.epochs,
                  batch_size: int = _T.batch_size,
                  learning_rate: float = _T.learning_rate,
                  weight_decay: float = _T.weight_decay,
                  warmup_fraction: float = _T.warmup_fraction,
                  validation_fraction: float = _T.validation_fraction,
                  patience: int = _T.patience,
                  loss: str = _T.target_loss,
                  normalisation: str = _T.normalisation,
                  freeze_encoder: bool = _T.freeze_encoder,
                  mask_ratio: float = _T.mask_ratio,
                  nucleotide_weight: float = FIT_TRAIN_DEFAULTS.nucleotide_weight,
                  rarefaction_depth: int = _D.rarefaction_depth,
                  max_asvs: int = _D.max_asvs,
                  max_length: int = _D.max_length,
                  truncate: bool = _D.truncate,
                  missing_samples: str = 'error',
                  random_state: int = _T.seed,
                  device: str = _T.device,
                  n_threads: int = _T.n_threads) -> ModelBundle:
    from aam_core import api
    # no distance matrix here, so the UniFrac term has nothing to fit
    data, train = _settings({**locals(), 'unifrac_weight': 0.0})
    table, targets = _matched_targets(table, metadata, missing_samples)
    return api.fit_regressor(
        table, targets, _sequences(sequences),
        groups=None if groups is None else groups.to_series(),
        pretrained=pretrained_model, model=preset,
        data=data, train=train)


def predict_regression(table: biom.Table,
                       model: ModelBundle,
                       sequences: pd.Series = None,
                       batch_size: int = 64,
                       device: str = _T.device,
                       n_threads: int = _T.n_threads) -> pd.Series:
    from aam_core import api
    # a Series named 'prediction', as q2-sample-classifier writes it
    return api.predict(model, table, _sequences(sequences),
                       batch_size=batch_size, device=device,
                       n_threads=n_threads)
