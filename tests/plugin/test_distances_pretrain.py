"""Pretraining on any distance q2-diversity computes, and on alpha diversity,
through the Artifact API on real oral 16S data (examples/oral-age-mini).

Each distance: the distance loss falls well below its first epoch's, and the
Mantel r between the embedding distances (`embed`'s DistanceMatrix) and the
given distances is well above an untrained encoder's. Alpha diversity
(Shannon): its loss falls, and a ridge regression on the embeddings of the
held-out samples (held-out subjects) predicts it far better than the mean and
than on an untrained encoder's embeddings; an encoder pretrained so is then
fine-tuned. Measured (tiny preset, 8 epochs, seed 0): Mantel r trained /
untrained: weighted UniFrac 0.68 / 0.15, Bray-Curtis 0.49 / 0.24, Jaccard
0.64 / 0.43, Aitchison 0.39 / 0.18 (0.24 before the distances were scaled).
"""
import biom
import numpy as np
import pandas as pd
import pytest
import qiime2
import skbio
import torch
from scipy.spatial.distance import pdist, squareform
from scipy.stats import pearsonr
from skbio.diversity import alpha_diversity

from aam_core.bundle import ModelBundle
from aam_core.config import ModelConfig
from aam_core.errors import AAMInputError
from aam_core.model import AAM
from aam_core.skbio_compat import beta_diversity
from tests.conftest import REPO

pytestmark = pytest.mark.slow

EXAMPLE = REPO / 'examples' / 'oral-age-mini'
# a learning rate and no nucleotide loss: 8 tiny epochs of ~1 s each
RUN = dict(preset='tiny', epochs=8, batch_size=32, learning_rate=4e-3,
           nucleotide_weight=0.0, validation_fraction=0.0, random_state=0,
           n_threads=1)


@pytest.fixture(scope='module')
def oral():
    """The example table, its counts and its train/test split by subject."""
    table = biom.load_table(str(EXAMPLE / 'table.biom'))
    metadata = pd.read_csv(EXAMPLE / 'metadata.tsv', sep='\t', index_col=0)
    ids = [str(i) for i in table.ids()]
    counts = table.matrix_data.T.toarray().astype(int)
    return table, counts, ids, metadata.loc[ids]


def aitchison(counts: np.ndarray, ids: list) -> skbio.DistanceMatrix:
    """q2-diversity's aitchison: Euclidean distance of the clr of counts + 1."""
    logs = np.log(counts + 1.0)
    clr = logs - logs.mean(axis=1, keepdims=True)
    return skbio.DistanceMatrix(squareform(pdist(clr)), ids)


def distance(metric: str, oral) -> skbio.DistanceMatrix:
    table, counts, ids, _ = oral
    if metric == 'weighted_unifrac':
        features = list(table.ids(axis='observation'))
        tree = skbio.TreeNode.read(str(EXAMPLE / 'tree.nwk'))
        return beta_diversity(metric, counts, ids=ids, taxa=features, tree=tree)
    if metric == 'jaccard':  # presence/absence, as q2-diversity's
        return beta_diversity(metric, counts > 0, ids=ids)
    if metric == 'aitchison':
        return aitchison(counts, ids)
    return beta_diversity(metric, counts, ids=ids)


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


@pytest.mark.parametrize('metric', ['weighted_unifrac', 'braycurtis', 'jaccard',
                                    'aitchison'])
def test_pretraining_learns_any_distance(oral, metric):
    from qiime2.plugins import aam
    matrix = distance(metric, oral)
    table = qiime2.Artifact.import_data('FeatureTable[Frequency]', oral[0])
    model = aam.methods.pretrain(
        table=table, distance_matrix=qiime2.Artifact.import_data('DistanceMatrix', matrix),
        **RUN).model
    bundle = model.view(ModelBundle)
    loss = bundle.history['train_unifrac']
    trained = mantel_r(embedding_distances(model, table), matrix)
    start = mantel_r(embedding_distances(untrained(model), table), matrix)
    largest = matrix.condensed_form().max()
    print(f'{metric}: distances up to {largest:.3g}, scale '
          f'{bundle.config["training"]["distance_scale"]:.4g}; loss '
          f'{loss.iloc[0]:.4f} -> {loss.iloc[-1]:.4f}; Mantel r trained '
          f'{trained:.3f}, untrained {start:.3f}')
    assert loss.iloc[-1] < 0.5 * loss.iloc[0]
    assert trained > start + 0.1
    # distances beyond [0, 1] enter the loss divided by their largest value
    expected = largest if largest > 1 else 1.0
    assert bundle.config['training']['distance_scale'] == pytest.approx(expected, rel=1e-5)


