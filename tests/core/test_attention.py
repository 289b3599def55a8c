"""aam_core.attention: the hook reads exactly the weights the pooling used,
without changing any output; a classifier ensemble's frame (the members'
mean) sums to 1 per sample; the per-group summary by hand."""
import numpy as np
import pandas as pd
import pytest
import torch
from biom import Table

from aam_core import api
from aam_core.attention import PoolingWeights, attention_frame, group_summary
from aam_core.config import TrainConfig
from aam_core.data.batching import BatchBuilder
from aam_core.importance import feature_importance
from tests.conftest import random_dna
from tests.core.test_batching import make_builder, tiny_model

QUIET = {"log": lambda message: None}


def test_the_hook_reads_the_weights_the_pooling_used(rng):
    table, tokens, data = make_builder(rng)
    batch = BatchBuilder(table.counts, tokens, data).build(np.arange(table.n_samples))
    model = tiny_model()
    pool = model.sample_encoder.pool
    seen = {}
    spy = pool.register_forward_hook(
        lambda module, args, output: seen.update(x=args[0], mask=args[1], out=output))
    with torch.no_grad():
        reference = model(batch)
        recorder = PoolingWeights(pool)
        hooked = model(batch)
        recorder.remove()
    spy.remove()
    for key in ("embedding", "prediction"):
        torch.testing.assert_close(hooked[key], reference[key], rtol=0, atol=0)
    weights = recorder.weights
    assert (weights[~seen["mask"]] == 0).all()
    torch.testing.assert_close(weights.sum(-1), torch.ones(len(weights)))
    # the pooled vector is the norm of the weights' average of the tokens
    pooled = pool.norm(torch.einsum("bl,bld->bd", weights, seen["x"]))
    torch.testing.assert_close(pooled, seen["out"], rtol=1e-5, atol=1e-5)
    assert len(pool._forward_hooks) == 0  # both hooks gone


@pytest.fixture(scope="module")
def classifier():
    rng = np.random.default_rng(1)
    ids = [f"s{i}" for i in range(24)]
    table = Table(rng.poisson(3, size=(12, 24)) + (rng.random((12, 24)) < 0.5),
                  random_dna(rng, 12, 30), ids)
    labels = pd.Series(["a", "b", "c"] * 8, index=ids, name="label")
    bundle = api.fit_classifier(table, labels, model="tiny", train=TrainConfig(
        epochs=1, batch_size=8, ensemble_size=2), **QUIET)
    return table, bundle


def test_a_classifier_ensembles_frame(classifier):
    table, bundle = classifier
    frame = attention_frame(bundle, table, batch_size=5, **QUIET)
    assert list(frame.columns) == ["sample", "feature", "attention", "importance"]
    assert frame.groupby("sample")["attention"].sum().to_numpy() == pytest.approx(1, abs=1e-5)
    assert frame["importance"].notna().all()
    # every nonzero count is one row
    assert len(frame) == int((table.matrix_data.toarray() > 0).sum())
    summary = group_summary(frame, table.ids())
    expected = feature_importance(bundle, table, **QUIET)["importance"]
    assert summary["mean_abs_importance"].to_numpy() == pytest.approx(
        expected[summary.index].to_numpy(), rel=1e-4, abs=1e-9)


def test_group_summary_by_hand():
    frame = pd.DataFrame({"sample": ["x", "x", "y", "z"],
                          "feature": ["A", "B", "A", "C"],
                          "attention": [0.75, 0.25, 1.0, 1.0],
                          "importance": [-2.0, 1.0, 4.0, 0.5]})
    summary = group_summary(frame, ["x", "y"])
    assert list(summary.index) == ["A", "B"]  # C is z's only
    assert summary.loc["A"].to_dict() == pytest.approx(
        {"mean_attention": 0.875, "mean_abs_importance": 3.0,
         "mean_importance": 1.0, "prevalence": 1.0})
    assert summary.loc["B", "mean_attention"] == 0.125
    assert summary.loc["B", "prevalence"] == 0.5
