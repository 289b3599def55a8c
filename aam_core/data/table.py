"""Feature tables as sparse sample x feature counts, and their cleaning rules."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import scipy.sparse as sp

from ..errors import AAMInputError
from ..spelling import interface, spelled


@dataclass
class CountTable:
    """Counts of samples (rows) x features (columns), CSR, float64."""
    sample_ids: list[str]
    feature_ids: list[str]
    counts: sp.csr_matrix

    @classmethod
    def from_biom(cls, table) -> "CountTable":
        """From a biom.Table (features x samples, as BIOM stores it)."""
        if not hasattr(table, "matrix_data"):  # e.g. a DataFrame: no traceback
            raise AAMInputError(
                f"The table must be a biom.Table (biom.load_table('table.biom')), not "
                f"{type(table).__name__}. A DataFrame of counts, samples by features: "
                "biom.Table(frame.T.to_numpy(), list(frame.columns), list(frame.index)).")
        matrix = table.matrix_data.T.tocsr().astype(np.float64)
        return cls(list(map(str, table.ids(axis="sample"))),
                   list(map(str, table.ids(axis="observation"))), matrix)

    @classmethod
    def from_dense(cls, counts: np.ndarray, sample_ids: Sequence[str],
                   feature_ids: Sequence[str]) -> "CountTable":
        return cls(list(sample_ids), list(feature_ids),
                   sp.csr_matrix(np.asarray(counts, dtype=np.float64)))

    @property
    def n_samples(self) -> int:
        return len(self.sample_ids)

    def take_samples(self, rows: Sequence[int]) -> "CountTable":
        rows = np.asarray(rows, dtype=np.int64)
        return CountTable([self.sample_ids[i] for i in rows], self.feature_ids,
                          self.counts[rows])

    def select_samples(self, sample_ids: Sequence[str]) -> "CountTable":
        position = {s: i for i, s in enumerate(self.sample_ids)}
        return self.take_samples([position[s] for s in sample_ids])

    def drop_unused_features(self) -> "CountTable":
        used = np.flatnonzero(np.asarray(self.counts.sum(axis=0)).ravel() > 0)
        return CountTable(self.sample_ids, [self.feature_ids[i] for i in used],
                          self.counts[:, used].tocsr())

    def depths(self) -> np.ndarray:
        return np.asarray(self.counts.sum(axis=1)).ravel()


# how to leave out empty samples, where the user is (QIIME 2 or plain files)
_BIOM_FILTER = "table.filter(lambda values, id, md: values.sum() > 0)"
_REMOVE_EMPTY = {
    "q2cli": "e.g. qiime feature-table filter-samples --p-min-frequency 1",
    "python": "e.g. feature_table.methods.filter_samples(table=..., min_frequency=1) "
              f"for an artifact, or {_BIOM_FILTER} for a biom.Table",
    "aam": f"e.g. with biom-format: {_BIOM_FILTER}"}


def refuse_empty(empty: list) -> None:
    """Samples without counts, where an output must cover every sample."""
    if empty:
        raise AAMInputError(
            f"{len(empty)} sample(s) of the table have zero counts, so nothing "
            f"can be said of them: {', '.join(map(str, empty[:10]))}"
            f"{' ...' if len(empty) > 10 else ''}. Remove them from the table "
            f"first ({_REMOVE_EMPTY[interface()]}).")


def clean_table(table: CountTable, rarefaction_depth: int,
                log: Callable[[str], None], keep_all: bool = False) -> CountTable:
    """Drop samples that cannot be used (empty, or below the rarefaction
    depth); `keep_all` (prediction): refuse them instead, naming them, as an
    output that silently lacks samples would lose them."""
    if table.n_samples == 0:
        raise AAMInputError("The table has no samples.")
    if not np.isfinite(table.counts.data).all():
        raise AAMInputError(_non_finite(table))
    if (table.counts.data < 0).any():
        raise AAMInputError("The table holds negative counts; AAM needs a "
                            "frequency table of non-negative counts.")
    with np.errstate(over="ignore"):
        depths = table.depths()
    if not np.isfinite(depths).all():
        huge = [table.sample_ids[i] for i in np.flatnonzero(~np.isfinite(depths))]
        raise AAMInputError(
            f"The counts of {len(huge)} sample(s) add up to more than a 64-bit number "
            f"holds (e.g. {', '.join(map(str, huge[:3]))}): read counts cannot be that "
            "large. Check how the table was made.")
    keep = depths > 0
    if not keep.any():
        raise AAMInputError(f"All {table.n_samples} samples of the table have "
                            "zero counts: there is nothing to read.")
    if (~keep).any() and keep_all:
        refuse_empty([table.sample_ids[i] for i in np.flatnonzero(~keep)])
    if (~keep).any():
        log(f"Dropped {int((~keep).sum())} sample(s) with no counts.")
    if rarefaction_depth > 0:
        _refuse_fractions(table)
        shallow = keep & (depths < rarefaction_depth)
        if shallow.any():
            log(f"Dropped {int(shallow.sum())} sample(s) with fewer than "
                f"{rarefaction_depth} reads (the rarefaction depth).")
        keep &= depths >= rarefaction_depth
    if not keep.any():
        raise AAMInputError(
            f"No sample reaches the rarefaction depth ({rarefaction_depth} "
            f"reads; the deepest has {int(depths.max())}). Lower "
            f"{spelled('rarefaction_depth')}, or set it to 0 (no rarefaction).")
    return table.take_samples(np.flatnonzero(keep)).drop_unused_features()


def _refuse_fractions(table: CountTable) -> None:
    """Rarefaction draws whole reads: fractions would be cut off unseen, and
    a sample's depth would count reads that cannot be drawn."""
    coo = table.counts.tocoo()
    fractional = np.flatnonzero(coo.data != np.floor(coo.data))
    if len(fractional):
        first = fractional[0]
        raise AAMInputError(
            f"Rarefaction draws whole reads, but the table holds {len(fractional)} "
            f"count(s) that are not whole numbers, e.g. {coo.data[first]:g} in sample "
            f"{table.sample_ids[coo.row[first]]!r} (relative frequencies?): give a table "
            f"of read counts, or set {spelled('rarefaction_depth')} to 0 (no "
            "rarefaction; AAM reads relative abundances).")


def _non_finite(table: CountTable) -> str:
    """Where the table holds nan or inf counts, in a sentence."""
    coo = table.counts.tocoo()
    bad = ~np.isfinite(coo.data)
    first = np.flatnonzero(bad)[0]
    return (f"The table holds {int(bad.sum())} count(s) that are not numbers (nan or "
            f"inf), e.g. {coo.data[first]} in sample {table.sample_ids[coo.row[first]]!r}, "
            f"feature {table.feature_ids[coo.col[first]]!r}; AAM needs a frequency "
            "table of finite, non-negative counts.")
