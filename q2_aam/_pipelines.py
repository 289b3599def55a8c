"""regress-samples and classify-samples: split, (pretrain), fit, predict, plot.

Like q2-sample-classifier's pipelines of the same names, with what AAM adds:
the split keeps every group (subject) on one side, and a distance matrix
turns on self-supervised pretraining on the training samples before fitting
(or a pretrained encoder is fine-tuned). The encoder is returned too, so that
it can be fine-tuned to other targets or used to embed samples.
"""
import sys

import biom
import pandas as pd
import skbio
from qiime2 import Metadata, NumericMetadataColumn

from aam_core.bundle import ModelBundle
from aam_core.data.split import (MIN_TRAINING_SAMPLES, holdout_split, member_splits,
                                 sample_units, ungrouped)
from aam_core.data.table import refuse_empty
from aam_core.errors import AAMInputError, refuse_disjoint, refuse_missing
from aam_core.fit_checks import check_groups_column
from aam_core.settings import BY_NAME, for_action, missing_samples_for
from aam_core.spelling import spelled, spelled_column, spelled_input, spelled_metadata

from ._parameters import with_options
from ._views import sequences as sequences_mapping
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


def check_encoder_inputs(pretrained_model, distance_matrix, settings: dict) -> None:
    """In the pipelines a distance matrix means 'pretrain an encoder here';
    with a pretrained one given too, one of the two would be ignored, and
    without it the pretraining options would be."""
    if distance_matrix is None:
        for name in ('pretrain_epochs', 'pretrain_learning_rate'):
            if settings[name] == BY_NAME[name].default:
                continue
            # with an encoder given, the pipeline pretrains none
            fix = (f'leave it out: {spelled_input("pretrained_model")} is already '
                   'pretrained' if pretrained_model is not None else
                   f'give {spelled_input("distance_matrix")}, or leave {spelled(name)} '
                   'at its default')
            raise AAMInputError(
                f'{spelled(name, settings[name])} sets the pretraining that this '
                'pipeline runs only with a distance matrix, and none was given, so it '
                f'would be ignored: {fix}.')
    model, matrix = spelled_input('pretrained_model'), spelled_input('distance_matrix')
    readout = settings.get('readout', 'fine_tune')
    if readout in ('ridge', 'propagation') and pretrained_model is None and \
            distance_matrix is None:
        # fit-regressor's own refusal knows no distance-matrix route
        raise AAMInputError(
            f"{spelled('readout', readout)} reads a pretrained encoder's embeddings: "
            f"give {model}, or {matrix} to pretrain one on the training samples "
            f"here, or use {spelled('readout', 'fine_tune')}.")
    if pretrained_model is not None and distance_matrix is not None:
        raise AAMInputError(
            f'Both {model} and {matrix} were given. In this pipeline the distance '
            f'matrix is used only to pretrain an encoder, and {model} already is '
            f'one: give {model} to fine-tune it, or {matrix} to pretrain a new '
            'encoder on the training samples, not both.')


def check_sequences(biom_table, sequences) -> None:
    """Every feature of the table (with counts) has its DNA, said of the
    whole table before any split: a split's own check counted only the
    features of its samples ('59 of 59' of a table of 60)."""
    from aam_core.data.tokens import resolve_sequences
    counted = [str(f) for f, total in zip(biom_table.ids(axis='observation'),
                                          biom_table.sum(axis='observation')) if total > 0]
    resolve_sequences(counted, None if sequences is None else
                      sequences_mapping(sequences.view(pd.Series)))


def training_samples(biom_table, settings: dict, distance_matrix=None) -> tuple:
    """(the table without samples missing from the metadata, the targets of
    its samples that have one). Those without one are left out here, before
    the fits, so it is said here, as fit-regressor says it (--verbose); the
    propagation readout keeps them as its unlabelled samples (unlabelled())."""
    propagation = settings.get('readout') == 'propagation'
    biom_table, targets = table_samples_with_metadata(
        biom_table, settings['metadata'],
        missing_samples_for(settings.get('readout', 'fine_tune'), settings['missing_samples']))
    without = int(targets.isna().sum())
    if without:
        name = settings['metadata'].name
        print(f'{without} of the table\'s {len(targets)} samples have no value in '
              f'{name!r} (or no row in the metadata): they take part in every fit as the '
              f'unlabelled samples of {spelled("readout", "propagation")}.' if propagation
              else f'Left out {without} of the table\'s {len(targets)} samples: they have '
              f'no value in {name!r} (or no row in the metadata).',
              file=sys.stderr, flush=True)
    targets = targets.dropna()
    if without:
        _refuse_too_few_targets(len(targets), without, settings['metadata'].name)
    if settings['groups'] is not None:
        _check_groups(settings['groups'].to_series(), targets, settings['metadata'])
    # the test predictions would refuse them, after the fits: say it first
    kept = biom_table.filter(list(targets.index), inplace=False)
    refuse_empty([i for i, depth in zip(kept.ids(), kept.sum(axis='sample')) if depth == 0])
    if distance_matrix is not None:
        # here, not in each split's pretraining, so the count is the table's
        refuse_missing(list(targets.index), set(distance_matrix.view(skbio.DistanceMatrix).ids),
                       f'the distance matrix ({spelled_input("distance_matrix")})',
                       'Compute the distances on this table, or filter the table to the '
                       "matrix's samples.")
    return biom_table, targets


