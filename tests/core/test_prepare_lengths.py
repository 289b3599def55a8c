"""max_length 0 takes the longest sequence; a few far longer ones are said,
with the settings that cut them (every position costs time)."""
import biom
import numpy as np

from aam_core.config import DataConfig
from aam_core.data.prepare import prepare
from aam_core.spelling import speaking


def _prepared(lengths, rng):
    features = [f"f{i}" for i in range(len(lengths))]
    dna = {f: "".join(rng.choice(list("ACGT"), size=n)) for f, n in zip(features, lengths)}
    table = biom.Table(rng.integers(1, 9, size=(len(features), 6)), features,
                       [f"s{i}" for i in range(6)])
    said = []
    with speaking("aam"):
        prepared = prepare(table, dna, DataConfig(max_length=0), said.append)
    return prepared, " ".join(said)


def test_one_read_far_longer_than_the_rest_is_said_with_the_fix(rng):
    prepared, said = _prepared([100] * 199 + [3000], rng)
    assert prepared.data.max_length == 3000
    assert "1 of 200 sequences are longer than 100 nt" in said, said
    assert "--max-length 100 with --truncate cuts those few" in said, said


def test_reads_of_similar_lengths_are_not_warned_of(rng):
    prepared, said = _prepared([100] * 150 + [150] * 50, rng)
    assert prepared.data.max_length == 150
    assert said == "max_length: 150 nt, the longest sequence of the table.", said


def test_sequences_of_only_n_are_said(rng):
    features = ["f0", "f1", "f2"]
    dna = {"f0": "ACGTACGTAA", "f1": "NNNNNNNNNN", "f2": "nnnnnnnn"}
    table = biom.Table(rng.integers(1, 9, size=(3, 6)), features, [f"s{i}" for i in range(6)])
    said = []
    prepare(table, dna, DataConfig(max_length=0), said.append)
    assert "Notice: 2 feature(s) have no A, C, G or T in their sequence (e.g. 'f1', " \
           "'f2'): the model reads them all alike." in " ".join(said), said
