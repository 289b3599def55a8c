"""summarize-predictions: how good predictions are, in numbers, beside a
baseline that knows nothing about the samples.

q2-sample-classifier's scatterplot and confusion matrix show predictions
against the truth but not the error in the target's units nor the number of
samples. This page gives both, for any SampleData[RegressorPredictions]
(MAE, RMSE, R², Spearman) or SampleData[ClassifierPredictions] (accuracy,
balanced accuracy, per-class counts), and the same numbers for a baseline
that predicts the truth's mean (the majority class) for every sample: a
model that does not beat it has learned nothing usable.
"""

import re
from pathlib import Path

import numpy as np
import pandas as pd
import qiime2
from q2_sample_classifier._format import PredictionsDirectoryFormat
from scipy.stats import spearmanr

from aam_core.errors import AAMInputError, near_misses
from aam_core.spelling import interface, spelled, spelled_input
from aam_core.train.metrics import regression_metrics

from ._pages import render
from ._parameters import with_options


def aligned(predictions: pd.Series, truth: qiime2.MetadataColumn,
            missing_samples: str) -> tuple:
    """(predictions, truth) of the predicted samples that have a true value,
    and how many were left out: absent from the metadata (an error unless
    missing_samples is 'ignore'), or with no value in the column."""
    values = truth.to_series()
    check_predicted(predictions)
    predictions = predictions.copy()
    predictions.index = predictions.index.map(str)
    absent = [i for i in predictions.index if i not in values.index]
    if absent and missing_samples == 'error':
        raise AAMInputError(
            f'{len(absent)} predicted sample(s) are not in the truth metadata '
            f'(e.g. {", ".join(absent[:5])}).{near_misses(absent, values.index)} '
            f'Add them, or pass '
            f"{spelled('missing_samples', 'ignore')} to leave them out.")
    kept = values.reindex(predictions.index)
    has_truth = kept.notna() & predictions.notna()
    no_truth = kept.isna() & ~predictions.index.isin(absent)
    left_out = {'not in the metadata': len(absent),
                'no true value': int(no_truth.sum()),
                'no prediction': int((~has_truth & ~no_truth).sum()) - len(absent)}
    if not has_truth.any():
        raise AAMInputError(f'None of the {len(predictions)} predicted samples has '
                            f'a value in the truth column {truth.name!r}.')
    return predictions[has_truth], kept[has_truth], left_out


def check_predicted(predictions: pd.Series) -> None:
    """Predictions with no value at all are the input's fault, not the
    truth's: say so before comparing them with anything."""
    if predictions.isna().all():
        raise AAMInputError(
            f'None of the {len(predictions)} predictions has a value (all are '
            f'missing or not numbers, e.g. samples {", ".join(map(str, predictions.index[:3]))}'
            '): give the output of a predict action that finished.')
    if pd.api.types.is_numeric_dtype(predictions):
        infinite = predictions.index[np.isinf(predictions.to_numpy(dtype=float))]
        if len(infinite):  # every error metric would be infinite
            raise AAMInputError(
                f'{len(infinite)} of the {len(predictions)} predictions are infinite '
                f'(e.g. sample {infinite[0]}: {predictions[infinite[0]]}), so every '
                'error would be too: leave those samples out, or give predictions of '
                'a model that predicts finite values.')


def regression_rows(predicted: np.ndarray, truth: np.ndarray) -> list:
    """(metric, model, baseline) rows; the baseline predicts the mean of
    these true values for every sample."""
    baseline = np.full_like(truth, truth.mean())
    model, base = regression_metrics(truth, predicted), regression_metrics(truth, baseline)
    rho = spearmanr(truth, predicted).correlation if len(truth) > 2 else np.nan
    return [('MAE', model['mae'], base['mae']), ('RMSE', model['rmse'], base['rmse']),
            ('R²', model['r2'], base['r2']), ('Spearman ρ', rho, np.nan)]


def classification_rows(predicted: np.ndarray, truth: np.ndarray) -> tuple:
    """((metric, model, baseline) rows, per-class rows); the baseline
    predicts the most frequent true class for every sample."""
    classes = sorted(set(truth) | set(predicted))
    recall = {c: float(np.mean(predicted[truth == c] == c)) for c in classes
              if (truth == c).any()}
    counts = pd.Series(truth).value_counts()
    metrics = [('accuracy', float(np.mean(predicted == truth)),
                counts.iloc[0] / len(truth)),
               ('balanced accuracy', float(np.mean(list(recall.values()))),
                1 / len(recall))]
    per_class = [(c, int((truth == c).sum()), int((predicted == c).sum()),
                  int(((truth == c) & (predicted == c)).sum()),
                  _number(recall.get(c, np.nan))) for c in classes]
    return metrics, per_class


