"""The propagation readout: labels spread over the neighbour graph of a
frozen encoder's embeddings of every sample, labelled or not."""
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import skbio

from aam_core import api, propagation
from aam_core.bundle import ModelBundle
from aam_core.config import FIT_TRAIN_DEFAULTS, TrainConfig
from aam_core.data.table import CountTable
from aam_core.errors import AAMInputError
from tests.conftest import random_dna

QUIET = dict(log=lambda message: None)
PROPAGATION = replace(FIT_TRAIN_DEFAULTS, readout="propagation", random_state=3)


@pytest.fixture(scope="module")
def studies():
    """A tiny encoder and 120 samples of 4 'studies', each with ASVs of its
    own and a target level of its own; groups of 2 samples."""
    rng = np.random.default_rng(5)
    features = random_dna(rng, 60, 30)
    study = np.repeat(np.arange(4), 30)
    counts = np.zeros((120, 60))
    for i in range(120):
        counts[i, rng.choice(15, 6, replace=False) + 15 * study[i]] = \
            rng.integers(2, 40, size=6)
    ids = [f"s{i}" for i in range(120)]
    table = CountTable.from_dense(counts, ids, features)
    # distances that tell the studies apart, as UniFrac tells studies apart
    apart = (study[:, None] != study[None, :]).astype(float)
    distances = skbio.DistanceMatrix(0.8 * apart + 0.1 * (1 - np.eye(120)), ids)
    encoder = api.pretrain(table, distances=distances, model="tiny",
                           train=TrainConfig(epochs=8, batch_size=16), **QUIET)
    target = pd.Series(20 + 10 * study + rng.normal(0, 1, 120), index=ids, name="age")
    groups = pd.Series([f"g{i // 2}" for i in range(120)], index=ids)
    return table, encoder, target, groups


def split(table):
    """(held-out ids, labelled ids: 2 per study, the fit's table: every
    sample but the held-out ones, most of them unlabelled)."""
    ids = table.sample_ids
    test = [i for n, i in enumerate(ids) if n % 5 == 0]
    labelled = [i for n, i in enumerate(ids) if n % 30 in (1, 2, 3, 4)]
    return test, labelled, table.select_samples([i for i in ids if i not in test])


def test_the_labels_reach_held_out_samples_through_the_unlabelled_ones(studies):
    table, encoder, target, groups = studies
    test, labelled, fit_table = split(table)
    messages = []
    model = api.fit_regressor(fit_table, target[labelled], groups=groups[labelled],
                              pretrained=encoder, train=PROPAGATION, log=messages.append)
    assert any("take part unlabelled" in m for m in messages)
    assert any(f"{len(fit_table.sample_ids) - len(labelled)} unlabelled samples" in m
               for m in messages)
    assert "neighbours" in model.history and len(model.history) == 1  # one head
    held_out = table.select_samples(test)
    error = np.abs(api.predict(model, held_out, **QUIET) - target[test]).mean()
    baseline = np.abs(target[labelled].mean() - target[test]).mean()
    assert error < 0.7 * baseline, (error, baseline)
    interval = api.predict_interval(model, held_out, **QUIET)
    assert (interval["lower"] <= interval["prediction"]).all()
    assert (interval["prediction"] <= interval["upper"]).all()


def test_the_head_holds_the_spread_labels_and_survives_saving(studies, tmp_path):
    table, encoder, target, groups = studies
    test, labelled, fit_table = split(table)
    train = replace(PROPAGATION, loss="mse")
    model = api.fit_regressor(fit_table, target[labelled], groups=groups[labelled],
                              pretrained=encoder, train=train, **QUIET)
    assert model.config["architecture"]["neighbour_nodes"] == len(fit_table.sample_ids)
    k = int(model.history["neighbours"].iloc[0])
    x = api.embed(encoder, fit_table, **QUIET).to_numpy()
    mean, std = target[labelled].mean(), target[labelled].std(ddof=0)
    rows = pd.Index(fit_table.sample_ids).get_indexer(labelled)
    values = propagation.spread(propagation.graph(x, k), rows,
                                ((target[labelled] - mean) / std).to_numpy())
    held_out = table.select_samples(test)
    x_test = api.embed(encoder, held_out, **QUIET).to_numpy()
    expected = propagation.predict(x, values, x_test, k) * std + mean
    model.save(tmp_path / "m")
    predicted = api.predict(ModelBundle.load(tmp_path / "m"), held_out, **QUIET)
    assert np.allclose(predicted.to_numpy(), expected, atol=1e-3 * std)
    # a labelled sample keeps its own label
    again = api.predict(model, table.select_samples(labelled[:3]), **QUIET)
    assert np.allclose(again.to_numpy(), target[labelled[:3]].to_numpy(), atol=1e-2 * std)


