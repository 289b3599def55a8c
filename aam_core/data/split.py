"""Subject-safe splits: whole groups (subjects) go to one side, for the
validation split of every training run and the test split of the pipelines.
A sample without a group is its own group, so it can never leak."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import AAMInputError
from ..spelling import spelled, spelled_metadata

# the fewest samples any training run (pretraining or fitting) trains on
MIN_TRAINING_SAMPLES = 4


def sample_units(sample_ids: list, groups: pd.Series | None) -> pd.Series:
    """The unit each sample is drawn with, by sample id: its group, or itself.
    Labels are text, so that numeric groups with empty cells (floats beside
    the samples' own ids) still sort."""
    sample_ids = [str(i) for i in sample_ids]
    if groups is None:
        return pd.Series(sample_ids, index=sample_ids, dtype=object)
    units = pd.Series(groups).rename(index=str).reindex(sample_ids).astype(object)
    return units.map(str).where(units.notna(), "__own__" + units.index.to_series())


def ungrouped(sample_ids, groups: pd.Series, where: str) -> str | None:
    """What to say of the samples without a group (absent from the groups
    metadata, or an empty cell there), each of which is drawn alone in
    `where`; None when every sample has one."""
    groups = pd.Series(groups).rename(index=str)
    ids = [str(i) for i in sample_ids]
    absent = [i for i in ids if i not in groups.index]
    empty = [i for i in ids if i in groups.index and pd.isna(groups[i])]
    if not absent and not empty:
        return None
    parts = ([f"{len(absent)} not in the groups metadata"] if absent else []) + (
        [f"{len(empty)} with an empty group"] if empty else [])
    return (f"{len(absent) + len(empty)} of the {len(ids)} samples have no group "
            f"({', '.join(parts)}; e.g. {', '.join((absent + empty)[:3])}): each is a "
            f"group of its own in {where}.")


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
        raise AAMInputError(f"All {n_samples} samples left to train on belong to one "
                            "group (a test split, where there is one, holds the "
                            "others), so no validation split can leave that subject "
                            "out of "
                            "training: give samples of at least two groups, or "
                            f"set {spelled('validation_fraction', 0)} (no early stopping).")
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
        # a group that would take half the samples from training is left
        # there (two groups of 3 and 147: validate on the 3, not train on them)
        if taken + sizes[group] > n_samples / 2:
            continue
        chosen.append(group)
        taken += sizes[group]
    is_val = np.isin(codes, chosen)
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)


def fold_splits(n_samples: int, k: int, seed: int, groups: np.ndarray | None = None):
    """k (train_rows, validation_rows) pairs whose validation sides are
    disjoint and together cover the samples: cross-validation folds, so
    that an ensemble of k members has one out-of-fold prediction per sample
    (honest residuals) and each member early-stops on 1/k of the data
    rather than on a thin random slice.

    Whole groups go to one fold; groups are dealt largest first to the
    smallest fold. A group bigger than half a fold stays in training for
    every member (as in validation_split: the selection metric must not be
    one subject's error) whenever the smaller groups can fill the folds.
    """
    what = "groups" if groups is not None else "samples"
    if groups is None:
        groups = np.arange(n_samples).astype(str)
    labels, codes = np.unique(np.asarray(groups, dtype=str), return_inverse=True)
    if len(labels) < k:
        raise AAMInputError(f"{spelled('ensemble_validation', 'folds')} deals the {what} into "
                            f"{spelled('ensemble_size', k)} folds, but there are only "
                            f"{len(labels)} {what}: lower {spelled('ensemble_size')} or use "
                            f"{spelled('ensemble_validation', 'random')}.")
    rng = np.random.default_rng(seed)
    sizes = np.bincount(codes)
    big = sizes > max(1.0, n_samples / k / 2)
    if sizes[~big].sum() < n_samples / 2 or (~big).sum() < k:
        big[:] = False
    order = rng.permutation(len(labels))
    order = order[np.argsort(-sizes[order], kind="stable")]
    fold_of, filled = np.full(len(labels), -1), np.zeros(k)
    for group in order[~big[order]]:
        fold_of[group] = int(np.argmin(filled))
        filled[fold_of[group]] += sizes[group]
    sample_fold = fold_of[codes]
    return [(np.flatnonzero(sample_fold != f), np.flatnonzero(sample_fold == f))
            for f in range(k)]


def member_splits(n_samples: int, members: int, fraction: float, seed: int,
                  groups: np.ndarray | None = None, mode: str = "random"):
    """The (train_rows, validation_rows) of each ensemble member: member i
    gets its own grouped split (seed + i), or, with mode 'folds', the i-th of
    `members` disjoint folds."""
    if mode == "folds" and members > 1:
        splits = fold_splits(n_samples, members, seed, groups)
    else:
        splits = [validation_split(n_samples, fraction, seed + i, groups)
                  for i in range(members)]
    for train_rows, val_rows in splits:
        if mode == "folds" and members > 1:
            _check_member_fold(len(train_rows), len(val_rows), n_samples)
        check_training_size(len(train_rows), n_samples, fraction)
    return splits


