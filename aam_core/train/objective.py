"""What a training step minimises: the weighted sum of the active loss terms.

A term whose weight is 0 (or whose data is absent) is not computed at all,
so e.g. a frozen nucleotide encoder costs no token logits.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .. import losses
from ..config import TrainConfig


@dataclass
class Objective:
    train: TrainConfig
    distances: torch.Tensor | None = None  # (n, n) float32 by dataset row
    targets: torch.Tensor | None = None    # (n,) normalised targets by row

    @property
    def weights(self) -> dict:
        weights = {}
        if self.distances is not None and self.train.unifrac_weight > 0:
            weights["unifrac"] = self.train.unifrac_weight
        if self.train.nucleotide_weight > 0 and not self.train.freeze_encoder:
            weights["nucleotide"] = self.train.nucleotide_weight
        if self.targets is not None and self.train.target_weight > 0:
            weights["target"] = self.train.target_weight
        return weights

    def __call__(self, model, batch, generator: torch.Generator):
        """Returns (total loss, {term: loss}, model outputs)."""
        weights = self.weights
        tokens, token_targets = batch.tokens, None
        if "nucleotide" in weights:
            tokens, token_targets = losses.mask_tokens(
                batch.tokens.cpu(), self.train.mask_ratio, generator)
            tokens, token_targets = (tokens.to(batch.tokens.device),
                                     token_targets.to(batch.tokens.device))
        out = model(batch, with_token_logits="nucleotide" in weights, tokens=tokens)
        terms = {}
        if "unifrac" in weights:
            rows = batch.rows.to(self.distances.device)
            block = self.distances[rows][:, rows].to(out["embedding"].device)
            terms["unifrac"] = losses.unifrac_pair_loss(out["embedding"], block)
        if "nucleotide" in weights:
            terms["nucleotide"] = losses.masked_nucleotide_loss(
                out["token_logits"], token_targets)
        if "target" in weights:
            truth = self.targets[batch.rows.to(self.targets.device)]
            terms["target"] = losses.target_loss(
                out["prediction"], truth.to(out["prediction"].device),
                self.train.target_loss)
        total = sum(weights[name] * value for name, value in terms.items())
        return total, terms, out


class NonFiniteLossError(RuntimeError):
    pass


def check_finite(terms: dict, epoch: int) -> None:
    for name, value in terms.items():
        if not torch.isfinite(value.detach()).all():
            raise NonFiniteLossError(
                f"The {name} loss became {value.item()} in epoch {epoch}. "
                "Lower the learning rate, or check the inputs of that term "
                "(e.g. distances or targets holding NaN or huge values).")


def as_tensor(values: np.ndarray | None) -> torch.Tensor | None:
    return None if values is None else torch.as_tensor(values, dtype=torch.float32)
