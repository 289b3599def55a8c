"""attention_map: which ASVs a model's pooling attends to and which drive its
prediction, per metadata group.

The per-(sample, ASV) attention and importance come from
aam_core/attention.py (how the pooling weights are read is described
there); this module labels the ASVs (taxonomy, else a short sequence
prefix: never a bare 100-nt sequence), groups the samples and draws the
page.
"""
import os
import re

import biom
import numpy as np
import pandas as pd
import qiime2

from aam_core.bundle import ModelBundle
from aam_core.errors import AAMInputError

from . import _views
from ._figures import save_figure
from ._pages import render
from ._parameters import with_options

_PREFIX = 12  # nucleotides of a sequence shown as a label
# rank prefixes of Greengenes (k__), GTDB (d__) and SILVA (D_5__)
_RANK = re.compile(r'^(?:[A-Za-z]_\d*_{1,2}|D_\d+__)')


def taxonomy_label(taxon: str) -> str:
    """The most specific assigned rank of a taxonomy string:
    'k__Bacteria; ...; g__Streptococcus; s__' -> 'Streptococcus'; a species
    epithet keeps its genus ('Streptococcus mutans')."""
    ranks = [part.strip() for part in str(taxon).split(';')]
    named = [(part[:3], _RANK.sub('', part).strip()) for part in ranks]
    named = [(prefix, name) for prefix, name in named if name]
    if not named:
        return 'Unassigned'
    prefix, name = named[-1]
    if prefix == 's__' and len(named) > 1 and ' ' not in name:
        name = f'{named[-2][1]} {name}'
    return name


def _short(text: str) -> str:
    return text if len(text) <= _PREFIX else text[:_PREFIX] + '...'


def feature_labels(features, sequences: dict = None,
                   taxonomy: pd.Series = None) -> pd.DataFrame:
    """Per feature: 'label' (its taxonomy's most specific rank, else its
    sequence's first nucleotides), 'taxonomy' (the full string, or empty)
    and 'plot_label' (the label and a short id, unique on a plot)."""
    rows = []
    for feature in features:
        taxon = None if taxonomy is None else taxonomy.get(feature)
        sequence = (sequences or {}).get(feature, feature)
        label = _short(sequence) if taxon is None else taxonomy_label(taxon)
        # the short id tells apart two ASVs of one genus on a plot
        shown = label if label == _short(feature) else f'{label} | {_short(feature)}'
        rows.append((feature, label, '' if taxon is None else str(taxon), shown))
    return pd.DataFrame(rows, columns=['feature', 'label', 'taxonomy', 'plot_label']
                        ).set_index('feature')


def check_taxonomy(taxonomy: pd.Series, table: biom.Table) -> None:
    """A taxonomy that names none of the table's features belongs to another
    table (or other feature ids): every label would silently fall back to
    the sequence."""
    if taxonomy is None:
        return
    features = [str(f) for f in table.ids(axis='observation')]
    if not set(features) & set(map(str, taxonomy.index)):
        raise AAMInputError(
            f'The taxonomy names none of the {len(features)} features of the table '
            f'(taxonomy e.g. {", ".join(map(str, taxonomy.index[:3]))}; table e.g. '
            f'{", ".join(_short(f) for f in features[:3])}). Pass the '
            'FeatureData[Taxonomy] classified from this table\'s sequences, with '
            'the same feature ids, or leave out the taxonomy.')


def sample_groups(samples: list, column: qiime2.CategoricalMetadataColumn = None
                  ) -> pd.Series:
    """The group of each sample (one 'all samples' group without a column);
    samples of the table that the metadata lacks are an error."""
    if column is None:
        return pd.Series('all samples', index=samples)
    values = column.to_series()
    missing = [s for s in samples if s not in values.index]
    if missing:
        raise AAMInputError(
            f'{len(missing)} of the {len(samples)} samples of the table are not '
            f'in the metadata of the group column {column.name!r} (e.g. '
            f'{", ".join(missing[:5])}); pass metadata that covers every '
            'sample of the table, or a table of only those samples.')
    return values.reindex(samples).astype(object).fillna('(no value)').astype(str)


def _figure_files(figure, output_dir: str, stem: str) -> str:
    return save_figure(figure, output_dir, stem, bbox_inches='tight')


def plot_top(summary: pd.DataFrame, labels: pd.DataFrame, count: int,
             output_dir: str, stem: str) -> str:
    """Horizontal bars: the top ASVs by mean attention and (a target model)
    by mean |importance|."""
    import matplotlib.pyplot as plt
    panels = [('mean_attention', 'mean pooling attention')]
    if summary['mean_abs_importance'].notna().any():
        panels.append(('mean_abs_importance', 'mean |gradient x input|'))
    height = 0.28 * min(count, len(summary)) + 1.2
    figure, axes = plt.subplots(1, len(panels), figsize=(6.0 * len(panels), height),
                                squeeze=False)
    for ax, (key, title) in zip(axes[0], panels):
        top = summary[key].sort_values(ascending=False, kind='stable').head(count)
        ax.barh(range(len(top))[::-1], top.to_numpy(), color='#4c72b0')
        ax.set_yticks(range(len(top))[::-1])
        ax.set_yticklabels(labels.loc[top.index, 'plot_label'], fontsize='small')
        ax.set_xlabel(title)
        ax.grid(alpha=0.3, axis='x')
    figure.tight_layout()
    return _figure_files(figure, output_dir, stem)


