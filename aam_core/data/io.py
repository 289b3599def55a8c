"""The plain files the `aam` command reads: a BIOM table, FASTA sequences
and TSV sample metadata, as QIIME 2 exports them (distance matrices:
distances.py, which reads them lazily)."""
from __future__ import annotations

from pathlib import Path

from ..errors import AAMInputError


def existing(path: str, what: str) -> Path:
    path = Path(path)
    if not path.exists():
        raise AAMInputError(f"{what} {path} does not exist.")
    return path


def read_by_id(path: str | Path, what: str, holds: str):
    """A TSV with ids in its first column, values kept as text (so callers
    can name the ones they cannot read); the '#q2:types' row of QIIME 2's
    metadata files is dropped. `what` names the file, `holds` its columns."""
    import pandas as pd
    path = Path(path)
    if not path.is_file():
        raise AAMInputError(f"No {what} file at {path}.")
    try:
        frame = pd.read_csv(path, sep="\t", index_col=0, dtype=str)
    except (ValueError, pd.errors.ParserError) as error:
        raise AAMInputError(f"{path} is not a tab-separated table of {holds}: "
                            f"{error}") from error
    return frame[~frame.index.astype(str).str.startswith("#")]


def read_table(path: str):
    import biom
    path = existing(path, "The table")
    try:
        return biom.load_table(str(path))
    except Exception as error:  # biom raises many types for unreadable files
        raise AAMInputError(f"{path} is not a readable BIOM table: {error}") from error


def read_fasta(path: str) -> dict:
    """Feature id -> sequence (ids end at the first space; lines are joined)."""
    sequences, name, parts = {}, None, []
    with open(existing(path, "The sequences file")) as handle:
        for line in handle:
            line = line.strip()
            if line.startswith(">"):
                if name is not None:
                    sequences[name] = "".join(parts)
                header = line[1:].split()
                name, parts = (header[0] if header else ""), []
                new_fasta_id(name, sequences, path)
            elif line:
                if name is None:
                    raise AAMInputError(f"{path} is not FASTA: sequence before any '>' line.")
                parts.append(line)
    if name is not None:
        sequences[name] = "".join(parts)
    if not sequences:
        raise AAMInputError(f"{path} holds no FASTA records.")
    return sequences


def read_metadata(path: str):
    """Sample metadata TSV (QIIME 2 layout: first column the sample id;
    a '#q2:types' row is skipped); values as text, empty cells missing."""
    import pandas as pd
    frame = pd.read_csv(existing(path, "The metadata file"), sep="\t", dtype=str,
                        comment=None)
    frame = frame.set_index(frame.columns[0])
    ids = frame.index.astype(str)
    types = frame[ids == "#q2:types"]
    frame = frame[~ids.str.startswith("#")]
    frame.index = frame.index.astype(str)
    # the declared column types, which decide numeric or categorical as in QIIME 2
    frame.attrs["q2:types"] = {} if types.empty else {
        c: str(v).strip().lower() for c, v in types.iloc[0].items() if isinstance(v, str)}
    repeated = frame.index[frame.index.duplicated()].unique()
    if len(repeated):
        raise AAMInputError(f"{path} holds the sample id(s) {list(repeated[:5])} on more "
                            "than one row; sample ids must be unique. Remove or merge "
                            "the repeated rows.")
    return frame


def new_fasta_id(name: str, sequences: dict, path) -> None:
    """A FASTA id must be given and be new: with repeats, which one is meant?"""
    if not name:
        raise AAMInputError(f"{path} has a '>' line without an id.")
    if name in sequences:
        raise AAMInputError(f"{path} holds the id {name!r} more than once; FASTA "
                            "ids must be unique. Remove the repeated records.")
