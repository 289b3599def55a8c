"""Per-ASV importance of a fitted model: gradient x input (pure PyTorch).

Method. Each ASV of a sample enters the sample encoder as one token
x = ASV vector (its sequence) + abundance embedding (its log abundance). For
every (sample, ASV) slot the attribution is

    a = sum_d x_d * d(output)/d(x_d)

the first-order (Taylor) estimate of how much the sample's output changes
when that token is removed (set to zero). A feature's importance is the mean
of |a| over all samples of the table, a sample that lacks the ASV counting 0,
so, as for a random forest's importances, a rare ASV ranks below a common
one of the same effect.

Why this and not another:
- it is target-specific: it explains the regression output (or the
  predicted class's log-probability), unlike attention-pooling weights, which
  say where the pooling looked, not what changed the prediction, and which
  the sample-encoder blocks have already mixed across ASVs;
- it covers both what AAM sees of an ASV, its sequence and its abundance; a
  gradient on the log-abundance input alone would miss the sequence;
- it costs one backward pass per batch for every ASV of every sample, where
  leaving each ASV out in turn (occlusion) costs one sample-encoder pass per
  (sample, ASV) slot.
Units are those of the model's output: the normalised target for a
regressor, log-probability for a classifier.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from .data.batching import batch_rows
from .data.table import CountTable
from .data.targets import point_index
from .errors import AAMInputError
from .model.ensemble import members_of
from .predict import Log, apply_model
from .train.loop import log_to_stderr

TARGET_KINDS = ("regressor", "classifier")


class _TokenCapture:
    """Makes the sample encoder's input tokens a leaf tensor, to read their
    gradient: a forward pre-hook on the first module that receives them."""

    def __init__(self, sample_encoder: torch.nn.Module):
        blocks = getattr(sample_encoder, "blocks", None)
        target = blocks[0] if blocks is not None and len(blocks) else sample_encoder.final_norm
        self.tokens = None
        self.handle = target.register_forward_pre_hook(self._capture)

    def _capture(self, module, args):
        if not args:  # the tokens must come positionally to be replaced
            raise RuntimeError("feature importance: the sample encoder's "
                               "blocks no longer take the ASV tokens first.")
        self.tokens = args[0].detach().requires_grad_(True)
        return (self.tokens, *args[1:])

    def remove(self) -> None:
        self.handle.remove()


def target_output(out: dict, kind: str, quantiles=()) -> torch.Tensor:
    """One scalar per sample: what the attribution explains."""
    if kind == "regressor":
        prediction = out["prediction"]
        # a quantile model explains its point prediction, as predict gives it
        return prediction if prediction.dim() == 1 else prediction[:, point_index(quantiles)]
    logits = out.get("logits", out.get("prediction"))
    log_probabilities = torch.log_softmax(logits.float(), dim=-1)
    return log_probabilities.max(dim=-1).values  # the predicted class


def slot_attributions(network, batch, kind: str, context: dict | None = None,
                      quantiles=()) -> torch.Tensor:
    """(B, A) gradient x input of each ASV slot; 0 on padding."""
    capture = _TokenCapture(network.sample_encoder)
    try:
        with torch.enable_grad():
            output = target_output(network(batch, context=context), kind, quantiles)
            # each sample's output depends on its own slots only, so the
            # gradient of the sum holds every sample's own gradient
            output.sum().backward()
        tokens = capture.tokens
        attribution = (tokens.grad * tokens.detach()).sum(dim=-1)
    finally:
        capture.remove()
    return attribution.masked_fill(~batch.asv_mask, 0.0)


def feature_importance(bundle, table, sequences=None, conditioning=None, *,
                       batch_size: int = 64, device: str = "auto", n_threads: int = 0,
                       log: Log = log_to_stderr) -> pd.DataFrame:
    """One row per feature of `table`: column 'importance', highest first.
    `conditioning`: the categories of a conditioned model (as to predict)."""
    if bundle.kind not in TARGET_KINDS:
        raise AAMInputError(
            f"This is a {bundle.kind} model; feature importance needs a "
            "regressor or a classifier (an encoder has no target to explain).")
    counts = table if isinstance(table, CountTable) else CountTable.from_biom(table)
    run = apply_model(bundle, counts, sequences, conditioning, device=device,
                      n_threads=n_threads, log=log)
    run.network.requires_grad_(False)  # gradients are wanted for the tokens only
    # an ensemble predicts the mean of its members, so (to first order for a
    # classifier) its attribution is the mean of theirs
    members = members_of(run.network)
    quantiles = (bundle.config.get("target") or {}).get("quantiles") or ()
    prepared = run.prepared
    totals = np.zeros(len(prepared.table.feature_ids))
    for rows in batch_rows(prepared.table.n_samples, batch_size, None):
        batch = run.builder.build(rows).to(run.device)
        context = run.context.rows(rows, run.device)
        attribution = sum(slot_attributions(member, batch, bundle.kind, context, quantiles)
                          for member in members) / len(members)
        attribution = attribution.abs().cpu().numpy()
        for b, row in enumerate(rows):
            # build() fills slots in sample_profile's order
            features, _ = run.builder.sample_profile(int(row), None)
            totals[features] += attribution[b, :len(features)]
    importance = pd.Series(totals / prepared.table.n_samples,
                           index=prepared.table.feature_ids)
    # features of the table that no usable sample holds: importance 0
    importance = importance.reindex(counts.feature_ids, fill_value=0.0)
    frame = importance.rename("importance").to_frame()
    frame.index.name = "feature"
    log(f"Feature importance (gradient x input) of {len(frame)} features over "
        f"{prepared.table.n_samples} samples.")
    return frame.sort_values("importance", ascending=False, kind="stable")
