"""summarize-predictions: the numbers against a hand computation, the
sample counts and the baseline."""
import re

import pandas as pd
import pytest
import qiime2
from qiime2.plugins import aam

from aam_core.errors import AAMInputError

IDS = ['a', 'b', 'c', 'd', 'e']


def _page(tmp_path, predictions, truth, semantic_type, **options):
    index = pd.Index(IDS[:len(predictions)], name='SampleID')
    artifact = qiime2.Artifact.import_data(
        semantic_type, pd.Series(predictions, index=index, name='prediction'))
    visualization, = aam.visualizers.summarize_predictions(
        predictions=artifact, truth=truth, **options)
    visualization.export_data(str(tmp_path))
    return (tmp_path / 'index.html').read_text()


def _metric(html, name):
    found = re.search(rf'<td>{re.escape(name)}</td><td>([^<]*)</td><td>([^<]*)</td>',
                      html)
    return found.groups()


def _numeric(values, name='age'):
    return qiime2.NumericMetadataColumn(pd.Series(
        values, index=pd.Index(IDS[:len(values)], name='id'), name=name))


def test_regression_by_hand(tmp_path):
    # errors -1, 0, 1, -2: MAE 1, RMSE sqrt(6/4); the baseline predicts the
    # mean truth 3: errors -1, -1, -1, 3, MAE 1.5, RMSE sqrt(12/4)
    html = _page(tmp_path, [1.0, 2.0, 3.0, 4.0], _numeric([2.0, 2.0, 2.0, 6.0]),
                 'SampleData[RegressorPredictions]')
    assert _metric(html, 'MAE') == ('1', '1.5')
    assert _metric(html, 'RMSE') == (f'{(6 / 4) ** 0.5:.4g}', f'{3 ** 0.5:.4g}')
    assert _metric(html, 'R²') == (f'{1 - 6 / 12:.4g}', '0')
    assert '4 predicted samples with a true value.' in html
    assert "in age's units" in html


def test_samples_without_truth_are_counted_or_refused(tmp_path):
    truth = _numeric([2.0, None, 2.0])  # 'b' has no value; d, e are absent
    predictions = [1.0, 2.0, 3.0, 4.0, 5.0]
    with pytest.raises(AAMInputError, match="2 predicted sample.*missing_samples"):
        _page(tmp_path, predictions, truth, 'SampleData[RegressorPredictions]')
    html = _page(tmp_path, predictions, truth, 'SampleData[RegressorPredictions]',
                 missing_samples='ignore')
    assert ('2 predicted samples with a true value; 2 left out (not in the '
            'metadata); 1 left out (no true value).') in html
    assert _metric(html, 'MAE') == ('1', '0')


def test_classification_by_hand(tmp_path):
    truth = qiime2.CategoricalMetadataColumn(pd.Series(
        ['x', 'x', 'x', 'y', 'y'], index=pd.Index(IDS, name='id'), name='label'))
    html = _page(tmp_path, ['x', 'x', 'y', 'y', 'x'], truth,
                 'SampleData[ClassifierPredictions]')
    # recall x 2/3, y 1/2; the baseline predicts x: accuracy 3/5, balanced 1/2
    assert _metric(html, 'accuracy') == ('0.6', '0.6')
    assert _metric(html, 'balanced accuracy') == (f'{(2 / 3 + 1 / 2) / 2:.4g}', '0.5')
    assert '<td>x</td><td>3</td><td>3</td><td>2</td><td>0.6667</td>' in html
    assert 'most frequent true class (x)' in html