def plot_heatmap(summaries: dict, labels: pd.DataFrame, count: int,
                 output_dir: str) -> str:
    """Mean attention of the overall top ASVs (rows) in each group (columns)."""
    import matplotlib.pyplot as plt
    table = pd.DataFrame({g: s['mean_attention'] for g, s in summaries.items()}
                         ).fillna(0.0)
    top = table.mean(axis=1).sort_values(ascending=False, kind='stable').head(count)
    values = table.loc[top.index]
    figure, ax = plt.subplots(figsize=(2.0 + 0.6 * values.shape[1],
                                       0.28 * len(values) + 1.6))
    image = ax.imshow(values.to_numpy(), aspect='auto', cmap='viridis')
    ax.set_yticks(range(len(values)))
    ax.set_yticklabels(labels.loc[values.index, 'plot_label'], fontsize='small')
    ax.set_xticks(range(values.shape[1]))
    ax.set_xticklabels(values.columns, rotation=45, ha='right', fontsize='small')
    figure.colorbar(image, ax=ax, label='mean pooling attention')
    return _figure_files(figure, output_dir, 'heatmap')


def _format(value) -> str:
    if isinstance(value, (float, np.floating)):
        return '' if np.isnan(value) else f'{value:.4g}'
    return str(value)


_SHOWN = ['label', 'taxonomy', 'mean_attention', 'mean_abs_importance',
          'mean_importance', 'prevalence']


def top_table(summary: pd.DataFrame, labels: pd.DataFrame, key: str,
              count: int) -> pd.DataFrame:
    """The `count` features highest by `key`, with their labels."""
    top = summary.sort_values([key, 'prevalence'], ascending=False,
                              kind='stable').head(count)
    return labels[['label', 'taxonomy']].join(top, how='inner').loc[top.index, _SHOWN]


_HEADERS = {'mean_attention': 'mean attention',
            'mean_abs_importance': 'mean |importance|',
            'mean_importance': 'mean importance (signed)'}


def _rows(table: pd.DataFrame) -> dict:
    return {'header': ['feature id'] + [_HEADERS.get(c, c) for c in table.columns],
            'rows': [[str(i)] + [_format(v) for v in row]
                     for i, row in zip(table.index, table.itertuples(index=False))]}


def _section(index, group, samples, frame, labels, count, output_dir) -> tuple:
    """(the page section of one group, its feature summary)."""
    from aam_core.attention import group_summary
    summary = group_summary(frame, samples)
    tsv = f'features_{index}.tsv'
    labels[['label', 'taxonomy']].join(summary, how='inner').loc[summary.index].to_csv(
        os.path.join(output_dir, tsv), sep='\t')
    tables = {'attention': _rows(top_table(summary, labels, 'mean_attention', count))}
    if summary['mean_abs_importance'].notna().any():
        tables['importance'] = _rows(top_table(summary, labels,
                                               'mean_abs_importance', count))
    return ({'name': group, 'samples': len(samples), 'tsv': tsv, 'tables': tables,
             'plot': plot_top(summary, labels, count, output_dir, f'top_{index}')},
            summary)


def _attention_map(output_dir: str, model: ModelBundle, table: biom.Table,
                   sequences: pd.Series = None, taxonomy: pd.Series = None,
                   **options) -> None:
    import matplotlib
    matplotlib.use('Agg')
    from aam_core.attention import attention_frame
    check_taxonomy(taxonomy, table)
    dna = _views.sequences(sequences)
    frame = attention_frame(model, table, dna, **_views.prediction_options(options))
    samples = list(dict.fromkeys(frame['sample']))
    groups = sample_groups(samples, options.get('group_by'))
    frame['group'] = frame['sample'].map(groups)
    frame.to_csv(os.path.join(output_dir, 'attention.tsv'), sep='\t', index=False)
    taxa = None if taxonomy is None else taxonomy.astype(str)
    labels = feature_labels(frame['feature'].unique(), dna, taxa)
    count = options['top_asvs']
    sections, summaries = [], {}
    for index, (group, members) in enumerate(groups.groupby(groups, sort=True)):
        section, summaries[group] = _section(index, group, members.index, frame,
                                             labels, count, output_dir)
        sections.append(section)
    heatmap = plot_heatmap(summaries, labels, count, output_dir) \
        if len(summaries) > 1 else None
    column = options.get('group_by')
    render('attention', output_dir, {
        'title': 'Pooling attention and importance of the ASVs',
        'kind': model.kind, 'n_samples': len(samples), 'count': count,
        'group_by': None if column is None else column.name,
        'taxonomy': taxonomy is not None, 'sections': sections, 'heatmap': heatmap})


attention_map = with_options('attention_map', _attention_map)
