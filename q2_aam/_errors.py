"""error_analysis: where a regressor's predictions go wrong.

Takes any SampleData[RegressorPredictions] (AAM's or q2-sample-classifier's)
and the truth, and breaks the residuals (prediction - truth) down by the
sample metadata: a box plot per categorical column, a scatter per numeric
column, the mean absolute error of every category, and the samples with the
largest errors. numpy, pandas and matplotlib only: no torch.
"""
import os

import numpy as np
import pandas as pd
import qiime2
from q2_sample_classifier._format import PredictionsDirectoryFormat

from aam_core.errors import AAMInputError, near_misses, refuse_disjoint
from aam_core.spelling import spelled, spelled_input, spelled_metadata

from ._figures import save_figure
from ._pages import render
from ._parameters import with_options
from ._prediction_summary import check_predicted, refuse_bound

_MAX_BOXES = 30  # categories drawn per box plot (the most frequent); tables list all


def sample_errors(predictions: pd.Series, truth: pd.Series,
                  missing_samples: str = 'error'):
    """(errors, notes): per predicted sample with a true value, its truth,
    prediction, residual and absolute error; notes say what was left out."""
    if not pd.api.types.is_numeric_dtype(truth):
        raise AAMInputError(
            f'The truth column {truth.name!r} must be numeric (the true values '
            f'of a regression); it holds e.g. {list(truth.dropna().unique()[:3])}.')
    predictions = pd.to_numeric(predictions, errors='coerce')
    check_predicted(predictions)
    absent = predictions.index.difference(truth.index)
    if len(absent) and missing_samples == 'error':
        raise AAMInputError(
            f'{len(absent)} of the {len(predictions)} predicted samples are not in '
            f'the truth metadata, e.g. {list(absent[:5])}.'
            f'{near_misses(absent, truth.index)} Pass metadata that '
            f'covers them, or {spelled("missing_samples", "ignore")} to leave them out.')
    frame = pd.DataFrame({'truth': truth.reindex(predictions.index),
                          'prediction': predictions}).dropna()
    if frame.empty:
        raise AAMInputError(
            f'None of the {len(predictions)} predicted samples has a value in the '
            f'truth column {truth.name!r}: do the predictions and the metadata '
            f'come from the same samples? (predicted e.g. '
            f'{list(predictions.index[:3])}, truth e.g. {list(truth.index[:3])})')
    notes = []
    if len(absent):
        notes.append(f'{len(absent)} predicted samples are not in the truth '
                     'metadata and were left out.')
    unvalued = len(predictions) - len(absent) - len(frame)
    if unvalued:
        notes.append(f'{unvalued} predicted samples have no true value (or no '
                     'prediction) and were left out.')
    frame['error'] = frame['prediction'] - frame['truth']
    frame['absolute_error'] = frame['error'].abs()
    frame.index.name = 'sample-id'
    return frame, notes


def overall(errors: pd.DataFrame) -> dict:
    residual, truth = errors['error'], errors['truth']
    spread = ((truth - truth.mean()) ** 2).sum()
    return {'samples': len(errors),
            'mean absolute error': errors['absolute_error'].mean(),
            'root mean squared error': float(np.sqrt((residual ** 2).mean())),
            'mean error (bias)': residual.mean(),
            'R2': 1 - (residual ** 2).sum() / spread if spread > 0 else np.nan}


def category_errors(errors: pd.DataFrame, column: pd.Series) -> pd.DataFrame:
    """Per category of `column` (samples without a value: '(no value)'):
    n, MAE, mean error and RMSE, the worst MAE first."""
    categories = column.reindex(errors.index).astype(object).fillna('(no value)')
    grouped = errors.groupby(categories.astype(str))
    table = pd.DataFrame({
        'n': grouped.size(),
        'mae': grouped['absolute_error'].mean(),
        'mean_error': grouped['error'].mean(),
        'rmse': grouped['error'].apply(lambda e: float(np.sqrt((e ** 2).mean()))),
    })
    table.index.name = column.name
    return table.sort_values(['mae', 'n'], ascending=[False, False])


def largest_errors(errors: pd.DataFrame, count: int,
                   metadata: pd.DataFrame = None) -> pd.DataFrame:
    """The `count` samples with the largest absolute error, largest first,
    with their metadata."""
    top = errors.sort_values('absolute_error', ascending=False,
                             kind='stable').head(count)
    if metadata is not None:
        # a metadata column named as one of the error columns is kept, renamed
        top = top.join(metadata.rename(
            columns=lambda c: f'{c} (metadata)' if c in top.columns else c))
    return top


def without_truth(frame: pd.DataFrame, errors: pd.DataFrame, truth_name: str):
    """The metadata, less the truth column where it is the truth itself (the
    same file given for both, listed once, as 'truth'); a column of that
    name with other values is kept, as '<name> (metadata)'."""
    if truth_name not in frame.columns:
        return frame
    values = pd.to_numeric(frame[truth_name].reindex(errors.index), errors='coerce')
    if ((values - errors['truth']).abs() <= 1e-9).all():
        return frame.drop(columns=[truth_name])
    return frame.rename(columns={truth_name: f'{truth_name} (metadata)'})


def split_columns(metadata: pd.DataFrame, types: dict, samples: pd.Index):
    """(categorical, numeric, notes): the columns to break the errors down
    by (the truth itself is left out before, by without_truth: its plot is
    always drawn). Not columns without a value for these samples, nor
    id-like ones (a value per sample)."""
    categorical, numeric, notes = [], [], []
    for name in metadata.columns:
        values = metadata[name].reindex(samples)
        if values.isna().all():
            notes.append(f'{name}: no value for the predicted samples; not shown.')
        elif types[name] == 'numeric':
            numeric.append(name)
        elif values.nunique() == len(samples) > 1:
            notes.append(f'{name}: every sample has its own value (an id?); '
                         'not shown.')
        else:
            categorical.append(name)
    return categorical, numeric, notes


