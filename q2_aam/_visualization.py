"""summarize: one page about a trained model (config, size, curves, metrics).

Everything shown comes from the model directory itself (config.json,
history.tsv, the shapes of model.pt's tensors), so the page describes the
model as it was trained, seed and device included.
"""
import json
import os

import numpy as np
import pandas as pd

from aam_core.bundle import ModelBundle
from aam_core.train.metrics import HIGHER_IS_BETTER  # numpy only, no torch

TEMPLATES = os.path.join(os.path.dirname(__file__), 'assets', 'summarize')
_UNITS = {
    'regressor': ('Losses are on the normalised target; error metrics (mae, '
                  "rmse) are in the target's own units."),
    'classifier': 'The target loss is the cross-entropy of the classes.',
    'encoder': ('unifrac: mean squared error of the embedding distances; '
                'nucleotide: cross-entropy of the masked nucleotides.'),
}


def parameter_counts(state_dict: dict) -> pd.Series:
    """Number of weights per top-level module, from the tensors' shapes."""
    counts = {}
    for name, tensor in state_dict.items():
        if name.startswith('members.'):  # an ensemble: summed over members
            name = name.split('.', 2)[2]
        module = name.split('.', 1)[0]
        counts[module] = counts.get(module, 0) + int(np.prod(tensor.shape))
    return pd.Series(counts, dtype='int64')


def curve_names(history: pd.DataFrame) -> list:
    """Metric names with a train_ or val_ column, loss first."""
    names = []
    for column in history.columns:
        for prefix in ('train_', 'val_'):
            if column.startswith(prefix) and column[len(prefix):] not in names:
                names.append(column[len(prefix):])
    return sorted(names, key=lambda n: (n != 'loss', names.index(n)))


def best_epoch(config: dict, history: pd.DataFrame):
    epoch = config['training'].get('best_epoch')
    if isinstance(epoch, list):  # an ensemble: its first member's
        epoch = epoch[0]
    if epoch is None and len(history):
        key = 'val_loss' if 'val_loss' in history else 'train_loss'
        if key in history and history[key].notna().any():
            epoch = int(history.loc[history[key].idxmin(), 'epoch'])
    return epoch


def plot_curves(history: pd.DataFrame, best: int, output_dir: str) -> list:
    """training_curves.png/.svg: one panel per metric, train and validation.
    Returns the metric names plotted."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator
    names = curve_names(history)
    panels = names + (['lr'] if 'lr' in history else [])
    if not panels or not len(history):
        return []
    columns = min(3, len(panels))
    rows = -(-len(panels) // columns)
    figure, axes = plt.subplots(rows, columns, squeeze=False,
                                figsize=(4.2 * columns, 3.2 * rows))
    for ax, name in zip(axes.flat, panels):
        if name == 'lr':
            ax.plot(history['epoch'], history['lr'], color='0.4', marker='.')
            ax.set_title('learning rate (end of epoch)')
        else:
            for prefix, label, style in (('train_', 'train', '-'),
                                         ('val_', 'validation', '--')):
                if prefix + name in history:
                    ax.plot(history['epoch'], history[prefix + name], style,
                            marker='o', markersize=3, label=label)
            better = 'higher' if HIGHER_IS_BETTER.get(name) else 'lower'
            ax.set_title(f'{name} ({better} is better)')
            ax.legend(fontsize='small')
        if best is not None:
            ax.axvline(best, color='tab:red', alpha=0.4, linestyle=':')
        ax.set_xlabel('epoch')
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.ticklabel_format(axis='y', useOffset=False)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis('off')
    figure.tight_layout()
    for extension in ('png', 'svg'):
        filename = f'training_curves.{extension}'
        figure.savefig(os.path.join(output_dir, filename), dpi=110)
    plt.close(figure)
    return names


def _rows(mapping: dict) -> list:
    """(key, value) rows for a table; nested values shown as JSON."""
    def show(value):
        if isinstance(value, float):
            return f'{value:.6g}'
        if isinstance(value, (dict, list, tuple)):
            return json.dumps(value)
        return str(value)
    return [(key, show(value)) for key, value in mapping.items()]


def _metric_rows(history: pd.DataFrame, epoch) -> list:
    if epoch is None or not len(history):
        return []
    row = history.loc[history['epoch'] == epoch]
    if row.empty:
        return []
    row = row.iloc[0]
    return [(name, row.get(f'train_{name}'), row.get(f'val_{name}'))
            for name in curve_names(history)]


def _target_rows(config: dict) -> list:
    rows = {}
    if config.get('target'):
        rows.update({f'target {k}': v for k, v in config['target'].items()})
    if config.get('class_labels') and 'labels' not in (config.get('target')
                                                        or {}):
        rows['classes'] = ', '.join(map(str, config['class_labels']))
    if config.get('conditioning'):
        rows['conditioning'] = config['conditioning']
    return _rows(rows)


def _format_metric(value) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ''
    return f'{value:.4g}'


def summarize(output_dir: str, model: ModelBundle) -> None:
    import q2templates
    config, history = model.config, model.history
    counts = parameter_counts(model.state_dict)
    members = int(config['training'].get('ensemble_size', 1))
    curves_history = history
    if 'member' in history:  # an ensemble: curves and metrics of member 0
        curves_history = history[history['member'] == 0].drop(columns='member')
    best = best_epoch(config, curves_history)
    curves = plot_curves(curves_history, best, output_dir)
    history.to_csv(os.path.join(output_dir, 'history.tsv'), sep='\t',
                   index=False)
    with open(os.path.join(output_dir, 'config.json'), 'w') as fh:
        json.dump(config, fh, indent=2, sort_keys=True)
    last = int(curves_history['epoch'].max()) if len(curves_history) else None
    ensemble = {}
    if members > 1:
        ensemble = {
            'ensemble members': f'{members} (curves and metrics: member 1)',
            'best epoch of each member': ', '.join(
                map(str, config['training'].get('best_epoch') or [])),
        }
    overview = {
        'kind': config['kind'],
        **ensemble,
        'parameters': f'{int(counts.sum()):,}',
        'random seed': config['seed'],
        'device used': config['device'],
        'epochs run': last if last is not None else 0,
        'best epoch (weights kept)': best if best is not None else '-',
        **{f'{name} version': version
           for name, version in config['versions'].items()},
    }
    metrics = [(name, _format_metric(train), _format_metric(val))
               for name, train, val in _metric_rows(curves_history, best)]
    q2templates.render(os.path.join(TEMPLATES, 'index.html'), output_dir,
                       context={
                           'title': f"AAM {config['kind']} summary",
                           'overview': _rows(overview),
                           'target': _target_rows(config),
                           'metrics': metrics,
                           'best_epoch': best,
                           'curves': curves,
                           'units': _UNITS.get(config['kind'], ''),
                           'architecture': _rows(config['architecture']),
                           'parameters': [(module, f'{n:,}')
                                          for module, n in counts.items()],
                           'training': _rows(config['training']),
                           'data': _rows(config['data']),
                       })
