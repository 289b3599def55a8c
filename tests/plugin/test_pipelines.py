"""regress-samples and classify-samples end to end on small real data
(48 oral samples of examples/oral-age-mini), and the split they use."""
from pathlib import Path

import biom
import numpy as np
import pandas as pd
import pytest
import qiime2
from qiime2.plugins import aam
from skbio import DistanceMatrix
from skbio.diversity import beta_diversity

from aam_core.bundle import ModelBundle
from aam_core.errors import AAMInputError
from aam_core.data.split import holdout_split

EXAMPLE = Path(__file__).resolve().parents[2] / 'examples' / 'oral-age-mini'
FAST = {'preset': 'tiny', 'epochs': 2,
        'batch_size': 16, 'test_size': 0.25, 'device': 'cpu'}


@pytest.fixture(scope='module')
def oral():
    """table, metadata (age, age_group, group, study) and Bray-Curtis
    distances."""
    table = biom.load_table(str(EXAMPLE / 'table.biom'))
    frame = pd.read_csv(EXAMPLE / 'metadata.tsv', sep='\t', index_col=0,
                        dtype={'group': str, 'study': str})
    keep = np.random.default_rng(0).choice(frame.index, 48, replace=False)
    table = table.filter(keep, inplace=False).remove_empty(
        axis='observation', inplace=False)
    frame = frame.loc[list(table.ids())]
    frame.index.name = 'sample-id'
    frame['age_group'] = np.where(frame['age'] < frame['age'].median(),
                                  'younger', 'older')
    counts = table.matrix_data.T.toarray()
    distances = beta_diversity('braycurtis', counts, list(table.ids()))
    return (qiime2.Artifact.import_data('FeatureTable[Frequency]', table),
            qiime2.Metadata(frame[['age', 'age_group', 'group', 'study']]),
            qiime2.Artifact.import_data('DistanceMatrix', distances))


def check_grouped_split(metadata, table, predictions):
    groups = metadata.get_column('group').to_series()
    tested = set(predictions.index)
    trained = set(table.view(biom.Table).ids()) - tested
    assert 8 <= len(tested) <= 20
    assert not set(groups[list(tested)]) & set(groups[list(trained)])


def test_regress_samples(oral):
    table, metadata, distances = oral
    result = aam.pipelines.regress_samples(
        table=table, metadata=metadata.get_column('age'),
        distance_matrix=distances, groups=metadata.get_column('group'),
        regression_experts=2, pretrain_epochs=1, **FAST)
    assert str(result.model.type) == 'AAMModel[AAMRegressor]'
    config = result.model.view(ModelBundle).config
    assert config['training']['pretrained']
    # an option only fit-regressor takes reaches it through the pipeline
    assert config['architecture']['regression_experts'] == 2
    predictions = result.predictions.view(pd.Series)
    assert predictions.notna().all()
    check_grouped_split(metadata, table, predictions)
    importance = result.feature_importance.view(pd.DataFrame)
    assert len(importance) == table.view(biom.Table).shape[0]
    for visualization in (result.model_summary, result.accuracy_results,
                          result.accuracy_summary):
        assert str(visualization.type) == 'Visualization'
    # the numbers beside the scatterplot: the test samples' MAE
    page = _page(result.accuracy_summary)
    truth = metadata.get_column('age').to_series().loc[predictions.index]
    assert f"<td>{(predictions - truth).abs().mean():.4g}</td>" in page
    assert f"{len(predictions)} predicted samples with a true value" in page
    # the encoder pretrained on the training samples, usable on its own
    assert str(result.encoder.type) == 'AAMModel[AAMEncoder]'
    result.encoder.validate(level='max')
    encoder = result.encoder.view(ModelBundle)
    assert encoder.kind == 'encoder'
    assert 'encoder_of' not in encoder.config['training']


def test_classify_samples(oral):
    from qiime2.sdk import PluginManager
    if 'classify_samples' not in PluginManager().plugins['aam'].actions:
        pytest.skip('classify-samples needs fit-classifier (issue 3)')
    table, metadata, _ = oral
    result = aam.pipelines.classify_samples(
        table=table, metadata=metadata.get_column('age_group'),
        groups=metadata.get_column('group'), **FAST)
    assert str(result.model.type) == 'AAMModel[AAMClassifier]'
    predictions = result.predictions.view(pd.Series)
    assert set(predictions) <= {'younger', 'older'}
    check_grouped_split(metadata, table, predictions)
    probabilities = result.probabilities.view(pd.DataFrame)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert str(result.accuracy_results.type) == 'Visualization'
    # trained from scratch: the encoder output is the fitted model's own
    assert str(result.encoder.type) == 'AAMModel[AAMEncoder]'
    result.encoder.validate(level='max')
    encoder = result.encoder.view(ModelBundle)
    assert encoder.config['training']['encoder_of'] == 'classifier'
    embedded = aam.methods.embed(table=table, model=result.encoder)
    assert embedded.distance_matrix.view(DistanceMatrix).shape == (48, 48)


