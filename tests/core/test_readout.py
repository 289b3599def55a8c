"""The ridge readout: a closed-form linear head on a frozen pretrained encoder."""
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import skbio

from aam_core import api, readout
from aam_core.bundle import ModelBundle
from aam_core.config import FIT_TRAIN_DEFAULTS, TrainConfig
from aam_core.data.table import CountTable
from aam_core.errors import AAMInputError
from tests.conftest import random_dna

QUIET = dict(log=lambda message: None)
RIDGE = replace(FIT_TRAIN_DEFAULTS, readout="ridge", loss="quantile", random_state=3)


@pytest.fixture(scope="module")
def planted():
    """A tiny encoder, 80 samples, and a target that is a linear function of
    their embeddings plus noise, with groups of 4 samples."""
    rng = np.random.default_rng(11)
    features = random_dna(rng, 40, 30)
    counts = np.zeros((80, 40))
    for i in range(80):
        chosen = rng.choice(40, 8, replace=False)
        counts[i, chosen] = rng.integers(2, 40, size=8)
    table = CountTable.from_dense(counts, [f"s{i}" for i in range(80)], features)
    encoder = api.pretrain(table, model="tiny", train=TrainConfig(epochs=1, batch_size=16),
                           **QUIET)
    embeddings = api.embed(encoder, table, **QUIET).to_numpy()
    signal = embeddings @ rng.normal(size=embeddings.shape[1])
    target = pd.Series(30 + 5 * (signal - signal.mean()) / signal.std()
                       + rng.normal(0, 0.5, 80), index=table.sample_ids, name="age")
    groups = pd.Series([f"g{i // 4}" for i in range(80)], index=table.sample_ids)
    return table, encoder, embeddings, target, groups


def test_the_readout_learns_a_linear_signal_on_held_out_samples(planted):
    table, encoder, _, target, groups = planted
    train_ids, test_ids = table.sample_ids[:60], table.sample_ids[60:]
    model = api.fit_regressor(table.select_samples(train_ids), target[train_ids],
                              groups=groups[train_ids], pretrained=encoder, train=RIDGE,
                              **QUIET)
    assert "ridge_alpha" in model.history and len(model.history) == 5  # one row a member
    test = table.select_samples(test_ids)
    predicted = api.predict(model, test, **QUIET)
    error = np.abs(predicted - target[test_ids]).mean()
    baseline = np.abs(target[train_ids].mean() - target[test_ids]).mean()
    assert error < 0.4 * baseline, (error, baseline)
    interval = api.predict_interval(model, test, **QUIET)
    assert (interval["lower"] <= interval["prediction"]).all()
    assert (interval["prediction"] <= interval["upper"]).all()


def test_the_head_holds_the_closed_form_solution_and_survives_saving(planted, tmp_path):
    table, encoder, embeddings, target, groups = planted
    train = replace(RIDGE, ensemble_size=1, validation_fraction=0.0, loss="mse")
    model = api.fit_regressor(table, target, groups=groups, pretrained=encoder,
                              train=train, **QUIET)
    alpha = float(model.history["ridge_alpha"].iloc[0])
    mean, std = target.mean(), target.std(ddof=0)
    w, b = readout.solve(embeddings, ((target - mean) / std).to_numpy(), np.ones(80), alpha)
    expected = (embeddings @ w + b) * std + mean
    model.save(tmp_path / "m")
    loaded = ModelBundle.load(tmp_path / "m")
    predicted = api.predict(loaded, table, **QUIET)
    assert np.allclose(predicted.to_numpy(), expected, atol=1e-3 * std)


def test_the_penalty_is_chosen_by_grouped_folds():
    groups = np.array([f"g{i // 3}" for i in range(30)])
    folds = readout.inner_folds(groups, seed=0)
    assert sorted(np.concatenate(folds)) == list(range(30))
    for rows in folds:  # a group never straddles a fold
        inside = set(groups[rows])
        assert not inside & set(np.delete(groups, rows))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 5))
    noise_only = rng.normal(size=30)
    alpha, _ = readout.choose_alpha(x, noise_only, np.ones(30), groups, 0)
    assert alpha >= 100  # no signal: close to predicting the mean


