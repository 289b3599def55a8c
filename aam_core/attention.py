"""Where the sample encoder's pooling looks, and what drives the prediction,
per (sample, ASV) (pure PyTorch and pandas; no QIIME 2).

Attention. The sample encoder ends in AttentionPooling: a softmax over the
sample's ASV slots of a learned score, whose weights average the ASV tokens
into the sample embedding. The weights are read with a forward hook on that
module, which recomputes the softmax from the module's own inputs: the model
and its outputs are untouched, and training (which never registers the hook)
pays nothing. The weights of a sample sum to 1 over its ASVs. They say where
the pooling looked, not what changed the prediction, and the blocks before
it have already mixed information across ASVs (see importance.py).

Importance. The signed gradient x input of each slot, as
importance.slot_attributions computes it for feature importance, in the
same forward pass. An ensemble: the mean over its members of both.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from .data.batching import batch_rows
from .data.table import CountTable
from .errors import AAMInputError
from .importance import TARGET_KINDS, slot_attributions
from .model.ensemble import members_of
from .predict import Log, apply_model, cache_vectors
from .train.loop import log_to_stderr

COLUMNS = ["sample", "feature", "attention", "importance"]


class PoolingWeights:
    """Records the weights of an AttentionPooling module in each forward
    pass: (B, A), 0 on padding slots."""

    def __init__(self, pooling: torch.nn.Module):
        self.weights = None
        self.handle = pooling.register_forward_hook(self._record)

    def _record(self, module, args, output):
        x, mask = args[0], args[1]
        # the same arithmetic as AttentionPooling.forward, without the grad
        with torch.no_grad():
            scores = module.score(x).squeeze(-1).masked_fill(~mask, float("-inf"))
            self.weights = torch.softmax(scores.float(), dim=-1)

    def remove(self) -> None:
        self.handle.remove()


def member_slots(member, batch, kind: str, context: dict, quantiles) -> tuple:
    """((B, A) attention, (B, A) importance or None) of one network."""
    recorder = PoolingWeights(member.sample_encoder.pool)
    try:
        if kind in TARGET_KINDS:
            importance = slot_attributions(member, batch, kind, context, quantiles)
        else:  # an encoder explains no target: its attention only
            with torch.no_grad():
                member(batch, context=context)
            importance = None
        return recorder.weights, importance
    finally:
        recorder.remove()


def _batch_slots(members, batch, kind, context, quantiles) -> tuple:
    """Attention and importance of a batch, each the mean over the members."""
    results = [member_slots(m, batch, kind, context, quantiles) for m in members]
    attention = sum(r[0] for r in results) / len(results)
    if results[0][1] is None:
        return attention.cpu().numpy(), None
    importance = sum(r[1] for r in results) / len(results)
    return attention.cpu().numpy(), importance.detach().cpu().numpy()


def attention_frame(bundle, table, sequences=None, conditioning=None, *,
                    batch_size: int = 64, device: str = "auto", n_threads: int = 0,
                    log: Log = log_to_stderr) -> pd.DataFrame:
    """One row per (sample, ASV) that the model reads: columns sample,
    feature, attention (the pooling weight; a sample's sum to 1) and
    importance (signed gradient x input; NaN for an encoder)."""
    counts = table if isinstance(table, CountTable) else CountTable.from_biom(table)
    run = apply_model(bundle, counts, sequences, conditioning, device=device,
                      n_threads=n_threads, log=log)
    run.network.requires_grad_(False)  # gradients are wanted for the tokens only
    cache_vectors(run.network, run.prepared.tokens, run.device, log)
    members = members_of(run.network)
    quantiles = (bundle.config.get("target") or {}).get("quantiles") or ()
    feature_ids = np.asarray(run.prepared.table.feature_ids, dtype=object)
    parts = []
    for rows in batch_rows(len(run.sample_ids), batch_size, None):
        batch = run.builder.build(rows).to(run.device)
        attention, importance = _batch_slots(
            members, batch, bundle.kind, run.context.rows(rows, run.device), quantiles)
        for b, row in enumerate(rows):
            # build() fills slots in sample_profile's order
            features, _ = run.builder.sample_profile(int(row), None)
            k = len(features)
            parts.append(pd.DataFrame({
                "sample": run.sample_ids[int(row)], "feature": feature_ids[features],
                "attention": attention[b, :k].astype(float),
                "importance": np.nan if importance is None
                else importance[b, :k].astype(float)}))
    frame = pd.concat(parts, ignore_index=True)[COLUMNS]
    log(f"Pooling attention{' and importance' if bundle.kind in TARGET_KINDS else ''}"
        f" of {len(frame)} (sample, ASV) pairs over {len(run.sample_ids)} samples.")
    return frame


def group_summary(frame: pd.DataFrame, samples) -> pd.DataFrame:
    """Per feature over `samples` (a sample lacking the feature counts 0,
    as in feature importance): mean attention (their sum over the features
    is 1), mean |importance| and prevalence (share of the samples that
    hold it); the highest mean attention first."""
    samples = pd.Index(samples)
    if samples.empty:
        raise AAMInputError("A group of samples to summarise attention over is empty.")
    part = frame[frame["sample"].isin(samples)]
    grouped = part.assign(abs_importance=part["importance"].abs()).groupby("feature")
    n = len(samples)
    # min_count: an encoder's NaN importance stays NaN, not 0
    summary = pd.DataFrame({
        "mean_attention": grouped["attention"].sum() / n,
        "mean_abs_importance": grouped["abs_importance"].sum(min_count=1) / n,
        "mean_importance": grouped["importance"].sum(min_count=1) / n,
        "prevalence": grouped.size() / n})
    summary.index.name = "feature"
    return summary.sort_values(["mean_attention", "prevalence"], ascending=False,
                               kind="stable")
