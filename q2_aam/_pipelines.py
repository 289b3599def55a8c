"""regress-samples and classify-samples: split, (pretrain), fit, predict, plot.

Like q2-sample-classifier's pipelines of the same names, with what AAM adds:
the split keeps every group (subject) on one side, and a distance matrix
turns on self-supervised pretraining on the training samples before fitting.
"""
import biom

from aam_core.data.split import holdout_split
from aam_core.settings import for_action

from ._parameters import with_options
from ._views import table_samples_with_metadata

# the pipelines' options that pretrain and fit-* take too pass on unchanged;
# the rest (epochs, learning_rate...) the pipelines set per step
_OWN = {'metadata', 'groups', 'epochs', 'learning_rate', 'ensemble_size',
        'missing_samples'}
SHARED = tuple(o.name for o in for_action('regress_samples')
               if o.name not in _OWN and 'pretrain' in o.actions)
DEVICE = ('device', 'n_threads')


def _fit_only(kind: str) -> tuple:
    """The pipeline's options that only its fit-* step takes (e.g. the
    regressor's head), passed on unchanged."""
    fit = {o.name for o in for_action(f'fit_{kind}')}
    return tuple(o.name for o in for_action(_PIPELINE[kind])
                 if o.name in fit and o.name not in _OWN and o.name not in SHARED)


_PIPELINE = {'regressor': 'regress_samples', 'classifier': 'classify_samples'}


def _split_tables(ctx, table, settings: dict, stratify: bool):
    biom_table, targets = table_samples_with_metadata(
        table.view(biom.Table), settings['metadata'], settings['missing_samples'])
    groups = settings['groups']
    train_ids, test_ids = holdout_split(
        targets.dropna(), settings['test_size'], settings['random_state'],
        None if groups is None else groups.to_series(), stratify)

    def subset(ids):
        part = biom_table.filter(ids, inplace=False)
        part = part.remove_empty(axis='observation', inplace=False)
        return ctx.make_artifact('FeatureTable[Frequency]', part)
    return subset(train_ids), subset(test_ids)


def _fit_model(ctx, kind, train_table, sequences, distance_matrix, settings):
    """Optional pretraining on the training samples, then fine-tuning."""
    shared = {name: settings[name] for name in SHARED}
    optional = {} if sequences is None else {'sequences': sequences}
    if distance_matrix is not None:
        pretrain = ctx.get_action('aam', 'pretrain')
        encoder, = pretrain(table=train_table,
                            distance_matrix=distance_matrix,
                            epochs=settings['pretrain_epochs'],
                            learning_rate=settings['pretrain_learning_rate'],
                            **optional, **shared)
        optional['pretrained_model'] = encoder
    if settings['groups'] is not None:
        optional['groups'] = settings['groups']
    fit = ctx.get_action('aam', f'fit_{kind}')
    model, = fit(table=train_table, metadata=settings['metadata'],
                 epochs=settings['epochs'],
                 learning_rate=settings['learning_rate'],
                 ensemble_size=settings['ensemble_size'],
                 missing_samples='ignore', **optional, **shared,
                 **{name: settings[name] for name in _fit_only(kind)})
    return model


def _train_and_test(ctx, kind, table, sequences, distance_matrix, settings):
    """(model, feature importance, the predict action's outputs on the test
    samples, model summary)."""
    train_table, test_table = _split_tables(ctx, table, settings,
                                            stratify=kind == 'classifier')
    model = _fit_model(ctx, kind, train_table, sequences, distance_matrix, settings)
    optional = {} if sequences is None else {'sequences': sequences}
    device = {name: settings[name] for name in DEVICE}
    predict = ctx.get_action('aam', 'predict_regression' if kind == 'regressor'
                             else 'predict_classification')
    outputs = predict(table=test_table, model=model, **optional, **device)
    importance, = ctx.get_action('aam', 'feature_importance')(
        table=table, model=model, **optional, **device)
    summary, = ctx.get_action('aam', 'summarize')(model=model)
    return model, importance, outputs, summary


def _regress_samples(ctx, table, sequences=None, distance_matrix=None, **settings):
    model, importance, (predictions,), summary = _train_and_test(
        ctx, 'regressor', table, sequences, distance_matrix, settings)
    scatter = ctx.get_action('sample_classifier', 'scatterplot')
    accuracy, = scatter(predictions=predictions, truth=settings['metadata'],
                        missing_samples='ignore')
    return model, importance, predictions, summary, accuracy


def _classify_samples(ctx, table, sequences=None, distance_matrix=None, **settings):
    model, importance, (predictions, probabilities), summary = _train_and_test(
        ctx, 'classifier', table, sequences, distance_matrix, settings)
    confusion = ctx.get_action('sample_classifier', 'confusion_matrix')
    accuracy, = confusion(predictions=predictions, truth=settings['metadata'],
                          probabilities=probabilities, missing_samples='ignore')
    return model, importance, predictions, probabilities, summary, accuracy


regress_samples = with_options('regress_samples', _regress_samples)
classify_samples = with_options('classify_samples', _classify_samples)
