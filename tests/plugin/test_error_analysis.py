"""error-analysis on the oral-age example metadata: the per-category MAE
tables and the largest-error list against hand computations, predictions of
q2-sample-classifier itself, and clear errors for bad inputs."""
import re

import biom
import numpy as np
import pandas as pd
import pytest
import qiime2
from qiime2.plugins import aam

from aam_core.errors import AAMInputError
from q2_aam._errors import sample_errors
from tests.conftest import REPO

EXAMPLE = REPO / 'examples' / 'oral-age-mini'


@pytest.fixture(scope='module')
def metadata():
    """The example metadata with study as a category, and each sample's
    sequencing depth (numeric) from the example table."""
    frame = pd.read_csv(EXAMPLE / 'metadata.tsv', sep='\t', index_col=0,
                        dtype={'study': str})
    table = biom.load_table(str(EXAMPLE / 'table.biom'))
    depth = pd.Series(table.sum(axis='sample'), index=table.ids(), name='depth')
    frame['depth'] = depth.reindex(frame.index)
    frame.index.name = 'sample-id'
    return qiime2.Metadata(frame)


@pytest.fixture(scope='module')
def predicted(metadata):
    """Predicted ages as q2-sample-classifier writes them: study 1774 is
    overestimated by 10 years, every sample is off by some noise."""
    frame = metadata.to_dataframe()
    noise = np.random.default_rng(0).normal(0, 4, len(frame))
    values = frame['age'] + noise + np.where(frame['study'] == '1774', 10.0, 0.0)
    return pd.Series(values.to_numpy(), index=frame.index, name='prediction')


def run(predictions: pd.Series, truth, tmp_path, **options):
    artifact = qiime2.Artifact.import_data('SampleData[RegressorPredictions]',
                                           predictions)
    visualization, = aam.visualizers.error_analysis(
        predictions=artifact, truth=truth, **options)
    visualization.export_data(str(tmp_path))
    return (tmp_path / 'index.html').read_text()


def html_table(html: str, table_id: str) -> list:
    body = re.search(f'id="{table_id}">(.*?)</table>', html, re.S).group(1)
    return [re.findall(r'<td>(.*?)</td>', row)
            for row in re.findall(r'<tr>(.*?)</tr>', body, re.S)
            if '<td>' in row]


def test_mae_per_category_and_largest_errors_by_hand(metadata, predicted, tmp_path):
    html = run(predicted, metadata.get_column('age'), tmp_path,
               metadata=metadata, largest=7)
    frame = metadata.to_dataframe()
    # the hand computation: plain Python over the samples
    absolute = {}
    for sample, prediction in predicted.items():
        error = abs(prediction - frame.loc[sample, 'age'])
        absolute.setdefault(frame.loc[sample, 'study'], []).append(error)
    by_hand = {study: (len(e), sum(e) / len(e)) for study, e in absolute.items()}
    # study is the first column after the truth (age)
    table = pd.read_csv(tmp_path / 'mae_by_0.tsv', sep='\t', index_col=0,
                        dtype={'study': str})
    assert table.index.name == 'study'
    assert set(table.index) == set(by_hand)
    for study, (n, mae) in by_hand.items():
        assert table.loc[study, 'n'] == n
        assert table.loc[study, 'mae'] == pytest.approx(mae)
    assert table.index[0] == '1774'  # the worst study first
    shown = html_table(html, 'mae-by-0')
    assert [row[0] for row in shown] == list(table.index)
    assert float(shown[0][2]) == pytest.approx(by_hand['1774'][1], rel=1e-3)

    truth = frame['age']
    worst = sorted(predicted.index, key=lambda s: -abs(predicted[s] - truth[s]))[:7]
    rows = html_table(html, 'largest-errors')
    assert [row[0] for row in rows] == worst
    assert float(rows[0][3]) == pytest.approx(predicted[worst[0]] - truth[worst[0]],
                                              rel=1e-3)
    for name in ('errors_vs_truth', 'errors_by_0', 'errors_vs_0'):  # depth
        for extension in ('png', 'svg'):
            assert (tmp_path / f'{name}.{extension}').stat().st_size > 0, name
    assert 'By study' in html and '<h3>depth</h3>' in html