def test_spreading_fills_a_chain_from_its_labelled_ends():
    x = np.arange(10, dtype=float)[:, None]
    values = propagation.spread(propagation.graph(x, 2), np.array([0, 9]),
                                np.array([0.0, 9.0]))
    assert values[0] == 0 and values[9] == 9
    assert np.all(np.diff(values) > 0)  # monotone between the ends
    assert abs(values[5] - 5) < 1.5


def test_the_number_of_neighbours_is_chosen_by_grouped_folds():
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=10, size=(4, 3))
    x = np.concatenate([c + rng.normal(size=(50, 3)) for c in centres])
    z = np.repeat([0.0, 1.0, 2.0, 3.0], 50) + rng.normal(scale=0.3, size=200)
    labelled = np.arange(0, 200, 4)
    groups = np.array([f"g{i // 2}" for i in range(len(labelled))])
    k, residuals, w = propagation.choose_k(x, labelled, z[labelled], groups, seed=0)
    assert k in propagation.NEIGHBOURS
    assert len(residuals) == len(labelled) and np.abs(residuals).mean() < 0.6
    # the graph at the chosen k, as graph() builds it
    assert abs(w - propagation.graph(x, k)).max() < 1e-12


def test_a_table_of_labelled_samples_only_is_a_neighbour_regression(studies):
    table, encoder, target, groups = studies
    messages = []
    api.fit_regressor(table, target, groups=groups, pretrained=encoder,
                      train=PROPAGATION, log=messages.append)
    assert any("no sample without a target" in m for m in messages)


@pytest.mark.parametrize("change, message", [
    (dict(pretrained=False), "readout='propagation' reads a pretrained encoder's"),
    (dict(loss="quantile"), "predicts one value per sample, not quantiles"),
    (dict(loss="mae"), "set loss to 'mse' or 'huber', not 'mae'"),
    (dict(epochs=5), "epochs=5 would be ignored"),
    (dict(head_options={"hidden_layers": 2}), "has no layers"),
    (dict(ensemble_size=3), "fits one head on every labelled sample, its intervals "
                            "calibrated by its own grouped cross-validation, so "
                            "ensemble_size=3 would be ignored"),
    (dict(validation_fraction=0.2), "validation_fraction=0.2 would be ignored"),
    (dict(weights=True), "sample weights would be ignored"),
])
def test_what_the_readout_cannot_honour_is_refused(studies, change, message):
    table, encoder, target, groups = studies
    change = dict(change)
    pretrained = encoder if change.pop("pretrained", True) else None
    head = change.pop("head_options", None)
    weights = pd.Series(2.0, index=table.sample_ids[:10]) if change.pop("weights", False) \
        else None
    with pytest.raises(AAMInputError, match=message):
        api.fit_regressor(table, target, groups=groups, pretrained=pretrained,
                          train=replace(PROPAGATION, **change), head_options=head,
                          sample_weights=weights, **QUIET)


def test_a_classifier_is_refused(studies):
    table, encoder, target, groups = studies
    classes = (target > 35).map({True: "old", False: "young"})
    with pytest.raises(AAMInputError,
                       match="acts only in fitting a regressor, not in fitting a classifier"):
        api.fit_classifier(table, classes, groups=groups, pretrained=encoder,
                           train=PROPAGATION, **QUIET)


def test_fine_tuning_from_a_propagation_regressor_starts_a_new_head(studies):
    table, encoder, target, groups = studies
    test, labelled, fit_table = split(table)
    model = api.fit_regressor(fit_table, target[labelled], groups=groups[labelled],
                              pretrained=encoder,
                              train=PROPAGATION, **QUIET)
    again = api.fit_regressor(table, target, groups=groups, pretrained=model,
                              train=replace(FIT_TRAIN_DEFAULTS, epochs=1, ensemble_size=1),
                              **QUIET)
    assert again.config["architecture"]["neighbour_nodes"] == 0

