"""fit-classifier, predict-classification, conditioning and intervals
through the Artifact API; the fine-tuning options' registrations."""
from dataclasses import fields

import pandas as pd
import pytest
import qiime2
from qiime2.plugins import aam
from qiime2.sdk import PluginManager

from aam_core.bundle import ModelBundle
from aam_core.config import (FIT_TRAIN_DEFAULTS, ConditioningConfig, DataConfig, ModelConfig,
                             TrainConfig)
from q2_aam import _examples

from .conftest import TINY


@pytest.fixture(scope='module')
def sample_metadata():
    return _examples.sample_metadata_factory()


@pytest.fixture(scope='module')
def classifier(table, sample_metadata):
    return aam.methods.fit_classifier(
        table=table, metadata=sample_metadata.get_column('label'),
        class_weight='balanced', selection_metric='f1', **TINY).model


def test_classifier_predictions_work_with_confusion_matrix(
        table, classifier, sample_metadata):
    from qiime2.plugins import sample_classifier
    assert classifier.view(ModelBundle).config['class_labels'] == [
        'caries', 'healthy']
    predictions, probabilities = aam.methods.predict_classification(
        table=table, model=classifier)
    assert str(predictions.type) == 'SampleData[ClassifierPredictions]'
    assert str(probabilities.type) == 'SampleData[Probabilities]'
    frame = probabilities.view(pd.DataFrame)
    assert list(frame.columns) == ['caries', 'healthy']
    assert set(predictions.view(pd.Series)) <= {'caries', 'healthy'}
    matrix, = sample_classifier.visualizers.confusion_matrix(
        predictions=predictions, probabilities=probabilities,
        truth=sample_metadata.get_column('label'))
    assert str(matrix.type) == 'Visualization'


def test_conditioned_regressor_with_new_site_at_prediction(table,
                                                           sample_metadata):
    frame = sample_metadata.to_dataframe()
    frame['region'] = ['north'] * 8 + ['south'] * 8
    frame['area'] = [f'{r}-{s}' for r, s in zip(frame['region'], frame['site'])]
    conditioning = qiime2.Metadata(frame[['region', 'area']])
    model, = aam.methods.fit_regressor(
        table=table, metadata=sample_metadata.get_column('age'),
        conditioning=conditioning, hierarchical=True,
        fusion='cross_attention', conditional_output=True,
        normalise_by=sample_metadata.get_column('site'),
        loss_weights=sample_metadata.get_column('label'),
        loss='quantile', quantiles=[0.25, 0.5, 0.75], lower_bound=0.0,
        hidden_layers=2, hidden_width=8, **TINY)
    config = model.view(ModelBundle).config
    assert config['conditioning']['vocabularies']['region'] == [
        'north', 'south']
    assert config['conditioning']['parents'] == {'area': 'region'}
    assert config['conditioning']['weight_by'] == 'label'
    assert config['target']['by'] == 'site'
    assert config['architecture']['regression_hidden'] == [8, 8]
    assert config['architecture']['output_bounds'] == [0.0, None]
    frame['area'] = ['cheek'] * len(frame)  # never seen in training
    median, lower, upper = aam.methods.predict_regression_interval(
        table=table, model=model, conditioning=qiime2.Metadata(frame))
    values = [a.view(pd.Series) for a in (lower, median, upper)]
    assert (values[0] <= values[1]).all() and (values[1] <= values[2]).all()
    point, = aam.methods.predict_regression(
        table=table, model=model, conditioning=qiime2.Metadata(frame))
    assert point.view(pd.Series).notna().all()
    # without the metadata the target's per-site units are unknown: refused
    with pytest.raises(ValueError, match="'site' .its target was normalised"):
        aam.methods.predict_regression(table=table, model=model)


def test_interval_of_a_default_regressor_is_calibrated(table, regressor):
    # fitted with the default loss and validation_fraction: calibrated
    calibrated = regressor.view(ModelBundle).config['target']['calibration']
    median, lower, upper = aam.methods.predict_regression_interval(
        table=table, model=regressor)
    width = upper.view(pd.Series) - lower.view(pd.Series)
    assert (width - 2 * calibrated['margin']).abs().max() < 1e-4


def test_conditioning_on_the_target_is_refused(table, sample_metadata):
    with pytest.raises(ValueError, match='leak'):
        aam.methods.fit_regressor(
            table=table, metadata=sample_metadata.get_column('age'),
            conditioning=sample_metadata, **TINY)


def test_numeric_loss_weights(table, sample_metadata):
    weights = qiime2.NumericMetadataColumn(pd.Series(
        [2.0] * 8 + [0.5] * 8, name='w',
        index=pd.Index(sample_metadata.ids, name='sample-id')))
    model, = aam.methods.fit_classifier(
        table=table, metadata=sample_metadata.get_column('label'),
        loss_weights=weights, hidden_layers=1, **TINY)
    assert model.view(ModelBundle).config['architecture'][
        'classification_hidden'] == [32]


# Every option of issue 3, as the fit actions name it
FINE_TUNING_OPTIONS = {
    'both': ['conditioning', 'fusion', 'conditional_output', 'hierarchical',
             'loss_weights', 'unknown_rate', 'hidden_layers', 'hidden_width',
             'head_dropout', 'freeze_encoder', 'freeze_nucleotide_encoder',
             'distance_matrix', 'unifrac_weight', 'nucleotide_weight',
             'abundance_weight', 'abundance_mask_ratio', 'selection_metric',
             'patience', 'scheduler', 'warmup_fraction', 'lr_cycles',
             'plateau_patience', 'accumulation_steps', 'precision', 'compile',
             'gradient_checkpointing', 'auto_batch_size',
             'find_learning_rate', 'ensemble_size', 'pretrained_model'],
    'fit_regressor': ['loss', 'quantiles', 'huber_delta',
                      'overprediction_weight', 'underprediction_weight',
                      'normalisation', 'normalise_by', 'residual_head',
                      'output_activation', 'lower_bound', 'upper_bound'],
    'fit_classifier': ['class_weight'],
}


@pytest.mark.parametrize('action', ['fit_regressor', 'fit_classifier'])
def test_fit_actions_expose_every_option_with_core_defaults(action):
    signature = PluginManager().plugins['aam'].actions[action].signature
    names = {**signature.inputs, **signature.parameters}
    for name in FINE_TUNING_OPTIONS['both'] + FINE_TUNING_OPTIONS[action]:
        assert name in names, name
        assert names[name].has_description(), name
    # fine-tuning's own defaults (the recommended recipe)
    core = {f.name: getattr(FIT_TRAIN_DEFAULTS, f.name) for f in fields(TrainConfig)}
    core.update({f.name: f.default for f in fields(ConditioningConfig)})
    core.update({f.name: f.default for f in fields(ModelConfig)})
    # the data rules users give (max_length: 0, the longest sequence; the
    # architecture's max_length is set from it)
    core.update({f.name: f.default for f in fields(DataConfig)})
    core.update(quantiles=list(core['quantiles']))
    # a metadata column in QIIME 2, or fine-tuning's own default
    differ = {'normalise_by'}
    checked = 0
    for name, spec in signature.parameters.items():
        if name in core and name not in differ:
            assert spec.default == core[name], name
            checked += 1
    assert checked >= 30
