"""embed: ordination and distance matrix, via the Artifact API and the CLI."""
import numpy as np
import pandas as pd
import pytest
import skbio
from biom import Table
from qiime2.plugins import aam
from scipy.spatial.distance import pdist, squareform

from aam_core import api
from aam_core.bundle import ModelBundle
from q2_aam._embedding import embedding_distances, embedding_ordination

from .test_q2cli import qiime


def test_ordination_reproduces_euclidean_distances():
    rng = np.random.default_rng(1)
    embedding = pd.DataFrame(rng.normal(size=(6, 4)) * [5, 3, 1, 0.1],
                             index=[f's{i}' for i in range(6)])
    ordination = embedding_ordination(embedding)
    eigvals = ordination.eigvals.to_numpy()
    assert (np.diff(eigvals) <= 1e-9).all()
    assert ordination.proportion_explained.sum() == pytest.approx(1.0)
    coordinates = ordination.samples.to_numpy()
    np.testing.assert_allclose(squareform(pdist(coordinates)),
                               embedding_distances(embedding).data,
                               atol=1e-9)


@pytest.fixture(scope='module')
def embedded(table, encoder):
    return aam.methods.embed(table=table, model=encoder)


def test_embed_gives_an_ordination_and_distances(table, encoder, embedded):
    assert str(embedded.embeddings.type) == 'PCoAResults'
    assert str(embedded.distance_matrix.type) == 'DistanceMatrix'
    ordination = embedded.embeddings.view(skbio.OrdinationResults)
    distances = embedded.distance_matrix.view(skbio.DistanceMatrix)
    sample_ids = list(table.view(Table).ids())
    assert list(ordination.samples.index) == sample_ids
    assert list(distances.ids) == sample_ids
    # the distances are those between the raw embeddings of aam_core
    raw = api.embed(encoder.view(ModelBundle), table.view(Table),
                    log=lambda message: None)
    np.testing.assert_allclose(distances.data,
                               squareform(pdist(raw.to_numpy())), atol=1e-5)
    np.testing.assert_allclose(
        squareform(pdist(ordination.samples.to_numpy())), distances.data,
        atol=1e-5)


def test_distances_come_back_in_the_units_pretraining_scaled_away(table, encoder,
                                                                   embedded):
    # an encoder pretrained on distances up to 10 learned them divided by 10
    import qiime2
    bundle = encoder.view(ModelBundle)
    bundle.config['training']['distance_scale'] = 10.0
    result = aam.methods.embed(table=table, model=qiime2.Artifact.import_data(
        'AAMModel[AAMEncoder]', bundle))
    scaled = result.distance_matrix.view(skbio.DistanceMatrix)
    plain = embedded.distance_matrix.view(skbio.DistanceMatrix)
    np.testing.assert_allclose(scaled.data, 10 * plain.data, rtol=1e-6)
    # the ordination is in the same units: its axes give the distances back
    axes = result.embeddings.view(skbio.OrdinationResults).samples.to_numpy()
    np.testing.assert_allclose(squareform(pdist(axes)), scaled.data, atol=1e-4)


def test_embed_takes_a_regressor(table, regressor):
    embeddings, _ = aam.methods.embed(table=table, model=regressor)
    assert len(embeddings.view(skbio.OrdinationResults).samples) == 16


def test_embed_then_emperor_plot_through_the_cli(tmp_path, table, encoder,
                                                 metadata):
    table.save(str(tmp_path / 'table.qza'))
    encoder.save(str(tmp_path / 'encoder.qza'))
    metadata.save(str(tmp_path / 'metadata.tsv'))
    done = qiime('aam', 'embed', '--i-table', tmp_path / 'table.qza',
                 '--i-model', tmp_path / 'encoder.qza',
                 '--o-embeddings', tmp_path / 'embeddings.qza',
                 '--o-distance-matrix', tmp_path / 'distances.qza')
    assert done.returncode == 0, done.stderr
    done = qiime('emperor', 'plot', '--i-pcoa', tmp_path / 'embeddings.qza',
                 '--m-metadata-file', tmp_path / 'metadata.tsv',
                 '--o-visualization', tmp_path / 'emperor.qzv')
    assert done.returncode == 0, done.stderr
    assert (tmp_path / 'emperor.qzv').stat().st_size > 0