def test_q2_sample_classifier_predictions(metadata, tmp_path):
    from qiime2.plugins import sample_classifier
    table = qiime2.Artifact.import_data(
        'FeatureTable[Frequency]', biom.load_table(str(EXAMPLE / 'table.biom')))
    age = metadata.get_column('age')
    result = sample_classifier.actions.regress_samples(
        table=table, metadata=age, n_estimators=10, random_state=0,
        test_size=0.3)
    predictions = result.predictions.view(pd.Series)
    html = run(predictions, age, tmp_path, metadata=metadata)
    rows = html_table(html, 'overall')
    assert rows[0] == ['samples', str(len(predictions))]
    errors = pd.read_csv(tmp_path / 'errors.tsv', sep='\t', index_col=0)
    truth = metadata.to_dataframe()['age']
    np.testing.assert_allclose(errors['error'],
                               predictions[errors.index] - truth[errors.index])


def test_samples_left_out_are_counted(metadata, predicted, tmp_path):
    frame = metadata.to_dataframe()
    frame.loc[frame.index[:3], 'age'] = np.nan
    extra = pd.concat([predicted, pd.Series([1.0], index=['not-in-metadata'],
                                            name='prediction')])
    html = run(extra, qiime2.Metadata(frame[['age']]).get_column('age'), tmp_path,
               missing_samples='ignore')
    assert '1 predicted samples are not in the truth metadata' in html
    assert '3 predicted samples have no true value' in html
    assert html_table(html, 'overall')[0] == ['samples', str(len(predicted) - 3)]


def test_bad_inputs_are_clear_errors(metadata, predicted, tmp_path):
    age = metadata.get_column('age')
    renamed = predicted.rename(lambda sample: 'x' + sample)
    with pytest.raises(AAMInputError, match=r'191 of the 191 predicted samples are '
                       r"not in the truth metadata.*missing_samples='ignore'"):
        run(renamed, age, tmp_path)
    with pytest.raises(AAMInputError, match='None of the 191 predicted samples has '
                       "a value in the truth column 'age'"):
        run(renamed, age, tmp_path, missing_samples='ignore')
    # QIIME 2 itself refuses a categorical truth...
    with pytest.raises(TypeError, match='truth'):
        run(predicted, metadata.get_column('study'), tmp_path)
    # ...and the module says why when called without it
    with pytest.raises(AAMInputError, match="truth column 'study' must be numeric"):
        sample_errors(predicted, metadata.get_column('study').to_series())


def test_a_missing_truth_column_through_q2cli(metadata, predicted, tmp_path):
    from .test_q2cli import qiime
    qiime2.Artifact.import_data('SampleData[RegressorPredictions]', predicted).save(
        str(tmp_path / 'predictions.qza'))
    metadata.save(str(tmp_path / 'metadata.tsv'))
    done = qiime('aam', 'error-analysis', '--i-predictions',
                 tmp_path / 'predictions.qza', '--m-truth-file', tmp_path / 'metadata.tsv',
                 '--m-truth-column', 'years', '--o-visualization', tmp_path / 'v.qzv')
    assert done.returncode != 0
    assert "column 'years'" in done.stderr and '--m-truth-file' in done.stderr
    assert 'Traceback' not in done.stderr


def test_r2_of_one_true_value_is_said_not_defined(metadata, predicted, tmp_path):
    """One sample: R2 divides by a spread of 0 (the cell was left empty)."""
    html = run(predicted.iloc[:1], metadata.get_column('age'), tmp_path,
               missing_samples='ignore')
    assert html_table(html, 'overall')[-1] == ['R2', 'not defined'], html_table(html, 'overall')
