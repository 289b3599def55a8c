"""The label-efficiency benchmark's draws, probe heads and tables."""
import numpy as np
import pandas as pd
import pytest

from benchmarks.label_efficiency import (draw_labelled, embedding_head, markdown, summary,
                                        with_baselines)


def _metadata():
    groups = ["big"] * 30 + [f"p{i}" for i in range(40)]
    return pd.DataFrame({"group": groups, "study": ["s"] * 70},
                        index=[f"x{i}" for i in range(70)])


def test_draws_take_whole_groups_and_exactly_n():
    metadata = _metadata()
    for seed in range(5):
        chosen = draw_labelled(metadata, 20, seed)
        assert len(chosen) == len(set(chosen)) == 20
        groups = metadata.loc[chosen, "group"]
        # at most one group (the last drawn) is cut to fill N
        cut = [g for g in groups.unique() if (metadata["group"] == g).sum() > (groups == g).sum()]
        assert len(cut) <= 1
    assert draw_labelled(metadata, 20, 1) == draw_labelled(metadata, 20, 1)


def test_a_group_that_alone_fills_n_leaves_room_for_another():
    # a fit's grouped validation split needs two groups in the draw
    metadata = _metadata()
    for seed in range(10):
        chosen = draw_labelled(metadata, 25, seed)
        assert len(chosen) == 25
        assert metadata.loc[chosen, "group"].nunique() >= 2
    assert draw_labelled(metadata, 20, 1) != draw_labelled(metadata, 20, 2)


def test_probe_heads_learn_a_planted_signal():
    pytest.importorskip("sklearn")  # the newest-stack environment has no scikit-learn
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 2))
    y = 40 + 10 * x[:, 0] + rng.normal(scale=0.5, size=200)
    groups = pd.Series(np.repeat(np.arange(100), 2).astype(str))
    for kind in ("knn", "ridge"):
        predicted = embedding_head(kind, x[:150], y[:150], groups[:150], x[150:])
        baseline = np.abs(y[150:] - y[:150].mean()).mean()
        assert np.abs(predicted - y[150:]).mean() < 0.5 * baseline


def test_tables_give_the_ratio_to_the_forest():
    rows = pd.DataFrame([
        {"population": "all", "fold": f, "n": n, "n_labelled": 50 if n == 50 else 900,
         "draw": 0, "method": m, "mae": mae, "spearman": 0.1, "seconds": 1.0}
        for f in (0, 1) for n in (50, "all")
        for m, mae in (("forest", 10.0), ("knn", 8.0))])
    table = summary(rows)
    knn = table[(table["method"] == "knn") & (table["n"] == "50")].iloc[0]
    assert knn["vs_forest"] == 0.8 and knn["folds"] == 2
    text = markdown("all", rows)
    assert "| 50 | knn | 8.00 | 0.80x | 0.10 | 1 |  |" in text
    assert "| all | forest | 10.00 | 1.00x |" in text


def test_a_tagged_run_borrows_the_baselines_of_its_population():
    def row(population, fold, method, mae):
        return {"population": population, "fold": fold, "n": 150, "n_labelled": 150,
                "draw": 0, "method": method, "mae": mae, "spearman": 0.1, "seconds": 1.0}
    base = pd.DataFrame([row("all", f, m, 10.0 + f) for f in (0, 1, 2)
                         for m in ("forest", "study_mean", "median", "aam")])
    tagged = pd.DataFrame([row("all-transductive", f, "aam", 8.0) for f in (0, 1)])
    frames = {"all": base, "all-transductive": tagged}
    rows = with_baselines("all-transductive", tagged, frames)
    # forest and study_mean of folds 0 and 1 only; the base's own aam is not taken
    assert sorted(rows["method"]) == ["aam", "aam", "forest", "forest", "median", "median",
                                      "study_mean", "study_mean"]
    assert set(rows["fold"]) == {0, 1} and set(rows["population"]) == {"all-transductive"}
    assert summary(rows).set_index("method").loc["aam", "vs_forest"] == 8.0 / 10.5
    assert with_baselines("all", base, frames) is base


