"""The three methods through the Artifact API, on small data made in code."""
import pandas as pd
import pytest
import qiime2
from biom import Table
from qiime2.plugins import aam

from aam_core.bundle import ModelBundle
from aam_core.errors import AAMInputError

from .conftest import TINY


def test_pretrain_gives_an_encoder(encoder):
    assert str(encoder.type) == 'AAMModel[AAMEncoder]'
    bundle = encoder.view(ModelBundle)
    assert bundle.kind == 'encoder'
    assert bundle.config['architecture']['d_model'] == 32
    assert len(bundle.history) == 1


def test_pretrain_without_distances_trains_nucleotides(table):
    model, = aam.methods.pretrain(table=table, validation_fraction=0.0,
                                  **TINY)
    history = model.view(ModelBundle).history
    assert not any('unifrac' in column for column in history.columns)


def test_fit_and_predict(table, regressor):
    assert str(regressor.type) == 'AAMModel[AAMRegressor]'
    predictions, = aam.methods.predict_regression(table=table,
                                                  model=regressor)
    assert str(predictions.type) == 'SampleData[RegressorPredictions]'
    series = predictions.view(pd.Series)
    assert sorted(series.index) == sorted(table.view(Table).ids())
    assert series.notna().all()


def test_fit_with_groups_and_frozen_encoder(table, metadata, encoder):
    groups = qiime2.CategoricalMetadataColumn(pd.Series(
        ['a', 'b', 'c', 'd'] * 4, name='subject',
        index=pd.Index(metadata.ids, name='sample-id')))
    model, = aam.methods.fit_regressor(
        table=table, metadata=metadata.get_column('age'), groups=groups,
        pretrained_model=encoder, freeze_encoder=True, loss='mae', **TINY)
    assert model.view(ModelBundle).config['training']['loss'] == 'mae'


def _without_first_sample(metadata):
    frame = metadata.to_dataframe().iloc[1:]
    return qiime2.Metadata(frame).get_column('age')


def test_missing_samples_error_names_them(table, metadata):
    with pytest.raises(AAMInputError, match="not in the metadata.*S00"):
        aam.methods.fit_regressor(table=table,
                                  metadata=_without_first_sample(metadata),
                                  **TINY)


def test_missing_samples_ignore_drops_them(table, metadata):
    model, = aam.methods.fit_regressor(
        table=table, metadata=_without_first_sample(metadata),
        missing_samples='ignore', **TINY)
    assert model.view(ModelBundle).kind == 'regressor'


def test_freeze_encoder_needs_a_pretrained_model(table, metadata):
    with pytest.raises(AAMInputError, match='freeze_encoder=True needs a pretrained'):
        aam.methods.fit_regressor(table=table,
                                  metadata=metadata.get_column('age'),
                                  freeze_encoder=True, **TINY)


def test_md5_feature_ids_work_with_sequences(hashed, metadata):
    table, sequences = hashed
    model, = aam.methods.fit_regressor(
        table=table, sequences=sequences,
        metadata=metadata.get_column('age'), **TINY)
    predictions, = aam.methods.predict_regression(
        table=table, sequences=sequences, model=model)
    assert len(predictions.view(pd.Series)) == table.view(Table).shape[1]


def test_md5_feature_ids_without_sequences_are_a_clear_error(hashed):
    table, _ = hashed
    with pytest.raises(AAMInputError, match='feature ids must be DNA'):
        aam.methods.pretrain(table=table, **TINY)


def test_predictions_work_with_sample_classifier_scatterplot(
        table, metadata, regressor):
    from qiime2.plugins import sample_classifier
    predictions, = aam.methods.predict_regression(table=table,
                                                  model=regressor)
    plot, = sample_classifier.visualizers.scatterplot(
        predictions=predictions, truth=metadata.get_column('age'))
    assert str(plot.type) == 'Visualization'


# a readout trains no network: epochs would be refused as ignored
NO_EPOCHS = {k: v for k, v in TINY.items() if k != 'epochs'}


def _readout_fit(table, labelled, encoder, readout: str):
    """fit-regressor with `readout` on the labelled samples' ages, four
    subjects among them, whose intervals hold their predictions; (the
    model, its bundle)."""
    groups = qiime2.CategoricalMetadataColumn(pd.Series(
        ['a', 'b', 'c', 'd'] * (labelled.id_count // 4), name='subject',
        index=pd.Index(labelled.ids, name='sample-id')))
    model, = aam.methods.fit_regressor(
        table=table, metadata=labelled.get_column('age'), groups=groups,
        pretrained_model=encoder, readout=readout, **NO_EPOCHS)
    predicted, lower, upper = (output.view(pd.Series) for output in
                               aam.methods.predict_regression_interval(table=table,
                                                                       model=model))
    assert (lower <= predicted).all() and (predicted <= upper).all()
    return model, model.view(ModelBundle)


def test_a_ridge_readout_through_the_artifact_api(table, metadata, encoder):
    """readout='ridge' with the action's other defaults: a linear head solved
    on the frozen encoder, which predicts and gives intervals as any other."""
    model, bundle = _readout_fit(table, metadata, encoder, 'ridge')
    assert bundle.config['architecture']['regression_hidden'] == []
    assert 'ridge_alpha' in bundle.history
    with pytest.raises(AAMInputError, match="readout='ridge' trains no network, so "
                                            "epochs=3 would be ignored"):
        aam.methods.fit_regressor(table=table, metadata=metadata.get_column('age'),
                                  pretrained_model=encoder, readout='ridge', epochs=3)


def test_a_propagation_readout_through_the_artifact_api(table, metadata, encoder):
    """readout='propagation': the table's samples that the metadata lacks are
    its unlabelled ones (no missing_samples needed); every sample of the
    table is stored in the head, which predicts and gives intervals."""
    frame = metadata.to_dataframe()
    labelled = qiime2.Metadata(frame.iloc[::2])
    model, bundle = _readout_fit(table, labelled, encoder, 'propagation')
    assert bundle.config['architecture']['neighbour_nodes'] == len(frame)
    assert 'neighbours' in bundle.history
    with pytest.raises(AAMInputError, match="readout='propagation' predicts one value "
                                            "per sample, not quantiles"):
        aam.methods.fit_regressor(table=table, metadata=labelled.get_column('age'),
                                  pretrained_model=encoder, readout='propagation',
                                  loss='quantile', **NO_EPOCHS)