def _check_classes(predictions: pd.Series, column: str) -> None:
    """A categorical truth needs predicted classes: a regressor's predictions
    (numbers with fractions) would all count as wrong classes."""
    if not pd.api.types.is_numeric_dtype(predictions):
        return
    values = predictions.to_numpy(float)
    if np.any(values != np.round(values)):
        example = next(v for v in values if v != round(v))
        raise AAMInputError(
            f'The truth column {column!r} is categorical but the predictions are '
            f'numbers (e.g. {example:.4g}), a regressor\'s; give the numeric column '
            'the regressor was fitted on (a numeric-looking column is categorical '
            'only when the metadata file declares it so, #q2:types).')


def _refuse_classes_as_numbers(predictions: pd.Series, truth: pd.Series,
                               column: str) -> None:
    """Class labels that look like numbers (study ids) reach this page as
    numbers, and a numeric truth column would score them as a regression.
    A regressor's predictions are never all whole numbers drawn from the
    truth's own values; a classifier's labels always are."""
    values = predictions.to_numpy(float)
    if len(values) > 1 and np.all(values == np.round(values)) and \
            set(values) <= set(truth.to_numpy(float)):
        raise AAMInputError(
            f'The predictions are whole numbers that all occur among the values of the '
            f'truth column {column!r} (e.g. {values[0]:g}), as a classifier\'s labels '
            'do, and the truth column is numeric, so they would be scored as a '
            'regression. To score class predictions, declare the column categorical '
            "in the metadata file's '#q2:types' row.")


def _check_shared_labels(predicted, truth, column: str) -> list:
    """Classes that never occur in the truth column score every sample wrong:
    the wrong column, not a bad classifier, and a label spelled otherwise
    ('young', 'Young ') a mistake, not a class. Returns the predicted
    classes the truth lacks (a small test set may lack a class)."""
    if not set(predicted) & set(truth):
        raise AAMInputError(
            f'None of the predicted classes ({", ".join(sorted(set(predicted))[:5])}) '
            f'occurs in the truth column {column!r} (e.g. '
            f'{", ".join(sorted(set(truth))[:5])}); give the column the classifier '
            'was fitted on.')
    unmatched = sorted(set(predicted) - set(truth))
    spelling = {str(t).strip().casefold(): t for t in set(truth)}
    respelled = [(c, spelling[str(c).strip().casefold()]) for c in unmatched
                 if str(c).strip().casefold() in spelling]
    if respelled:
        shown = ', '.join(f'{c!r} (the truth has {t!r})' for c, t in respelled[:5])
        raise AAMInputError(
            f'The predicted class(es) {shown} occur in the truth column {column!r} '
            'only in another case or spacing, so every such sample would count as '
            'wrong: write the truth\'s labels as the classifier was fitted on them.')
    return unmatched


def predictions_kind(directory) -> str | None:
    """'regressor' or 'classifier': the semantic type of the artifact whose
    data folder this is, from its metadata.yaml (QIIME 2 extracts an
    artifact as <uuid>/metadata.yaml beside <uuid>/data, the folder a view
    is read from). Both types share one file format, so their values alone
    cannot tell whole-number regressions from number-like class labels.
    None where no metadata.yaml is found."""
    import yaml  # QIIME 2's own dependency; an extra of aam_core's, so not at the top
    try:
        described = yaml.safe_load((Path(str(directory)).parent /
                                    'metadata.yaml').read_text())
    except (OSError, yaml.YAMLError):
        return None
    kind = str(described.get('type', '')) if isinstance(described, dict) else ''
    return {'SampleData[RegressorPredictions]': 'regressor',
            'SampleData[ClassifierPredictions]': 'classifier'}.get(kind)


