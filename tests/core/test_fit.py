"""Fine-tuning end to end on small planted data: classifiers, conditioning,
normalisation, save/load, and every training option running."""
import json
from dataclasses import replace
import numpy as np
import pandas as pd
import pytest
import skbio
import torch

from aam_core import api
from aam_core.bundle import ModelBundle
from aam_core.config import ConditioningConfig, TrainConfig
from aam_core.data.table import CountTable
from aam_core.errors import AAMInputError
from tests.conftest import random_dna

QUIET = dict(log=lambda message: None)
LEARN = TrainConfig(epochs=20, batch_size=16, learning_rate=3e-3, nucleotide_weight=0.0,
                    validation_fraction=0.0, random_state=0)
FAST = TrainConfig(epochs=1, batch_size=8, nucleotide_weight=0.0, random_state=1)


def _samples(rng, pools, n, marker_of, prefix):
    """Counts over all pooled features: 6 background ASVs per sample plus 3
    markers from the pool `marker_of(i)` names."""
    features = [f for pool in pools.values() for f in pool]
    position = {f: j for j, f in enumerate(features)}
    counts = np.zeros((n, len(features)))
    for i in range(n):
        chosen = list(rng.choice(pools["background"], 6, replace=False))
        chosen += list(rng.choice(pools[marker_of(i)], 3, replace=False))
        for feature in chosen:
            counts[i, position[feature]] = rng.integers(5, 30)
    ids = [f"{prefix}{i}" for i in range(n)]
    return CountTable.from_dense(counts, ids, features)


@pytest.fixture(scope="module")
def pools():
    rng = np.random.default_rng(7)
    return {"background": random_dna(rng, 20, 30), "sick": random_dna(rng, 8, 30),
            "well": random_dna(rng, 8, 30)}


def _classes(n):
    return ["sick" if i % 2 else "well" for i in range(n)]


def test_classifier_learns_a_planted_signal_on_held_out_samples(pools):
    rng = np.random.default_rng(0)
    train_table = _samples(rng, pools, 64, lambda i: _classes(64)[i], "t")
    test_table = _samples(rng, pools, 40, lambda i: _classes(40)[i], "h")
    labels = pd.Series(_classes(64), index=train_table.sample_ids, name="health")
    bundle = api.fit_classifier(train_table, labels, model="tiny", train=LEARN, **QUIET)
    assert bundle.config["class_labels"] == ["sick", "well"]
    predicted, probabilities = api.predict_classification(bundle, test_table, **QUIET)
    accuracy = (predicted.to_numpy() == np.array(_classes(40))).mean()
    assert accuracy >= 0.8  # chance is 0.5
    assert list(probabilities.columns) == ["sick", "well"]
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert predicted.name == "prediction"


def _site_data(pools, n, prefix, seed):
    """The target is set by the site alone; the microbiome carries no signal."""
    rng = np.random.default_rng(seed)
    table = _samples(rng, pools, n, lambda i: "well", prefix)
    site = np.where(np.arange(n) % 2, "coast", "inland")
    target = np.where(site == "coast", 60.0, 20.0) + rng.normal(0, 1, n)
    frame = pd.DataFrame({"site": site}, index=table.sample_ids)
    return table, pd.Series(target, index=table.sample_ids, name="age"), frame


def test_conditioning_uses_a_planted_per_category_shift(pools):
    table, target, frame = _site_data(pools, 64, "t", 1)
    test_table, test_target, test_frame = _site_data(pools, 30, "h", 2)
    errors = {}
    for name, conditioning in (("plain", None), ("conditioned", frame)):
        bundle = api.fit_regressor(table, target, model="tiny", train=LEARN,
                                   conditioning=conditioning, **QUIET)
        # a model fitted without conditioning refuses metadata it would ignore
        predicted = api.predict(bundle, test_table, **QUIET, conditioning=None
                                if conditioning is None else test_frame)
        errors[name] = np.abs(predicted - test_target).mean()
    assert errors["plain"] > 15  # the site is invisible in the counts
    assert errors["conditioned"] < 0.4 * errors["plain"]


@pytest.fixture(scope="module")
def conditioned(pools):
    table, target, frame = _site_data(pools, 40, "t", 3)
    frame["region"] = np.where(np.arange(40) % 4 < 2, "north", "south")
    options = ConditioningConfig(fusion="cross_attention", conditional_output=True,
                                 parents=(("site", "region"),), normalise_by="site",
                                 weight_by="region")
    bundle = api.fit_regressor(table, target, model="tiny", train=FAST,
                               conditioning=frame, conditioning_config=options, **QUIET)
    return table, frame, bundle