def _figure_files(figure, output_dir: str, stem: str) -> str:
    return save_figure(figure, output_dir, stem, bbox_inches='tight')


def plot_boxes(errors, column: pd.Series, output_dir: str, stem: str) -> str:
    """Residuals per category, the most frequent `_MAX_BOXES` categories."""
    import matplotlib.pyplot as plt
    categories = column.reindex(errors.index).astype(object).fillna('(no value)')
    order = categories.astype(str).value_counts().index[:_MAX_BOXES]
    groups = [errors['error'][categories.astype(str) == c] for c in order]
    figure, ax = plt.subplots(figsize=(max(4.0, 0.45 * len(order) + 2), 3.6))
    ax.boxplot(groups, showmeans=True)
    ax.set_xticks(range(1, len(order) + 1))
    ax.set_xticklabels([f'{c} ({len(g)})' for c, g in zip(order, groups)],
                       rotation=45, ha='right', fontsize='small')
    ax.axhline(0, color='0.5', linewidth=0.8)
    ax.set_xlabel(f'{column.name} (samples)')
    ax.set_ylabel('error (prediction - truth)')
    ax.grid(alpha=0.3, axis='y')
    return _figure_files(figure, output_dir, stem)


def plot_scatter(errors, values: pd.Series, output_dir: str, stem: str) -> str:
    import matplotlib.pyplot as plt
    values = values.reindex(errors.index)
    figure, ax = plt.subplots(figsize=(4.6, 3.6))
    ax.scatter(values, errors['error'], s=12, alpha=0.7)
    ax.axhline(0, color='0.5', linewidth=0.8)
    ax.set_xlabel(str(values.name))
    ax.set_ylabel('error (prediction - truth)')
    ax.grid(alpha=0.3)
    return _figure_files(figure, output_dir, stem)


def _metadata_frame(errors, metadata: qiime2.Metadata, truth_name: str) -> tuple:
    """(the metadata without the truth itself, each column's type), read
    once for the breakdowns and the largest errors; (None, {}) without it."""
    if metadata is None:
        return None, {}
    frame = metadata.to_dataframe()
    refuse_disjoint(frame.index, errors.index, f'the {spelled_metadata("metadata")}',
                    'no breakdown could be drawn',
                    'give the metadata of these samples, or leave it out.')
    types = {name: props.type for name, props in metadata.columns.items()}
    if truth_name in frame.columns:
        types[f'{truth_name} (metadata)'] = types[truth_name]
    return without_truth(frame, errors, truth_name), types


def _breakdowns(errors, frame, types: dict, output_dir: str):
    """(categorical sections, numeric sections, notes) for the page."""
    if frame is None:
        return [], [], []
    categorical, numeric, notes = split_columns(frame, types, errors.index)
    boxes, scatters = [], []
    for index, name in enumerate(categorical):
        table = category_errors(errors, frame[name])
        table.to_csv(os.path.join(output_dir, f'mae_by_{index}.tsv'), sep='\t')
        shown = min(len(table), _MAX_BOXES)
        boxes.append({'column': name, 'table': _table_rows(table, name),
                      'tsv': f'mae_by_{index}.tsv', 'categories': len(table),
                      'shown': shown,
                      'plot': plot_boxes(errors, frame[name], output_dir,
                                         f'errors_by_{index}')})
    for index, name in enumerate(numeric):
        scatters.append({'column': name, 'plot': plot_scatter(
            errors, frame[name], output_dir, f'errors_vs_{index}')})
    return boxes, scatters, notes


def _format(value) -> str:
    if isinstance(value, (float, np.floating)):
        if np.isnan(value):
            return ''
        # whole numbers in full: a study id 10317 is no 1.032e+04
        if float(value).is_integer() and abs(value) < 1e15:
            return str(int(value))
        return f'{value:.4g}'
    return str(value)


def _table_rows(table: pd.DataFrame, index_name: str) -> dict:
    """Header and formatted rows of a table, its index as first column."""
    return {'header': [index_name] + list(table.columns),
            'rows': [[str(i)] + [_format(v) for v in row]
                     for i, row in zip(table.index, table.itertuples(index=False))]}


def _error_analysis(output_dir: str, predictions: PredictionsDirectoryFormat,
                    **options) -> None:
    import matplotlib
    matplotlib.use('Agg')
    refuse_bound(predictions.path, spelled_input('predictions'))
    truth, metadata = options['truth'], options['metadata']
    errors, notes = sample_errors(predictions.file.view(pd.Series), truth.to_series(),
                                  options['missing_samples'])
    errors.to_csv(os.path.join(output_dir, 'errors.tsv'), sep='\t')
    versus_truth = plot_scatter(errors, errors['truth'].rename(
        f'{truth.name} (truth)'), output_dir, 'errors_vs_truth')
    frame, types = _metadata_frame(errors, metadata, truth.name)
    boxes, scatters, skipped = _breakdowns(errors, frame, types, output_dir)
    top = largest_errors(errors, options['largest'], frame)
    # R2 of one sample (or of one true value) has no spread to explain
    summary = {k: _format(v) or 'not defined' for k, v in overall(errors).items()}
    render('error_analysis', output_dir, {
        'title': f'Prediction errors of {truth.name}',
        'summary': list(summary.items()), 'notes': notes + skipped,
        'versus_truth': versus_truth, 'truth_name': truth.name,
        'boxes': boxes, 'scatters': scatters,
        'largest': _table_rows(top, 'sample-id'), 'n_largest': len(top)})


error_analysis = with_options('error_analysis', _error_analysis)
