"""summarize: one page about a trained model (facts, size, curves, metrics).

Everything shown comes from the model directory itself (config.json,
history.tsv, the shapes of model.pt's tensors), so the page describes the
model as it was trained, seed and device included. An ensemble is shown
whole: every member's kept epoch and metrics, curves as the mean and the
range over the members, parameters per member and in total. What the
settings tables list is what applied to this model (_model_facts.py).
"""
import json
import os

import numpy as np
import pandas as pd

from aam_core.bundle import ModelBundle

from ._curves import curve_names, plot_curves
from ._model_facts import (applied_architecture, applied_training,
                           calibration_text, duration, run_facts)
from ._pages import render


def parameter_counts(state_dict: dict) -> pd.Series:
    """Number of weights per top-level module of one network (an
    ensemble's first member: all members have the same shape)."""
    counts = {}
    for name, tensor in state_dict.items():
        if name.startswith('members.'):
            if not name.startswith('members.0.'):
                continue
            name = name.split('.', 2)[2]
        module = name.split('.', 1)[0]
        counts[module] = counts.get(module, 0) + int(np.prod(tensor.shape))
    return pd.Series(counts, dtype='int64')


def member_histories(history: pd.DataFrame) -> list:
    """The history of each member (one for a single network)."""
    if 'member' not in history:
        return [history]
    return [part.drop(columns='member').reset_index(drop=True)
            for _, part in history.groupby('member', sort=True)]


def best_epochs(config: dict, histories: list) -> list:
    """The kept epoch of each member: recorded, or (older models) the one
    with the lowest validation (else training) loss."""
    recorded = config['training'].get('best_epoch')
    if recorded is not None:
        return list(recorded) if isinstance(recorded, list) else [recorded]
    epochs = []
    for history in histories:
        key = 'val_loss' if 'val_loss' in history else 'train_loss'
        if key in history and history[key].notna().any():
            epochs.append(int(history.loc[history[key].idxmin(), 'epoch']))
        else:
            epochs.append(None)
    return epochs


def _at_epoch(history: pd.DataFrame, epoch) -> dict:
    row = history.loc[history['epoch'] == epoch]
    return {} if row.empty else row.iloc[0].to_dict()


def _format(value) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ''
    return f'{value:.4g}'


def _spread(values: list) -> str:
    """One member's value, or the members' mean (min to max)."""
    values = [v for v in values if v is not None and not np.isnan(v)]
    if not values:
        return ''
    if len(values) == 1:
        return _format(values[0])
    return (f'{_format(float(np.mean(values)))} '
            f'({_format(min(values))} to {_format(max(values))})')


def metric_rows(histories: list, epochs: list) -> list:
    """(metric, train, validation) at each member's kept epoch."""
    kept = [_at_epoch(h, e) for h, e in zip(histories, epochs)]
    names = curve_names(pd.concat(histories)) if histories else []
    return [(name, _spread([k.get(f'train_{name}') for k in kept]),
             _spread([k.get(f'val_{name}') for k in kept])) for name in names]


def member_rows(config: dict, histories: list, epochs: list) -> list:
    """One row per member: samples, epochs run, kept epoch, its selection
    metric, time."""
    run = config['training'].get('run') or {}
    key = config['training'].get('selection_metric') or 'val_loss'
    rows = []
    for index, (history, epoch) in enumerate(zip(histories, epochs)):
        def recorded(name):
            values = run.get(name)
            return 'not recorded' if values is None else f'{values[index]:,}'
        rows.append((index + 1, recorded('train_samples'),
                     recorded('validation_samples'),
                     int(history['epoch'].max()) if len(history) else 0,
                     '-' if epoch is None else epoch,
                     _format(_at_epoch(history, epoch).get(key)),
                     duration(history['seconds'].sum())
                     if 'seconds' in history else 'not recorded'))
    return rows


def _overview(config: dict, counts: pd.Series, n_members: int) -> list:
    per_member = int(counts.sum())
    overview = {'kind': config['kind']}
    if config.get('target'):
        overview['target (metadata column)'] = config['target'].get('name')
    overview['ensemble members'] = n_members
    overview['parameters per member'] = f'{per_member:,}'
    if n_members > 1:
        overview[f'parameters in total ({n_members} members)'] = \
            f'{per_member * n_members:,}'
    overview.update(run_facts(config))
    overview.update({'random seed': config['seed'],
                     'device used': config['device'],
                     **{f'{name} version': version
                        for name, version in config['versions'].items()}})
    return _rows(overview)


def _rows(mapping: dict) -> list:
    """(key, value) rows for a table; nested values shown as JSON."""
    def show(value):
        if isinstance(value, float):
            return f'{value:.6g}'
        if isinstance(value, (dict, list, tuple)):
            return json.dumps(value)
        return str(value)
    return [(key, show(value)) for key, value in mapping.items()]


def _target_rows(config: dict) -> list:
    rows = {}
    target = config.get('target') or {}
    shown = {'calibration': calibration_text, 'categories': _category_text}
    rows.update({f'target {k}': shown[k](v) if k in shown else v
                 for k, v in target.items() if k != 'name'})
    if config.get('class_labels') and 'labels' not in target:
        rows['classes'] = ', '.join(map(str, config['class_labels']))
    if config.get('conditioning'):
        rows['conditioning'] = config['conditioning']
    return _rows(rows)


def _category_text(categories: dict) -> str:
    """A normalise-by model's statistics per category, one per line's
    worth ('550: shift 36.2, scale 4.1; ...'), not a line of JSON."""
    return '; '.join(f'{name}: shift {shift:.4g}, scale {scale:.4g}'
                     for name, (shift, scale) in categories.items())


def summarize(output_dir: str, model: ModelBundle) -> None:
    config, history = model.config, model.history
    counts = parameter_counts(model.state_dict)
    histories = member_histories(history)
    n_members = max(int(config['training'].get('ensemble_size', 1)),
                    len(histories))
    epochs = best_epochs(config, histories)
    curves = plot_curves(histories, epochs, config, output_dir)
    history.to_csv(os.path.join(output_dir, 'history.tsv'), sep='\t',
                   index=False)
    with open(os.path.join(output_dir, 'config.json'), 'w') as fh:
        json.dump(config, fh, indent=2, sort_keys=True)
    render('summarize', output_dir, {
        'title': f"AAM {config['kind']} summary",
        'overview': _overview(config, counts, n_members),
        'target': _target_rows(config),
        'members': member_rows(config, histories, epochs),
        'selection': (config['training'].get(
            'selection_metric') or 'val_loss'),
        'metrics': metric_rows(histories, epochs),
        'n_members': n_members,
        'curves': curves,
        'architecture': _rows(applied_architecture(config)),
        'parameters': [(module, f'{n:,}')
                       for module, n in counts.items()],
        'training': _rows(applied_training(config, history)),
        'data': _rows(config['data']),
    })