def test_saved_conditioned_model_predicts_identically(conditioned, tmp_path):
    table, frame, bundle = conditioned
    bundle.save(tmp_path / "model")
    loaded = ModelBundle.load(tmp_path / "model")
    spec = loaded.config["conditioning"]
    assert spec["vocabularies"]["site"] == ["coast", "inland"]
    assert spec["parents"] == {"site": "region"}
    assert set(loaded.config["target"]["categories"]) == {"coast", "inland"}
    before = api.predict(bundle, table, conditioning=frame, **QUIET)
    after = api.predict(loaded, table, conditioning=frame, **QUIET)
    pd.testing.assert_series_equal(before, after)
    # per-site normalisation is undone: predictions in the target's units
    assert before[frame["site"] == "coast"].mean() > before[frame["site"] == "inland"].mean()


def test_unseen_and_missing_categories_predict(conditioned):
    table, frame, bundle = conditioned
    new = frame.copy()
    new.loc[new.index[:3], "site"] = "mountain"
    new.loc[new.index[3:5], "region"] = np.nan
    messages = []
    predicted = api.predict(bundle, table, conditioning=new, log=messages.append)
    assert predicted.notna().all() and len(predicted) == 40
    assert any("mountain" in m for m in messages)
    # no metadata at all would predict every sample as 'unknown', in the
    # global units of a target normalised per site: refused, naming both
    with pytest.raises(AAMInputError, match=r"'site' \(its target was normalised.*"
                       r"'region' \(its conditioning\).*no metadata was given"):
        api.predict(bundle, table, **QUIET)
    with pytest.raises(AAMInputError, match=r"lacks them"):
        api.predict(bundle, table, conditioning=new[["region"]], **QUIET)
    # a cross-attention fusion reads the conditioning inside the sample
    # encoder: its embedding needs the conditioning columns (not the one
    # the target was normalised by)
    with pytest.raises(AAMInputError, match=r"'site' \(its conditioning\), 'region' "
                       r"\(its conditioning\) to embed, and no metadata was given"):
        api.embed(bundle, table, **QUIET)
    assert len(api.embed(bundle, table, conditioning=new, **QUIET)) == 40


def test_conditioning_must_not_hold_the_target(pools):
    table, target, frame = _site_data(pools, 12, "t", 4)
    frame["age"] = target
    with pytest.raises(AAMInputError, match="leak"):
        api.fit_regressor(table, target, model="tiny", train=FAST,
                          conditioning=frame, **QUIET)


def test_quantile_regressor_gives_ordered_intervals(pools):
    table, target, _ = _site_data(pools, 24, "t", 5)
    train = TrainConfig(**{**FAST.to_dict(), "loss": "quantile",
                           "quantiles": (0.9, 0.1, 0.5)})
    bundle = api.fit_regressor(table, target, model="tiny", train=train, **QUIET)
    assert bundle.config["target"]["quantiles"] == [0.1, 0.5, 0.9]
    intervals = api.predict_quantiles(bundle, table, **QUIET)
    assert list(intervals.columns) == ["q0.1", "q0.5", "q0.9"]
    assert (intervals.diff(axis=1).iloc[:, 1:] >= 0).all().all()
    pd.testing.assert_series_equal(api.predict(bundle, table, **QUIET),
                                   intervals["q0.5"].rename("prediction"))
    assert "val_coverage" in bundle.history.columns


def test_accumulated_gradients_match_one_large_batch(pools):
    table, target, _ = _site_data(pools, 36, "t", 6)
    head = {"head_dropout": 0.0}
    states = []
    for batch_size, steps in ((16, 1), (8, 2)):
        train = TrainConfig(epochs=1, batch_size=batch_size, accumulation_steps=steps,
                            nucleotide_weight=0.0, validation_fraction=0.0, random_state=2)
        states.append(api.fit_regressor(table, target, model="tiny", train=train,
                                        head_options=head, **QUIET).state_dict)
    # AdamW hides a constant factor on the gradients; this checks that the
    # same samples make the same optimizer steps on the same schedule
    for name, value in states[0].items():
        torch.testing.assert_close(value, states[1][name], rtol=1e-3, atol=2e-4)


OPTIONS = {
    "huber+plateau": dict(loss="huber", scheduler="plateau", selection_metric="r2"),
    "asymmetric+restarts": dict(loss="asymmetric", overprediction_weight=3.0,
                                scheduler="cosine_restarts", lr_cycles=2),
    "mae+abundance+checkpointing": dict(loss="mae", abundance_weight=1.0,
                                        gradient_checkpointing=True),
    "mse+lr-finder": dict(loss="mse", find_learning_rate=True),
}


@pytest.mark.parametrize("options", OPTIONS.values(), ids=OPTIONS.keys())
def test_training_options_run(pools, options):
    table, target, _ = _site_data(pools, 24, "t", 8)
    train = TrainConfig(**{**FAST.to_dict(), "epochs": 2, **options})
    head = {"output_activation": "softplus", "residual_head": True,
            "regression_hidden": (16, 16)}
    bundle = api.fit_regressor(table, target, model="tiny", train=train,
                               head_options=head, **QUIET)
    assert np.isfinite(bundle.history["train_loss"]).all()
    assert (api.predict(bundle, table, **QUIET) >= 0).all()
    if options.get("abundance_weight"):
        assert "train_abundance" in bundle.history.columns