def _check_member_fold(n_train: int, n_validation: int, n_samples: int) -> None:
    """check_training_size for a member of disjoint folds, whose fold no
    validation_fraction sets (it is refused with them)."""
    if n_train >= MIN_TRAINING_SAMPLES or n_train == n_samples:
        return
    raise AAMInputError(
        f"With {spelled('ensemble_validation', 'folds')} an ensemble member validates on "
        f"a fold of {n_validation} of the {n_samples} usable samples, which leaves "
        f"{n_train} to train on; training needs at least {MIN_TRAINING_SAMPLES}. Give "
        "more samples (or groups: a group goes whole into one fold), or use "
        f"{spelled('ensemble_validation', 'random')}.")


def check_training_size(n_train: int, n_samples: int, fraction: float) -> None:
    """Refuse a run that would train on fewer than MIN_TRAINING_SAMPLES: its
    model would be fitted to a handful of samples and say nothing."""
    if n_train >= MIN_TRAINING_SAMPLES:
        return
    if n_train == n_samples:
        raise AAMInputError(
            f"Only {n_samples} usable sample(s): training needs at least "
            f"{MIN_TRAINING_SAMPLES}. Give more samples.")
    # an ungrouped split holds at least 2 samples, whatever the fraction
    lower = (f"Lower {spelled('validation_fraction', fraction)}, set it to 0"
             if n_samples - 2 >= MIN_TRAINING_SAMPLES else
             f"A lower fraction still validates on 2 of them: set "
             f"{spelled('validation_fraction', 0)}")
    raise AAMInputError(
        f"The validation split leaves {n_train} of the {n_samples} usable "
        f"samples to train on; training needs at least {MIN_TRAINING_SAMPLES}. "
        f"{lower} (no validation split: every sample trains, and fine-tuning keeps its "
        "last epoch), or give more "
        "samples.")


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
        test_units += _test_units(unit_ids, sizes, test_size * sizes[unit_ids].sum(), rng)
    is_test = units.isin(set(test_units)).to_numpy()
    train_ids = list(units.index[~is_test])
    test_ids = list(units.index[is_test])
    if len(test_ids) < 2 or len(train_ids) < MIN_TRAINING_SAMPLES:
        _refuse_one_subject(sizes, groups is not None)
        if stratify:
            _refuse_lone_strata(strata, sizes, groups is not None)
        raise AAMInputError(
            f"The split leaves {len(train_ids)} training and {len(test_ids)} "
            f"test samples; it needs at least {MIN_TRAINING_SAMPLES} and 2. Use more "
            f"samples (or groups), or change {spelled('test_size')}.")
    return train_ids, test_ids


def _refuse_one_subject(sizes: pd.Series, grouped: bool) -> None:
    """All samples but one or none in one group: that group goes whole to
    one side, and the rest cannot make the other, whatever test_size."""
    largest, n = int(sizes.max()), int(sizes.sum())
    if not grouped or n - largest >= 2:
        return
    groups = spelled_metadata("groups")
    raise AAMInputError(
        f"{'All' if largest == n else f'{largest} of the'} {n} samples belong to one group "
        f"({groups}), and a group goes whole to one side of the test split, so no "
        f"{spelled('test_size')} leaves at least {MIN_TRAINING_SAMPLES} training and 2 "
        f"test samples: give samples of more groups, or leave out {groups} to split by "
        "sample.")


def _refuse_lone_strata(strata: pd.Series, sizes: pd.Series, grouped: bool) -> None:
    """A stratified test split keeps one unit (group, or sample) of each
    class for training: when the classes of two units or more cannot give
    the test set 2 samples (every class in one group, say), no test_size can."""
    most = sum(int(sizes[list(m.index)].sum() - sizes[list(m.index)].min())
               for _, m in strata.groupby(strata) if len(m) > 1)
    if most >= 2:
        return
    per_class = strata.value_counts()
    unit = "group" if grouped else "sample"
    where = f" ({spelled_metadata('groups')})" if grouped else ""
    finer = (", or a finer groups column (or none, to split by sample)" if grouped
             else "")
    raise AAMInputError(
        f"The test split is stratified by class and keeps one {unit} of each class for "
        f"training, but {int((per_class < 2).sum())} of the {len(per_class)} classes lie "
        f"in a single {unit}{where}, so at most {most} sample(s) could be tested, and "
        f"the test needs 2: no {spelled('test_size')} changes that. Give the classes "
        f"samples of two {unit}s or more{finer}.")


