"""The per-study error table of benchmarks.error_by_study, by hand."""
import pandas as pd
import pytest

from benchmarks.error_by_study import study_blocks


def test_study_blocks_by_hand():
    held_out = pd.DataFrame({
        "study": ["a", "a", "b"], "group": ["p1", "p1", "p2"], "age": [30.0, 30.0, 50.0],
        "q2-aam": [32.0, 26.0, 40.0], "forest": [31.0, 31.0, 55.0]})
    training = pd.DataFrame({"study": ["a", "c"], "age": [20.0, 40.0]})
    blocks = study_blocks(held_out, training)
    assert blocks.loc["a", "seen"] and not blocks.loc["b", "seen"]
    assert blocks.loc["a", "groups"] == 1 and blocks.loc["a", "samples"] == 2
    assert blocks.loc["a", "training_mean"] == pytest.approx(30.0)
    # errors a: +2, -4 -> MAE 3, bias -1; b: -10
    assert blocks.loc["a", "q2-aam MAE"] == pytest.approx(3.0)
    assert blocks.loc["a", "q2-aam bias"] == pytest.approx(-1.0)
    assert blocks.loc["b", "q2-aam bias"] == pytest.approx(-10.0)
    assert blocks.loc["b", "forest mean"] == pytest.approx(55.0)
    assert blocks.loc["a", "forest MAE"] == pytest.approx(1.0)
