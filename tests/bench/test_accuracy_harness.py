"""The accuracy harness on data made in code: folds are grouped, scores are right."""
import biom
import numpy as np
import pandas as pd
import pytest

from benchmarks.accuracy import (Recipe, Settings, classification_scores, grouped_folds,
                                 markdown, regression_scores, run)
from tests.conftest import random_dna


def test_grouped_folds_keep_groups_whole_and_balanced():
    groups = pd.Series(np.repeat([f"g{i}" for i in range(30)], np.arange(1, 31) % 7 + 1))
    folds = grouped_folds(groups, 5, seed=0)
    per_group = pd.Series(folds).groupby(groups.to_numpy()).nunique()
    assert (per_group == 1).all()
    sizes = np.bincount(folds)
    assert sizes.max() - sizes.min() <= 7


def test_stratified_grouped_folds_mix_both_classes():
    groups = pd.Series([f"g{i // 2}" for i in range(80)])
    labels = pd.Series(np.where(np.arange(80) < 20, "rare", "common"))
    folds = grouped_folds(groups, 4, seed=1, labels=labels)
    # 10 rare groups of 2 over 4 folds: 2 or 3 groups each, never 0 or 4+
    for fold in range(4):
        assert (labels[folds == fold] == "rare").sum() in (4, 6)


def test_scores_by_hand():
    truth = pd.Series([1.0, 2.0, 3.0, 4.0], index=list("abcd"))
    scores = regression_scores(truth, pd.Series([2.0, 2.0, 3.0, 5.0], index=list("dcba")))
    # reindexed: a 5, b 3, c 2, d 2 -> errors 4, 1, -1, -2
    assert scores["mae"] == pytest.approx(2.0)
    assert scores["rmse"] == pytest.approx(np.sqrt(22 / 4))
    assert scores["r2"] == pytest.approx(1 - 22 / 5)
    assert regression_scores(truth, pd.Series(2.5, index=truth.index))["spearman"] == 0.0
    labels = pd.Series(["x", "y", "y", "x"], index=list("abcd"))
    probabilities = pd.DataFrame({"x": [0.9, 0.2, 0.4, 0.3], "y": [0.1, 0.8, 0.6, 0.7]},
                                 index=list("abcd"))
    scores = classification_scores(labels, probabilities)
    assert scores["auroc"] == pytest.approx(0.75) and scores["accuracy"] == 0.75


@pytest.fixture
def planted_study(tmp_path, rng):
    """72 samples in 24 subjects; age follows the share of a few ASVs."""
    features = random_dna(rng, 40, 30)
    subjects = np.repeat(np.arange(24), 3)
    age = 20 + 50 * rng.random(24)[subjects]
    counts = rng.poisson(2.0, size=(72, 40)) + 1
    counts[:, :5] += (age[:, None] * rng.random((72, 5))).astype(int)
    ids = [f"s{i}" for i in range(72)]
    table = biom.Table(counts.T, features, ids)
    with biom.util.biom_open(str(tmp_path / "table.biom"), "w") as handle:
        table.to_hdf5(handle, "test")
    pd.DataFrame({"sample-id": ids, "age": age, "group": [f"p{s}" for s in subjects]}).to_csv(
        tmp_path / "metadata.tsv", sep="\t", index=False)
    return tmp_path


def test_regression_run_through_qiime2_actions(planted_study):
    settings = Settings(data=planted_study, folds=3, n_estimators=50, name="planted")
    recipe = Recipe(preset="tiny", fit_epochs=2, batch_size=16, ensemble_size=2)
    report = run(settings, recipe, log=lambda m: None)
    assert report["recipe"]["pretrain"] is False  # no tree: no UniFrac pretraining
    assert len(report["folds"]) == 9
    assert set(report["summary"]) == {"baseline", "random_forest", "q2_aam"}
    forest = report["summary"]["random_forest"]["mae"]["mean"]
    assert forest < report["summary"]["baseline"]["mae"]["mean"]


def test_classification_run_through_qiime2_actions(planted_study):
    # two folds at a time, each in its own process
    settings = Settings(data=planted_study, folds=3, n_estimators=50, task="classification",
                        threshold=45.0, name="planted", jobs=2)
    recipe = Recipe(preset="tiny", fit_epochs=2, batch_size=16, ensemble_size=2)
    report = run(settings, recipe, log=lambda m: None)
    assert sorted(row["fold"] for row in report["folds"]) == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert report["summary"]["baseline"]["auroc"]["mean"] == pytest.approx(0.5)
    assert report["summary"]["random_forest"]["auroc"]["mean"] > 0.7
    assert 0 <= report["summary"]["q2_aam"]["auroc"]["mean"] <= 1
    table = markdown(report)
    assert "| q2_aam |" in table and "per fold" in table
