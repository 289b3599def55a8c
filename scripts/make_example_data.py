#!/usr/bin/env python3
"""Derive examples/oral-age-mini from the shared oral-age data set.

Reproducible (seeded). Keeps ~180 samples spread over studies and
pseudo-subjects (`group`) so that a split by group leaves many groups on both
sides: huge repeated-measure groups are capped at a few samples, American Gut
(one group per sample) is sampled evenly over age decades. Features absent
from the kept samples are dropped and the tree is sheared to the rest.

    python3 scripts/make_example_data.py [--source DIR] [--out DIR]
"""
import argparse
import contextlib
import datetime
import os

import biom
import h5py
import numpy as np
import pandas as pd
import skbio

SEED = 20200630
PER_GROUP_CAP = 2          # samples kept per pseudo-subject
SINGLE_GROUP_STUDY_CAP = 6  # studies that are one person sampled hundreds of times
STUDY_GROUP_CAP = {'2024': 2}
AMERICAN_GUT = '10317'
AMERICAN_GUT_N = 45
TEST_GROUP_FRACTION = 0.25


def pick_samples(md, rng):
    kept = []
    for study, sub in md.groupby('study', sort=True):
        if study == AMERICAN_GUT:
            kept.append(_even_over_age(sub, AMERICAN_GUT_N, rng))
            continue
        cap = STUDY_GROUP_CAP.get(study, PER_GROUP_CAP)
        if sub['group'].nunique() == 1:
            cap = SINGLE_GROUP_STUDY_CAP
        for _, grp in sub.groupby('group', sort=True):
            n = min(cap, len(grp))
            kept.append(grp.iloc[np.sort(rng.choice(len(grp), n, replace=False))])
    return pd.concat(kept)


def _even_over_age(sub, n, rng):
    decades = (sub['age'] // 10).astype(int)
    bins = sorted(decades.unique())
    per_bin = max(1, n // len(bins))
    picks = []
    for d in bins:
        idx = np.flatnonzero(decades.values == d)
        take = min(per_bin, len(idx))
        picks.extend(rng.choice(idx, take, replace=False))
    rest = np.setdiff1d(np.arange(len(sub)), picks)
    short = n - len(picks)
    if short > 0:
        picks.extend(rng.choice(rest, min(short, len(rest)), replace=False))
    return sub.iloc[np.sort(picks)]


def assign_split(md, rng):
    """Hold out ~25% of the groups of each study (at least one group per
    study that has two or more), so train and test never share a subject."""
    test_groups = set()
    for _, sub in md.groupby('study', sort=True):
        groups = np.array(sorted(sub['group'].unique()))
        if len(groups) < 2:
            continue
        n_test = max(1, int(round(TEST_GROUP_FRACTION * len(groups))))
        test_groups.update(rng.choice(groups, n_test, replace=False))
    # single-group studies: alternate them between the sides
    singles = sorted(s for s, sub in md.groupby('study')
                     if sub['group'].nunique() == 1)
    test_groups.update(md.loc[md['study'] == s, 'group'].iloc[0]
                       for s in singles[1::2])
    return np.where(md['group'].isin(test_groups), 'test', 'train')


@contextlib.contextmanager
def _fixed_creation_date():
    """biom stamps datetime.now() into the file; pin it so that the file is
    byte-for-byte reproducible."""
    import biom.table

    class _Fixed(datetime.datetime):
        @classmethod
        def now(cls, tz=None):
            return cls(2020, 6, 30)

    saved = biom.table.datetime
    biom.table.datetime = _Fixed
    try:
        yield
    finally:
        biom.table.datetime = saved


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--source', default=os.path.join(
        here, '..', '..', 'shared', 'data', 'oral-age'))
    p.add_argument('--out', default=os.path.join(
        here, '..', 'examples', 'oral-age-mini'))
    args = p.parse_args()
    if not os.path.isdir(args.source):
        args.source = '/work/shared/data/oral-age'
    rng = np.random.default_rng(SEED)

    md = pd.read_csv(os.path.join(args.source, 'metadata.tsv'), sep='\t',
                     dtype={'sample-id': str, 'study': str, 'group': str})
    kept = pick_samples(md, rng).copy()
    kept['split'] = assign_split(kept, rng)

    table = biom.load_table(os.path.join(args.source, 'table.biom'))
    table = table.filter(kept['sample-id'].tolist(), axis='sample',
                         inplace=False)
    table = table.filter(lambda v, i, m: v.sum() > 0, axis='observation',
                         inplace=False)
    kept = kept.set_index('sample-id').loc[list(table.ids('sample'))]
    kept = kept.reset_index()

    tree = skbio.TreeNode.read(os.path.join(args.source, 'tree.nwk'))
    tree = tree.shear(set(table.ids('observation')))

    os.makedirs(args.out, exist_ok=True)
    with h5py.File(os.path.join(args.out, 'table.biom'), 'w') as f:
        with _fixed_creation_date():
            table.to_hdf5(f, 'q2-aam make_example_data.py', compress=True)
    kept.to_csv(os.path.join(args.out, 'metadata.tsv'), sep='\t', index=False)
    tree.write(os.path.join(args.out, 'tree.nwk'))

    n_groups = kept.groupby('split')['group'].nunique().to_dict()
    print(f'{table.shape[1]} samples, {table.shape[0]} features, '
          f'{kept["group"].nunique()} groups ({n_groups}), '
          f'age {kept["age"].min():.0f}-{kept["age"].max():.0f}')
    print(kept.groupby(['study', 'split']).size().unstack(fill_value=0))


if __name__ == '__main__':
    main()
