"""A run's inputs made ready once: the cleaned table, each distinct sequence
tokenised once, and the distances between the samples in table order."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Mapping

import numpy as np

from ..arguments import check_distance_matrix, sequence_items
from ..config import DataConfig
from ..errors import AAMInputError
from ..spelling import spelled
from .table import CountTable, clean_table
from .tokens import resolve_sequences, tokenize


@dataclass
class PreparedData:
    table: CountTable
    tokens: np.ndarray  # (n_features, L) uint8, each distinct sequence once
    data: DataConfig    # the run's rules, max_length 0 resolved
    # samples of the table given, before empty and too shallow ones were dropped
    n_input_samples: int = 0
    dropped: tuple = ()  # the ids of those dropped

    @property
    def n_dropped(self) -> int:
        """Samples dropped for having no reads or fewer than the depth."""
        return self.n_input_samples - self.table.n_samples


def prepare(table, sequences: Mapping[str, str] | None, data: DataConfig,
            log: Callable[[str], None], model_rules: bool = False,
            encoder: bool = False) -> PreparedData:
    """Clean the table and tokenise each of its features once for the run.
    `model_rules`: `data` are a trained model's (prediction), which can
    neither drop samples nor read longer sequences than it was trained on;
    `encoder`: they are a pretrained encoder's, fine-tuned on this table."""
    counts = table if isinstance(table, CountTable) else CountTable.from_biom(table)
    n_input, given = counts.n_samples, list(counts.sample_ids)
    counts = clean_table(counts, data.rarefaction_depth, log, keep_all=model_rules)
    kept = set(counts.sample_ids)
    dna = resolve_sequences(counts.feature_ids,
                            None if sequences is None else _as_str_mapping(sequences))
    unreadable(counts.feature_ids, dna, log)
    lengths = [len(d) for d in dna]
    longest = max(lengths, default=1)
    if data.max_length == 0:
        log(f"max_length: {longest} nt, the longest sequence of the table."
            + few_far_longer(lengths))
        data = replace(data, max_length=longest)
    if data.truncate and longest > data.max_length:
        cut = sum(n > data.max_length for n in lengths)
        trained = ", as the model was trained" if model_rules else ""
        log(f"{cut} sequence(s) longer than {data.max_length} nt are cut to "
            f"{data.max_length} nt (truncate{trained}).")
    if not model_rules:
        refuse_identical(counts)
    fix = too_long_for_model(data, longest) if model_rules else \
        too_long_for_encoder(data) if encoder else None
    return PreparedData(counts, tokenize(dna, counts.feature_ids, data.max_length,
                                         data.truncate, fix), data, n_input,
                        tuple(i for i in given if i not in kept))


def unreadable(feature_ids, dna: list, log) -> None:
    """Sequences without one A, C, G or T (e.g. all N) all read alike: the
    model cannot tell those features apart."""
    blank = [f for f, d in zip(feature_ids, dna) if not set(d.upper()) & set("ACGT")]
    if blank:
        log(f"Notice: {len(blank)} feature(s) have no A, C, G or T in their sequence "
            f"(e.g. {', '.join(map(repr, blank[:3]))}): the model reads them all alike. "
            "Check the representative sequences, or filter those features out.")


def few_far_longer(lengths: list) -> str:
    """Advice when a few sequences are far longer than the rest: every
    position up to max_length costs time, for all of them."""
    typical = int(np.percentile(lengths, 99)) if lengths else 0
    longest = max(lengths, default=0)
    if not typical or longest <= 2 * typical:  # empty reads are refused after
        return ""
    few = sum(n > typical for n in lengths)
    return (f" {few} of {len(lengths)} sequences are longer than {typical} nt, the "
            f"length of 99% of them; reading to {longest} nt takes up to "
            f"{longest / typical:.0f}x the time: {spelled('max_length', typical)} with "
            f"{spelled('truncate', True)} cuts those few instead.")


def refuse_identical(counts) -> None:
    """Samples that all hold the same counts leave training nothing to tell
    apart: every prediction would be the same."""
    matrix = counts.counts.tocsr()
    if not matrix.has_sorted_indices:  # sorted on a copy: the table stays as read
        matrix = matrix.copy()
        matrix.sort_indices()
    sizes = np.diff(matrix.indptr)
    if counts.n_samples < 2 or (sizes != sizes[0]).any():
        return
    shape = (counts.n_samples, int(sizes[0]))
    if (matrix.indices.reshape(shape) == matrix.indices[:shape[1]]).all() and \
            (matrix.data.reshape(shape) == matrix.data[:shape[1]]).all():
        raise AAMInputError(
            f"All {counts.n_samples} samples of the table hold the same counts: nothing "
            "tells them apart, so a model would learn nothing from them. Check how the "
            "table was made (e.g. a feature table of one sample repeated).")


def too_long_for_model(data: DataConfig, longest: int) -> str:
    """What to do about sequences longer than a trained model reads (the
    default max_length 0 is the training table's longest: no help here)."""
    return (f"The model was trained on sequences of up to {data.max_length} nt "
            "and reads no longer ones. Give sequences trimmed to "
            f"{data.max_length} nt, or fit a model with "
            f"{spelled('max_length', longest)} or more (the default, 0, takes the "
            f"longest sequence of the training table) or {spelled('truncate', True)}.")


def too_long_for_encoder(data: DataConfig) -> str:
    """Fine-tuning keeps the pretrained encoder's length: raising max_length
    is refused there, so the ways out are cutting the reads or pretraining
    anew."""
    return (f"The pretrained model reads sequences of up to {data.max_length} nt: set "
            f"{spelled('truncate', True)} to cut them to {data.max_length} nt, or pretrain "
            f"a model on these reads ({spelled('max_length')} 0, the default, takes the "
            "longest).")


def _as_str_mapping(sequences) -> Mapping[str, str]:
    return {str(k): str(v) for k, v in sequence_items(sequences)}


def distance_block(distances, sample_ids: list[str]) -> np.ndarray:
    """The distances between `sample_ids`, in their order, as float32 (a
    lazy DistanceView when `distances` is a file read by data.distances)."""
    from .distances import DistanceFile, check_distances, matrix_positions, square_block
    if isinstance(distances, DistanceFile):
        return distances.view(sample_ids)
    check_distance_matrix(distances)
    index = matrix_positions(distances.ids, sample_ids, "the distance matrix")
    block = square_block(distances.data, index)  # no full-size temporary copies
    check_distances(block, "the distance matrix")
    return block
