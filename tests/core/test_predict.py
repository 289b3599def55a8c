"""The one prediction context: a model conditioned on several columns and
loaded from disk gets each sample's codes in the slots it was trained with,
in predict, embed and feature importance alike."""
import numpy as np
import pandas as pd
import pytest
from biom import Table

from aam_core import api
from aam_core.bundle import ModelBundle
from aam_core.config import TrainConfig
from aam_core.importance import feature_importance
from aam_core.model.conditioning import encode_conditions
from aam_core.predict import prediction_context
from tests.conftest import random_dna

QUIET = {"log": lambda message: None}


@pytest.fixture(scope="module")
def conditioned(tmp_path_factory):
    """A regressor conditioned on 'zone' (3 categories) then 'area' (2): not
    in alphabetical order, as config.json stores its vocabularies."""
    rng = np.random.default_rng(0)
    ids = [f"s{i}" for i in range(24)]
    table = Table(rng.poisson(4, size=(15, 24)) + 1, random_dna(rng, 15, 30), ids)
    frame = pd.DataFrame({"zone": [["north", "south", "west"][i % 3] for i in range(24)],
                          "area": [["a", "b"][i % 2] for i in range(24)]}, index=ids)
    targets = pd.Series(np.arange(24, dtype=float), index=ids, name="age")
    bundle = api.fit_regressor(
        table, targets, model="tiny", conditioning=frame,
        train=TrainConfig(epochs=1, batch_size=8, ensemble_size=1), **QUIET)
    path = tmp_path_factory.mktemp("model") / "model"
    bundle.save(path)
    return table, frame, bundle, ModelBundle.load(path)


def test_saved_vocabularies_come_back_sorted(conditioned):
    _, _, fitted, loaded = conditioned
    assert fitted.config["conditioning"]["columns"] == ["zone", "area"]
    assert list(loaded.config["conditioning"]["vocabularies"]) == ["area", "zone"]


def test_context_codes_follow_the_fitted_column_order(conditioned):
    table, frame, fitted, loaded = conditioned
    ids = list(table.ids())
    expected = encode_conditions(frame, ids, fitted.config["conditioning"]["vocabularies"],
                                 ["zone", "area"])
    for bundle in (fitted, loaded):
        codes = prediction_context(bundle, ids, frame, QUIET["log"]).codes.numpy()
        np.testing.assert_array_equal(codes, expected)
    # zone has 3 categories (codes 1-3), area 2 (codes 1-2): the slots differ
    assert expected[:, 0].max() == 3 and expected[:, 1].max() == 2


@pytest.mark.parametrize("apply", ["predict", "embed", "importance"])
def test_a_loaded_model_applies_as_the_fitted_one(conditioned, apply):
    table, frame, fitted, loaded = conditioned

    def run(bundle):
        if apply == "importance":
            return feature_importance(bundle, table, conditioning=frame, **QUIET)
        if apply == "embed":  # the embedding comes before an 'add' fusion: no metadata
            return api.embed(bundle, table, **QUIET)
        return getattr(api, apply)(bundle, table, conditioning=frame, **QUIET)
    first, again = run(fitted), run(loaded)
    again = again.loc[first.index]  # importance comes sorted by value
    np.testing.assert_allclose(np.asarray(again, dtype=float),
                               np.asarray(first, dtype=float), rtol=1e-5, atol=1e-7)
