"""Loss terms. Each takes model outputs and plain tensors."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .config import TrainConfig
from .data.tokens import MASK, NUCLEOTIDE_TOKENS, PAD
from .option import choices_of


def pairwise_distances(rows: torch.Tensor, columns: torch.Tensor) -> torch.Tensor:
    """Euclidean distances (R, C); the clamp keeps the gradient finite at 0."""
    diff = rows[:, None, :].float() - columns[None, :, :].float()
    return diff.pow(2).sum(-1).clamp_min(1e-12).sqrt()


def unifrac_pair_loss(embedding: torch.Tensor, true_distances: torch.Tensor) -> torch.Tensor:
    """Mean squared error of embedding distances over all i<j pairs.

    The predicted distance is the raw Euclidean distance between sample
    embeddings, with no squashing, so it can match any UniFrac value.
    """
    n = embedding.shape[0]
    i, j = torch.triu_indices(n, n, offset=1, device=embedding.device)
    predicted = pairwise_distances(embedding, embedding)[i, j]
    return F.mse_loss(predicted, true_distances[i, j].to(predicted.dtype))


def pair_squared_errors(rows: torch.Tensor, columns: torch.Tensor, first_row: int,
                        true_distances: torch.Tensor) -> torch.Tensor:
    """Sum of squared distance errors over the pairs (first_row + r, c) with
    first_row + r < c: `rows` are one slice of the batch `columns`, so the
    slices of a batch together count each of its i<j pairs once
    (train/distributed.py). true_distances: (R, C)."""
    predicted = pairwise_distances(rows, columns)
    r = torch.arange(rows.shape[0], device=rows.device)[:, None] + first_row
    upper = torch.arange(columns.shape[0], device=rows.device)[None, :] > r
    # a mask, not an index: every slice keeps the gathered columns in its graph
    error = (predicted - true_distances.to(predicted)) * upper
    return error.pow(2).sum()


def mask_tokens(tokens: torch.Tensor, ratio: float, generator: torch.Generator):
    """BERT-style masking of nucleotide positions.

    Returns the corrupted tokens and the targets (-100 where not masked). Of
    the chosen positions 80% become MASK, 10% a random nucleotide, 10% stay.
    """
    real = tokens != PAD
    chosen = (torch.rand(tokens.shape, generator=generator) < ratio) & real
    targets = torch.where(chosen, tokens, torch.full_like(tokens, -100))
    action = torch.rand(tokens.shape, generator=generator)
    nucleotides = torch.tensor(NUCLEOTIDE_TOKENS)
    random_tokens = nucleotides[torch.randint(0, 4, tokens.shape, generator=generator)]
    corrupted = torch.where(chosen & (action < 0.8), torch.full_like(tokens, MASK), tokens)
    corrupted = torch.where(chosen & (action >= 0.8) & (action < 0.9),
                            random_tokens, corrupted)
    return corrupted, targets


def masked_nucleotide_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy over masked positions only (targets -100 elsewhere)."""
    if not (targets != -100).any():
        return logits.sum() * 0.0  # nothing masked in this batch
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(),
                           targets.reshape(-1), ignore_index=-100)


def mask_abundances(asv_mask: torch.Tensor, ratio: float,
                    generator: torch.Generator) -> torch.Tensor:
    """(B, A) bool: the real ASV slots whose abundance input is hidden."""
    chosen = torch.rand(asv_mask.shape, generator=generator) < ratio
    return chosen.to(asv_mask.device) & asv_mask


def masked_abundance_loss(predicted: torch.Tensor, log_abundance: torch.Tensor,
                          hidden: torch.Tensor) -> torch.Tensor:
    """MSE between predicted and true log relative abundance of hidden ASVs."""
    if not hidden.any():
        return predicted.sum() * 0.0
    return F.mse_loss(predicted[hidden].float(), log_abundance[hidden].float())


def target_loss(prediction: torch.Tensor, target: torch.Tensor, kind: str, *,
                weights: torch.Tensor | None = None, quantiles=None,
                delta: float = 1.0, over: float = 1.0, under: float = 1.0,
                class_weights: torch.Tensor | None = None,
                smoothing: float = 0.0) -> torch.Tensor:
    """Weighted mean over samples of one target loss.

    `weights` are per-sample (e.g. per-category weighting); for
    cross-entropy they multiply the class weights, and the mean is taken as
    sum(w * loss) / sum(w), as torch's weighted cross-entropy does.
    """
    per_sample = target_loss_per_sample(prediction, target, kind, quantiles=quantiles,
                                        delta=delta, over=over, under=under,
                                        smoothing=smoothing)
    if kind == "cross_entropy" and class_weights is not None:
        class_weights = class_weights.to(per_sample.device)[target]
        weights = class_weights if weights is None else weights * class_weights
    if weights is None:
        return per_sample.mean()
    weights = weights.to(per_sample)
    return (per_sample * weights).sum() / weights.sum().clamp_min(1e-12)


