"""The study-only rules of benchmarks.study_rules, by hand."""
import pandas as pd
import pytest

from benchmarks.study_rules import RULES, rule_predictions


def test_rule_predictions_by_hand():
    training = pd.DataFrame({"study": ["a", "a", "c"], "age": [20.0, 30.0, 70.0]})
    held_out = pd.DataFrame({"study": ["a", "a", "a", "b"], "age": [24.0, 26.0, 40.0, 90.0]},
                            index=["s1", "s2", "s3", "s4"])
    rules = rule_predictions(held_out, training)
    assert list(rules.columns) == list(RULES)
    assert list(rules.index) == ["s1", "s2", "s3", "s4"]
    assert (rules["training median"] == 30.0).all()
    assert (rules["training mean"] == 40.0).all()
    # seen study a: its training mean 25; unseen b: the training mean 40
    assert rules["study's training mean"].tolist() == pytest.approx([25.0, 25.0, 25.0, 40.0])
    # seen study a: the median of its held-out ages (26), never b's own 90
    assert rules["oracle: study's held-out median"].tolist() == pytest.approx(
        [26.0, 26.0, 26.0, 40.0])