@pytest.fixture(scope='module')
def shannon(oral):
    _, counts, ids, _ = oral
    return pd.Series(alpha_diversity('shannon', counts, ids=ids).to_numpy(),
                     index=pd.Index(ids, name='sample-id'), name='shannon_entropy')


@pytest.fixture(scope='module')
def alpha_encoder(oral, shannon):
    """An encoder pretrained on the training subjects' Bray-Curtis distances
    and Shannon entropy; (model, training table, test ids)."""
    from qiime2.plugins import aam
    table, _, ids, metadata = oral
    train_ids = [i for i in ids if metadata.loc[i, 'split'] == 'train']
    test_ids = [i for i in ids if i not in set(train_ids)]
    train_table = table.filter(train_ids, inplace=False).remove_empty(axis='observation')
    model = aam.methods.pretrain(
        table=qiime2.Artifact.import_data('FeatureTable[Frequency]', train_table),
        distance_matrix=qiime2.Artifact.import_data(
            'DistanceMatrix', distance('braycurtis', oral).filter(train_ids)),
        alpha_diversity=qiime2.Artifact.import_data(
            'SampleData[AlphaDiversity]', shannon.loc[train_ids]),
        **{**RUN, 'epochs': 16}).model
    return model, train_table, train_ids, test_ids


def ridge_error(model, table, shannon, train_ids, test_ids) -> float:
    """Mean absolute error on the test samples of a ridge regression of
    Shannon on the embeddings, fitted on the training samples."""
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
        oral, shannon, alpha_encoder):
    model, _, train_ids, test_ids = alpha_encoder
    bundle = model.view(ModelBundle)
    loss = bundle.history['train_alpha']
    assert loss.iloc[-1] < 0.75 * loss.iloc[0]
    assert bundle.config['alpha_diversity']['name'] == 'shannon_entropy'
    assert bundle.config['alpha_diversity']['std'] > 0
    whole = qiime2.Artifact.import_data('FeatureTable[Frequency]', oral[0])
    trained = ridge_error(model, whole, shannon, train_ids, test_ids)
    start = ridge_error(untrained(model), whole, shannon, train_ids, test_ids)
    mean = float(np.abs(shannon.loc[train_ids].mean() - shannon.loc[test_ids]).mean())
    print(f'Shannon on {len(test_ids)} held-out samples, MAE: pretrained embedding '
          f'{trained:.3f}, untrained {start:.3f}, training mean {mean:.3f}; '
          f'alpha loss {loss.iloc[0]:.3f} -> {loss.iloc[-1]:.3f}')
    assert trained < 0.5 * mean
    assert trained < start


def test_fine_tuning_from_an_alpha_encoder(oral, alpha_encoder):
    from qiime2.plugins import aam
    model, train_table, train_ids, test_ids = alpha_encoder
    metadata = qiime2.Metadata.load(str(EXAMPLE / 'metadata.tsv'))
    table = qiime2.Artifact.import_data('FeatureTable[Frequency]', train_table)
    regressor = aam.methods.fit_regressor(
        table=table, metadata=metadata.get_column('age'), pretrained_model=model,
        preset='tiny', epochs=2, batch_size=16, ensemble_size=1, n_threads=1).model
    config = regressor.view(ModelBundle).config
    assert config['training']['pretrained'] and 'alpha_diversity' not in config
    # the alpha head is a pretraining aid: the regressor does not carry it
    assert not any(k.startswith('alpha_head') for k in regressor.view(ModelBundle).state_dict)
    whole = qiime2.Artifact.import_data('FeatureTable[Frequency]', oral[0])
    predictions = aam.methods.predict_regression(
        model=regressor, table=whole).predictions.view(pd.Series)
    assert np.isfinite(predictions.loc[test_ids]).all()


def test_alpha_diversity_must_cover_the_table(oral, shannon):
    from qiime2.plugins import aam
    table, _, ids, _ = oral
    alpha = qiime2.Artifact.import_data('SampleData[AlphaDiversity]',
                                        shannon.drop(ids[:3]))
    with pytest.raises(AAMInputError, match=r"3 sample\(s\) of the table are not in "
                       r"the alpha diversity, e\.g\. '" + ids[0]):
        aam.methods.pretrain(
            table=qiime2.Artifact.import_data('FeatureTable[Frequency]', table),
            alpha_diversity=alpha, **RUN)
