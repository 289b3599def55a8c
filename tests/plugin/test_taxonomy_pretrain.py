"""Pretraining on a taxonomy through the Artifact API, on real oral 16S data
(examples/oral-age-mini), with a tree-derived stand-in taxonomy (clades of
the real phylogeny capped at several sizes: benchmarks/tree_taxonomy.py; no
classifier's taxonomy of these ASVs exists offline).

The taxonomy is given for 70% of the ASVs; the rank heads of the pretrained
encoder then classify the other 30%, which no loss ever labelled, better
than the majority class of the labelled ones. An encoder pretrained so is
fine-tuned and predicts; its summary names the taxonomy.
"""
import numpy as np
import pandas as pd
import pytest
import qiime2
import torch

from aam_core.bundle import ModelBundle
from aam_core.data.tokens import tokenize
from aam_core.errors import AAMInputError
from aam_core.model.build import build_model
from aam_core.train.cache import cache_asv_vectors
from benchmarks.tree_taxonomy import tree_taxonomy
from tests.conftest import REPO

pytestmark = pytest.mark.slow

EXAMPLE = REPO / 'examples' / 'oral-age-mini'
RUN = dict(preset='tiny', epochs=12, batch_size=16, learning_rate=4e-3,
           nucleotide_weight=0.0, validation_fraction=0.0, random_state=0,
           n_threads=1)


@pytest.fixture(scope='module')
def oral():
    """The training subjects' table (an Artifact), its ASVs, the stand-in
    taxonomy of every ASV, and the ASVs whose taxonomy is held out."""
    import biom
    table = biom.load_table(str(EXAMPLE / 'table.biom'))
    metadata = pd.read_csv(EXAMPLE / 'metadata.tsv', sep='\t', index_col=0)
    train_ids = [i for i in table.ids() if metadata.loc[i, 'split'] == 'train']
    table = table.filter(train_ids, inplace=False).remove_empty(axis='observation')
    asvs = [str(i) for i in table.ids(axis='observation')]
    taxonomy = tree_taxonomy(EXAMPLE / 'tree.nwk').loc[asvs]
    held_out = set(np.random.default_rng(0).choice(asvs, size=len(asvs) * 3 // 10,
                                                   replace=False))
    return (qiime2.Artifact.import_data('FeatureTable[Frequency]', table), asvs,
            taxonomy, held_out)


@pytest.fixture(scope='module')
def taxonomy_encoder(oral):
    from qiime2.plugins import aam
    table, asvs, taxonomy, held_out = oral
    known = taxonomy.loc[[a for a in asvs if a not in held_out]]
    artifact = qiime2.Artifact.import_data('FeatureData[Taxonomy]', known)
    return aam.methods.pretrain(table=table, taxonomy=artifact, **RUN).model


def head_predictions(bundle, sequences) -> list:
    """Each rank head's predicted class index of each sequence."""
    network = build_model(bundle)
    tokens = tokenize(sequences, max_length=bundle.config['data']['max_length'])
    vectors = cache_asv_vectors(network, tokens, torch.device('cpu'))
    with torch.no_grad():
        return [head(vectors).argmax(-1).numpy() for head in network.taxonomy_heads]


def test_rank_heads_classify_held_out_asvs_better_than_the_majority(
        oral, taxonomy_encoder):
    from aam_core.data.taxonomy import parse_lineage
    _, asvs, taxonomy, held_out = oral
    bundle = taxonomy_encoder.view(ModelBundle)
    loss = bundle.history['train_taxonomy']
    record = bundle.config['taxonomy']
    assert record['asvs'] == len(asvs) - len(held_out)
    assert loss.iloc[-1] < 0.8 * loss.iloc[0]
    unseen = sorted(held_out)
    predicted = head_predictions(bundle, unseen)
    truth = [parse_lineage(t) for t in taxonomy.loc[unseen, 'Taxon']]
    known = [parse_lineage(t) for a, t in taxonomy['Taxon'].items() if a not in held_out]
    wins = []
    for rank, guesses in zip(record['ranks'], predicted):
        classes = record['classes'][rank]
        labelled = [i for i, lineage in enumerate(truth) if rank in lineage]
        right = [truth[i][rank] == classes[guesses[i]] for i in labelled]
        majority = pd.Series([k[rank] for k in known if rank in k]).mode()[0]
        baseline = [truth[i][rank] == majority for i in labelled]
        print(f'{rank}: {len(classes)} classes, {len(labelled)} held-out ASVs: accuracy '
              f'{np.mean(right):.3f}, majority class {np.mean(baseline):.3f}')
        wins.append(np.mean(right) > np.mean(baseline) + 0.05)
    print(f'taxonomy loss {loss.iloc[0]:.3f} -> {loss.iloc[-1]:.3f}')
    assert all(wins)


def test_fine_tuning_from_a_taxonomy_encoder(oral, taxonomy_encoder, tmp_path):
    from qiime2.plugins import aam
    from q2_aam._visualization import summarize
    table = oral[0]
    metadata = qiime2.Metadata.load(str(EXAMPLE / 'metadata.tsv'))
    regressor = aam.methods.fit_regressor(
        table=table, metadata=metadata.get_column('age'),
        pretrained_model=taxonomy_encoder, preset='tiny', epochs=2, batch_size=16,
        ensemble_size=1, n_threads=1).model
    bundle = regressor.view(ModelBundle)
    assert bundle.config['training']['pretrained'] and 'taxonomy' not in bundle.config
    # the rank heads are a pretraining aid: the regressor does not carry them
    assert not any(k.startswith('taxonomy_heads') for k in bundle.state_dict)
    predictions = aam.methods.predict_regression(
        model=regressor, table=table).predictions.view(pd.Series)
    assert np.isfinite(predictions).all()
    summarize(str(tmp_path), taxonomy_encoder.view(ModelBundle))
    html = (tmp_path / 'index.html').read_text()
    assert 'taxonomy (pretraining)' in html and '<td>taxonomy_weight</td>' in html


def test_a_taxonomy_of_other_features_is_refused(oral):
    from qiime2.plugins import aam
    table, _, taxonomy, _ = oral
    other = taxonomy.set_axis(pd.Index([f'feature{i}' for i in range(len(taxonomy))],
                                       name='Feature ID'))
    artifact = qiime2.Artifact.import_data('FeatureData[Taxonomy]', other)
    with pytest.raises(AAMInputError, match="None of the table's .* ASVs is in the "
                       r"taxonomy \(taxonomy\) \(its ids: 'feature0'"):
        aam.methods.pretrain(table=table, taxonomy=artifact, **RUN)
