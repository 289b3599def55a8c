"""benchmarks.time_to_result's helpers: phase timing, epoch breakdown,
resampling, and the report table (the run itself is a benchmark)."""
import types

import biom
import numpy as np
import pandas as pd
import pytest

from benchmarks import time_to_result as ttr


def test_wrapped_reports_each_call_and_restores_the_function():
    module = types.SimpleNamespace(work=lambda x: x * 2)
    original = module.work
    calls = []
    with ttr.wrapped(module, "work", lambda s, i, r: calls.append((i, r, s >= 0))) as found:
        assert found
        assert module.work(3) == 6 and module.work(4) == 8
    assert calls == [(0, 6, True), (1, 8, True)]
    assert module.work is original


def test_wrapped_says_when_there_is_nothing_to_wrap():
    module = types.SimpleNamespace()
    with ttr.wrapped(module, "moved_away", lambda *a: None) as found:
        assert not found
    assert not hasattr(module, "moved_away")


def test_epoch_phases_per_member():
    history = pd.DataFrame({"epoch": [1, 2, 1], "member": [0, 0, 1],
                            "seconds": [1.5, 2.0, 3.0]})
    phases = ttr.epoch_phases(history, "fit")
    assert [p["phase"] for p in phases] == ["fit member 1 epoch 1", "fit member 1 epoch 2",
                                            "fit member 2 epoch 1"]
    assert sum(p["seconds"] for p in phases) == 6.5
    plain = ttr.epoch_phases(history.drop(columns="member"), "pretrain")
    assert plain[1]["phase"] == "pretrain epoch 2"


def test_timer_totals_by_prefix_and_ratio():
    timer = ttr.Timer()
    timer.phases = [{"phase": "forest fit", "seconds": 2.0},
                    {"phase": "forest predict", "seconds": 1.0},
                    {"phase": "aam pretrain", "seconds": 12.0},
                    {"phase": "  pretrain epoch 1", "seconds": 11.0}]
    with timer.phase("aam predict-regression", note="x"):
        pass
    assert timer.phases[-1]["note"] == "x"
    assert timer.total("forest") == 3.0
    # sub-phases (indented) are not counted twice
    assert timer.total("aam") == pytest.approx(12.0, abs=0.1)
    assert ttr.ratio(12.0, 3.0) == 4.0


def test_resample_table_draws_real_samples_with_new_ids():
    table = biom.Table(np.array([[1, 0, 3], [0, 2, 5]]), ["f1", "f2"], ["a", "b", "c"])
    resampled = ttr.resample_table(table, 7, seed=1)
    assert resampled.shape == (2, 7)
    assert list(resampled.ids()) == [f"r{i}" for i in range(7)]
    real = {tuple(table.data(s)) for s in table.ids()}
    assert {tuple(resampled.data(s)) for s in resampled.ids()} <= real


def test_markdown_names_a_subset_and_gives_both_accuracies():
    scores = {"mae": 5.0, "rmse": 7.0, "r2": 0.3, "spearman": 0.5}
    report = {"date": "d", "machine": "m", "n_train": 10, "n_test": 5,
              "settings": {"threads": 2, "pretrain_epochs": 2, "fit_epochs": None,
                           "ensemble_size": None, "train_fraction": 1.0},
              "phases": [{"phase": "forest fit", "seconds": 3.0},
                         {"phase": "  pretrain epoch 1", "seconds": 9.0}],
              "forest_seconds": 3.0, "aam_seconds": 30.0, "ratio": 10.0,
              "accuracy": {"random_forest": scores, "q2_aam": {**scores, "mae": 6.0}}}
    text = ttr.markdown(report)
    assert "NOT the defaults; changed: pretrain epochs 2." in text
    assert "| random forest (fit + predict) | 3 | 5.00 |" in text
    assert "| 6.00 |" in text and "**10.0x**" in text
    assert "&nbsp;&nbsp;&nbsp;&nbsp;pretrain epoch 1 | 9.0 |" in text
