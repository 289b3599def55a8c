"""Training runs on small data: reproducibility, round trips, errors."""
import numpy as np
import pandas as pd
import pytest
import skbio
import torch

from aam_core import api
from aam_core.bundle import ModelBundle, ModelFormatError
from aam_core.config import TrainConfig
from aam_core.data.table import CountTable
from aam_core.data.targets import TargetScaler
from aam_core.errors import AAMInputError
from aam_core.train.objective import NonFiniteLossError
from aam_core.data.split import validation_split
from tests.conftest import random_dna

QUIET = dict(log=lambda message: None)
FAST = TrainConfig(epochs=2, batch_size=8, nucleotide_weight=0.0, random_state=3)


@pytest.fixture
def planted(rng):
    """40 samples; the target is the share of ASVs that start with 'AA'."""
    features = random_dna(rng, 30, 24)
    counts = rng.poisson(3.0, size=(40, 30)).astype(float) * (rng.random((40, 30)) < 0.5)
    counts[:, 0] += 1
    table = CountTable.from_dense(counts, [f"s{i}" for i in range(40)], features)
    rich = np.array([f.startswith(("A", "C")) for f in features])
    target = pd.Series((counts[:, rich].sum(1) / counts.sum(1)) * 50 + 20,
                       index=table.sample_ids, name="age")
    return table, target


def test_same_seed_same_weights_other_seed_other_weights(planted):
    table, target = planted
    runs = [api.fit_regressor(table, target, model="tiny", train=FAST, **QUIET)
            for _ in range(2)]
    other = api.fit_regressor(table, target, model="tiny",
                              train=TrainConfig(**{**FAST.to_dict(), "random_state": 4}), **QUIET)
    for name, value in runs[0].state_dict.items():
        assert torch.equal(value, runs[1].state_dict[name]), name
    assert any(not torch.equal(v, other.state_dict[k]) for k, v in runs[0].state_dict.items())
    assert runs[0].config["seed"] == 3 and runs[0].config["device"] == "cpu"


def test_save_load_round_trip_predicts_identically(planted, tmp_path):
    table, target = planted
    bundle = api.fit_regressor(table, target, model="tiny", train=FAST, **QUIET)
    bundle.save(tmp_path / "model")
    loaded = ModelBundle.load(tmp_path / "model")
    assert loaded.config == bundle.config
    pd.testing.assert_frame_equal(loaded.history, bundle.history, check_dtype=False)
    before = api.predict(bundle, table, **QUIET)
    after = api.predict(loaded, table, **QUIET)
    pd.testing.assert_series_equal(before, after)
    # predictions come back in the target's units, not z-scores
    assert 15 < before.mean() < 75


def test_predict_works_on_unseen_asvs(planted, rng):
    table, target = planted
    bundle = api.fit_regressor(table, target, model="tiny", train=FAST, **QUIET)
    new = CountTable.from_dense(rng.integers(1, 5, size=(3, 5)), ["n1", "n2", "n3"],
                                random_dna(rng, 5, 24))
    assert api.predict(bundle, new, **QUIET).index.tolist() == ["n1", "n2", "n3"]


def test_corrupt_or_newer_models_are_refused(planted, tmp_path):
    table, target = planted
    bundle = api.fit_regressor(table, target, model="tiny", train=FAST, **QUIET)
    bundle.save(tmp_path)
    config = (tmp_path / "config.json").read_text()
    (tmp_path / "config.json").write_text(config.replace('"format_version": 1',
                                                         '"format_version": 99'))
    with pytest.raises(ModelFormatError, match="newer"):
        ModelBundle.load(tmp_path)
    (tmp_path / "config.json").write_text(config[:40])
    with pytest.raises(ModelFormatError, match="not valid JSON"):
        ModelBundle.load(tmp_path)
    (tmp_path / "config.json").write_text(config)
    (tmp_path / "model.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ModelFormatError, match="damaged or were replaced"):
        ModelBundle.load(tmp_path)


def test_grouped_split_keeps_groups_whole():
    groups = np.repeat(np.arange(10), 5).astype(str)
    train, val = validation_split(50, 0.2, seed=1, groups=groups)
    assert len(val) >= 10 and not set(groups[train]) & set(groups[val])


@pytest.mark.parametrize("method", ["zscore", "minmax", "none"])
def test_target_normalisation_inverts(method):
    values = np.array([18.0, 30.0, 85.0])
    scaler = TargetScaler.from_dict(TargetScaler.fit(values, method).to_dict())
    np.testing.assert_allclose(scaler.inverse(scaler.transform(values)), values)


def test_non_finite_loss_names_the_term(planted):
    table, target = planted
    huge = target * 1e25  # its square overflows float32; 1e30 is refused up front
    with pytest.raises(NonFiniteLossError, match="target loss"):
        api.fit_regressor(table, huge, model="tiny", **QUIET,
                          train=TrainConfig(epochs=1, batch_size=8, nucleotide_weight=0.0,
                                            loss="mse", normalisation="none"))


def test_distance_matrix_must_cover_the_samples(planted):
    table, _ = planted
    ids = table.sample_ids[:-2]
    partial = skbio.DistanceMatrix(np.zeros((len(ids), len(ids))), ids)
    with pytest.raises(AAMInputError, match="2 sample.*'s38'"):
        api.pretrain(table, distances=partial, model="tiny", train=FAST, **QUIET)


def test_missing_targets_are_dropped_with_a_message(planted):
    table, target = planted
    messages = []
    target = target.copy()
    target.iloc[:5] = np.nan
    api.fit_regressor(table, target, model="tiny", train=FAST, log=messages.append)
    assert any("Dropped 5 sample(s) that have no target" in m for m in messages)