def _check_groups(groups, targets, metadata) -> None:
    """What each fit would refuse of the groups, after the split and any
    pretraining: said before them."""
    refuse_disjoint(groups.dropna().index, targets.index,
                    f'the {spelled_metadata("groups")}', 'every sample would be its '
                    'own group', 'give the groups of these samples.')
    kind = 'regressor' if isinstance(metadata, NumericMetadataColumn) else 'classifier'
    check_groups_column(kind, groups, targets.rename(metadata.name))


def _refuse_too_few_targets(n_targets: int, without: int, name: str) -> None:
    """Too few samples with a target for any split: said here, where the
    empty cells are known, since the split's own refusal ("use more
    samples") misled a user whose table had plenty, most without a value."""
    needed = MIN_TRAINING_SAMPLES + 2  # the fewest the test split leaves: 4 and 2
    if n_targets >= needed:
        return
    raise AAMInputError(
        f'Only {n_targets} of the table\'s {n_targets + without} samples have a value in '
        f'{name!r} ({without} have none, or no row in the metadata); fitting and '
        f'testing need at least {needed} with a value. Give a column with more values, '
        'or fill in the empty cells.')


def unlabelled(biom_table, targets, settings: dict) -> list:
    """The table's samples without a target that every fit of the
    propagation readout takes as unlabelled nodes (never a test sample: a
    test or held-out fold's samples stay out of its fit); none otherwise."""
    if settings.get('readout') != 'propagation':
        return []
    labelled = set(targets.index)
    return [str(i) for i in biom_table.ids() if str(i) not in labelled]


def subset(ctx, biom_table, ids):
    part = biom_table.filter(ids, inplace=False)
    part = part.remove_empty(axis='observation', inplace=False)
    return ctx.make_artifact('FeatureTable[Frequency]', part)


def _split_tables(ctx, biom_table, settings: dict, stratify: bool, distance_matrix=None):
    biom_table, targets = training_samples(biom_table, settings, distance_matrix)
    groups = settings['groups']
    train_ids, test_ids = holdout_split(
        targets, settings['test_size'], settings['random_state'],
        None if groups is None else groups.to_series(), stratify)
    say_ungrouped(targets.index, groups, 'the test split')
    _say_split(len(test_ids), len(targets), settings['test_size'], stratify)
    check_training_part(
        train_ids, groups, settings,
        f'{spelled("test_size", settings["test_size"])} leaves {len(train_ids)} of '
        f'the {len(targets)} samples to fit on:', _lower_test_size(test_ids, groups))
    check_normalise_by(targets, train_ids, test_ids, settings, 'test samples')
    return (subset(ctx, biom_table, train_ids), subset(ctx, biom_table, test_ids),
            subset(ctx, biom_table, train_ids + unlabelled(biom_table, targets, settings)))


def _lower_test_size(test_ids: list, groups) -> str:
    """The advice for a training part that cannot be split: a lower
    test_size only where the test split can shrink (it holds more than one
    unit, and 2 samples or more without its smallest); one group whole in it
    stays there."""
    sizes = sample_units(test_ids, None if groups is None else groups.to_series()
                         ).value_counts()
    if len(sizes) > 1 and len(test_ids) - sizes.min() >= 2:
        return f'Lower {spelled("test_size")} first.'
    least = 'one group' if len(sizes) == 1 else f'{len(test_ids)} samples'
    return (f'The test split holds {least}, the fewest it can, so a lower '
            f'{spelled("test_size")} would not help.')


