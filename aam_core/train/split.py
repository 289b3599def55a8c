"""Validation splits: grouped whenever groups are known (never leak a subject)."""
from __future__ import annotations

import numpy as np


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
