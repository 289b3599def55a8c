"""Pretraining on any distance q2-diversity computes, and on alpha diversity,
through the Artifact API on real oral 16S data (examples/oral-age-mini).

Each distance: the distance loss falls well below its first epoch's, and the
Mantel r between the embedding distances (`embed`'s DistanceMatrix) and the
given distances is well above an untrained encoder's. Alpha diversity
(Shannon): its loss falls, and a ridge regression on the embeddings of the
held-out samples (held-out subjects) predicts it far better than the mean and
than on an untrained encoder's embeddings; an encoder pretrained so is then
fine-tuned. Measured (tiny preset, 8 epochs, seed 0; pretrained on the 139
training samples, Mantel r on the 52 held-out ones), trained / untrained:
weighted UniFrac 0.54 / 0.17, Bray-Curtis 0.40 / 0.23, Jaccard 0.56 / 0.43,
Aitchison 0.29 / 0.10 (0.21 unscaled, as before the distances were scaled).
"""
import re

import biom
import numpy as np
import pandas as pd
import pytest
import qiime2
import skbio
import torch
from scipy.stats import pearsonr

from aam_core.bundle import ModelBundle
from aam_core.config import ModelConfig
from aam_core.errors import AAMInputError
from aam_core.model import AAM
from tests.conftest import REPO

pytestmark = pytest.mark.slow

EXAMPLE = REPO / 'examples' / 'oral-age-mini'
# a learning rate and no nucleotide loss: 8 tiny epochs of ~1 s each
RUN = dict(preset='tiny', epochs=8, batch_size=32, learning_rate=4e-3,
           nucleotide_weight=0.0, validation_fraction=0.0, random_state=0,
           n_threads=1)


@pytest.fixture(scope='module')
def oral():
    """The example table (as an Artifact too), its phylogeny and metadata."""
    table = biom.load_table(str(EXAMPLE / 'table.biom'))
    metadata = pd.read_csv(EXAMPLE / 'metadata.tsv', sep='\t', index_col=0)
    ids = [str(i) for i in table.ids()]
    return (table, qiime2.Artifact.import_data('FeatureTable[Frequency]', table),
            ids, metadata.loc[ids])


def distance(metric: str, table: qiime2.Artifact) -> qiime2.Artifact:
    """The distance matrix as q2-diversity computes it (through
    q2-diversity-lib, the plugin its `beta` and `core-metrics` call)."""
    from qiime2.plugins import diversity_lib
    if metric == 'weighted_unifrac':
        tree = qiime2.Artifact.import_data('Phylogeny[Rooted]', str(EXAMPLE / 'tree.nwk'))
        return diversity_lib.actions.weighted_unifrac(
            table=table, phylogeny=tree, threads=1).distance_matrix
    if metric == 'aitchison':  # clr of counts + 1, then Euclidean
        return diversity_lib.actions.beta_passthrough(
            table=table, metric='aitchison', n_jobs=1).distance_matrix
    return getattr(diversity_lib.actions, metric)(table=table, n_jobs=1).distance_matrix


def untrained(model: qiime2.Artifact) -> qiime2.Artifact:
    """The same encoder with the weights it started from (seed 0)."""
    bundle = model.view(ModelBundle)
    torch.manual_seed(0)
    network = AAM(ModelConfig.from_dict(bundle.config['architecture']),
                  alpha_head=bundle.config.get('alpha_diversity') is not None)
    return qiime2.Artifact.import_data(
        'AAMModel[AAMEncoder]', ModelBundle(bundle.config, network.state_dict(),
                                            bundle.history))


def embedding_distances(model, table) -> skbio.DistanceMatrix:
    from qiime2.plugins import aam
    return aam.methods.embed(model=model, table=table).distance_matrix.view(
        skbio.DistanceMatrix)


def mantel_r(a: skbio.DistanceMatrix, b: skbio.DistanceMatrix) -> float:
    return pearsonr(a.filter(b.ids).condensed_form(), b.condensed_form())[0]


@pytest.mark.parametrize('metric', ['weighted_unifrac', 'bray_curtis', 'jaccard',
                                    'aitchison'])
def test_pretraining_learns_any_distance(oral, split, metric):
    """Pretrained on the training subjects; the Mantel r is measured on the
    held-out subjects' samples, which it never saw."""
    from qiime2.plugins import aam
    train_table, train_ids, test_ids = split
    distances = distance(metric, oral[1])  # all samples: the table's are used
    matrix = distances.view(skbio.DistanceMatrix)
    model = aam.methods.pretrain(table=train_table, distance_matrix=distances,
                                 **RUN).model
    bundle = model.view(ModelBundle)
    loss = bundle.history['train_unifrac']
    held_out = matrix.filter(test_ids)
    trained = mantel_r(embedding_distances(model, oral[1]), held_out)
    start = mantel_r(embedding_distances(untrained(model), oral[1]), held_out)
    largest = matrix.filter(train_ids).condensed_form().max()
    print(f'{metric}: distances up to {largest:.3g}, scale '
          f'{bundle.config["training"]["distance_scale"]:.4g}; loss '
          f'{loss.iloc[0]:.4f} -> {loss.iloc[-1]:.4f}; Mantel r on held-out samples: '
          f'trained {trained:.3f}, untrained {start:.3f}')
    assert loss.iloc[-1] < 0.5 * loss.iloc[0]
    # held-out structure learned: clearly above chance and above the same
    # encoder untrained (Aitchison is the hardest: 0.19-0.29 across inits)
    assert trained > 0.15 and trained > start + 0.08
    # distances beyond [0, 1] enter the loss divided by their largest value
    expected = largest if largest > 1 else 1.0
    assert bundle.config['training']['distance_scale'] == pytest.approx(expected, rel=1e-5)


