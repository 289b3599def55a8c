"""summarize's training curves: one panel per loss term or metric, training
and validation, per epoch; an ensemble's as the mean over its members with
the range (min to max) shaded, and each member's kept epoch marked."""

import numpy as np
import pandas as pd

from aam_core.train.metrics import HIGHER_IS_BETTER  # numpy only, no torch

from ._figures import save_figure


def curve_names(history: pd.DataFrame) -> list:
    """Metric names with a train_ or val_ column, loss first."""
    names = []
    for column in history.columns:
        for prefix in ('train_', 'val_'):
            if column.startswith(prefix) and column[len(prefix):] not in names:
                names.append(column[len(prefix):])
    return sorted(names, key=lambda n: (n != 'loss', names.index(n)))


def y_label(name: str, config: dict) -> str:
    """What a panel's values are, in which units. The target's units are
    not known to the model: they are its metadata column's."""
    column = (config.get('target') or {}).get('name', 'the target')
    kind = config['kind']
    if name in ('mae', 'rmse'):
        return f"{name.upper()}, in {column}'s units"
    if name == 'loss' or (name == 'target' and kind == 'regressor'):
        what = 'weighted sum of the terms' if name == 'loss' else 'target loss'
        if kind == 'regressor':
            return f'{what} (on the normalised {column})'
        return what + (' (cross-entropy, nats)' if kind == 'classifier' else '')
    return {'r2': 'R² (1: perfect; 0: the mean)',
            'coverage': 'share inside the outer quantiles',
            'accuracy': 'accuracy (share correct)', 'f1': 'macro F1 (0 to 1)',
            'auroc': 'macro AUROC (0.5: chance)',
            'target': 'cross-entropy (nats)',
            'unifrac': 'MSE of embedding distances vs the matrix',
            'nucleotide': 'masked-nucleotide cross-entropy (nats)',
            'abundance': 'MSE of log relative abundance',
            'lr': 'learning rate'}.get(name, name)


def _band(histories: list, column: str):
    """(epochs, mean, min, max) over the members that ran each epoch."""
    frame = pd.concat([h.set_index('epoch')[column] for h in histories
                       if column in h], axis=1)
    return (frame.index.to_numpy(), frame.mean(axis=1).to_numpy(),
            frame.min(axis=1).to_numpy(), frame.max(axis=1).to_numpy())


def _panel(ax, name: str, histories: list, config: dict) -> None:
    many = len(histories) > 1
    for prefix, label, style, color in (('train_', 'train', '-', 'tab:blue'),
                                        ('val_', 'validation', '--', 'tab:orange')):
        column = name if name == 'lr' else prefix + name
        if not any(column in h for h in histories):
            continue
        epochs, mean, low, high = _band(histories, column)
        line, = ax.plot(epochs, mean, style, marker='o', markersize=3,
                        label=(f'{label}, mean of {len(histories)}' if many
                               else label) if name != 'lr' else None,
                        color='0.4' if name == 'lr' else color)
        if many:
            ax.fill_between(epochs, low, high, color=line.get_color(), alpha=0.15,
                            label=f'{label}, range' if name != 'lr' else None)
        if name == 'lr':
            break
    if name == 'lr':
        ax.set_title('learning rate (end of epoch)')
    else:
        better = 'higher' if HIGHER_IS_BETTER.get(name) else 'lower'
        ax.set_title(f'{name} ({better} is better)')
    ax.set_ylabel(y_label(name, config), fontsize='small')


def _mark_kept(ax, kept: list) -> None:
    """A dotted line at each kept epoch (the members table says whose)."""
    label = 'kept epoch' + (' (of a member)' if len(kept) > 1 else '')
    for epoch in sorted({e for e in kept if e is not None}):
        ax.axvline(epoch, color='tab:red', alpha=0.5, linestyle=':', label=label)
        label = None


def _panels(histories: list) -> list:
    """Metric names to plot; a lone loss term equal to the loss is the
    loss panel again, and is left out."""
    history = pd.concat(histories)
    names = curve_names(history)
    terms = [n for n in names if n in ('target', 'unifrac', 'nucleotide', 'abundance')]
    if (len(terms) == 1 and {'train_loss', f'train_{terms[0]}'} <= set(history)
            and np.allclose(history['train_loss'], history[f'train_{terms[0]}'],
                            equal_nan=True)):
        names.remove(terms[0])
    return names + (['lr'] if 'lr' in history else [])


def plot_curves(histories: list, kept: list, config: dict, output_dir: str) -> list:
    """training_curves.png/.svg; returns the metric names plotted."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator
    if not histories or not sum(len(h) for h in histories):
        return []
    panels = _panels(histories)
    if not panels:
        return []
    columns = min(3, len(panels))
    rows = -(-len(panels) // columns)
    figure, axes = plt.subplots(rows, columns, squeeze=False,
                                figsize=(4.4 * columns, 3.4 * rows))
    for ax, name in zip(axes.flat, panels):
        _panel(ax, name, histories, config)
        _mark_kept(ax, kept)
        ax.set_xlabel('epoch')
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.ticklabel_format(axis='y', useOffset=False)
        ax.grid(alpha=0.3)
        ax.legend(fontsize='x-small')
    for ax in list(axes.flat)[len(panels):]:
        ax.axis('off')
    figure.tight_layout()
    save_figure(figure, output_dir, 'training_curves', dpi=100)
    return [p for p in panels if p != 'lr']

