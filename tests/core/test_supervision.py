"""supervision: targets aligned with the table's samples, and refused when
they leave nothing to learn."""
import numpy as np
import pandas as pd
import pytest

from aam_core.errors import AAMInputError
from aam_core.supervision import aligned_targets, check_classes

IDS = [f"s{i}" for i in range(6)]


def test_targets_follow_the_table_and_drop_missing_values():
    messages = []
    targets = pd.Series([5.0, np.nan, 1.0, 2.0, 3.0, 4.0, 9.0], name="age",
                        index=IDS[::-1] + ["not-in-table"])
    aligned = aligned_targets("regressor", targets, IDS, messages.append)
    assert list(aligned.index) == ["s0", "s1", "s2", "s3", "s5"]
    assert aligned["s0"] == 4.0 and aligned["s5"] == 5.0
    assert messages == ["Dropped 1 sample(s) that have no target value (or no row "
                        "in the metadata)."]


@pytest.mark.parametrize("values, fragment", [
    ([7.0] * 6, "has the same value (7) for every sample"),
    ([np.inf, 1, 2, 3, 4, 5], "holds infinite values, e.g. samples s0"),
    ([1.0, 2.0, 3.0] + [np.nan] * 3, "Only 3 sample(s) have both counts and a target"),
    (["a", "b", "c", "d", "e", "f"], "must be numeric"),
])
def test_a_regressor_target_with_nothing_to_learn_is_refused(values, fragment):
    with pytest.raises(AAMInputError) as raised:
        aligned_targets("regressor", pd.Series(values, index=IDS, name="age"),
                        IDS, lambda m: None)
    assert fragment in str(raised.value)


def test_a_classifier_needs_two_classes_overall_and_in_each_training_split():
    one = pd.Series(["x"] * 6, index=IDS, name="label")
    with pytest.raises(AAMInputError, match="needs at least two classes"):
        aligned_targets("classifier", one, IDS, lambda m: None)
    target = pd.Series(["x", "x", "x", "x", "y", "y"], index=IDS)
    check_classes(target, [(np.arange(6), np.arange(0))])  # both classes: fine
    with pytest.raises(AAMInputError, match="member 2 are all of class 'x'"):
        check_classes(target, [(np.arange(6), []), (np.arange(4), np.arange(4, 6))])
