"""regress-samples-ncv and classify-samples-ncv end to end on small real data
(48 oral samples of examples/oral-age-mini, 39 subjects), their folds, and
the inputs they refuse."""
import pandas as pd
import numpy as np
import pytest
import qiime2
from qiime2.plugins import aam

from aam_core.data.split import cv_folds
from aam_core.errors import AAMInputError
from q2_aam import _ncv
from q2_aam._pipelines import encoder_for as _ncv_encoder_for

from .test_pipelines import (  # noqa: F401 (oral, oral_encoder: fixtures)
    grouped_targets, numbered_targets, oral, oral_encoder)
from .test_q2cli import qiime

FAST = {'preset': 'tiny', 'epochs': 1, 'batch_size': 16,
        'ensemble_size': 1, 'cv': 3, 'device': 'cpu'}


@pytest.fixture
def folds_used(monkeypatch):
    """The folds the pipeline drew (cv_folds called through, and recorded)."""
    drawn = []

    def recording(*args, **kwargs):
        drawn.extend(cv_folds(*args, **kwargs))
        return drawn
    monkeypatch.setattr(_ncv, 'cv_folds', recording)
    return drawn


@pytest.fixture
def encoders_used(monkeypatch):
    """(samples, encoder) of every encoder_for call of the pipeline."""
    calls = []

    def recording(ctx, train_table, *args):
        encoder = _ncv_encoder_for(ctx, train_table, *args)
        calls.append((set(train_table.view(pd.DataFrame).index), encoder))
        return encoder
    monkeypatch.setattr(_ncv, 'encoder_for', recording)
    return calls


def check_out_of_fold(predictions, folds, metadata, table):
    samples = [str(i) for i in table.view(pd.DataFrame).index]
    assert predictions.index.is_unique
    assert sorted(predictions.index) == sorted(samples)  # each exactly once
    assert sorted(sum(folds, [])) == sorted(samples)
    groups = metadata.get_column('group').to_series()
    seen = {}
    for number, fold in enumerate(folds):
        for group in set(groups[fold]):
            assert seen.setdefault(group, number) == number, group


def test_regress_samples_ncv_pretrains_per_fold(oral, folds_used, encoders_used):
    table, metadata, distances = oral
    result = aam.pipelines.regress_samples_ncv(
        table=table, metadata=metadata.get_column('age'),
        distance_matrix=distances, groups=metadata.get_column('group'), pretrain_epochs=1,
        **FAST)
    predictions = result.predictions.view(pd.Series)
    assert predictions.notna().all()
    assert len(folds_used) == 3
    check_out_of_fold(predictions, folds_used, metadata, table)
    importance = result.feature_importance.view(pd.DataFrame)
    assert len(importance) == table.view(pd.DataFrame).shape[1]
    assert (importance['importance'] >= 0).all()
    assert importance['importance'].is_monotonic_decreasing
    assert str(result.accuracy_results.type) == 'Visualization'
    # an encoder pretrained per fold, on none of the fold's own samples
    assert len(encoders_used) == 3
    for fold, (trained_on, encoder) in zip(folds_used, encoders_used):
        assert str(encoder.type) == 'AAMModel[AAMEncoder]'
        assert not trained_on & set(fold)
        assert len(trained_on | set(fold)) == 48


def test_regress_samples_ncv_normalises_by_a_numeric_study_column(oral, oral_encoder):
    """Study ids are numbers: read as categories, and every fold's model
    predicts its samples with their study."""
    table, metadata, _ = oral
    study = metadata.get_column('study').to_series().astype(float)
    result = aam.pipelines.regress_samples_ncv(
        table=table, metadata=metadata.get_column('age'), pretrained_model=oral_encoder,
        groups=metadata.get_column('group'), readout='ridge',
        normalise_by=qiime2.NumericMetadataColumn(study),
        **{k: v for k, v in FAST.items() if k != 'epochs'})
    predictions = result.predictions.view(pd.Series)
    assert predictions.notna().all() and len(predictions) == 48