@pytest.fixture(scope='module')
def oral_encoder(oral):
    """A tiny encoder pretrained for an epoch on the oral samples."""
    table, _, distances = oral
    return aam.methods.pretrain(table=table, distance_matrix=distances,
                                preset='tiny', epochs=1, batch_size=16,
                                device='cpu').model


def test_regress_samples_from_a_pretrained_encoder(oral, oral_encoder):
    table, metadata, _ = oral
    given = oral_encoder
    result = aam.pipelines.regress_samples(
        table=table, metadata=metadata.get_column('age'),
        pretrained_model=given, groups=metadata.get_column('group'),
        **{**FAST, 'ensemble_size': 1})
    assert result.model.view(ModelBundle).config['training']['pretrained']
    # the encoder output is the encoder given, unchanged
    returned, original = (a.view(ModelBundle) for a in (result.encoder, given))
    assert returned.state_dict.keys() == original.state_dict.keys()
    for name, tensor in original.state_dict.items():
        assert (returned.state_dict[name] == tensor).all(), name


def test_regress_samples_normalises_the_target_by_study(oral, oral_encoder):
    """The README's study-column recipe in the pipeline: the model learns
    ages per study, and the test samples are predicted with their study."""
    table, metadata, _ = oral
    study = metadata.get_column('study')
    result = aam.pipelines.regress_samples(
        table=table, metadata=metadata.get_column('age'), pretrained_model=oral_encoder,
        groups=metadata.get_column('group'), normalise_by=study, readout='ridge',
        **{k: v for k, v in FAST.items() if k != 'epochs'})
    model = result.model
    assert model.view(ModelBundle).config['target']['by'] == 'study'
    predictions = result.predictions.view(pd.Series)
    tested = table.view(biom.Table).filter(list(predictions.index), inplace=False)
    again, = aam.methods.predict_regression(
        table=qiime2.Artifact.import_data('FeatureTable[Frequency]', tested), model=model,
        conditioning=qiime2.Metadata(study.to_dataframe()), device='cpu')
    pd.testing.assert_series_equal(predictions, again.view(pd.Series).loc[predictions.index])


def test_pretrained_model_and_distance_matrix_are_refused(oral, encoder):
    table, metadata, distances = oral
    with pytest.raises(AAMInputError, match='Both pretrained_model and '
                       'distance_matrix were given.*not both'):
        aam.pipelines.regress_samples(
            table=table, metadata=metadata.get_column('age'),
            distance_matrix=distances, pretrained_model=encoder, **FAST)


# -- the split ---------------------------------------------------------------

def numbered_targets(n=40):
    """(targets 0, 1, ... of samples s0, s1, ..., the sample ids)."""
    ids = [f's{i}' for i in range(n)]
    return pd.Series(np.arange(n, dtype=float), index=ids), ids


def grouped_targets():
    """numbered_targets() and the groups of their samples, three to a group."""
    targets, ids = numbered_targets()
    return targets, ids, pd.Series([f'g{i // 3}' for i in range(40)], index=ids)


def test_split_keeps_groups_together():
    targets, ids, groups = grouped_targets()
    train, test = holdout_split(targets, 0.25, 0, groups)
    assert not set(groups[train]) & set(groups[test])
    assert 8 <= len(test) <= 13
    assert sorted(train + test) == sorted(ids)
    assert holdout_split(targets, 0.25, 0, groups) == (train, test)


def test_split_stratifies_classes():
    targets, ids = numbered_targets()
    classes = pd.Series(['a'] * 30 + ['b'] * 6 + ['c'] * 4, index=ids)
    train, test = holdout_split(classes, 0.25, 1, stratify=True)
    for label in 'abc':
        assert (classes[test] == label).any()
        assert (classes[train] == label).any()


def test_split_that_leaves_too_few_samples_is_an_error():
    targets, _ = numbered_targets(5)
    with pytest.raises(AAMInputError, match='needs at least 4 and 2'):
        holdout_split(targets, 0.2, 0)


def test_missing_samples_are_named(oral):
    table, metadata, _ = oral
    partial = metadata.filter_ids(metadata.ids[1:]).get_column('age')
    with pytest.raises(AAMInputError, match='not in the metadata'):
        aam.pipelines.regress_samples(table=table, metadata=partial, **FAST)


def _page(visualization) -> str:
    """The index.html of a visualization, as text."""
    import tempfile
    from pathlib import Path
    with tempfile.TemporaryDirectory() as folder:
        visualization.export_data(folder)
        return (Path(folder) / 'index.html').read_text()
