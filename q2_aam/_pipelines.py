"""regress-samples and classify-samples: split, (pretrain), fit, predict, plot.

Like q2-sample-classifier's pipelines of the same names, with what AAM adds:
the split keeps every group (subject) on one side, and a distance matrix
turns on self-supervised pretraining on the training samples before fitting.
"""
import biom
import numpy as np
import pandas as pd

from aam_core.config import (FIT_TRAIN_DEFAULTS, PRETRAIN_TRAIN_DEFAULTS, DataConfig,
                             TrainConfig)
from aam_core.errors import AAMInputError

_D, _T = DataConfig(), TrainConfig()
_P, _F = PRETRAIN_TRAIN_DEFAULTS, FIT_TRAIN_DEFAULTS

# parameters the pipelines pass on unchanged to pretrain and fit-*
SHARED = ('preset', 'batch_size', 'validation_fraction',
          'patience', 'rarefaction_depth', 'asv_dropout', 'max_asvs', 'max_length',
          'truncate', 'random_state', 'device', 'n_threads')
DEVICE = ('device', 'n_threads')


def _units(sample_ids, groups):
    """The unit each sample is drawn with: its group, or itself."""
    if groups is None:
        return pd.Series(sample_ids, index=sample_ids)
    units = groups.reindex(sample_ids).astype(object)
    # a sample without a group is its own group: it can never leak
    return units.where(units.notna(), '__own__' + units.index.to_series())


def split_samples(targets: pd.Series, test_size: float, seed: int,
                  groups: pd.Series = None, stratify: bool = False):
    """(train_ids, test_ids). Whole units (groups) go to one side; with
    `stratify`, each class (a unit's majority class) is split on its own so
    that every class with two units or more appears on both sides."""
    rng = np.random.default_rng(seed)
    units = _units(list(targets.index), groups)
    if stratify:
        # a group's class: the most common class of its samples
        strata = targets.groupby(units).agg(
            lambda values: values.value_counts().index[0])
    else:
        strata = pd.Series('all', index=units.unique())
    sizes = units.value_counts()
    test_units = []
    for _, members in strata.groupby(strata, sort=True):
        unit_ids = list(members.index)
        wanted = test_size * sizes[unit_ids].sum()
        chosen, taken = [], 0
        for position in rng.permutation(len(unit_ids)):
            # stop at the wanted size, and leave one unit for training
            if taken >= wanted or len(chosen) == len(unit_ids) - 1:
                break
            chosen.append(unit_ids[position])
            taken += sizes[unit_ids[position]]
        test_units += chosen
    is_test = units.isin(set(test_units)).to_numpy()
    train_ids = list(units.index[~is_test])
    test_ids = list(units.index[is_test])
    if len(test_ids) < 2 or len(train_ids) < 4:
        raise AAMInputError(
            f'The split leaves {len(train_ids)} training and {len(test_ids)} '
            'test samples; it needs at least 4 and 2. Use more samples (or '
            'groups), or change test_size.')
    return train_ids, test_ids


def _targets(table: biom.Table, metadata, missing_samples: str) -> pd.Series:
    """Targets of the table's samples that have one; as in fit-*, samples
    absent from the metadata are an error or are dropped."""
    values = metadata.to_series()
    ids = [str(i) for i in table.ids()]
    missing = [i for i in ids if i not in values.index]
    if missing and missing_samples == 'error':
        raise AAMInputError(
            f'{len(missing)} sample(s) of the table are not in the metadata '
            f'(e.g. {", ".join(missing[:5])}). Add them, or pass '
            "missing_samples='ignore' to drop them.")
    return values.reindex([i for i in ids if i not in set(missing)]).dropna()


def _split_tables(ctx, table, metadata, groups, test_size, random_state,
                  missing_samples, stratify):
    biom_table = table.view(biom.Table)
    targets = _targets(biom_table, metadata, missing_samples)
    train_ids, test_ids = split_samples(
        targets, test_size, random_state,
        None if groups is None else groups.to_series(), stratify)

    def subset(ids):
        part = biom_table.filter(ids, inplace=False)
        part = part.remove_empty(axis='observation', inplace=False)
        return ctx.make_artifact('FeatureTable[Frequency]', part)
    return subset(train_ids), subset(test_ids)


