"""Subject-safe splits: whole groups (subjects) go to one side, for the
validation split of every training run and the test split of the pipelines.
A sample without a group is its own group, so it can never leak."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import AAMInputError


def sample_units(sample_ids: list, groups: pd.Series | None) -> pd.Series:
    """The unit each sample is drawn with, by sample id: its group, or itself."""
    sample_ids = [str(i) for i in sample_ids]
    if groups is None:
        return pd.Series(sample_ids, index=sample_ids, dtype=object)
    units = pd.Series(groups).rename(index=str).reindex(sample_ids).astype(object)
    return units.where(units.notna(), "__own__" + units.index.to_series())


def validation_split(n_samples: int, fraction: float, seed: int,
                     groups: np.ndarray | None = None):
    """(train_rows, validation_rows); whole groups go to one side only."""
    rng = np.random.default_rng(seed)
    if fraction <= 0 or n_samples < 4:
        return np.arange(n_samples), np.arange(0)
    if groups is None:
        order = rng.permutation(n_samples)
        n_val = max(2, int(round(n_samples * fraction)))
        return np.sort(order[n_val:]), np.sort(order[:n_val])
    labels, codes = np.unique(np.asarray(groups, dtype=str), return_inverse=True)
    if len(labels) < 2:
        raise ValueError("A grouped validation split needs at least two groups.")
    sizes = np.bincount(codes)
    wanted = n_samples * fraction
    order = rng.permutation(len(labels))
    # a group bigger than half the validation set would make the selection
    # metric the error on one subject (oral-age: one person, 508 samples), so
    # such groups stay in training whenever smaller ones can fill the split
    small = sizes <= max(1.0, wanted / 2)
    if sizes[small].sum() >= wanted:
        order = order[small[order]]
    chosen, taken = [], 0
    for group in order:
        if taken >= wanted or len(chosen) == len(labels) - 1:
            break
        chosen.append(group)
        taken += sizes[group]
    is_val = np.isin(codes, chosen)
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)


def holdout_split(targets: pd.Series, test_size: float, seed: int,
                  groups: pd.Series = None, stratify: bool = False):
    """(train_ids, test_ids). Whole units (groups) go to one side; with
    `stratify`, each class (a unit's majority class) is split on its own so
    that every class with two units or more appears on both sides."""
    rng = np.random.default_rng(seed)
    units = sample_units(list(targets.index), groups)
    if stratify:
        # a group's class: the most common class of its samples
        strata = targets.groupby(units).agg(
            lambda values: values.value_counts().index[0])
    else:
        strata = pd.Series("all", index=units.unique())
    sizes = units.value_counts()
    test_units = []
    for _, members in strata.groupby(strata, sort=True):
        unit_ids = list(members.index)
        wanted = test_size * sizes[unit_ids].sum()
        chosen, taken = [], 0
        for position in rng.permutation(len(unit_ids)):
            # stop at the wanted size, and leave one unit for training
            if taken >= wanted or len(chosen) == len(unit_ids) - 1:
                break
            chosen.append(unit_ids[position])
            taken += sizes[unit_ids[position]]
        test_units += chosen
    is_test = units.isin(set(test_units)).to_numpy()
    train_ids = list(units.index[~is_test])
    test_ids = list(units.index[is_test])
    if len(test_ids) < 2 or len(train_ids) < 4:
        raise AAMInputError(
            f"The split leaves {len(train_ids)} training and {len(test_ids)} "
            "test samples; it needs at least 4 and 2. Use more samples (or "
            "groups), or change test_size.")
    return train_ids, test_ids