def _test_units(unit_ids: list, sizes: pd.Series, wanted: float, rng) -> list:
    """Units (groups) of one stratum for the test set, in a random order,
    until `wanted` samples: the first one no larger than needed (if any
    is), then each that brings the count closer to `wanted`, so one big
    group cannot take the test set past a set of small ones; one unit is
    always left for training."""
    order = [unit_ids[p] for p in rng.permutation(len(unit_ids))]
    fits = [u for u in order if sizes[u] <= max(wanted, sizes[unit_ids].min())]
    chosen, taken = [], 0
    for unit in ([fits[0]] if fits else []) + [u for u in order if not fits or u != fits[0]]:
        if taken >= wanted or len(chosen) == len(unit_ids) - 1:
            break
        if not chosen or abs(taken + sizes[unit] - wanted) < abs(taken - wanted):
            chosen.append(unit)
            taken += sizes[unit]
    return chosen


def _refuse_lone_classes(labels: pd.Series, grouped: bool) -> None:
    """A class of one unit (sample, or group) is missing from the training
    samples of the fold that tests it, which then cannot learn it."""
    counts = labels.value_counts()
    lone = [str(c) for c in counts.index[counts < 2]]
    if lone:
        unit = "group" if grouped else "sample"
        raise AAMInputError(
            f"The class(es) {', '.join(map(repr, lone[:5]))} of the target have one "
            f"{unit} each: the fold that tests such a class trains without it and "
            "cannot learn it. Remove those samples, or merge each such class with "
            "another.")


def cv_folds(targets: pd.Series, k: int, seed: int, groups: pd.Series = None,
             stratify: bool = False) -> list:
    """The test sample ids of each of `k` cross-validation folds: disjoint,
    together every sample, whole units (groups) to one fold. Units are dealt
    largest first to the fold with the fewest samples (with `stratify`: the
    fewest of the unit's class, a unit's class being its most common), so
    that folds are alike in size and class mix. Unlike fold_splits (an
    ensemble's validation folds), no big group is kept out: every sample
    must be predicted."""
    if k < 2:
        raise AAMInputError(f"{spelled('cv')} must be at least 2 (one fold to test, "
                            f"the others to train), not {k}.")
    units = sample_units(list(targets.index), groups)
    sizes = units.value_counts()
    if len(sizes) < k and groups is None:
        raise AAMInputError(
            f"{spelled('cv', k)}, but there are only {len(sizes)} samples to deal "
            f"into folds: lower {spelled('cv')} to at most {len(sizes)}.")
    if len(sizes) < 2:
        raise AAMInputError(
            f"The samples form only {len(sizes)} group, and a group cannot be split "
            "over folds: cross-validation needs at least 2 groups. Use a finer "
            "groups column.")
    if len(sizes) < k:
        raise AAMInputError(
            f"{spelled('cv', k)}, but the samples form only {len(sizes)} groups, "
            f"and a group cannot be split over folds: lower {spelled('cv')} "
            f"to at most {len(sizes)}, or use a finer groups column.")
    labels = (targets.groupby(units).agg(lambda v: v.value_counts().index[0])
              if stratify else pd.Series("all", index=sizes.index))
    if stratify:
        _refuse_lone_classes(labels, groups is not None)
    order = np.random.default_rng(seed).permutation(sorted(sizes.index))
    order = sorted(order, key=lambda unit: -sizes[unit])  # stable: ties stay shuffled
    filled = {label: np.zeros(k) for label in labels.unique()}
    total, fold_of = np.zeros(k), {}
    for unit in order:
        of_class = filled[labels[unit]]
        # fewest of this class, then fewest in all: an empty fold is always
        # taken first, so no fold ends up empty
        fold = min(range(k), key=lambda f: (of_class[f], total[f]))
        fold_of[unit] = fold
        of_class[fold] += sizes[unit]
        total[fold] += sizes[unit]
    sample_fold = units.map(fold_of)
    if groups is not None:
        _check_fold_training(sizes, fold_of)
    return [list(units.index[(sample_fold == f).to_numpy()]) for f in range(k)]


def _check_fold_training(sizes: pd.Series, fold_of: dict) -> None:
    """Each fold is predicted by a model fitted on the other folds: a group
    so big that the rest is too few to fit on is named, not left to a
    message about too few samples."""
    for fold in set(fold_of.values()):
        training = sum(n for unit, n in sizes.items() if fold_of[unit] != fold)
        if training >= MIN_TRAINING_SAMPLES:
            continue
        big = max((u for u in sizes.index if fold_of[u] == fold), key=sizes.get)
        raise AAMInputError(
            f"Fold {fold + 1}: group {big!r} holds {sizes[big]} of the {sizes.sum()} "
            f"samples, so the model that predicts it would train on the other "
            f"{training} only (it needs at least {MIN_TRAINING_SAMPLES}). Give more "
            "samples of other groups, or a finer groups column.")
