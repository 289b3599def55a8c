"""Pretraining on real oral 16S data: the UniFrac loss must fall well below its start."""
import biom
import numpy as np
import pandas as pd
import pytest
import skbio
import torch

from aam_core import api
from aam_core.bundle import ModelBundle
from aam_core.config import ModelConfig, TrainConfig
from aam_core.losses import unifrac_pair_loss
from aam_core.model import AAM
from aam_core.skbio_compat import beta_diversity
from tests.conftest import SHARED_DATA

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def oral_subset():
    """120 samples from many groups, with their real unweighted UniFrac."""
    table = biom.load_table(str(SHARED_DATA / "table.biom"))
    metadata = pd.read_csv(SHARED_DATA / "metadata.tsv", sep="\t", index_col=0)
    rng = np.random.default_rng(0)
    per_group = metadata.groupby("group").head(3)  # many subjects, few repeats
    ids = rng.choice(per_group.index.to_numpy(), size=120, replace=False).tolist()
    table = table.filter(ids, inplace=False).remove_empty(axis="observation")
    tree = skbio.TreeNode.read(str(SHARED_DATA / "tree.nwk"))
    counts = table.matrix_data.T.toarray().astype(int)
    features = list(table.ids(axis="observation"))
    distances = beta_diversity("unweighted_unifrac", counts, ids=list(table.ids()),
                               taxa=features, tree=tree.shear(features))
    return table, distances


def pair_loss(bundle, table, distances):
    embedding = api.embed(bundle, table, log=lambda m: None)
    block = api.distance_block(distances, list(embedding.index))
    return unifrac_pair_loss(torch.tensor(embedding.to_numpy()), torch.tensor(block)).item()


def test_unifrac_loss_falls_well_below_its_start(oral_subset):
    table, distances = oral_subset
    train = TrainConfig(epochs=30, batch_size=16, learning_rate=4e-3,
                        nucleotide_weight=0.0, validation_fraction=0.0, random_state=0)
    trained = api.pretrain(table, distances=distances, model="tiny", train=train,
                           log=lambda m: None)
    torch.manual_seed(train.random_state)
    untrained = ModelBundle(trained.config, AAM(ModelConfig.from_dict(
        trained.config["architecture"])).state_dict(), trained.history)
    start = pair_loss(untrained, table, distances)
    end = pair_loss(trained, table, distances)
    baseline = float(np.var(distances.condensed_form()))  # predict the mean distance
    print(f"UniFrac pair MSE: untrained {start:.4f}, trained {end:.4f}, "
          f"mean-distance baseline {baseline:.4f}")
    assert end < 0.2 * start
    assert end < 0.75 * baseline  # it learned structure, not just the mean
