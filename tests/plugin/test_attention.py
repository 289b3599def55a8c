"""attention-map on the oral-age example: pooling weights sum to 1 per
sample, the page's top-ASV tables match a hand computation from aam_core's
frame, taxonomy labels (never a bare full-length sequence), one section per
metadata group, and clear errors for bad inputs."""
import hashlib
import re

import biom
import pandas as pd
import pytest
import qiime2
from qiime2.plugins import aam

from aam_core.attention import attention_frame
from aam_core.bundle import ModelBundle
from aam_core.errors import AAMInputError
from aam_core.importance import feature_importance
from q2_aam._attention import feature_labels, taxonomy_label
from tests.conftest import REPO

EXAMPLE = REPO / 'examples' / 'oral-age-mini'
GENERA = ['Streptococcus', 'Veillonella', 'Prevotella', 'Neisseria', 'Rothia']


def quiet(message):
    pass


@pytest.fixture(scope='module')
def oral():
    """(table, metadata, a tiny regressor of age fitted for one epoch)."""
    table = qiime2.Artifact.import_data(
        'FeatureTable[Frequency]', biom.load_table(str(EXAMPLE / 'table.biom')))
    frame = pd.read_csv(EXAMPLE / 'metadata.tsv', sep='\t', index_col=0,
                        dtype={'study': str})
    frame.index.name = 'sample-id'
    metadata = qiime2.Metadata(frame)
    model, = aam.methods.fit_regressor(
        table=table, metadata=metadata.get_column('age'), preset='tiny',
        epochs=1, batch_size=32, random_state=0)
    return table, metadata, model


@pytest.fixture(scope='module')
def frame(oral):
    table, _, model = oral
    return attention_frame(model.view(ModelBundle), table.view(biom.Table), log=quiet)


@pytest.fixture(scope='module')
def taxonomy(frame):
    """A Greengenes-style taxonomy of the 10 most prevalent features."""
    prevalent = frame['feature'].value_counts().index[:10]
    taxa = pd.Series([f'k__Bacteria; p__Firmicutes; g__{GENERA[i % 5]}; s__'
                      for i in range(10)],
                     index=pd.Index(prevalent, name='Feature ID'), name='Taxon')
    return qiime2.Artifact.import_data('FeatureData[Taxonomy]', taxa)


def render(tmp_path, oral, **inputs):
    table, _, model = oral
    visualization, = aam.visualizers.attention_map(
        model=inputs.pop('model', model), table=inputs.pop('table', table), **inputs)
    visualization.export_data(str(tmp_path))
    return (tmp_path / 'index.html').read_text()


def html_table(html: str, table_id: str) -> list:
    body = re.search(f'id="{table_id}">(.*?)</table>', html, re.S).group(1)
    return [re.findall(r'<td>(.*?)</td>', row, re.S)
            for row in re.findall(r'<tr>(.*?)</tr>', body, re.S) if '<td>' in row]


def test_attention_sums_to_one_and_importance_is_feature_importance(oral, frame):
    table, _, model = oral
    sums = frame.groupby('sample')['attention'].sum()
    assert len(sums) == 191
    assert sums.to_numpy() == pytest.approx(1.0, abs=1e-5)
    assert (frame['attention'] > 0).all()
    # the mean |importance| over all samples is feature-importance's
    expected = feature_importance(model.view(ModelBundle), table.view(biom.Table),
                                  log=quiet)['importance']
    mean_abs = frame.assign(a=frame['importance'].abs()).groupby('feature')['a'].sum() / 191
    assert mean_abs.to_numpy() == pytest.approx(expected[mean_abs.index].to_numpy(),
                                                rel=1e-4, abs=1e-9)


