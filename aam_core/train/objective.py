"""What a training step minimises: the weighted sum of the active loss terms.

A term whose weight is 0 (or whose data is absent) is not computed at all,
so e.g. a frozen nucleotide encoder costs no token logits.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from .. import losses
from ..config import TrainConfig
from ..data.distances import DistanceView, distance_scale, scaled
from ..errors import AAMInputError
from ..spelling import spelled
from .distributed import Shard, scale_for_processes, unifrac_term
from .task import TargetTask


@dataclass
class Objective:
    train: TrainConfig
    # (n, n) float32 by dataset row, or a lazy DistanceView (data/distances.py)
    distances: torch.Tensor | DistanceView | None = None
    task: TargetTask | None = None         # the full target (train/task.py)
    # (n,) z-scored alpha diversity by dataset row, for the model's alpha head
    alpha: torch.Tensor | None = None
    # set by the loop once train.nucleotide_epochs have passed: training steps
    # leave out the masked-nucleotide term (its encoder is frozen and cached);
    # validation still scores it
    nucleotides_frozen: bool = field(init=False, default=False)
    # (n_features, n_ranks) int64 taxonomic class by table column (-1:
    # unknown), for the model's taxonomy heads on the ASV vectors
    taxonomy: torch.Tensor | None = None
    # what the distances were divided by: distances beyond [0, 1] (e.g.
    # Aitchison) enter the loss divided by their largest value
    distance_scale: float = field(init=False, default=1.0)

    def __post_init__(self):
        if self.distances is not None:
            self.distance_scale = distance_scale(self.distances)
            self.distances = scaled(self.distances, self.distance_scale)

    @property
    def weights(self) -> dict:
        weights = {}
        frozen = self.train.freeze_encoder
        if self.distances is not None and self.train.unifrac_weight > 0 and not frozen:
            weights["unifrac"] = self.train.unifrac_weight
        if (self.train.nucleotide_weight > 0 and not frozen
                and not self.train.freeze_nucleotide_encoder and not self.nucleotides_frozen):
            weights["nucleotide"] = self.train.nucleotide_weight
        if self.train.abundance_weight > 0 and not frozen:
            weights["abundance"] = self.train.abundance_weight
        if self.alpha is not None and self.train.alpha_weight > 0 and not frozen:
            weights["alpha"] = self.train.alpha_weight
        if self.taxonomy is not None and self.train.taxonomy_weight > 0 and not frozen:
            weights["taxonomy"] = self.train.taxonomy_weight
        if self.train.contrastive_weight > 0 and not frozen:
            weights["contrastive"] = self.train.contrastive_weight
        if self.task is not None and self.train.target_weight > 0:
            weights["target"] = self.train.target_weight
        return weights

    @property
    def views(self) -> int:
        """How many views of each sample a batch must hold (2 for the
        contrastive objective): build it with BatchBuilder.build(views=...)."""
        return 2 if "contrastive" in self.weights else 1

    def __call__(self, model, batch, generator: torch.Generator, shard: Shard | None = None):
        """Returns (total loss, {term: loss}, model outputs). `shard`: the
        batch is this process's slice of a global batch (train/distributed.py).
        With the contrastive objective the batch's second half is a second
        view of its first (built with `views`)."""
        weights = self.weights
        views = 2 if "contrastive" in weights else 1
        tokens, token_targets = batch.tokens, None
        if "nucleotide" in weights:
            tokens, token_targets = losses.mask_tokens(
                batch.tokens.cpu(), self.train.mask_ratio, generator)
            tokens, token_targets = (tokens.to(batch.tokens.device),
                                     token_targets.to(batch.tokens.device))
        hidden = None
        if "abundance" in weights:
            hidden = losses.mask_abundances(batch.asv_mask.cpu(), self.train.abundance_mask_ratio,
                                            generator).to(batch.asv_mask.device)
        context = None if self.task is None else self.task.context(batch.rows)
        out = model(batch, with_token_logits="nucleotide" in weights, tokens=tokens,
                    context=context, hidden_abundance=hidden)
        terms = {}
        first = batch.size // views  # the UniFrac pairs are those of one view
        if "unifrac" in weights:
            terms["unifrac"] = unifrac_term(out["embedding"][:first], batch.rows[:first],
                                            self.distances, shard)
        if "contrastive" in weights:
            terms["contrastive"] = losses.contrastive_loss(
                out["embedding"][:first], out["embedding"][first:])
        if "nucleotide" in weights:
            terms["nucleotide"] = losses.masked_nucleotide_loss(
                out["token_logits"], token_targets)
        if "abundance" in weights:
            terms["abundance"] = losses.masked_abundance_loss(
                out["abundance"], batch.log_abundance, hidden)
        if "alpha" in weights:
            terms["alpha"] = losses.alpha_loss(
                out["alpha"], self.alpha[batch.rows.cpu()].to(out["alpha"].device))
        if "taxonomy" in weights:
            labels = self.taxonomy[batch.features.cpu()]
            terms["taxonomy"] = losses.taxonomy_loss(
                out["taxonomy"], labels.to(out["embedding"].device))
        if "target" in weights:
            terms["target"] = self.task.loss_of(out["prediction"], batch.rows)
            if self.train.expert_balance > 0 and out.get("expert_gate") is not None:
                weights = {**weights, "expert_balance": self.train.expert_balance}
                terms["expert_balance"] = losses.expert_balance_loss(out["expert_gate"])
        terms = scale_for_processes(terms, shard)
        total = sum(weights[name] * value for name, value in terms.items())
        return total, terms, out


class NonFiniteLossError(AAMInputError, RuntimeError):
    """Training cannot go on; the message says which term and what to try."""


def check_finite(terms: dict, epoch: int) -> None:
    for name, value in terms.items():
        if not torch.isfinite(value.detach()).all():
            raise NonFiniteLossError(
                f"The {name} loss became {value.item()} in epoch {epoch}. "
                f"Lower {spelled('learning_rate')} or {spelled('weight_decay')}, or "
                "check the inputs and weights of that term (e.g. distances, targets or "
                "loss weights holding NaN or huge values).")


def as_tensor(values: np.ndarray | None) -> torch.Tensor | None:
    if values is None or isinstance(values, DistanceView):
        return values  # a lazy matrix stays lazy
    return torch.as_tensor(values, dtype=torch.float32)