def target_loss_per_sample(prediction, target, kind, *, quantiles=None,
                           delta: float = 1.0, over: float = 1.0,
                           under: float = 1.0, smoothing: float = 0.0) -> torch.Tensor:
    """One loss value per sample, shape (B,). `smoothing`: cross-entropy's
    label smoothing."""
    if kind == "cross_entropy":  # prediction: (B, C) logits, target: (B,) class
        return F.cross_entropy(prediction.float(), target.long(), reduction="none",
                               label_smoothing=smoothing)
    prediction, target = prediction.float(), target.float()
    if kind == "quantile":  # prediction (B, Q): pinball loss averaged over Q
        levels = torch.as_tensor(quantiles, dtype=torch.float32,
                                 device=prediction.device)
        error = target[:, None] - prediction
        return torch.maximum(levels * error, (levels - 1) * error).mean(-1)
    if kind == "mse":
        return (prediction - target) ** 2
    if kind == "mae":
        return (prediction - target).abs()
    if kind == "huber":
        return F.huber_loss(prediction, target, delta=delta, reduction="none")
    if kind == "asymmetric":  # squared error, weighted by the sign of the miss
        error = prediction - target
        return torch.where(error > 0, over, under) * error ** 2
    raise ValueError(f"Unknown target loss {kind!r}; use one of "
                     f"{TARGET_LOSSES + ('cross_entropy',)}.")


TARGET_LOSSES = choices_of(TrainConfig, "loss")


def expert_balance_loss(gate: torch.Tensor) -> torch.Tensor:
    """Squared coefficient of variation of the experts' mean gate weights
    over a batch: 0 when every expert takes the same share, so that the gate
    cannot collapse onto one expert and leave the others untrained."""
    share = gate.float().mean(0)
    return share.var(unbiased=False) / share.mean().pow(2).clamp_min(1e-12)


def alpha_loss(predicted: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """MSE of the alpha head on z-scored alpha diversity (a per-sample
    pretraining target, e.g. Shannon entropy or Faith PD)."""
    return F.mse_loss(predicted.float(), alpha.float())


def taxonomy_loss(logits: list, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of each rank's head on the ASVs labelled at that rank
    (label -1: unassigned, or the ASV is not in the taxonomy), averaged over
    those ASVs, then over the ranks with any. Every head stays in the graph,
    even with no label in the batch, so DDP sees all parameters used."""
    per_rank, present = [], []
    for rank, rank_logits in enumerate(logits):
        target = labels[:, rank]
        known = (target >= 0).to(torch.float32)
        entropy = F.cross_entropy(rank_logits.float(), target.clamp_min(0), reduction="none")
        per_rank.append((entropy * known).sum() / known.sum().clamp_min(1.0))
        present.append((known.sum() > 0).to(torch.float32))
    present = torch.stack(present)
    return (torch.stack(per_rank) * present).sum() / present.sum().clamp_min(1.0)


# squared distances divided by 0.1: the embedding reproduces distances of
# 0-1 (UniFrac), so a view at 0.1 from its twin and 0.5 from other samples
# scores about 2.4 above them
CONTRASTIVE_TEMPERATURE = 0.1


def contrastive_loss(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """InfoNCE over two views of B samples: each of the 2B embeddings must
    pick its sample's other view among the other 2B - 1, by Euclidean
    distance (the geometry the UniFrac loss gives the embedding; a cosine
    would see only the direction from the origin, which the distance loss
    leaves free, and it stayed at chance beside that loss)."""
    n = first.shape[0]
    views = torch.cat([first, second])
    logits = -pairwise_distances(views, views).pow(2) / CONTRASTIVE_TEMPERATURE
    itself = torch.eye(2 * n, dtype=torch.bool, device=views.device)
    logits = logits.masked_fill(itself, float("-inf"))
    other_view = torch.arange(2 * n, device=views.device).roll(n)
    return F.cross_entropy(logits, other_view)