@pytest.fixture(scope='module')
def shannon(oral):
    """Shannon entropy as q2-diversity's `alpha` computes it: an Artifact."""
    from qiime2.plugins import diversity_lib
    return diversity_lib.actions.shannon_entropy(table=oral[1]).vector


@pytest.fixture(scope='module')
def split(oral):
    """(the training subjects' table as an Artifact, training ids, test ids),
    by the metadata's `split` (whole pseudo-subjects on each side)."""
    table, _, ids, metadata = oral
    train_ids = [i for i in ids if metadata.loc[i, 'split'] == 'train']
    test_ids = [i for i in ids if i not in set(train_ids)]
    train_table = table.filter(train_ids, inplace=False).remove_empty(axis='observation')
    return (qiime2.Artifact.import_data('FeatureTable[Frequency]', train_table),
            train_ids, test_ids)


@pytest.fixture(scope='module')
def alpha_encoder(oral, split, shannon):
    """An encoder pretrained on the training subjects' Bray-Curtis distances
    and Shannon entropy (the inputs hold every sample: the table's are used)."""
    from qiime2.plugins import aam
    return aam.methods.pretrain(
        table=split[0], distance_matrix=distance('bray_curtis', oral[1]),
        alpha_diversity=shannon, **{**RUN, 'epochs': 16}).model


def ridge_error(model, table, shannon, train_ids, test_ids) -> float:
    """Mean absolute error on the test samples of a ridge regression of
    Shannon (a Series) on the embeddings, fitted on the training samples."""
    from qiime2.plugins import aam
    from sklearn.linear_model import RidgeCV
    ordination = aam.methods.embed(model=model, table=table).embeddings.view(
        skbio.OrdinationResults)
    embedding = ordination.samples
    ridge = RidgeCV(alphas=np.logspace(-3, 3, 13)).fit(
        embedding.loc[train_ids], shannon.loc[train_ids])
    return float(np.abs(ridge.predict(embedding.loc[test_ids])
                        - shannon.loc[test_ids]).mean())


def test_alpha_diversity_is_learned_and_predicted_on_held_out_samples(
        oral, split, shannon, alpha_encoder):
    model, (_, train_ids, test_ids) = alpha_encoder, split
    bundle = model.view(ModelBundle)
    loss = bundle.history['train_alpha']
    assert loss.iloc[-1] < 0.75 * loss.iloc[0]
    assert bundle.config['alpha_diversity']['name'] == 'shannon_entropy'
    assert bundle.config['alpha_diversity']['std'] > 0
    whole, shannon = oral[1], shannon.view(pd.Series)
    trained = ridge_error(model, whole, shannon, train_ids, test_ids)
    start = ridge_error(untrained(model), whole, shannon, train_ids, test_ids)
    mean = float(np.abs(shannon.loc[train_ids].mean() - shannon.loc[test_ids]).mean())
    print(f'Shannon on {len(test_ids)} held-out samples, MAE: pretrained embedding '
          f'{trained:.3f}, untrained {start:.3f}, training mean {mean:.3f}; '
          f'alpha loss {loss.iloc[0]:.3f} -> {loss.iloc[-1]:.3f}')
    assert trained < 0.5 * mean
    assert trained < start


def test_fine_tuning_from_an_alpha_encoder(oral, split, alpha_encoder):
    from qiime2.plugins import aam
    table, _, test_ids = split
    metadata = qiime2.Metadata.load(str(EXAMPLE / 'metadata.tsv'))
    regressor = aam.methods.fit_regressor(
        table=table, metadata=metadata.get_column('age'), pretrained_model=alpha_encoder,
        preset='tiny', epochs=2, batch_size=16, ensemble_size=1, n_threads=1).model
    config = regressor.view(ModelBundle).config
    assert config['training']['pretrained'] and 'alpha_diversity' not in config
    # the alpha head is a pretraining aid: the regressor does not carry it
    assert not any(k.startswith('alpha_head') for k in regressor.view(ModelBundle).state_dict)
    predictions = aam.methods.predict_regression(
        model=regressor, table=oral[1]).predictions.view(pd.Series)
    assert np.isfinite(predictions.loc[test_ids]).all()


def test_alpha_diversity_must_cover_the_table(oral, shannon):
    from qiime2.plugins import aam
    _, table, ids, _ = oral
    alpha = qiime2.Artifact.import_data('SampleData[AlphaDiversity]',
                                        shannon.view(pd.Series).drop(ids[:3]))
    with pytest.raises(AAMInputError, match=r"3 sample\(s\) of the table are not in "
                       r"the alpha diversity, e\.g\. '" + re.escape(ids[0])):
        aam.methods.pretrain(table=table, alpha_diversity=alpha, **RUN)
