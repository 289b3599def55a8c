"""Shared fixtures: small data built in code, and the real oral-age data.

This file imports no QIIME 2: tests/core (aam_core and the `aam` command)
also runs in the newest-stack environment (.venv-newest, scripts/
bootstrap-newest.sh), which has no QIIME 2. There, the tests that need
QIIME 2 (tests/plugin, whose conftest imports it, and the accuracy harness,
which runs QIIME 2 actions) are not collected; in the Debian venv, where
QIIME 2 is installed, every test runs.
"""
from __future__ import annotations  # list[str] below, on Python 3.8

import importlib.util
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data" / "oral-age"
HAVE_QIIME2 = importlib.util.find_spec("qiime2") is not None

if not HAVE_QIIME2:
    collect_ignore_glob = ["plugin/*", "bench/test_accuracy_harness.py"]


def random_dna(rng: np.random.Generator, n: int, length: int) -> list[str]:
    return ["".join(rng.choice(list("ACGT"), size=length)) for _ in range(n)]


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def write_example_table(folder: Path, n_samples: int) -> list[str]:
    """The first `n_samples` samples of the example data as folder/table.biom
    (real BIOM, HDF5), ASVs none of them has left out; their ids."""
    import biom
    import h5py
    table = biom.load_table(str(REPO / "examples" / "oral-age-mini" / "table.biom"))
    table = table.filter(list(table.ids())[:n_samples], inplace=False).remove_empty(
        axis="observation")
    with h5py.File(folder / "table.biom", "w") as handle:
        table.to_hdf5(handle, "aam tests")
    return list(table.ids())


def write_example_files(folder: Path, n_samples: int) -> list[str]:
    """write_example_table, and the samples' age, group and study as
    folder/md.tsv (text, as written in the example metadata); their ids."""
    import pandas as pd
    ids = write_example_table(folder, n_samples)
    metadata = pd.read_csv(REPO / "examples" / "oral-age-mini" / "metadata.tsv", sep="\t",
                           index_col=0, dtype=str)
    metadata.loc[ids, ["age", "group", "study"]].to_csv(folder / "md.tsv", sep="\t")
    return ids


def overridden(base, extra) -> list:
    """`base` (flags of one value each) less the flags `extra` gives again,
    then `extra`: the `aam` command warns of a flag given twice with
    another value (argparse keeps the last)."""
    again = {str(a) for a in extra if str(a).startswith("--")}
    kept, skip = [], False
    for item in base:
        if not skip and str(item) in again:
            skip = True  # the flag; its value is left out next
            continue
        if not skip:
            kept.append(item)
        skip = False
    return kept + list(extra)