def test_few_groups_shrink_more_than_many():
    """The one-standard-error rule with fewer than FEW_GROUPS groups, the
    smallest cross-validated error from there on."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(80, 6))
    y = x @ rng.normal(size=6) + rng.normal(scale=2.0, size=80)
    many = np.array([f"s{i}" for i in range(80)])
    few = np.array([f"g{i % 20}" for i in range(80)])
    alpha_many, _ = readout.choose_alpha(x, y, np.ones(80), many, 0)
    alpha_few, _ = readout.choose_alpha(x, y, np.ones(80), few, 0)
    assert alpha_few > alpha_many


def test_under_exp_the_head_holds_the_line_fitted_to_the_logarithm(planted):
    table, encoder, embeddings, target, groups = planted
    train = replace(RIDGE, ensemble_size=1, validation_fraction=0.0, loss="mse")
    model = api.fit_regressor(table, target, groups=groups, pretrained=encoder, train=train,
                              head_options={"output_activation": "exp"}, **QUIET)
    alpha = float(model.history["ridge_alpha"].iloc[0])
    w, b = readout.solve(embeddings, np.log(target.to_numpy()), np.ones(80), alpha)
    predicted = api.predict(model, table, **QUIET)
    assert np.allclose(predicted.to_numpy(), np.exp(embeddings @ w + b), rtol=1e-3)
    negative = target - target.min()  # one target at 0, whose logarithm is -inf
    with pytest.raises(AAMInputError, match="fits a line to the target's logarithm, but 1 "):
        api.fit_regressor(table, negative, groups=groups, pretrained=encoder, train=train,
                          head_options={"output_activation": "exp"}, **QUIET)


@pytest.mark.parametrize("change, message", [
    (dict(pretrained=False), "reads a pretrained encoder's embeddings"),
    (dict(loss="mae"), "set loss to 'mse', 'huber' or 'quantile', not 'mae'"),
    (dict(epochs=5), "epochs=5 would be ignored"),
    (dict(head_options={"hidden_layers": 2}), "is linear"),
    (dict(head_options={"output_bounds": (0.0, None)}), "is unbounded"),
    (dict(head_options={"output_activation": "softplus"}), "or set it to 'exp'"),
    (dict(conditioned=True), "leave out the conditioning"),
    (dict(normalisation="minmax"), "normalisation='minmax' would be ignored"),
    (dict(freeze_nucleotide_encoder=False), "freeze_nucleotide_encoder=False would be ignored"),
    (dict(head_options={"residual_head": True}), "is linear"),
    (dict(head_options={"head_dropout": 0.5}), "is linear"),
    (dict(distances=True), "the distance matrix would be ignored"),
])
def test_what_the_readout_cannot_honour_is_refused(planted, change, message):
    table, encoder, _, target, groups = planted
    change = dict(change)
    pretrained = encoder if change.pop("pretrained", True) else None
    head = change.pop("head_options", None)
    conditioning = None
    if change.pop("conditioned", False):
        conditioning = pd.DataFrame({"site": ["a", "b"] * 40}, index=table.sample_ids)
    distances = None
    if change.pop("distances", False):
        ids = table.sample_ids
        distances = skbio.DistanceMatrix(1 - np.eye(len(ids)), ids)
    with pytest.raises(AAMInputError, match=message):
        api.fit_regressor(table, target, groups=groups, pretrained=pretrained,
                          train=replace(RIDGE, **change), head_options=head,
                          conditioning=conditioning, distances=distances, **QUIET)


def _fitted_readout(planted, train, **inputs) -> tuple:
    table, encoder, _, target, groups = planted
    if inputs.pop("groups", None) == "one":
        groups = pd.Series("g0", index=groups.index)
    said = []
    model = api.fit_regressor(table, target, groups=groups, train=train,
                              log=said.append, **{"pretrained": encoder, **inputs})
    return model.config["training"]["readout"], " ".join(said)


def test_auto_reads_a_pretrained_encoder_out_by_ridge(planted):
    assert FIT_TRAIN_DEFAULTS.readout == "auto"
    used, said = _fitted_readout(planted, replace(FIT_TRAIN_DEFAULTS, ensemble_size=2))
    assert used == "ridge"
    assert "readout='auto': the ridge readout" in said


@pytest.mark.parametrize("change, inputs, reason", [
    (dict(epochs=3), {}, "epochs=3 would be ignored"),
    (dict(loss="mae"), {}, "not 'mae'"),
    (dict(freeze_encoder=True), {}, "freeze_encoder=True asks for a head trained"),
    ({}, dict(head_options={"hidden_layers": 2}), "is linear"),
    ({}, dict(pretrained=None), None),
    (dict(validation_fraction=0.0), dict(groups="one"), "belong to one group"),
])
def test_auto_fine_tunes_when_the_settings_ask_for_gradient_training(planted, change,
                                                                      inputs, reason):
    train = replace(FIT_TRAIN_DEFAULTS, ensemble_size=1, **{"epochs": 1, **change})
    if "epochs" not in change:  # epochs alone would already say 'fine-tune'
        train = replace(train, epochs=FIT_TRAIN_DEFAULTS.epochs)
    used, said = _fitted_readout(planted, train, **inputs)
    assert used == "fine_tune"
    if reason is None:  # no encoder: nothing to read out, nothing to say
        assert "readout='auto'" not in said
    else:
        assert "readout='auto': fine-tuning" in said and reason in said


def test_auto_fine_tunes_a_classifier(planted):
    table, encoder, _, target, groups = planted
    labels = (target > target.median()).map({True: "old", False: "young"})
    model = api.fit_classifier(table, labels, groups=groups, pretrained=encoder,
                               train=replace(FIT_TRAIN_DEFAULTS, ensemble_size=1, epochs=1),
                               **QUIET)
    assert model.config["training"]["readout"] == "fine_tune"


def test_auto_reads_out_inside_each_category_of_normalise_by(planted):
    """The study column (README: name it when studies' targets differ): the
    line is fitted inside each category, and a new sample of a category
    gets that category's level, which the embedding alone does not tell."""
    from aam_core.config import ConditioningConfig
    table, encoder, _, target, groups = planted
    study = pd.Series(np.where(np.arange(80) % 2, "old", "young"), index=table.sample_ids)
    aged = target + np.where(study == "old", 40.0, 0.0)
    categories = study.to_frame("study")
    train_ids, test_ids = table.sample_ids[:60], table.sample_ids[60:]
    fitted = {}
    for by in (None, "study"):
        model = api.fit_regressor(
            table.select_samples(train_ids), aged[train_ids], groups=groups[train_ids],
            pretrained=encoder, categories=categories.loc[train_ids],
            conditioning_config=ConditioningConfig(normalise_by=by), **QUIET)
        predicted = api.predict(model, table.select_samples(test_ids),
                                conditioning=categories.loc[test_ids] if by else None,
                                **QUIET)
        fitted[by] = (model.config["training"]["readout"],
                      np.abs(predicted - aged[test_ids]).mean())
    assert fitted["study"][0] == "ridge"
    assert fitted["study"][1] < 0.25 * fitted[None][1], fitted
