"""feature-importance: one row per feature, and the attribution is what it
claims to be (gradient x input of the sample encoder's ASV tokens)."""
import numpy as np
import pandas as pd
import pytest
import qiime2
import torch
from biom import Table
from qiime2.plugins import aam

from aam_core.api import build_model, prepare
from aam_core.bundle import ModelBundle
from aam_core.config import DataConfig
from aam_core.data.batching import BatchBuilder
from aam_core.errors import AAMInputError
from aam_core.model.ensemble import members_of
from aam_core.importance import (feature_importance, slot_attributions,
                                 target_output)


def quiet(message):
    pass


@pytest.fixture(scope='module')
def table_with_an_absent_feature(table):
    """The example table plus a feature that no sample holds."""
    biom_table = table.view(Table)
    counts = np.vstack([biom_table.matrix_data.toarray(),
                        np.zeros(biom_table.shape[1])])
    ids = list(biom_table.ids(axis='observation')) + ['ACGTACGTACGTACGTACGT']
    return qiime2.Artifact.import_data(
        'FeatureTable[Frequency]', Table(counts, ids, biom_table.ids()))


def test_one_row_per_feature(table_with_an_absent_feature, regressor):
    importance, = aam.methods.feature_importance(
        table=table_with_an_absent_feature, model=regressor)
    assert str(importance.type) == 'FeatureData[Importance]'
    frame = importance.view(pd.DataFrame)
    features = table_with_an_absent_feature.view(Table).ids(
        axis='observation')
    assert sorted(frame.index) == sorted(features)
    assert list(frame.columns) == ['importance']
    assert frame.loc['ACGTACGTACGTACGTACGT', 'importance'] == 0
    values = frame['importance'].to_numpy()
    assert (values >= 0).all() and (values[:-1] > 0).all()
    assert (np.diff(values) <= 0).all()  # highest first
    # the view q2-sample-classifier's heatmap reads
    assert importance.view(qiime2.Metadata).to_dataframe().shape == (11, 1)


def test_an_encoder_has_nothing_to_explain(table, encoder):
    with pytest.raises(AAMInputError, match='regressor or a classifier'):
        feature_importance(encoder.view(ModelBundle), table.view(Table),
                           log=quiet)


def test_attribution_is_gradient_times_input(table, regressor):
    """Central differences along each token's own direction give
    d f(x + t x) / dt at t=0, which is exactly gradient . x."""
    bundle = regressor.view(ModelBundle)
    data = DataConfig(**bundle.config['data'])
    prepared = prepare(table.view(Table), None, data, log=quiet)
    builder = BatchBuilder(prepared.table.counts, prepared.tokens, data)
    batch = builder.build(np.arange(4))
    # the session's regressor is an ensemble (the default); the identity
    # holds for each member, whose mean the importance action takes
    network = members_of(build_model(bundle))[0].double()
    network.requires_grad_(False)
    attribution = slot_attributions(network, batch, 'regressor')
    # the regression head computes in float32, so the step cannot be tiny;
    # central differences keep the error second order in it
    eps = 1e-2
    for sample, slot in ((0, 0), (1, 2), (3, 1)):
        outputs = []
        for factor in (1 + eps, 1 - eps):
            def scale(module, args, factor=factor):
                tokens = args[0].clone()
                tokens[sample, slot] *= factor
                return (tokens, *args[1:])
            block = network.sample_encoder.blocks[0]
            handle = block.register_forward_pre_hook(scale)
            with torch.no_grad():
                outputs.append(target_output(network(batch), 'regressor'))
            handle.remove()
        numeric = (outputs[0] - outputs[1])[sample] / (2 * eps)
        assert float(attribution[sample, slot]) == pytest.approx(
            float(numeric), rel=1e-2, abs=1e-6)
    # padding slots get nothing
    assert (attribution[~batch.asv_mask] == 0).all()