def interval_bound(directory) -> str | None:
    """'lower' or 'upper' where the artifact whose data folder this is was a
    bound of predict-regression-interval: its provenance (action.yaml, beside
    the data) names the action and the output. A bound has the type of
    predictions, so QIIME 2's type check lets it through. None otherwise, or
    where no provenance is found (an imported file)."""
    try:
        text = (Path(str(directory)).parent / 'provenance' / 'action' /
                'action.yaml').read_text()
    except OSError:
        return None
    action = re.search(r'^\s+action: (\S+)\s*$', text, re.M)
    output = re.search(r'^\s+output-name: (\S+)\s*$', text, re.M)
    if action and output and action.group(1) == 'predict_regression_interval' \
            and output.group(1) in ('lower', 'upper'):
        return output.group(1)
    return None


def refuse_bound(directory, what: str) -> None:
    """Refuse a bound of an interval where point predictions are meant: its
    errors, scores or blend would be of the interval's edge, without a word."""
    bound = interval_bound(directory)
    if bound is None:
        return
    q2cli = interface() == 'q2cli'
    interval, point = (('predict-regression-interval', 'predict-regression') if q2cli
                       else ('predict_regression_interval', 'predict_regression'))
    output, points = ((f'--o-{bound}', '--o-predictions') if q2cli
                      else (bound, 'predictions'))
    raise AAMInputError(
        f'{what} is the {bound} bound of an interval ({interval}\'s {output} output), '
        f'not point predictions, so it would be taken as if the model had predicted '
        f'the {bound} edge: give the point predictions ({interval}\'s {points} '
        f'output, or {point}\'s).')


def _check_kind(kind: str | None, regression: bool, column: str) -> None:
    """A regressor's predictions need a numeric truth column and a
    classifier's a categorical one, whatever their values look like."""
    if kind == 'regressor' and not regression:
        raise AAMInputError(
            f'The predictions are a regressor\'s (SampleData[RegressorPredictions]) '
            f'but the truth column {column!r} is categorical; give the numeric '
            'column the regressor was fitted on (a numeric-looking column is '
            'categorical only when the metadata file declares it so, #q2:types).')
    if kind == 'classifier' and regression:
        raise AAMInputError(
            f'The predictions are a classifier\'s (SampleData[ClassifierPredictions]) '
            f'but the truth column {column!r} is numeric, so they would be scored as '
            'a regression; give the categorical column the classifier was fitted '
            "on (declare a numeric-looking one categorical in the metadata file's "
            "'#q2:types' row).")


def _number(value) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return 'not defined'
    return f'{value:.4g}'


def _summarize_predictions(output_dir: str, predictions: PredictionsDirectoryFormat,
                           **options) -> None:
    from aam_core.model.conditioning import category_text
    truth_column = options['truth']
    kind = predictions_kind(predictions.path)
    refuse_bound(predictions.path, spelled_input('predictions'))
    regression = isinstance(truth_column, qiime2.NumericMetadataColumn)
    _check_kind(kind, regression, truth_column.name)
    predictions, truth, left_out = aligned(predictions.file.view(pd.Series), truth_column,
                                           options['missing_samples'])
    per_class, unmatched = [], []
    if regression:
        if not pd.api.types.is_numeric_dtype(predictions):
            raise AAMInputError(
                f'The truth column {truth_column.name!r} is numeric but the '
                'predictions are classes; give the categorical column the '
                'classifier was fitted on.')
        if kind is None:  # the values are all there is to go by
            _refuse_classes_as_numbers(predictions, truth, truth_column.name)
        metrics = regression_rows(predictions.to_numpy(float), truth.to_numpy(float))
        baseline = f'every sample predicted as the mean true value ({truth.mean():.4g})'
    else:
        _check_classes(predictions, truth_column.name)
        labels = [np.array([category_text(v) for v in s], dtype=object)
                  for s in (predictions, truth)]
        unmatched = _check_shared_labels(*labels, truth_column.name)
        metrics, per_class = classification_rows(*labels)
        baseline = (f'every sample predicted as the most frequent true class '
                    f'({pd.Series(labels[1]).value_counts().index[0]})')
    render('summarize_predictions', output_dir, {
        'column': truth_column.name, 'regression': regression,
        'n_samples': len(truth), 'left_out': left_out, 'baseline': baseline,
        'metrics': [(n, _number(m), _number(b)) for n, m, b in metrics],
        'per_class': per_class, 'unmatched': unmatched})


summarize_predictions = with_options('summarize_predictions', _summarize_predictions)
