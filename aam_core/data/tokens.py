"""DNA sequences -> integer tokens.

Vocabulary: PAD 0, A 1, C 2, G 3, T 4, N 5, MASK 6. U reads as T; every
IUPAC ambiguity code reads as N; anything else is an error that names the
offending feature, never silent padding.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from ..errors import AAMInputError
from ..spelling import interface, spelled, spelled_input

PAD, A, C, G, T, N, MASK = range(7)
VOCAB = {"PAD": PAD, "A": A, "C": C, "G": G, "T": T, "N": N, "MASK": MASK}
VOCAB_SIZE = len(VOCAB)
NUCLEOTIDE_TOKENS = (A, C, G, T)

_AMBIGUOUS = "RYSWKMBDHVN"
_LOOKUP = np.full(256, -1, dtype=np.int16)
for _letter, _token in {"A": A, "C": C, "G": G, "T": T, "U": T}.items():
    _LOOKUP[ord(_letter)] = _token
    _LOOKUP[ord(_letter.lower())] = _token
for _letter in _AMBIGUOUS:
    _LOOKUP[ord(_letter)] = N
    _LOOKUP[ord(_letter.lower())] = N


def _short(text: str) -> str:
    """A long id by its two ends: ASVs of one primer pair share their start."""
    return text if len(text) <= 60 else f"{text[:28]}...{text[-28:]}"


def _examples(items: Sequence, limit: int = 3) -> str:
    shown = ", ".join(repr(_short(str(i))) for i in items[:limit])
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return shown + more


def _not_dna(text: str) -> str:
    """Where a text stops being DNA, which a shortened id may hide."""
    codes = np.frombuffer(text.encode("latin-1", "replace"), dtype=np.uint8)
    at = int(np.flatnonzero(_LOOKUP[codes] < 0)[0]) if len(codes) else -1
    return "empty" if at < 0 else f"has {text[at]!r} at position {at + 1}"


def _named_not_dna(texts: Sequence[str], ids: Sequence, limit: int = 3) -> str:
    shown = ", ".join(f"{_short(str(i))!r} ({_not_dna(t)})"
                      for i, t in zip(ids[:limit], texts[:limit]))
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def resolve_sequences(feature_ids: Sequence[str],
                      sequences: Mapping[str, str] | None) -> list[str]:
    """The DNA of each feature, from `sequences` or from the ids themselves."""
    if sequences is not None:
        missing = [f for f in feature_ids if f not in sequences]
        if missing:
            # ids that are reads themselves need no sequences at all
            instead = (f", or leave out {spelled_input('sequences')}: the table's feature "
                       "ids are DNA themselves" if all(map(is_dna, missing)) else "")
            raise AAMInputError(
                f"{len(missing)} feature(s) of the table have no sequence in "
                f"the sequences given, e.g. {_examples(missing)}. Pass the "
                f"representative sequences ({spelled_input('sequences')}) that belong "
                f"to this table{instead}.")
        return [str(sequences[f]) for f in feature_ids]
    not_dna = [f for f in feature_ids if not is_dna(f)]
    if not_dna:
        raise AAMInputError(
            f"No sequences were given, so the feature ids must be DNA, but "
            f"{len(not_dna)} of {len(feature_ids)} are not, e.g. "
            f"{_named_not_dna(not_dna, not_dna)}. Pass the representative sequences "
            f"that belong to the table ({spelled_input('sequences')}: "
            f"{_SEQUENCES_KIND[interface()]}).")
    return list(feature_ids)


# what the sequences are, where each front end takes them
_SEQUENCES_KIND = {"python": "feature id -> DNA", "q2cli": "FeatureData[Sequence]",
                   "aam": "a FASTA file"}


def is_dna(text: str) -> bool:
    if not text:
        return False
    codes = np.frombuffer(text.encode("latin-1", "replace"), dtype=np.uint8)
    return bool((_LOOKUP[codes] >= 0).all())


def tokenize(sequences: Sequence[str], feature_ids: Sequence[str] | None = None,
             max_length: int = 150, truncate: bool = False,
             fix: str | None = None) -> np.ndarray:
    """Token matrix (n_sequences, longest length) of uint8, PAD on the right.
    `fix`: what the error for too long sequences tells the user to do."""
    feature_ids = list(feature_ids) if feature_ids is not None else list(sequences)
    # each read looked up once, as far as truncation keeps it: its letters
    # are checked before its length, and the same codes fill the matrix
    cut = max_length if truncate else None
    codes = [_LOOKUP[np.frombuffer(seq[:cut].encode("latin-1", "replace"), dtype=np.uint8)]
             for seq in sequences]
    _refuse_not_dna(codes, sequences, feature_ids)
    lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64,
                          count=len(sequences))
    too_long = np.flatnonzero(lengths > max_length)
    if len(too_long) and not truncate:
        raise AAMInputError(
            f"{len(too_long)} sequence(s) are longer than {max_length} nt "
            f"(longest {lengths.max()} nt), e.g. features "
            f"{_examples([feature_ids[i] for i in too_long])}. " + (
                fix or f"Raise {spelled('max_length')} (0: the longest "
                f"sequence), or set {spelled('truncate', True)} to cut them."))
    empty = np.flatnonzero(lengths == 0)
    if len(empty):
        raise AAMInputError(f"{len(empty)} sequence(s) are empty, e.g. features "
                            f"{_examples([feature_ids[i] for i in empty])}. Give each "
                            "feature its sequence, or filter those features out of the "
                            "table.")
    width = int(min(lengths.max(), max_length)) if len(lengths) else 1
    out = np.zeros((len(sequences), width), dtype=np.uint8)
    for row, tokens in enumerate(codes):  # none longer than width: refused or cut
        out[row, :len(tokens)] = tokens
    return out


def _refuse_not_dna(codes: list, sequences, feature_ids: list) -> None:
    """Letters first: a sequence with a letter that is not DNA (a '*', a gap)
    is no read, however long; `codes`: each read's lookup, as far as
    truncation keeps it."""
    bad = [row for row, tokens in enumerate(codes) if (tokens < 0).any()]
    if bad:
        shown = _named_not_dna([sequences[r] for r in bad], [feature_ids[r] for r in bad])
        raise AAMInputError(
            f"{len(bad)} sequence(s) contain characters that are not DNA "
            f"(A C G T U or IUPAC codes): {shown}. "
            + _not_dna_fix([sequences[r] for r in bad]))


def _not_dna_fix(sequences: list) -> str:
    """What to do with reads that are not DNA: gaps mean aligned reads."""
    if any("-" in s or "." in s for s in sequences):
        return ("Gaps ('-', '.') mean aligned sequences: give the unaligned "
                "representative sequences (or remove the gap characters).")
    return ("Correct those records, or give the representative sequences that "
            "belong to this table.")