def test_saved_predictions_keep_sample_ids_as_text(tmp_path):
    """American Gut's ids look like numbers; read back as numbers they stop
    matching the metadata, and a later run's columns land on other rows."""
    from benchmarks.label_efficiency import read_predictions
    path = tmp_path / "fold.tsv"
    ids = ["10317.000010170", "10317.000002335"]
    pd.DataFrame({"50/0/forest": [1.0, 2.0]}, index=ids).to_csv(path, sep="\t")
    frame = read_predictions(path)
    assert frame.index.tolist() == ids
    assert frame["50/0/forest"].tolist() == [1.0, 2.0]


def test_encoders_cached_before_later_options_are_found(tmp_path, monkeypatch):
    # an encoder saved before alpha_weight, taxonomy_weight, expert_balance
    # or contrastive_weight existed is the same recipe (each is unused
    # without its input or at its default); whichever of them it was saved
    # without, it is found
    from benchmarks import label_efficiency
    monkeypatch.setattr(label_efficiency, "CACHE", tmp_path)
    options = {"epochs": 16, "alpha_weight": 5.0, "taxonomy_weight": 1.0,
               "expert_balance": 0.01, "contrastive_weight": 0.0}
    key = [0, 0, options, 1520, "jaccard"]
    earlier = label_efficiency._earlier_keys(key)
    assert earlier[0] == key
    assert [0, 0, {"epochs": 16}, 1520, "jaccard"] in earlier
    before_contrastive = [0, 0, {k: v for k, v in options.items()
                                 if k != "contrastive_weight"}, 1520, "jaccard"]
    assert before_contrastive in earlier
    assert len({label_efficiency._cache_path(k) for k in earlier}) == 16


def test_a_recipe_is_found_whatever_defaults_it_was_named_against():
    # pretrain's defaults were 16 epochs of 32 at 1e-3, then 8 of 32 at 2e-3,
    # now 8 of 64 at 2e-3: an encoder cached under either earlier one, with
    # --pretrain naming what differed (or every field it set), is found by
    # its recipe; a recipe that differs is never found under another's key
    from benchmarks import label_efficiency
    now = {"epochs": 8, "learning_rate": 0.002, "batch_size": 64}
    first = {"epochs": 16, "learning_rate": 0.001, "batch_size": 32}
    second = {"epochs": 8, "learning_rate": 0.002, "batch_size": 32}
    today = label_efficiency.recipe_keys([0, 0], now, 1520, {})
    assert [0, 0, now, 1520] == today[0]
    assert [0, 0, second, 1520, {"epochs": 8, "learning_rate": 0.002,
                                 "batch_size": 64}] in today
    assert [0, 0, second, 1520] not in today
    thirty_two = [0, 0, first, 1520, {"epochs": 8, "learning_rate": 0.002}]
    assert thirty_two not in today
    assert thirty_two in label_efficiency.recipe_keys([0, 0], now, 1520, {"batch_size": 32})
    assert [0, 0, second, 1520] in label_efficiency.recipe_keys(
        [0, 0], now, 1520, {"batch_size": 32})


def test_american_gut_ceiling_reads_relative_abundances():
    pytest.importorskip("sklearn")
    from types import SimpleNamespace

    import biom

    from benchmarks.american_gut_ceiling import features
    data = np.array([[1, 0, 3], [0, 0, 0], [3, 4, 1]], dtype=float)  # ASVs x samples
    table = biom.Table(data, ["a1", "a2", "a3"], ["s1", "s2", "s3"])
    train, test, counts = features(SimpleNamespace(table=table), ["s1", "s3"], ["s2"])
    assert list(train.index) == ["s1", "s3"] and list(test.index) == ["s2"]
    assert "a2" not in train.columns  # an ASV of none of them
    assert np.allclose(train.sum(axis=1), 1.0) and np.allclose(test.sum(axis=1), 1.0)
    assert counts.loc["s2", "a3"] == 4


def test_american_gut_ceiling_table_gives_the_ratio_to_the_study_mean():
    from benchmarks.american_gut_ceiling import FOLDS, markdown
    rows = [{"fold": f, "method": m, "mae": mae} for f in FOLDS
            for m, mae in (("study_mean", 10.0), ("ridge on clr", 9.0))]
    text = markdown(rows)
    assert "| ridge on clr | 9.00 | 9.00 | 9.00 | 9.00 | 9.00 | 0.900x |" in text
    assert text.splitlines()[2].startswith("| ridge on clr")  # best first
