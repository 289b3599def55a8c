"""regress-samples-ncv and classify-samples-ncv: a prediction for every
sample by cross-validation, like q2-sample-classifier's actions of the same
names. Each of `cv` folds (whole groups to one fold) is predicted by a model
fitted on the other folds, pretrained first on only those folds' samples when
a distance matrix is given, so no prediction has seen its sample or its
subject."""
import biom
import pandas as pd

from aam_core.data.split import cv_folds

from ._parameters import with_options
from aam_core.spelling import spelled

from ._pipelines import (accuracy_summary, applying, check_encoder_inputs,
                         check_normalise_by, check_sequences, check_training_part,
                         encoder_for, fit_model, predict_action, say_ungrouped, subset,
                         training_samples, unlabelled)


def _fold_results(ctx, kind, table, sequences, distance_matrix,
                  pretrained_model, settings):
    """[(the predict action's outputs on the fold's samples, the fold
    model's feature importance)] for every fold."""
    check_encoder_inputs(pretrained_model, distance_matrix, settings)
    biom_table = table.view(biom.Table)  # read once: a large table is slow to read
    check_sequences(biom_table, sequences)
    biom_table, targets = training_samples(biom_table, settings, distance_matrix)
    groups = settings['groups']
    folds = cv_folds(targets, settings['cv'], settings['random_state'],
                     None if groups is None else groups.to_series(),
                     stratify=kind == 'classifier')
    say_ungrouped(targets.index, groups, 'the cross-validation folds')
    _check_fold_training(folds, targets.index, groups, settings)
    _check_fold_normalisation(folds, targets, settings)
    optional = {} if sequences is None else {'sequences': sequences}
    device = applying(settings)
    results = []
    for test_ids in folds:
        held_out = set(test_ids)
        train_ids = [i for i in targets.index if i not in held_out]
        train_table = subset(ctx, biom_table, train_ids)
        encoder = encoder_for(ctx, train_table, sequences, distance_matrix,
                              pretrained_model, settings)
        fit_table = subset(ctx, biom_table, train_ids + unlabelled(biom_table, targets,
                                                                   settings))
        model = fit_model(ctx, kind, fit_table, sequences, encoder, settings)
        outputs = predict_action(ctx, kind)(
            table=subset(ctx, biom_table, test_ids), model=model,
            **optional, **device)
        # over the whole table, as regress-samples does, so that every
        # feature has a value from every fold to average
        importance, = ctx.get_action('aam', 'feature_importance')(
            table=table, model=model, **optional, **device)
        results.append((outputs, importance.view(pd.DataFrame)))
    return results


def _check_fold_training(folds, sample_ids, groups, settings) -> None:
    """Each fold's model is fitted on the other folds: its validation splits
    are made of them before any fit, so that a fold whose training samples
    cannot be split (one group) is said as the folds' doing, naming the
    fold and cv, not as a test split's."""
    n_groups = len(sample_ids) if groups is None else \
        groups.to_series().reindex(sample_ids).nunique()
    more = (f'Raise {spelled("cv")} to {n_groups} (the number of groups), so that '
            'each fold holds one group and its model fits on the others, or give '
            if settings['cv'] < n_groups else 'Give ')
    for fold, test_ids in enumerate(folds, 1):
        held_out = set(test_ids)
        train_ids = [i for i in sample_ids if i not in held_out]
        check_training_part(
            train_ids, groups, settings,
            f'Fold {fold} of {spelled("cv", settings["cv"])} is predicted by a model '
            f'fitted on the other folds\' {len(train_ids)} samples, which cannot be '
            'split for its validation:',
            f'{more}samples of more groups.')


def _check_fold_normalisation(folds, targets, settings) -> None:
    """What the normalise-by column would refuse of any fold's fit or
    predictions, before the first pretraining: of every sample first, so
    that a wrong column is not blamed on a fold."""
    check_normalise_by(targets, list(targets.index), [], settings, '')
    for fold, test_ids in enumerate(folds, 1):
        held_out = set(test_ids)
        train_ids = [i for i in targets.index if i not in held_out]
        check_normalise_by(
            targets, train_ids, test_ids, settings, f'samples of fold {fold}',
            f'Fold {fold} of {spelled("cv", settings["cv"])} is predicted by a model '
            f'fitted on the other folds\' {len(train_ids)} samples: ')


def _mean_importance(ctx, importances):
    mean = pd.concat(importances).groupby(level=0).mean()
    mean = mean.sort_values('importance', ascending=False)
    mean.index.name = importances[0].index.name
    return ctx.make_artifact('FeatureData[Importance]', mean)


def _out_of_fold(outputs, position: int, view=pd.DataFrame):
    """The folds' `position`-th outputs as one `view` of every sample."""
    return pd.concat([fold[position].view(view) for fold in outputs])


_PREDICTIONS = {'regressor': 'SampleData[RegressorPredictions]',
                'classifier': 'SampleData[ClassifierPredictions]'}


def _cross_validate(ctx, kind, table, sequences, distance_matrix,
                    pretrained_model, settings):
    """(every fold's predict outputs, the out-of-fold predictions as an
    artifact, the folds' mean feature importance as an artifact)."""
    results = _fold_results(ctx, kind, table, sequences, distance_matrix,
                            pretrained_model, settings)
    outputs = [fold for fold, _ in results]
    predictions = ctx.make_artifact(_PREDICTIONS[kind],
                                    _out_of_fold(outputs, 0, pd.Series))
    importance = _mean_importance(ctx, [i for _, i in results])
    return outputs, predictions, importance


def _regress_samples_ncv(ctx, table, sequences=None, distance_matrix=None,
                         pretrained_model=None, **settings):
    _, predictions, importance = _cross_validate(
        ctx, 'regressor', table, sequences, distance_matrix, pretrained_model,
        settings)
    accuracy, = ctx.get_action('sample_classifier', 'scatterplot')(
        predictions=predictions, truth=settings['metadata'],
        missing_samples='ignore')
    return (predictions, importance, accuracy,
            accuracy_summary(ctx, predictions, settings))


def _classify_samples_ncv(ctx, table, sequences=None, distance_matrix=None,
                          pretrained_model=None, **settings):
    outputs, predictions, importance = _cross_validate(
        ctx, 'classifier', table, sequences, distance_matrix, pretrained_model,
        settings)
    # a class absent from a fold's training samples has no column in that
    # fold's probabilities: its model gives it probability 0
    probabilities = _out_of_fold(outputs, 1).fillna(0.0)
    probabilities = ctx.make_artifact(
        'SampleData[Probabilities]',
        probabilities[sorted(probabilities.columns)])
    accuracy, = ctx.get_action('sample_classifier', 'confusion_matrix')(
        predictions=predictions, truth=settings['metadata'],
        probabilities=probabilities, missing_samples='ignore')
    return (predictions, importance, probabilities, accuracy,
            accuracy_summary(ctx, predictions, settings))


regress_samples_ncv = with_options('regress_samples_ncv', _regress_samples_ncv)
classify_samples_ncv = with_options('classify_samples_ncv',
                                    _classify_samples_ncv)
