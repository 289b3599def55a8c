import hashlib

import numpy as np
import pytest

from aam_core.data.tokens import (A, C, G, N, PAD, T, is_dna, resolve_sequences,
                                  tokenize)
from aam_core.errors import AAMInputError


def test_alphabet_maps_u_to_t_and_ambiguity_to_n():
    tokens = tokenize(["ACGU", "ryKn", "AC"], max_length=10)
    assert tokens.tolist() == [[A, C, G, T], [N, N, N, N], [A, C, PAD, PAD]]


def test_invalid_character_names_the_feature():
    with pytest.raises(AAMInputError, match=r"'bad'.*'X'"):
        tokenize(["ACGT", "ACXT"], feature_ids=["good", "bad"])


def test_too_long_is_an_error_unless_truncated():
    with pytest.raises(AAMInputError, match="longer than 4 nt.*'f1'.*Raise max_length"):
        tokenize(["ACGTA"], feature_ids=["f1"], max_length=4)
    assert tokenize(["ACGTA"], max_length=4, truncate=True).tolist() == [[A, C, G, T]]


def test_empty_sequence_is_an_error():
    with pytest.raises(AAMInputError, match="empty"):
        tokenize(["ACG", ""], feature_ids=["a", "b"])


def test_ids_must_be_dna_without_sequences():
    ids = [hashlib.md5(s.encode()).hexdigest() for s in ("ACGT", "GGCC")]
    with pytest.raises(AAMInputError, match="feature ids must be DNA.*" + ids[0]):
        resolve_sequences(ids, None)
    assert resolve_sequences(ids, {ids[0]: "ACGT", ids[1]: "GGCC"}) == ["ACGT", "GGCC"]
    assert resolve_sequences(["ACGT"], None) == ["ACGT"]


def test_missing_sequence_for_a_feature_is_named():
    with pytest.raises(AAMInputError, match="no sequence.*'f2'"):
        resolve_sequences(["f1", "f2"], {"f1": "ACGT"})


def test_is_dna():
    assert is_dna("acgtn") and not is_dna("") and not is_dna("d41d8cd98f00")
    assert tokenize(["ACGT"]).dtype == np.uint8
