"""Prediction encodes each distinct ASV of the table once per member
(train/cache.cache_members), and predicts what per-batch encoding predicts."""
import numpy as np
import pandas as pd
import pytest

from aam_core import api, predict
from aam_core.config import TrainConfig
from aam_core.model.aam import NucleotideEncoder
from tests.core.test_fit import QUIET, _classes, _samples, pools  # noqa: F401

ENSEMBLE = TrainConfig(epochs=1, batch_size=8, nucleotide_weight=0.0, random_state=3,
                       validation_fraction=0.25, ensemble_size=2)


@pytest.fixture(scope="module")
def fitted(pools):  # noqa: F811
    rng = np.random.default_rng(5)
    table = _samples(rng, pools, 40, lambda i: _classes(40)[i], "s")
    ages = pd.Series(rng.normal(40, 10, 40), index=table.sample_ids, name="age")
    return table, api.fit_regressor(table, ages, model="tiny", train=ENSEMBLE, **QUIET)


def _predict_counting_encoder_calls(monkeypatch, table, bundle):
    calls = []
    original = NucleotideEncoder.forward

    def counted(self, tokens, *args, **kwargs):
        calls.append(tokens.shape[0])
        return original(self, tokens, *args, **kwargs)
    monkeypatch.setattr(NucleotideEncoder, "forward", counted)
    predictions = api.predict(bundle, table, batch_size=8, **QUIET)
    monkeypatch.setattr(NucleotideEncoder, "forward", original)
    return predictions, calls


def test_each_member_encodes_each_asv_once(fitted, monkeypatch):
    table, bundle = fitted
    predictions, calls = _predict_counting_encoder_calls(monkeypatch, table, bundle)
    n_features = len(table.feature_ids)
    assert len(calls) == 2 and calls == [n_features, n_features]  # 2 members, 1 chunk each
    assert len(predictions) == 40


def test_cached_predictions_equal_per_batch_encoding(fitted, monkeypatch):
    table, bundle = fitted
    cached, _ = _predict_counting_encoder_calls(monkeypatch, table, bundle)
    monkeypatch.setattr(predict, "cache_members", lambda *args: None)
    per_batch, calls = _predict_counting_encoder_calls(monkeypatch, table, bundle)
    assert len(calls) == 2 * 5  # without the cache: every batch of 8, every member
    np.testing.assert_allclose(cached.to_numpy(), per_batch.to_numpy(), rtol=1e-5,
                               atol=1e-5)
