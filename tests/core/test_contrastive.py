"""The contrastive pretraining objective: two views of every sample, each
half of its reads, whose embeddings InfoNCE pulls together."""
import math
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import skbio
import torch

from aam_core import api
from aam_core.config import PRETRAIN_TRAIN_DEFAULTS, TrainConfig
from aam_core.data.batching import BatchBuilder, half_of_reads
from aam_core.losses import contrastive_loss
from tests.core.test_batching import make_builder

QUIET = dict(log=lambda message: None)


def test_a_view_keeps_about_half_of_the_reads_and_at_least_one(rng):
    counts = np.array([1000, 200, 10, 0])
    view = half_of_reads(counts, rng)
    assert (view <= counts).all() and 400 < view.sum() < 700
    assert half_of_reads(np.array([0, 1, 0]), np.random.default_rng(3)).sum() >= 1
    for seed in range(20):  # one read, lost half of the time: kept anyway
        assert half_of_reads(np.array([1]), np.random.default_rng(seed)).tolist() == [1]


def test_a_batch_of_two_views_holds_every_row_twice_each_a_subsample(rng):
    table, tokens, data = make_builder(rng, n_samples=6)
    builder = BatchBuilder(table.counts, tokens, data)
    batch = builder.build(np.array([4, 1, 2]), np.random.default_rng(0), views=2)
    assert batch.rows.tolist() == [4, 1, 2, 4, 1, 2]
    dense = table.counts.toarray()
    for b, row in enumerate(batch.rows.tolist()):
        slots = batch.asv_mask[b]
        features = batch.features[batch.asv_index[b][slots]].numpy()
        assert set(features) <= set(np.flatnonzero(dense[row]))
    # no rng (validation, prediction): the views are the whole samples
    whole = builder.build(np.array([4, 1, 2]), None, views=1)
    assert whole.rows.tolist() == [4, 1, 2]


def test_infonce_is_low_when_each_view_finds_its_twin_and_chance_when_all_alike():
    first = torch.eye(4) * 5
    assert contrastive_loss(first, first.clone()).item() < 0.01
    same = torch.ones(4, 3)
    # every other embedding is as similar: the twin is one of 2B - 1
    assert contrastive_loss(same, same.clone()).item() == pytest.approx(math.log(7), abs=1e-4)
    swapped = contrastive_loss(first, first.flip(0))
    assert swapped.item() > 1.0


def test_pretraining_with_the_contrastive_objective_learns_and_validates_it(rng):
    table, _, _ = make_builder(rng, n_samples=24, n_features=30)
    counts = table.counts.toarray()
    distances = skbio.DistanceMatrix(
        np.abs(counts[:, None, :] - counts[None, :, :]).sum(-1) / counts.sum(1).max(),
        table.sample_ids)
    train = TrainConfig(epochs=6, batch_size=8, contrastive_weight=1.0, random_state=1)
    encoder = api.pretrain(table, distances=distances, model="tiny", train=train, **QUIET)
    history = encoder.history
    assert np.isfinite(history["train_contrastive"]).all()
    # validation scores it too, on views drawn from a fixed seed
    assert np.isfinite(history["val_contrastive"]).all()
    # chance: one of 2 x 8 - 1 candidates (ln 15 = 2.71); it ends near 1.8
    assert history["train_contrastive"].iloc[-1] < math.log(15) - 0.3
    plain = api.pretrain(table, distances=distances, model="tiny", **QUIET,
                         train=TrainConfig(epochs=1, batch_size=8, random_state=1))
    assert "train_contrastive" not in plain.history.columns