def check_training_part(train_ids: list, groups, settings: dict, cause: str,
                        fix: str) -> None:
    """The fit's validation splits of what a test split (or the held-out
    fold) leaves, made here: a fit that cannot be made of it is said as
    that split's doing (`cause`, then the fit's own reason, then `fix`),
    not as the fit's validation_fraction's. A sample without a group is a
    group of its own, as in the fit."""
    option = {name: settings.get(name, BY_NAME[name].default) for name in (
        'ensemble_size', 'validation_fraction', 'ensemble_validation')}
    labels = None if groups is None else \
        sample_units(train_ids, groups.to_series()).to_numpy(dtype=str)
    readout = settings.get('readout')
    if readout in ('ridge', 'propagation') and labels is not None and \
            len(set(labels)) < 2:
        # the readout's own refusal (readout.check_groups) would come from
        # inside the fit, advising to leave out the groups of the whole split
        raise AAMInputError(
            f'{cause} all {len(train_ids)} belong to one group '
            f'({spelled_metadata("groups")}), and {spelled("readout", readout)} chooses '
            f'its {"penalty" if readout == "ridge" else "neighbours"} by grouped '
            'cross-validation, so no fold of it could leave that subject out: give '
            f'samples of more groups, or use {spelled("readout", "fine_tune")} with '
            f'{spelled("validation_fraction", 0)}. {fix}')
    if readout == 'propagation':
        return  # one head on every labelled sample: no validation split
    try:
        member_splits(len(train_ids), option['ensemble_size'],
                      option['validation_fraction'], settings['random_state'], labels,
                      option['ensemble_validation'])
    except AAMInputError as error:
        raise AAMInputError(f'{cause} {error} {fix}') from None


def check_normalise_by(targets, train_ids: list, test_ids: list, settings: dict,
                       predicted: str, cause: str = '') -> None:
    """What the fit would refuse of the normalise-by column (the target, the
    groups, one category, none shared, a copy of the target, no value) and
    the test predictions of it (no value for any predicted sample), said
    before any pretraining or fit: the fit said it after the pretraining,
    and the predictions spoke of conditioning metadata, which the pipelines
    take none of. `predicted` names the samples predicted ('test samples');
    `cause` opens the fit's refusals (a fold's)."""
    by = settings.get('normalise_by')
    if by is None:
        return
    from aam_core.config import FIT_TRAIN_DEFAULTS, ConditioningConfig
    from aam_core.data.targets import CategoryScaler, category_values
    from aam_core.fit_checks import check_normalise_by as check_target
    from aam_core.supervision import refuse_subject_normalisation
    check_target(ConditioningConfig(normalise_by=by.name), settings['metadata'].name)
    values = by.to_series().rename(index=str)
    frame = values.to_frame().reindex(train_ids)
    try:
        if settings['groups'] is not None:
            refuse_subject_normalisation(frame, by.name, settings['groups'].to_series())
        CategoryScaler.fit(targets.reindex(train_ids).to_numpy(dtype=float),
                           category_values(frame, by.name),
                           FIT_TRAIN_DEFAULTS.normalisation, by.name)
    except AAMInputError as error:
        raise AAMInputError(f'{cause}{error}') from None
    if test_ids and values.reindex(test_ids).isna().all():
        raise AAMInputError(
            f'{spelled_column("normalise_by", by.name)} has no value for any of the '
            f'{len(test_ids)} {predicted} (e.g. {", ".join(test_ids[:3])}), so none '
            "would be predicted with its category's normalisation: give the column's "
            "values for every sample of the table (the same sample ids), or leave out "
            f'{spelled_column("normalise_by")}.')


def say_ungrouped(sample_ids, groups, where: str) -> None:
    said = None if groups is None else ungrouped(sample_ids, groups.to_series(), where)
    if said:
        print(said, file=sys.stderr, flush=True)


def _say_split(n_test: int, n: int, test_size: float, stratify: bool) -> None:
    """The test set's size; where it is not what test_size asks (whole
    groups, a test sample of every class), why."""
    asked = test_size * n
    line = f'Test samples: {n_test} of {n} ({n_test / n:.0%})'
    if abs(n_test - asked) >= 1:
        why = ('every class with two samples (or groups) or more has one on both '
               'sides, and groups stay whole' if stratify else 'groups stay whole')
        line += (f'; {spelled("test_size", test_size)} asks for about {asked:.0f}, '
                 f'but {why}')
    print(line + '.', file=sys.stderr, flush=True)


def encoder_for(ctx, train_table, sequences, distance_matrix, pretrained_model,
                settings):
    """The encoder to fine-tune: the one given, one pretrained here on the
    training samples (with a distance matrix), or None (from scratch)."""
    if distance_matrix is None:
        return pretrained_model
    shared = {name: settings[name] for name in SHARED}
    optional = {} if sequences is None else {'sequences': sequences}
    encoder, = ctx.get_action('aam', 'pretrain')(
        table=train_table, distance_matrix=distance_matrix,
        epochs=settings['pretrain_epochs'],
        learning_rate=settings['pretrain_learning_rate'], **optional, **shared)
    return encoder