def test_fine_tuning_from_a_frozen_pretrained_encoder_with_auxiliaries(pools, tmp_path):
    table, target, frame = _site_data(pools, 24, "t", 9)
    counts = table.counts.toarray()
    distances = skbio.DistanceMatrix(
        np.abs(counts[:, None, :] - counts[None, :, :]).sum(-1) / counts.sum(1).max(),
        table.sample_ids)
    encoder = api.pretrain(table, distances=distances, model="tiny", **QUIET,
                           train=TrainConfig(epochs=1, batch_size=8, abundance_weight=1.0))
    assert "train_abundance" in encoder.history.columns
    for freeze in ("freeze_nucleotide_encoder", "freeze_encoder"):
        train = TrainConfig(**{**FAST.to_dict(), freeze: True})
        with pytest.raises(AAMInputError, match="nucleotide_weight=1.0 would be ignored"):
            api.fit_classifier(table, frame["site"].rename("site"), pretrained=encoder,
                               train=replace(train, nucleotide_weight=1.0), **QUIET)
        if freeze == "freeze_encoder":
            # the distance loss trains the encoder alone: it was dropped without a word
            with pytest.raises(AAMInputError, match="freeze_encoder=True keeps the whole "
                               "pretrained encoder from learning, so the distance matrix"):
                api.fit_classifier(table, frame["site"].rename("site"), pretrained=encoder,
                                   distances=distances, train=train, **QUIET)
        classifier = api.fit_classifier(
            table, frame["site"].rename("site"), pretrained=encoder, train=train, **QUIET,
            distances=distances if freeze == "freeze_nucleotide_encoder" else None)
        columns = classifier.history.columns
        # a frozen nucleotide encoder is never asked for token logits
        assert "train_nucleotide" not in columns
        assert ("train_unifrac" in columns) == (freeze == "freeze_nucleotide_encoder")
        assert torch.equal(classifier.state_dict["nucleotide_encoder.token_embedding.weight"],
                           encoder.state_dict["nucleotide_encoder.token_embedding.weight"])


def test_balanced_class_weights_and_f1_selection(pools):
    rng = np.random.default_rng(10)
    classes = ["sick" if i % 4 == 0 else "well" for i in range(32)]
    table = _samples(rng, pools, 32, lambda i: classes[i], "t")
    labels = pd.Series(classes, index=table.sample_ids, name="health")
    train = TrainConfig(**{**FAST.to_dict(), "class_weight": "balanced",
                           "selection_metric": "f1", "validation_fraction": 0.25})
    bundle = api.fit_classifier(table, labels, model="tiny", train=train, **QUIET)
    assert bundle.config["training"]["selection_metric"] == "val_f1"
    assert {"val_accuracy", "val_f1", "val_auroc"} <= set(bundle.history.columns)


def test_bad_options_are_refused_early(pools):
    table, target, frame = _site_data(pools, 12, "t", 11)
    for train, match in ((TrainConfig(scheduler="step"), "scheduler"),
                         (TrainConfig(loss="quantile", quantiles=(0.5, 1.5)),
                          "quantiles must be below 1"),
                         (TrainConfig(selection_metric="accuracy"), "selection_metric")):
        with pytest.raises(AAMInputError, match=match):
            api.fit_regressor(table, target, model="tiny", train=train, **QUIET)
    with pytest.raises(AAMInputError, match="not a column"):
        api.fit_regressor(table, target, model="tiny", train=FAST, conditioning=frame,
                          conditioning_config=ConditioningConfig(normalise_by="city"),
                          **QUIET)


def test_memory_cap_splits_batches_that_do_not_fit(monkeypatch):
    from types import SimpleNamespace

    import scipy.sparse as sp

    from aam_core.train import batch_size
    gib = 2 ** 30
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: (10 * gib, 80 * gib))
    # a step needs 1 GiB per sample; 8 fit in 80% of 10 GiB
    monkeypatch.setattr(batch_size, "_trial_step",
                        lambda model, data, objective, rows, device, precision:
                        None if len(rows) > 12 else len(rows) * gib)
    data = SimpleNamespace(builder=SimpleNamespace(counts=sp.csr_matrix(np.ones((40, 3)))),
                           train_rows=np.arange(40))
    train = TrainConfig(batch_size=32)
    capped = batch_size.fit_batch_to_memory(None, data, None, train, torch.device("cuda"))
    assert (capped.batch_size, capped.accumulation_steps) == (8, 4)
    cpu = batch_size.fit_batch_to_memory(None, data, None, train, torch.device("cpu"))
    assert cpu is train


def test_grouped_validation_keeps_huge_groups_in_training():
    from aam_core.data.split import validation_split
    groups = np.array(["giant"] * 60 + [f"g{i}" for i in range(40)])
    for seed in range(5):
        _, val = validation_split(100, 0.2, seed, groups)
        assert len(val) == 20 and "giant" not in set(groups[val])