def test_classify_samples_ncv_from_pretrained_encoder(oral, oral_encoder,
                                                     folds_used):
    table, metadata, _ = oral
    result = aam.pipelines.classify_samples_ncv(
        table=table, metadata=metadata.get_column('age_group'),
        pretrained_model=oral_encoder, groups=metadata.get_column('group'),
        **FAST)
    predictions = result.predictions.view(pd.Series)
    assert set(predictions) <= {'younger', 'older'}
    check_out_of_fold(predictions, folds_used, metadata, table)
    probabilities = result.probabilities.view(pd.DataFrame)
    assert list(probabilities.columns) == ['older', 'younger']
    assert sorted(probabilities.index) == sorted(predictions.index)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert str(result.accuracy_results.type) == 'Visualization'


# -- inputs refused before anything is trained --------------------------------

def test_fewer_than_two_folds_is_refused(oral):
    table, metadata, _ = oral
    with pytest.raises(TypeError, match='cv'):
        aam.pipelines.regress_samples_ncv(
            table=table, metadata=metadata.get_column('age'), **{**FAST, 'cv': 1})


def test_more_folds_than_groups_is_refused(oral):
    table, metadata, _ = oral
    with pytest.raises(AAMInputError, match='only 39 groups.*lower cv'):
        aam.pipelines.regress_samples_ncv(
            table=table, metadata=metadata.get_column('age'),
            groups=metadata.get_column('group'), **{**FAST, 'cv': 40})


def test_pretrained_model_and_distance_matrix_is_refused(oral, encoder):
    table, metadata, distances = oral
    with pytest.raises(AAMInputError,
                       match='Both pretrained_model and distance_matrix'):
        aam.pipelines.classify_samples_ncv(
            table=table, metadata=metadata.get_column('age_group'),
            distance_matrix=distances, pretrained_model=encoder, **FAST)


# -- the folds ---------------------------------------------------------------

def test_folds_keep_groups_together_and_cover_every_sample():
    targets, ids, groups = grouped_targets()
    folds = cv_folds(targets, 4, 0, groups)
    assert sorted(sum(folds, [])) == sorted(ids)
    for a in range(4):
        assert 8 <= len(folds[a]) <= 12
        for b in range(a + 1, 4):
            assert not set(groups[folds[a]]) & set(groups[folds[b]])
    assert cv_folds(targets, 4, 0, groups) == folds


def test_folds_spread_each_class():
    targets, ids = numbered_targets()
    classes = pd.Series(['a'] * 30 + ['b'] * 10, index=ids)
    for fold in cv_folds(classes, 5, 3, stratify=True):
        assert (classes[fold] == 'b').sum() == 2


def test_fold_errors_say_what_to_change():
    targets, ids = numbered_targets(6)
    with pytest.raises(AAMInputError, match='cv must be at least 2'):
        cv_folds(targets, 1, 0)
    with pytest.raises(AAMInputError, match='only 6 samples'):
        cv_folds(targets, 7, 0)


# -- through q2cli -------------------------------------------------------------

def test_q2cli_regress_samples_ncv(tmp_path, table):
    from q2_aam._examples import sample_metadata_factory
    table.save(str(tmp_path / 'table.qza'))
    frame = sample_metadata_factory().to_dataframe()
    frame['subject'] = [f'P{i // 4}' for i in range(len(frame))]
    qiime2.Metadata(frame).save(str(tmp_path / 'metadata.tsv'))
    common = ['aam', 'regress-samples-ncv', '--i-table', tmp_path / 'table.qza',
              '--m-metadata-file', tmp_path / 'metadata.tsv',
              '--m-metadata-column', 'age',
              '--m-groups-file', tmp_path / 'metadata.tsv',
              '--m-groups-column', 'subject', '--p-preset', 'tiny',
              '--p-epochs', 1, '--p-batch-size', 8, '--p-ensemble-size', 1,
              '--p-device', 'cpu']
    done = qiime(*common, '--p-cv', 2, '--output-dir', tmp_path / 'out')
    assert done.returncode == 0, done.stderr
    predictions = qiime2.Artifact.load(str(tmp_path / 'out' / 'predictions.qza'))
    assert len(predictions.view(pd.Series)) == 16
    assert (tmp_path / 'out' / 'accuracy_results.qzv').exists()
    # five folds cannot keep four subjects whole
    done = qiime(*common, '--p-cv', 5, '--output-dir', tmp_path / 'refused')
    assert done.returncode != 0
    # named as q2cli names it
    assert 'only 4 groups' in done.stderr and 'lower --p-cv to at most 4' in done.stderr
    assert not (tmp_path / 'refused').exists()