def _fit_model(ctx, fit_action, train_table, metadata, sequences,
               distance_matrix, groups, settings, epochs, pretrain_epochs):
    """Optional pretraining on the training samples, then fine-tuning."""
    shared = {name: settings[name] for name in SHARED}
    optional = {} if sequences is None else {'sequences': sequences}
    if distance_matrix is not None:
        pretrain = ctx.get_action('aam', 'pretrain')
        encoder, = pretrain(table=train_table,
                            distance_matrix=distance_matrix,
                            epochs=pretrain_epochs,
                            learning_rate=settings['pretrain_learning_rate'],
                            **optional, **shared)
        optional['pretrained_model'] = encoder
    if groups is not None:
        optional['groups'] = groups
    fit = ctx.get_action('aam', fit_action)
    model, = fit(table=train_table, metadata=metadata, epochs=epochs,
                 learning_rate=settings['learning_rate'],
                 ensemble_size=settings['ensemble_size'],
                 missing_samples='ignore', **optional, **shared)
    return model


def _explain(ctx, table, model, sequences, settings):
    optional = {} if sequences is None else {'sequences': sequences}
    device = {name: settings[name] for name in DEVICE}
    importance, = ctx.get_action('aam', 'feature_importance')(
        table=table, model=model, **optional, **device)
    summary, = ctx.get_action('aam', 'summarize')(model=model)
    return importance, summary


def regress_samples(ctx, table, metadata, sequences=None,
                    distance_matrix=None, groups=None, test_size=0.2,
                    epochs=_F.epochs, pretrain_epochs=_P.epochs,
                    preset='small', batch_size=_T.batch_size,
                    learning_rate=_F.learning_rate,
                    pretrain_learning_rate=_P.learning_rate,
                    ensemble_size=_F.ensemble_size,
                    validation_fraction=_T.validation_fraction,
                    patience=_T.patience,
                    rarefaction_depth=_D.rarefaction_depth,
                    asv_dropout=_D.asv_dropout,
                    max_asvs=_D.max_asvs, max_length=_D.max_length,
                    truncate=_D.truncate, missing_samples='error',
                    random_state=_T.seed, device=_T.device,
                    n_threads=_T.n_threads):
    settings = dict(locals())
    train_table, test_table = _split_tables(
        ctx, table, metadata, groups, test_size, random_state,
        missing_samples, stratify=False)
    model = _fit_model(ctx, 'fit_regressor', train_table, metadata, sequences,
                       distance_matrix, groups, settings, epochs,
                       pretrain_epochs)
    optional = {} if sequences is None else {'sequences': sequences}
    device_settings = {name: settings[name] for name in DEVICE}
    predictions, = ctx.get_action('aam', 'predict_regression')(
        table=test_table, model=model, **optional, **device_settings)
    importance, summary = _explain(ctx, table, model, sequences, settings)
    scatter = ctx.get_action('sample_classifier', 'scatterplot')
    accuracy, = scatter(predictions=predictions, truth=metadata,
                        missing_samples='ignore')
    return model, importance, predictions, summary, accuracy


def classify_samples(ctx, table, metadata, sequences=None,
                     distance_matrix=None, groups=None, test_size=0.2,
                     epochs=_F.epochs, pretrain_epochs=_P.epochs,
                     preset='small', batch_size=_T.batch_size,
                     learning_rate=_F.learning_rate,
                     pretrain_learning_rate=_P.learning_rate,
                     ensemble_size=_F.ensemble_size,
                     validation_fraction=_T.validation_fraction,
                     patience=_T.patience,
                     rarefaction_depth=_D.rarefaction_depth,
                     asv_dropout=_D.asv_dropout,
                     max_asvs=_D.max_asvs, max_length=_D.max_length,
                     truncate=_D.truncate, missing_samples='error',
                     random_state=_T.seed, device=_T.device,
                     n_threads=_T.n_threads):
    settings = dict(locals())
    train_table, test_table = _split_tables(
        ctx, table, metadata, groups, test_size, random_state,
        missing_samples, stratify=True)
    model = _fit_model(ctx, 'fit_classifier', train_table, metadata,
                       sequences, distance_matrix, groups, settings, epochs,
                       pretrain_epochs)
    optional = {} if sequences is None else {'sequences': sequences}
    device_settings = {name: settings[name] for name in DEVICE}
    predictions, probabilities = ctx.get_action(
        'aam', 'predict_classification')(
        table=test_table, model=model, **optional, **device_settings)
    importance, summary = _explain(ctx, table, model, sequences, settings)
    confusion = ctx.get_action('sample_classifier', 'confusion_matrix')
    accuracy, = confusion(predictions=predictions, truth=metadata,
                          probabilities=probabilities,
                          missing_samples='ignore')
    return (model, importance, predictions, probabilities, summary,
            accuracy)
