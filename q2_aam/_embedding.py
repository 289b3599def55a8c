"""embed: sample embeddings as an ordination (for Emperor) and as distances.

The ordination is the embeddings rotated onto their principal axes: for
Euclidean distances PCoA and PCA coincide, so the axes of the PCoAResults
reproduce the DistanceMatrix exactly, the first axes carry the most variance,
and no information is lost (every axis of non-zero variance is kept).
"""
import biom
import numpy as np
import pandas as pd
import skbio
from scipy.spatial.distance import pdist, squareform

from aam_core.bundle import ModelBundle
from aam_core.errors import AAMInputError

from . import _views
from ._parameters import with_options

# skbio drops nothing; axes below this share of the largest eigenvalue are
# numerically zero (at most n_samples - 1 axes have variance after centring)
_RELATIVE_TOLERANCE = 1e-10


def embedding_ordination(embedding: pd.DataFrame) -> skbio.OrdinationResults:
    """PCA of the embeddings = PCoA of their Euclidean distances."""
    values = embedding.to_numpy(dtype=np.float64)
    centred = values - values.mean(axis=0)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    eigvals = s ** 2
    keep = eigvals > _RELATIVE_TOLERANCE * max(eigvals.max(), 1e-300)
    # keep at least three axes: Emperor plots three
    keep[:min(3, len(keep))] = True
    u, s, eigvals = u[:, keep], s[keep], eigvals[keep]
    # a fixed sign per axis, so equal inputs give equal files
    signs = np.sign(u[np.abs(u).argmax(axis=0), np.arange(u.shape[1])])
    signs[signs == 0] = 1.0
    axes = [f'PC{i + 1}' for i in range(len(s))]
    total = eigvals.sum()
    proportion = eigvals / total if total > 0 else np.zeros_like(eigvals)
    return skbio.OrdinationResults(
        short_method_name='AAM',
        long_method_name='AAM sample embeddings, principal axes',
        eigvals=pd.Series(eigvals, index=axes),
        samples=pd.DataFrame(u * s * signs, index=embedding.index,
                             columns=axes),
        proportion_explained=pd.Series(proportion, index=axes))


def embedding_distances(embedding: pd.DataFrame) -> skbio.DistanceMatrix:
    """Euclidean distances between the embeddings."""
    distances = squareform(pdist(embedding.to_numpy(dtype=np.float64),
                                 'euclidean'))
    return skbio.DistanceMatrix(distances, ids=list(embedding.index))


def _embed(table: biom.Table, model: ModelBundle, sequences: pd.Series = None,
           **options) -> (skbio.OrdinationResults, skbio.DistanceMatrix):
    from aam_core import api
    embedding = api.embed(model, table, _views.sequences(sequences),
                          **_views.prediction_options(options))
    if len(embedding) < 2:
        raise AAMInputError('embed needs at least two usable samples to '
                            'make an ordination and distances.')
    # an encoder pretrained on distances above 1 learned them divided by
    # their largest value (training.distance_scale): scaling the embeddings
    # gives the distances back in their units, and the ordination with them
    embedding = embedding.astype(np.float64) * (model.config['training'].get('distance_scale') or 1.0)
    return embedding_ordination(embedding), embedding_distances(embedding)


embed = with_options('embed', _embed)