def fit_model(ctx, kind, train_table, sequences, encoder, settings):
    """Fine-tune a model of the target on the training samples."""
    shared = {name: settings[name] for name in SHARED}
    optional = {} if sequences is None else {'sequences': sequences}
    if encoder is not None:
        optional['pretrained_model'] = encoder
    if _names_a_sample(settings['groups'], train_table, settings['metadata']):
        optional['groups'] = settings['groups']
    fit = ctx.get_action('aam', f'fit_{kind}')
    model, = fit(table=train_table, metadata=settings['metadata'],
                 epochs=settings['epochs'],
                 learning_rate=settings['learning_rate'],
                 ensemble_size=settings['ensemble_size'],
                 missing_samples='ignore', **optional, **shared,
                 **{name: settings[name] for name in _fit_only(kind)
                    if name in settings})
    return model


def _names_a_sample(groups, train_table, metadata) -> bool:
    """Whether the groups name a labelled sample of this fit. Where a split
    or fold left none that has a group, each is a group of its own, as the
    fit would make them; given its groups, it would refuse them as naming
    none of its samples."""
    if groups is None:
        return False
    fitted = {str(i) for i in train_table.view(biom.Table).ids()}
    labelled = fitted & set(metadata.to_series().dropna().index.map(str))
    return bool(labelled & set(groups.to_series().dropna().index.map(str)))


def applying(settings: dict) -> dict:
    """What predict and feature-importance take of the pipeline's settings:
    the device, and the normalise-by column (a model whose target was
    normalised per study reads each test sample's study to undo it)."""
    options = {name: settings[name] for name in DEVICE}
    by = settings.get('normalise_by')
    if by is not None:
        options['conditioning'] = Metadata(by.to_dataframe())
    return options


def predict_action(ctx, kind):
    return ctx.get_action('aam', 'predict_regression' if kind == 'regressor'
                          else 'predict_classification')


def _train_and_test(ctx, kind, table, sequences, distance_matrix,
                    pretrained_model, settings):
    """(model, encoder, feature importance, the predict action's outputs on
    the test samples, model summary)."""
    check_encoder_inputs(pretrained_model, distance_matrix, settings)
    biom_table = table.view(biom.Table)  # read once: a large table is slow to read
    check_sequences(biom_table, sequences)
    train_table, test_table, fit_table = _split_tables(ctx, biom_table, settings,
                                                       kind == 'classifier', distance_matrix)
    encoder = encoder_for(ctx, train_table, sequences, distance_matrix,
                          pretrained_model, settings)
    model = fit_model(ctx, kind, fit_table, sequences, encoder, settings)
    optional = {} if sequences is None else {'sequences': sequences}
    device = applying(settings)
    outputs = predict_action(ctx, kind)(table=test_table, model=model,
                                        **optional, **device)
    importance, = ctx.get_action('aam', 'feature_importance')(
        table=table, model=model, **optional, **device)
    summary, = ctx.get_action('aam', 'summarize')(model=model)
    if encoder is None:
        encoder = _encoder_of_model(ctx, model)
    return model, encoder, importance, outputs, summary


def accuracy_summary(ctx, predictions, settings):
    """MAE or accuracy and the number of samples, beside a baseline
    (summarize-predictions): what the reused sample-classifier plots omit."""
    summary, = ctx.get_action('aam', 'summarize_predictions')(
        predictions=predictions, truth=settings['metadata'],
        missing_samples='ignore')
    return summary


def _encoder_of_model(ctx, model):
    """QIIME 2 outputs are never optional: trained from scratch, the encoder
    output is the fitted model's own (fine-tuned) encoder."""
    from aam_core.pretrain import encoder_of
    return ctx.make_artifact('AAMModel[AAMEncoder]',
                             encoder_of(model.view(ModelBundle)))


def _regress_samples(ctx, table, sequences=None, distance_matrix=None,
                     pretrained_model=None, **settings):
    model, encoder, importance, (predictions,), summary = _train_and_test(
        ctx, 'regressor', table, sequences, distance_matrix, pretrained_model,
        settings)
    scatter = ctx.get_action('sample_classifier', 'scatterplot')
    accuracy, = scatter(predictions=predictions, truth=settings['metadata'],
                        missing_samples='ignore')
    return (model, importance, predictions, summary, accuracy, encoder,
            accuracy_summary(ctx, predictions, settings))


def _classify_samples(ctx, table, sequences=None, distance_matrix=None,
                      pretrained_model=None, **settings):
    model, encoder, importance, (predictions, probabilities), summary = (
        _train_and_test(ctx, 'classifier', table, sequences, distance_matrix,
                        pretrained_model, settings))
    confusion = ctx.get_action('sample_classifier', 'confusion_matrix')
    accuracy, = confusion(predictions=predictions, truth=settings['metadata'],
                          probabilities=probabilities, missing_samples='ignore')
    return (model, importance, predictions, probabilities, summary, accuracy,
            encoder, accuracy_summary(ctx, predictions, settings))


regress_samples = with_options('regress_samples', _regress_samples)
classify_samples = with_options('classify_samples', _classify_samples)