def test_top_tables_match_a_hand_computation(oral, frame, tmp_path):
    html = render(tmp_path, oral, top_asvs=7)
    # by hand: plain Python sums over the (sample, ASV) rows, / 191 samples
    attention, importance, holders = {}, {}, {}
    for row in frame.itertuples():
        attention[row.feature] = attention.get(row.feature, 0.0) + row.attention
        importance[row.feature] = importance.get(row.feature, 0.0) + abs(row.importance)
        holders[row.feature] = holders.get(row.feature, 0) + 1
    by_attention = sorted(attention, key=lambda f: -attention[f])[:7]
    by_importance = sorted(importance, key=lambda f: -importance[f])[:7]
    rows = html_table(html, 'top-attention-0')
    assert [r[0] for r in rows] == by_attention
    for row in rows:  # feature, label, taxonomy, attention, |imp|, imp, prevalence
        assert float(row[3]) == pytest.approx(attention[row[0]] / 191, rel=1e-3)
        assert float(row[4]) == pytest.approx(importance[row[0]] / 191, rel=1e-3)
        assert float(row[6]) == pytest.approx(holders[row[0]] / 191, rel=1e-3)
    assert [r[0] for r in html_table(html, 'top-importance-0')] == by_importance
    assert html.count('class="row aam-group"') == 1 and 'all samples' in html
    summary = pd.read_csv(tmp_path / 'features_0.tsv', sep='\t', index_col=0)
    assert summary['mean_attention'].sum() == pytest.approx(1.0, abs=1e-5)
    for name in ('top_0.png', 'top_0.svg', 'attention.tsv'):
        assert (tmp_path / name).stat().st_size > 0


def test_taxonomy_labels_and_never_a_bare_sequence(oral, taxonomy, tmp_path):
    html = render(tmp_path, oral, taxonomy=taxonomy, top_asvs=15)
    taxa = taxonomy.view(pd.Series)
    rows = html_table(html, 'top-attention-0') + html_table(html, 'top-importance-0')
    assert any(row[0] in taxa.index for row in rows)
    for feature, label, full in (row[:3] for row in rows):
        assert len(label) < 30 and label != feature
        if feature in taxa.index:
            assert label in GENERA and full == taxa[feature]
        else:
            assert label == feature[:12] + '...' and full == ''


def test_label_rules():
    assert taxonomy_label('k__Bacteria; p__Firmicutes; g__Streptococcus; s__') == \
        'Streptococcus'
    assert taxonomy_label('d__Bacteria; g__Streptococcus; s__mutans') == \
        'Streptococcus mutans'
    assert taxonomy_label('D_0__Bacteria;D_5__Rothia') == 'Rothia'
    assert taxonomy_label('Unassigned') == 'Unassigned'
    sequence = 'TACG' * 25
    md5 = hashlib.md5(sequence.encode()).hexdigest()
    labels = feature_labels([sequence, md5], {md5: sequence})
    assert list(labels['label']) == ['TACGTACGTACG...'] * 2
    assert labels.loc[md5, 'plot_label'] == f'TACGTACGTACG... | {md5[:12]}...'
    assert all(len(label) < 40 for label in labels['plot_label'])


def test_one_section_per_group(oral, tmp_path):
    _, metadata, _ = oral
    studies = sorted(metadata.to_dataframe()['study'].unique())
    html = render(tmp_path, oral, group_by=metadata.get_column('study'), top_asvs=5)
    assert html.count('class="row aam-group"') == len(studies) > 1
    headings = re.findall(r'<h2>(\S+) \((\d+) samples\)</h2>', html)
    counts = metadata.to_dataframe()['study'].value_counts()
    assert [h for h, _ in headings] == studies
    assert all(int(n) == counts[h] for h, n in headings)
    assert (tmp_path / 'heatmap.png').stat().st_size > 0
    tidy = pd.read_csv(tmp_path / 'attention.tsv', sep='\t', dtype={'group': str})
    assert list(tidy.columns) == ['sample', 'feature', 'attention', 'importance', 'group']


def test_an_encoder_shows_attention_only(table, encoder, tmp_path):
    visualization, = aam.visualizers.attention_map(model=encoder, table=table)
    visualization.export_data(str(tmp_path))
    html = (tmp_path / 'index.html').read_text()
    assert 'id="top-attention-0"' in html and 'top-importance-0' not in html


def test_bad_inputs_are_clear_errors(oral, tmp_path):
    table, metadata, _ = oral
    frame = metadata.to_dataframe().iloc[10:]
    with pytest.raises(AAMInputError, match=r"10 of the 191 samples of the table are "
                       r"not in the metadata of the group column 'study'"):
        render(tmp_path, oral, group_by=qiime2.Metadata(frame).get_column('study'))
    # md5 feature ids without their sequences: nothing the model can read
    counts = table.view(biom.Table)
    hashed = biom.Table(counts.matrix_data, [
        hashlib.md5(f.encode()).hexdigest() for f in counts.ids('observation')],
        counts.ids())
    with pytest.raises(AAMInputError, match='sequence'):
        render(tmp_path, oral, table=qiime2.Artifact.import_data(
            'FeatureTable[Frequency]', hashed))
