"""The AAM model in one file (DESIGN s.3).

    tokens (U, L) --NucleotideEncoder--> ASV vectors (U, d)   [+ token logits]
    ASV vectors[asv_index] + abundance --SampleEncoder--> sample embedding (B, d)
    sample embedding --heads--> distances (UniFrac) / regression / classes

The nucleotide encoder sees each distinct ASV of a batch once (unique-ASV
batching); the sample encoder attends over the SET of a sample's ASVs, with
no positional embedding, and padding slots are masked everywhere.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..config import ModelConfig
from ..data.tokens import PAD, VOCAB_SIZE


class SelfAttention(nn.Module):
    def __init__(self, d_model: int, n_heads: int):
        super().__init__()
        self.n_heads = n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        batch, length, d_model = x.shape
        q, k, v = self.qkv(x).view(batch, length, 3, self.n_heads, -1).unbind(2)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # (B, H, L, dh)
        # no attention-weight dropout: on CPU its Bernoulli draws cost a third
        # of a step, and residual dropout regularises enough
        attended = F.scaled_dot_product_attention(
            q, k, v, attn_mask=None if mask is None else mask[:, None, None, :])
        return self.out(attended.transpose(1, 2).reshape(batch, length, d_model))


class Block(nn.Module):
    """Pre-LN transformer block; `mask` (B, L) is True on real positions, or
    None when nothing is padded (the faster unmasked attention kernel)."""

    def __init__(self, d_model: int, n_heads: int, ff_mult: int, dropout: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(d_model)
        self.attention = SelfAttention(d_model, n_heads)
        self.norm2 = nn.LayerNorm(d_model)
        self.feed_forward = nn.Sequential(
            nn.Linear(d_model, ff_mult * d_model), nn.GELU(),
            nn.Linear(ff_mult * d_model, d_model))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = x + self.drop(self.attention(self.norm1(x), mask))
        return x + self.drop(self.feed_forward(self.norm2(x)))


class AttentionPooling(nn.Module):
    """Masked softmax-weighted average of positions, then LayerNorm."""

    def __init__(self, d_model: int):
        super().__init__()
        self.score = nn.Linear(d_model, 1)
        self.norm = nn.LayerNorm(d_model)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        scores = self.score(x).squeeze(-1).masked_fill(~mask, float("-inf"))
        weights = torch.softmax(scores.float(), dim=-1).to(x.dtype)
        return self.norm(torch.einsum("bl,bld->bd", weights, x))


class NucleotideEncoder(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        d = config.d_model
        self.token_embedding = nn.Embedding(VOCAB_SIZE, d, padding_idx=PAD)
        self.position_embedding = nn.Embedding(config.max_length, d)
        self.blocks = nn.ModuleList(
            Block(d, config.n_heads, config.ff_mult, config.dropout)
            for _ in range(config.nucleotide_layers))
        self.final_norm = nn.LayerNorm(d)
        self.pool = AttentionPooling(d)
        self.token_head = nn.Linear(d, VOCAB_SIZE)  # masked-nucleotide logits

    def forward(self, tokens: torch.Tensor, with_token_logits: bool = False):
        mask = tokens != PAD
        positions = torch.arange(tokens.shape[1], device=tokens.device)
        x = self.token_embedding(tokens) + self.position_embedding(positions)
        # amplicons often share one length: then no position is padding
        attention_mask = None if bool(mask.all()) else mask
        for block in self.blocks:
            x = block(x, attention_mask)
        x = self.final_norm(x)
        logits = self.token_head(x) if with_token_logits else None
        return self.pool(x, mask), logits


class SampleEncoder(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        d = config.d_model
        self.abundance_embedding = nn.Sequential(nn.Linear(1, d), nn.GELU(),
                                                 nn.Linear(d, d))
        self.blocks = nn.ModuleList(
            Block(d, config.n_heads, config.ff_mult, config.dropout)
            for _ in range(config.sample_layers))
        self.final_norm = nn.LayerNorm(d)
        self.pool = AttentionPooling(d)

    def forward(self, asv_vectors, asv_index, log_abundance, asv_mask):
        x = asv_vectors[asv_index]  # scatter each distinct ASV to its samples
        x = x + self.abundance_embedding(log_abundance.unsqueeze(-1).to(x.dtype))
        for block in self.blocks:
            x = block(x, asv_mask)
        return self.pool(self.final_norm(x), asv_mask)


class RegressionHead(nn.Module):
    def __init__(self, config: ModelConfig, n_outputs: int = 1):
        super().__init__()
        layers, width = [], config.d_model
        for hidden in config.regression_hidden:
            layers += [nn.Linear(width, hidden), nn.GELU(), nn.Dropout(config.head_dropout)]
            width = hidden
        layers.append(nn.Linear(width, n_outputs))
        self.mlp = nn.Sequential(*layers)

    def forward(self, embedding: torch.Tensor) -> torch.Tensor:
        return self.mlp(embedding).squeeze(-1)


class AAM(nn.Module):
    """Encoders plus an optional target head (None for a pretrained encoder)."""

    def __init__(self, config: ModelConfig, head: str | None = None):
        super().__init__()
        self.config = config
        self.nucleotide_encoder = NucleotideEncoder(config)
        self.sample_encoder = SampleEncoder(config)
        self.head = RegressionHead(config) if head == "regression" else None

    def forward(self, batch, with_token_logits: bool = False, tokens=None) -> dict:
        """`tokens` replaces batch.tokens (e.g. masked for pretraining)."""
        tokens = batch.tokens if tokens is None else tokens
        asv_vectors, token_logits = self.nucleotide_encoder(tokens, with_token_logits)
        embedding = self.sample_encoder(asv_vectors, batch.asv_index,
                                        batch.log_abundance, batch.asv_mask)
        out = {"embedding": embedding, "token_logits": token_logits}
        if self.head is not None:
            out["prediction"] = self.head(embedding)
        return out