def test_the_aam_command_pretrains_with_it(tmp_path):
    mini = "examples/oral-age-mini/table.biom"
    done = subprocess.run(
        [sys.executable, "-m", "aam_core.cli", "pretrain", "--table", mini, "--output-dir",
         str(tmp_path / "run"), "--preset", "tiny", "--epochs", "1", "--n-threads", "1",
         "--contrastive-weight", "0.5"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "objectives: nucleotide, contrastive" in done.stderr


def test_the_contrastive_objective_alone_pretrains(tmp_path):
    """It was refused as 'Nothing to pretrain on', and its validation loss was 0."""
    done = subprocess.run(
        [sys.executable, "-m", "aam_core.cli", "pretrain", "--table",
         "examples/oral-age-mini/table.biom", "--output-dir", str(tmp_path / "run"),
         "--preset", "tiny", "--epochs", "1", "--n-threads", "1",
         "--contrastive-weight", "1", "--nucleotide-weight", "0"],
        capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "val loss 0 " not in done.stderr and "val loss" in done.stderr


def test_fitting_refuses_it():
    from aam_core.config import FIT_TRAIN_DEFAULTS
    from aam_core.errors import AAMInputError
    from dataclasses import replace
    with pytest.raises(AAMInputError, match="contrastive_weight=1.0 is an objective of "
                                            "pretraining, not of fitting"):
        api.fit_regressor(None, None, train=replace(FIT_TRAIN_DEFAULTS,
                                                    contrastive_weight=1.0),
                          log=lambda m: None)


@pytest.mark.parametrize("epochs, given, settled", [
    (8, "auto", 3), (16, "auto", 6), (30, "auto", 12), (2, "auto", 1), (1, "auto", 0),
    (16, 3, 3), (16, 0, 0)])
def test_auto_nucleotide_epochs_is_a_share_and_a_number_is_kept(epochs, given, settled):
    """'auto' freezes after 3 of every 8 epochs; a number typed (even the
    3 that 'auto' gives at 8 epochs) is taken as it is."""
    from aam_core.pretrain import _used_targets
    distances = object()  # only whether one was given is read
    train = replace(PRETRAIN_TRAIN_DEFAULTS, epochs=epochs, nucleotide_epochs=given)
    assert _used_targets(None, None, distances, train, print)[2].nucleotide_epochs == settled


@pytest.mark.parametrize("n_train, batch, world, epochs", [
    (1450, 64, 1, 8),     # oral-age's training folds: 22 steps an epoch, 176 in 8
    (900, 64, 1, 10),     # 14 steps an epoch: 10 epochs for 128
    (190, 64, 1, 64),     # 2 steps an epoch: 64, the most
    (1450, 64, 2, 12),    # two processes: half the steps an epoch
    (20, 64, 1, 64),      # not one full batch: 1 step an epoch
])
def test_auto_epochs_give_a_small_table_more_steps(n_train, batch, world, epochs):
    from aam_core.pretrain import settled_epochs
    said = []
    train = replace(PRETRAIN_TRAIN_DEFAULTS, batch_size=batch)
    assert settled_epochs(train, n_train, world, said.append).epochs == epochs
    assert bool(said) == (epochs > 8)  # a longer run says why
    assert settled_epochs(replace(train, epochs=5), n_train, world, said.append).epochs == 5


def test_after_nucleotide_epochs_the_nucleotide_encoder_is_frozen_and_cached(rng):
    """nucleotide_epochs: later epochs train the sample encoder alone on
    cached ASV vectors; validation still scores the nucleotide loss."""
    table, _, _ = make_builder(rng, n_samples=24, n_features=30)
    counts = table.counts.toarray()
    distances = skbio.DistanceMatrix(
        np.abs(counts[:, None, :] - counts[None, :, :]).sum(-1) / counts.sum(1).max(),
        table.sample_ids)
    said = []
    train = TrainConfig(epochs=3, batch_size=8, random_state=1, nucleotide_epochs=1,
                        validation_fraction=0.25)
    with pytest.raises(Exception, match="no other objective trains the sample encoder"):
        api.pretrain(table, model="tiny", train=train, log=said.append)
    encoder = api.pretrain(table, distances=distances, model="tiny", train=train,
                           log=said.append)
    history = encoder.history
    assert np.isfinite(history["train_nucleotide"].iloc[0])
    assert history["train_nucleotide"].iloc[1:].isna().all()
    assert np.isfinite(history["val_nucleotide"]).all()
    assert any("frozen from epoch 2 on" in line for line in said)
    full = api.pretrain(table, distances=distances, model="tiny", log=lambda m: None,
                        train=TrainConfig(epochs=1, batch_size=8, random_state=1,
                                          validation_fraction=0.25))
    first = {k: v for k, v in full.state_dict.items() if k.startswith("nucleotide_encoder")}
    # the epoch before the freeze is the same as an unfrozen run's first; the
    # nucleotide encoder then keeps its weights (the best epoch's are saved)
    frozen = {k: encoder.state_dict[k] for k in first}
    assert all(torch.equal(first[k], frozen[k]) for k in first)
    with pytest.raises(Exception, match="nucleotide_epochs=1 is a setting of pretraining"):
        from aam_core.config import FIT_TRAIN_DEFAULTS
        from dataclasses import replace
        api.fit_regressor(None, None, train=replace(FIT_TRAIN_DEFAULTS, nucleotide_epochs=1),
                          log=lambda m: None)


@pytest.mark.parametrize("change, after", [
    ({}, 3),                          # 8 epochs with distances: frozen after 3
    ({"epochs": 3}, 2),               # 3/8 of the epochs, rounded up
    ({"epochs": 1}, 0),               # no epoch after it: trained every epoch
    ({"distances": None}, 0),         # nothing else would train: every epoch
    ({"nucleotide_weight": 0.0}, 0),  # UniFrac alone trains the nucleotide encoder
])
def test_the_default_nucleotide_epochs_acts_only_where_it_can(rng, change, after):
    from dataclasses import replace
    from aam_core.config import PRETRAIN_TRAIN_DEFAULTS
    table, _, _ = make_builder(rng, n_samples=24, n_features=30)
    counts = table.counts.toarray()
    distances = skbio.DistanceMatrix(
        np.abs(counts[:, None, :] - counts[None, :, :]).sum(-1) / counts.sum(1).max(),
        table.sample_ids)
    change = dict(change)
    given = change.pop("distances", distances)
    train = replace(PRETRAIN_TRAIN_DEFAULTS, batch_size=8, n_threads=1,
                    **{"epochs": 8, **change})
    encoder = api.pretrain(table, distances=given, model="tiny", train=train, **QUIET)
    assert encoder.config["training"]["nucleotide_epochs"] == after
    trained = encoder.history.get("train_nucleotide", pd.Series(dtype=float))
    assert trained.isna().sum() == (len(trained) - after if after else 0)
