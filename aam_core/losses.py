"""Loss terms (DESIGN s.4). Each takes model outputs and plain tensors."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .data.tokens import MASK, NUCLEOTIDE_TOKENS, PAD


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


def target_loss(prediction: torch.Tensor, target: torch.Tensor, kind: str) -> torch.Tensor:
    prediction, target = prediction.float(), target.float()
    if kind == "mse":
        return F.mse_loss(prediction, target)
    if kind == "mae":
        return F.l1_loss(prediction, target)
    if kind == "huber":
        return F.huber_loss(prediction, target, delta=1.0)
    raise ValueError(f"Unknown target loss {kind!r}; use huber, mse or mae.")


TARGET_LOSSES = ("huber", "mse", "mae")
