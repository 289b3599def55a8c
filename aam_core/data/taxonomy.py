"""Taxonomy (one lineage per ASV) as a per-ASV pretraining target.

The QIIME 2 action takes FeatureData[Taxonomy] (a table with a `Taxon`
column by feature id); the `aam` command the taxonomy.tsv `qiime tools
export` writes (`Feature ID`, `Taxon`, optionally `Confidence`). Lineages are
"d__Bacteria; p__Firmicutes; ..." (SILVA, GTDB, Greengenes2) or the older
"k__Bacteria; p__Firmicutes; ..." (Greengenes 13_8), or SILVA 128-132's
"D_0__Bacteria;D_1__Firmicutes; ..." (the level's number); lineages without
rank prefixes are read by position. Both end in `taxonomy_labels`: one class
index per ASV and rank, -1 where the rank is unassigned, so that it is left
out of the loss rather than learned as a class of its own.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from ..errors import AAMInputError, near_misses
from .io import read_by_id

SOURCE = "the taxonomy"
# the ranks learned: below the domain (nearly constant in 16S tables) and
# above the species (rarely assigned from a short amplicon)
RANKS = ("phylum", "class", "order", "family", "genus")
_PREFIXES = {"d": "domain", "k": "domain", "p": "phylum", "c": "class", "o": "order",
             "f": "family", "g": "genus", "s": "species"}
_BY_POSITION = ("domain", "phylum", "class", "order", "family", "genus", "species")
_PREFIXED = re.compile(r"^([dkpcofgs])__(.*)$")
_NUMBERED = re.compile(r"^D_(\d+)__(.*)$")  # SILVA 128-132: D_0 domain ... D_6 species
# names classifiers give where they could not assign a rank
_UNASSIGNED = re.compile(r"^(unassigned|unclassified|unidentified|uncultured|"
                         r"unknown|ambiguous_taxa|incertae_sedis|none|nan)(?:[\W_]|$)",
                         re.IGNORECASE)


def parse_lineage(taxon: str) -> dict:
    """{rank: name} of one lineage; unassigned and empty ranks are absent."""
    parts = [p.strip() for p in re.split(r"[;|]", str(taxon))]
    ranks = {}
    for position, part in enumerate(parts):
        match, numbered = _PREFIXED.match(part), _NUMBERED.match(part)
        if match:
            rank, name = _PREFIXES[match.group(1)], match.group(2).strip()
        elif numbered and int(numbered.group(1)) < len(_BY_POSITION):
            rank, name = _BY_POSITION[int(numbered.group(1))], numbered.group(2).strip()
        elif position < len(_BY_POSITION) and "__" not in part:
            rank, name = _BY_POSITION[position], part
        else:
            continue
        if name and not _UNASSIGNED.match(name):
            ranks[rank] = name
    return ranks


def read_taxonomy(path: str | Path) -> pd.Series:
    """Lineages by feature id from a taxonomy TSV (`Feature ID`, `Taxon`)."""
    frame = read_by_id(path, "taxonomy", "feature ids and lineages")
    if "Taxon" not in frame.columns:
        raise AAMInputError(
            f"{path} has no 'Taxon' column (its columns: {', '.join(frame.columns[:5])}); "
            "a taxonomy file has 'Feature ID' and 'Taxon' columns, as `qiime tools "
            "export` writes taxonomy.tsv.")
    return _lineages(frame)


def _lineages(taxonomy) -> pd.Series:
    """The lineage column of a FeatureData[Taxonomy] view or of a Series."""
    if isinstance(taxonomy, pd.DataFrame):
        if "Taxon" not in taxonomy.columns:
            raise AAMInputError(f"{SOURCE} must have a 'Taxon' column.")
        taxonomy = taxonomy["Taxon"]
    series = pd.Series(taxonomy).fillna("").astype(str)
    series.index = series.index.astype(str)
    return series


def taxonomy_labels(taxonomy, feature_ids: Sequence[str], fix: str = "",
                    source: str = SOURCE) -> tuple[np.ndarray, dict]:
    """(labels (n_features, n_ranks) int64, -1 where unknown; the record of
    the ranks and their classes). Only the table's ASVs count: ids absent
    from the table are ignored, ASVs absent from the taxonomy are -1."""
    lineages = _lineages(taxonomy)
    lineages = lineages[~lineages.index.duplicated()]
    present = lineages.reindex(list(feature_ids))
    covered = int(present.notna().sum())
    if covered == 0:
        shown = ", ".join(map(repr, list(lineages.index[:3])))
        raise AAMInputError(
            f"None of the table's {len(feature_ids)} ASVs is in {source} (its ids: "
            f"{shown}...). It must be keyed by the table's feature ids."
            f"{near_misses(list(feature_ids), lineages.index, 'feature ids')} {fix}")
    parsed = [parse_lineage(t) if isinstance(t, str) else {} for t in present]
    ranks = [r for r in RANKS if len({p[r] for p in parsed if r in p}) >= 2]
    if not ranks:
        raise AAMInputError(
            f"{source} names no rank from {RANKS[0]} to {RANKS[-1]} with two classes "
            f"or more among the table's ASVs (e.g. {present.dropna().iloc[0]!r}): every "
            "ASV has the same taxon at each rank it names (or no rank is written as "
            "'d__Bacteria; p__Firmicutes; ...'), so there is nothing to tell apart. "
            + fix)
    labels = np.full((len(parsed), len(ranks)), -1, dtype=np.int64)
    classes = {}
    for column, rank in enumerate(ranks):
        classes[rank] = sorted({p[rank] for p in parsed if rank in p})
        index = {name: i for i, name in enumerate(classes[rank])}
        for row, lineage in enumerate(parsed):
            if rank in lineage:
                labels[row, column] = index[lineage[rank]]
    record = {"ranks": ranks, "classes": classes, "asvs": covered,
              "labelled": {r: int((labels[:, i] >= 0).sum()) for i, r in enumerate(ranks)}}
    return labels, record
