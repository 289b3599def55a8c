import numpy as np
import pytest
import torch

from aam_core.config import DataConfig, ModelConfig
from aam_core.data.batching import BatchBuilder, batch_rows
from aam_core.data.table import CountTable
from aam_core.data.tokens import tokenize
from aam_core.errors import AAMInputError
from aam_core.model import AAM
from tests.conftest import random_dna


def make_builder(rng, n_samples=6, n_features=12, **data):
    counts = rng.integers(0, 5, size=(n_samples, n_features)).astype(float)
    counts[:, 0] += 1  # every sample non-empty
    table = CountTable.from_dense(counts, [f"s{i}" for i in range(n_samples)],
                                  random_dna(rng, n_features, 20))
    lengths = rng.integers(12, 21, size=n_features)
    tokens = tokenize([s[:k] for s, k in zip(table.feature_ids, lengths)])
    return table, tokens, DataConfig(**data)


def tiny_model():
    torch.manual_seed(0)
    return AAM(ModelConfig.preset("tiny", max_length=32), head="regression").eval()


def test_unique_batching_gives_the_same_outputs_as_every_slot(rng):
    table, tokens, data = make_builder(rng)
    rows = np.arange(table.n_samples)
    unique = BatchBuilder(table.counts, tokens, data).build(rows)
    per_slot = BatchBuilder(table.counts, tokens, data, unique_asvs=False).build(rows)
    assert unique.tokens.shape[0] < per_slot.tokens.shape[0]
    model = tiny_model()
    with torch.no_grad():
        a, b = model(unique), model(per_slot)
    torch.testing.assert_close(a["embedding"], b["embedding"], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(a["prediction"], b["prediction"], rtol=1e-5, atol=1e-5)


def test_padding_never_changes_an_output(rng):
    table, tokens, data = make_builder(rng)
    batch = BatchBuilder(table.counts, tokens, data).build(np.arange(table.n_samples))
    model = tiny_model()
    with torch.no_grad():
        reference = model(batch)["embedding"]
        # more nucleotide padding and more (masked) ASV slots
        batch.tokens = torch.nn.functional.pad(batch.tokens, (0, 7))
        batch.asv_index = torch.nn.functional.pad(batch.asv_index, (0, 3), value=1)
        batch.asv_mask = torch.nn.functional.pad(batch.asv_mask, (0, 3), value=False)
        batch.log_abundance = torch.nn.functional.pad(batch.log_abundance, (0, 3), value=5.0)
        padded = model(batch)["embedding"]
    torch.testing.assert_close(reference, padded, rtol=1e-5, atol=1e-5)


def test_max_asvs_keeps_the_most_abundant(rng):
    counts = np.array([[1, 9, 5, 7, 0, 3]], dtype=float)
    table = CountTable.from_dense(counts, ["s"], random_dna(rng, 6, 10))
    builder = BatchBuilder(table.counts, tokenize(table.feature_ids), DataConfig(max_asvs=3))
    features, kept = builder.sample_profile(0, None)
    assert features.tolist() == [1, 3, 2] and kept.tolist() == [9, 7, 5]


def test_rarefaction_is_fresh_each_draw_and_seeded(rng):
    table = CountTable.from_dense(np.full((1, 12), 50.0), ["s"], random_dna(rng, 12, 20))
    tokens = tokenize(table.feature_ids)
    builder = BatchBuilder(table.counts, tokens, DataConfig(rarefaction_depth=30))
    draws = [builder.sample_profile(0, np.random.default_rng(7)) for _ in range(2)]
    assert all(c.sum() == 30 for _, c in draws)
    assert np.array_equal(draws[0][1], draws[1][1])  # same seed, same draw
    seq = np.random.default_rng(7)
    first, second = builder.sample_profile(0, seq), builder.sample_profile(0, seq)
    assert not np.array_equal(first[1], second[1])  # next epoch, new draw


def test_asv_dropout_only_when_augmenting(rng):
    counts = np.arange(1, 201, dtype=float)[None, :]
    table = CountTable.from_dense(counts, ["s"], random_dna(rng, 200, 12))
    builder = BatchBuilder(table.counts, tokenize(table.feature_ids),
                           DataConfig(asv_dropout=0.5))
    features, _ = builder.sample_profile(0, np.random.default_rng(3))
    assert 60 < len(features) < 140  # about half left out
    again, _ = builder.sample_profile(0, np.random.default_rng(3))
    assert np.array_equal(features, again)  # seeded
    # validation / prediction: every ASV, with or without an rng
    assert len(builder.sample_profile(0, np.random.default_rng(3), augment=False)[0]) == 200
    assert len(builder.sample_profile(0, None)[0]) == 200


@pytest.mark.parametrize("bad", [{"asv_dropout": 1.0}, {"asv_dropout": -0.1},
                                 {"rarefaction_depth": -5}, {"max_asvs": 0}])
def test_out_of_range_data_settings_are_refused(bad):
    with pytest.raises(AAMInputError, match=next(iter(bad))):
        DataConfig(**bad)


def test_prediction_drops_the_training_draws_and_keeps_the_input_rules():
    trained = DataConfig(max_asvs=64, max_length=120, rarefaction_depth=500, asv_dropout=0.2)
    assert trained.for_prediction() == DataConfig(max_asvs=64, max_length=120)
    run = DataConfig(rarefaction_depth=300, asv_dropout=0.1, max_asvs=999)
    # a pretrained model's input rules, with this run's draws
    assert trained.with_draws_of(run) == DataConfig(max_asvs=64, max_length=120,
                                                   rarefaction_depth=300, asv_dropout=0.1)


def test_asv_dropout_keeps_at_least_the_most_abundant(rng):
    table = CountTable.from_dense(np.array([[1.0, 9.0, 2.0]]), ["s"], random_dna(rng, 3, 10))
    builder = BatchBuilder(table.counts, tokenize(table.feature_ids),
                           DataConfig(asv_dropout=0.999999))
    features, kept = builder.sample_profile(0, np.random.default_rng(0))
    assert features.tolist() == [1] and kept.tolist() == [9.0]


def test_abundance_is_log_relative_and_pad_is_masked(rng):
    counts = np.array([[2, 0, 6], [0, 1, 0]], dtype=float)
    table = CountTable.from_dense(counts, ["a", "b"], random_dna(rng, 3, 10))
    batch = BatchBuilder(table.counts, tokenize(table.feature_ids), DataConfig()).build(
        np.array([0, 1]))
    assert batch.asv_mask.tolist() == [[True, True], [True, False]]
    np.testing.assert_allclose(np.exp(batch.log_abundance[0].numpy()), [0.25, 0.75], rtol=1e-6)
    assert batch.tokens.shape[0] == 3


def test_batch_rows_never_leaves_a_single_sample():
    batches = batch_rows(9, 4, None)
    assert [len(b) for b in batches] == [4, 5]
    assert sorted(np.concatenate(batches)) == list(range(9))


def test_unmasked_fast_path_equals_masked_path(rng):
    """Equal-length ASVs skip the attention mask; padding them must not matter."""
    model = tiny_model()
    tokens = torch.from_numpy(tokenize(random_dna(rng, 5, 16)).astype("int64"))
    with torch.no_grad():
        plain, _ = model.nucleotide_encoder(tokens)
        padded, _ = model.nucleotide_encoder(torch.nn.functional.pad(tokens, (0, 4)))
    torch.testing.assert_close(plain, padded, rtol=1e-5, atol=1e-5)


def test_a_training_epoch_leaves_out_a_last_batch_under_half_a_batch_only():
    # 124 samples in batches of 64 train on all of them (64 + 60), not 64
    assert [len(b) for b in batch_rows(124, 64, None, drop_last=True)] == [64, 60]
    # 1,368 in batches of 64: the last 24 (under half) wait for the next epoch
    assert [len(b) for b in batch_rows(1368, 64, None, drop_last=True)] == [64] * 21
    assert [len(b) for b in batch_rows(40, 64, None, drop_last=True)] == [40]
