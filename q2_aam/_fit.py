"""What fit-regressor and fit-classifier share: turning their options into
aam_core's fine-tuning call (conditioning, loss weights, head shape)."""
import sys

import biom
import pandas as pd
import qiime2
import skbio

from aam_core.bundle import ModelBundle
from aam_core.config import ConditioningConfig
from aam_core.errors import AAMInputError
from aam_core.fit_checks import check_front_end
from aam_core.spelling import spelled, spelled_metadata
from aam_core.settings import head_options, missing_samples_for

from . import _views
from ._distributed import on_devices


def fitting(kind: str):
    """The body of the action fitting a 'regression' or 'classification'
    model (see _parameters.with_options)."""
    def body(table: biom.Table, sequences: pd.Series = None,
             pretrained_model: ModelBundle = None,
             distance_matrix: skbio.DistanceMatrix = None,
             **options) -> ModelBundle:
        from aam_core import api
        function = api.fit_regressor if kind == 'regression' else api.fit_classifier
        return fit(kind, function, dict(
            options, table=table, sequences=sequences,
            pretrained_model=pretrained_model, distance_matrix=distance_matrix))
    return body


def fit(kind: str, fit_function, options: dict) -> ModelBundle:
    """Fit with aam_core's `fit_function` from an action's options (its
    inputs included)."""
    data, train = _views.settings(options, 'fit')
    check_front_end(train)
    from aam_core import readout  # torch: imported when an action runs
    readout.check_processes(train, options['n_devices'], 'n_devices')
    train = readout.for_processes(
        'regressor' if kind == 'regression' else 'classifier', train,
        options['pretrained_model'], options['n_devices'], 'n_devices',
        lambda line: print(line, file=sys.stderr, flush=True))
    table, targets = _views.table_samples_with_metadata(
        options['table'], options['metadata'],
        missing_samples_for(train.readout, options['missing_samples']))
    groups = options['groups']
    frame = _views.frame(options['conditioning'])
    return on_devices(
        options['n_devices'], fit_function,
        table, targets, _views.sequences(options['sequences']),
        groups=None if groups is None else groups.to_series(),
        pretrained=options['pretrained_model'], model=options['preset'],
        data=data, train=train, n_samples=len(targets),
        distances=options['distance_matrix'],
        conditioning=frame,
        conditioning_config=conditioning_config(options, frame),
        categories=_categories(options), sample_weights=_sample_weights(options),
        head_options=head_options(options))


def conditioning_config(options: dict, frame) -> ConditioningConfig:
    """The library's settings; `frame` is the conditioning DataFrame."""
    parents = ()
    if options['hierarchical'] and frame is None:
        raise AAMInputError(
            f"{spelled('hierarchical', True)} finds nested columns of the conditioning "
            f"metadata, and none was given, so it would be ignored: give "
            f"{spelled_metadata('conditioning')}, or leave out {spelled('hierarchical')}.")
    if options['hierarchical']:
        from aam_core.model.conditioning import nested_columns
        parents = nested_columns(frame)
        if not parents:
            raise AAMInputError(
                f"{spelled('hierarchical', True)} found no nested columns among "
                f"{list(frame.columns)} (a column nested in another has one value of "
                f"it per category), so it would be ignored: leave out "
                f"{spelled('hierarchical')}.")
    weights = options['loss_weights']
    normalise_by = options.get('normalise_by')
    return ConditioningConfig(
        fusion=options['fusion'], conditional_output=options['conditional_output'],
        parents=parents, unknown_rate=options['unknown_rate'],
        normalise_by='' if normalise_by is None else normalise_by.name,
        weight_by=weights.name if _is_categorical(weights) else '')


def _categories(options: dict):
    """Columns used only to normalise or weight (not fed to the model): the
    normalise-by column of either type (numbers, e.g. study ids, are
    categories, as in conditioning), a categorical loss-weights column."""
    columns = [options.get('normalise_by')] + [
        c for c in [options['loss_weights']] if _is_categorical(c)]
    columns = [c for c in columns if c is not None]
    if not columns:
        return None
    import pandas as pd
    return pd.concat([c.to_series() for c in columns], axis=1)


def _sample_weights(options: dict):
    weights = options['loss_weights']
    if weights is None or _is_categorical(weights):
        return None
    return weights.to_series()


def _is_categorical(column) -> bool:
    return isinstance(column, qiime2.CategoricalMetadataColumn)
