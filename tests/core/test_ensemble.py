"""Ensembles (TrainConfig.ensemble_size): members with their own seeds and
grouped validation splits, saved in one bundle, predicting their mean."""
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from aam_core import api
from aam_core.bundle import ModelBundle
from aam_core.config import TrainConfig
from aam_core.errors import AAMInputError
from aam_core.model import Ensemble
from tests.core.test_fit import QUIET, _classes, _samples, pools  # noqa: F401

ENSEMBLE = TrainConfig(epochs=2, batch_size=8, nucleotide_weight=0.0, random_state=3,
                       validation_fraction=0.25, ensemble_size=3)


def _member(bundle: ModelBundle, index: int) -> ModelBundle:
    """Member `index` of an ensemble as a model of its own."""
    prefix = f"members.{index}."
    config = {**bundle.config,
              "training": {**bundle.config["training"], "ensemble_size": 1}}
    state = {k[len(prefix):]: v for k, v in bundle.state_dict.items()
             if k.startswith(prefix)}
    return ModelBundle(config, state, bundle.history)


@pytest.fixture(scope="module")
def data(pools):  # noqa: F811
    rng = np.random.default_rng(5)
    table = _samples(rng, pools, 48, lambda i: _classes(48)[i], "s")
    ages = pd.Series(np.where(np.array(_classes(48)) == "sick", 60.0, 30.0)
                     + rng.normal(0, 2, 48), index=table.sample_ids, name="age")
    groups = pd.Series([f"g{i // 3}" for i in range(48)], index=table.sample_ids)
    return table, ages, groups


def test_a_regressor_ensemble_predicts_the_mean_of_its_members(data, tmp_path):
    table, ages, groups = data
    bundle = api.fit_regressor(table, ages, groups=groups, model="tiny",
                               train=ENSEMBLE, **QUIET)
    assert bundle.config["training"]["ensemble_size"] == 3
    assert {k.split(".")[1] for k in bundle.state_dict} == {"0", "1", "2"}
    assert sorted(bundle.history["member"].unique()) == [0, 1, 2]
    assert len(bundle.config["training"]["best_epoch"]) == 3
    # members differ: their own seeds, their own validation groups
    first, second = (_member(bundle, i).state_dict for i in (0, 1))
    assert not all(torch.equal(first[k], second[k]) for k in first)

    bundle.save(tmp_path / "ensemble")
    loaded = ModelBundle.load(tmp_path / "ensemble")
    assert isinstance(api.build_model(loaded), Ensemble)
    predicted = api.predict(loaded, table, log=QUIET["log"])
    members = [api.predict(_member(loaded, i), table, log=QUIET["log"]) for i in range(3)]
    np.testing.assert_allclose(predicted, sum(members) / 3, rtol=1e-5, atol=1e-4)
    # the embedding is the first member's (members' spaces are not aligned)
    np.testing.assert_allclose(api.embed(loaded, table, log=QUIET["log"]),
                               api.embed(_member(loaded, 0), table, log=QUIET["log"]),
                               rtol=1e-5, atol=1e-5)


def test_a_classifier_ensemble_averages_probabilities(data):
    table, ages, groups = data
    labels = pd.Series(_classes(48), index=table.sample_ids, name="health")
    bundle = api.fit_classifier(table, labels, groups=groups, model="tiny",
                                train=replace(ENSEMBLE, ensemble_size=2), **QUIET)
    _, probabilities = api.predict_classification(bundle, table, log=QUIET["log"])
    members = [api.predict_classification(_member(bundle, i), table, log=QUIET["log"])[1]
               for i in range(2)]
    np.testing.assert_allclose(probabilities, (members[0] + members[1]) / 2,
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-6)


def test_an_ensemble_starts_every_member_from_the_pretrained_encoder(data):
    table, ages, groups = data
    encoder = api.pretrain(table, model="tiny", **QUIET,
                           train=TrainConfig(epochs=1, batch_size=8))
    bundle = api.fit_regressor(
        table, ages, groups=groups, pretrained=encoder,
        train=replace(ENSEMBLE, ensemble_size=2, freeze_nucleotide_encoder=True), **QUIET)
    name = "nucleotide_encoder.token_embedding.weight"
    for index in range(2):
        assert torch.equal(bundle.state_dict[f"members.{index}.{name}"],
                           encoder.state_dict[name])
    # an ensemble can itself be the start of a new model (its first member)
    again = api.fit_regressor(
        table, ages, groups=groups, pretrained=bundle,
        train=replace(ENSEMBLE, ensemble_size=1, freeze_nucleotide_encoder=True), **QUIET)
    assert torch.equal(again.state_dict[name], encoder.state_dict[name])


def test_ensemble_size_below_one_is_refused(data):
    table, ages, _ = data
    with pytest.raises(AAMInputError, match="ensemble_size"):
        api.fit_regressor(table, ages, model="tiny",
                          train=replace(ENSEMBLE, ensemble_size=0), **QUIET)
