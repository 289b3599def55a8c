"""Subject-safe splits: validation of one run and of ensemble members."""
import numpy as np
import pytest

from aam_core.data.split import fold_splits, member_splits
from aam_core.errors import AAMInputError


def test_fold_splits_partition_whole_groups():
    groups = np.repeat(np.arange(20), 3).astype(str)
    splits = fold_splits(60, 5, seed=0, groups=groups)
    validation = np.concatenate([val for _, val in splits])
    assert sorted(validation) == list(range(60))  # every sample out of fold once
    for train, val in splits:
        assert not set(groups[train]) & set(groups[val])
        assert sorted(np.concatenate([train, val])) == list(range(60))
        assert 9 <= len(val) <= 15


def test_a_subject_bigger_than_half_a_fold_stays_in_training():
    groups = np.array(["person"] * 40 + [f"s{i}" for i in range(60)])
    for train, val in fold_splits(100, 5, seed=3, groups=groups):
        assert not (groups[val] == "person").any()
        assert (groups[train] == "person").sum() == 40


def test_fold_splits_need_as_many_groups_as_folds():
    with pytest.raises(AAMInputError, match="there are only 2 groups: lower ensemble_size"):
        fold_splits(10, 5, seed=0, groups=np.array(["a", "b"] * 5))


def test_member_splits_random_mode_draws_one_split_per_member():
    groups = np.repeat(np.arange(30), 2).astype(str)
    splits = member_splits(60, 3, 0.1, seed=0, groups=groups, mode="random")
    assert len(splits) == 3
    assert len({tuple(val) for _, val in splits}) == 3  # seeds differ
    folds = member_splits(60, 3, 0.1, seed=0, groups=groups, mode="folds")
    assert sorted(np.concatenate([val for _, val in folds])) == list(range(60))


def test_one_group_cannot_be_split_and_the_message_says_why():
    with pytest.raises(AAMInputError, match="All 10 samples left to train on belong to one group"):
        member_splits(10, 2, 0.1, seed=0, groups=np.array(["p"] * 10))


@pytest.mark.parametrize("seed", range(6))
def test_validation_never_takes_a_group_of_more_than_half_the_samples(seed):
    # 150 labelled samples from two people, 3 and 147: a member that held out
    # the 147 would train on 3 (and used to be refused as "lower
    # validation_fraction", which cannot help a grouped split)
    groups = np.array(["few"] * 3 + ["many"] * 147)
    for train, val in member_splits(150, 5, 0.1, seed=seed, groups=groups):
        assert set(groups[val]) == {"few"} and len(train) == 147
