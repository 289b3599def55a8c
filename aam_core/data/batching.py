"""Samples -> dense batches with unique-ASV batching.

A batch encodes each distinct ASV once: `tokens` holds the U distinct ASVs of
the batch, `asv_index[b, a]` says which of them sits in slot a of sample b.
The nucleotide encoder runs on U sequences instead of B x A slots.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import scipy.sparse as sp
import torch

from ..config import DataConfig


@dataclass
class Batch:
    tokens: torch.Tensor         # (U, L) long, PAD 0
    asv_index: torch.Tensor      # (B, A) long, into tokens' rows (0 on padding)
    asv_mask: torch.Tensor       # (B, A) bool, True on real ASVs
    log_abundance: torch.Tensor  # (B, A) float, log relative abundance
    rows: torch.Tensor           # (B,) long, dataset row of each sample
    features: torch.Tensor | None = None  # (U,) long, table column of each token row

    def to(self, device) -> "Batch":
        return Batch(**{f.name: None if getattr(self, f.name) is None else
                        getattr(self, f.name).to(device, non_blocking=True)
                        for f in fields(self)})

    @property
    def size(self) -> int:
        return int(self.rows.shape[0])


# numpy's exact draw without replacement takes fewer reads than this
EXACT_DRAW_LIMIT = 10**9


def rarefy(counts: np.ndarray, depth: int, rng: np.random.Generator) -> np.ndarray:
    """Draw `depth` reads without replacement from one sample's counts."""
    counts = counts.astype(np.int64)
    total = int(counts.sum())
    if total < EXACT_DRAW_LIMIT:
        return rng.multivariate_hypergeometric(counts, depth)
    # from a billion reads or more, drawing `depth` of them with replacement
    # differs from drawing without by a fraction depth/total of a read
    return rng.multinomial(depth, counts / total)


def half_of_reads(counts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One contrastive view of a sample: every read kept with probability
    1/2, so a view is a rarefaction to about half of the sample's own depth
    (no common depth, no sample dropped). A view keeps one read of the most
    abundant ASV when the draw keeps none."""
    kept = rng.binomial(counts.astype(np.int64), 0.5)
    if not kept.any():
        kept[int(np.argmax(counts))] = 1
    return kept


class BatchBuilder:
    """Turns dataset rows into Batches; owns the per-run token matrix."""

    def __init__(self, counts: sp.csr_matrix, tokens: np.ndarray,
                 data: DataConfig, unique_asvs: bool = True):
        self.counts = counts.tocsr()
        self.tokens = tokens           # (n_features, L) uint8, tokenised once
        self.data = data
        self.unique_asvs = unique_asvs  # False only to measure the saving

    def sample_profile(self, row: int, rng: np.random.Generator | None,
                       augment: bool = True, view: bool = False):
        """Feature indices and counts of one sample, rarefied and capped;
        with `augment` (training batches), some ASVs dropped (asv_dropout);
        a `view` (contrastive objective) is half of the sample's reads."""
        start, end = self.counts.indptr[row], self.counts.indptr[row + 1]
        features = self.counts.indices[start:end]
        counts = self.counts.data[start:end]
        depth = self.data.rarefaction_depth
        if depth > 0 and rng is not None:
            counts = rarefy(counts, depth, rng)
        if view and rng is not None:
            counts = half_of_reads(counts, rng)
        if (depth > 0 or view) and rng is not None:
            present = counts > 0
            features, counts = features[present], counts[present]
        if augment and self.data.asv_dropout > 0 and rng is not None and len(features) > 1:
            kept = rng.random(len(features)) >= self.data.asv_dropout
            if not kept.any():  # a sample keeps at least its most abundant ASV
                kept[int(np.argmax(counts))] = True
            features, counts = features[kept], counts[kept]
        if len(features) > self.data.max_asvs:
            # most abundant first; ties broken by feature order for determinism
            order = np.lexsort((features, -counts))[: self.data.max_asvs]
            features, counts = features[order], counts[order]
        return features, counts.astype(np.float64)

    def build(self, rows: np.ndarray, rng: np.random.Generator | None = None,
              augment: bool = True, views: int = 1) -> Batch:
        """`views` 2 (contrastive objective): the batch holds every row twice,
        the second B samples a second view of the first B."""
        rows = np.tile(np.asarray(rows), views)
        profiles = [self.sample_profile(int(r), rng, augment, view=views > 1) for r in rows]
        n_slots = max(len(f) for f, _ in profiles)
        asv_mask = np.zeros((len(rows), n_slots), dtype=bool)
        log_abundance = np.zeros((len(rows), n_slots), dtype=np.float32)
        slot_features = np.zeros((len(rows), n_slots), dtype=np.int64)
        for b, (features, counts) in enumerate(profiles):
            k = len(features)
            asv_mask[b, :k] = True
            slot_features[b, :k] = features
            log_abundance[b, :k] = np.log(counts / counts.sum())
        if self.unique_asvs:
            distinct, inverse = np.unique(slot_features[asv_mask], return_inverse=True)
        else:
            distinct = slot_features[asv_mask]
            inverse = np.arange(len(distinct))
        asv_index = np.zeros_like(slot_features)
        asv_index[asv_mask] = inverse
        tokens = self.tokens[distinct]
        width = int((tokens != 0).sum(axis=1).max())  # trim shared right padding
        return Batch(tokens=torch.from_numpy(tokens[:, :width].astype(np.int64)),
                     asv_index=torch.from_numpy(asv_index),
                     asv_mask=torch.from_numpy(asv_mask),
                     log_abundance=torch.from_numpy(log_abundance),
                     rows=torch.from_numpy(np.asarray(rows, dtype=np.int64)),
                     features=torch.from_numpy(distinct.astype(np.int64)))


def batch_rows(n_rows: int, batch_size: int, rng: np.random.Generator | None,
               drop_last: bool = False, accumulate: int = 1) -> list[np.ndarray]:
    """Row indices split into batches; shuffled when an rng is given.
    drop_last: the rows after the last full optimizer step (`accumulate`
    batches) are left out when they are under half a step (a few samples
    make a noisy step; the next epoch's order takes them in), kept when
    more, or a small table (124 samples in batches of 64) would train on
    half of its samples an epoch."""
    order = rng.permutation(n_rows) if rng is not None else np.arange(n_rows)
    step = batch_size * max(1, accumulate)
    left = n_rows % step
    if drop_last and n_rows > step and 2 * left < step:
        order = order[:n_rows - left]
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    # a batch of one sample has no pair for the UniFrac loss: merge it
    if len(batches) > 1 and len(batches[-1]) == 1:
        last = batches.pop()
        batches[-1] = np.concatenate([batches[-1], last])
    return batches
