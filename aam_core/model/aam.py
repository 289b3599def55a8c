"""The AAM model in one file.

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
from .conditioning import Conditioning
from .heads import AbundanceHead, ClassificationHead, RegressionHead


def run_blocks(blocks, x: torch.Tensor, mask, checkpoint: bool = False) -> torch.Tensor:
    """The blocks in turn; with `checkpoint`, activations are recomputed in
    the backward pass instead of stored (less memory, ~30% more compute)."""
    for block in blocks:
        if checkpoint and torch.is_grad_enabled():
            x = torch.utils.checkpoint.checkpoint(block, x, mask, use_reentrant=False)
        else:
            x = block(x, mask)
    return x


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


class KmerEmbedding(nn.Module):
    """Mean of learned embeddings of an ASV's overlapping k-mers.

    Windows holding PAD, N or MASK are skipped, so masking nucleotides in
    pretraining hides their k-mers too (no leak around the masked-nucleotide
    objective).
    """

    def __init__(self, k: int, d_model: int):
        super().__init__()
        self.k = k
        self.embedding = nn.Embedding(4 ** k, d_model)
        nn.init.normal_(self.embedding.weight, std=0.02)
        self.register_buffer("powers", 4 ** torch.arange(k - 1, -1, -1), persistent=False)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        if tokens.shape[1] < self.k:  # shorter than one k-mer: padding only
            tokens = F.pad(tokens, (0, self.k - tokens.shape[1]))
        # shifted slices, not unfold: ONNX export has no unfold of a dynamic length
        n_windows = tokens.shape[1] - self.k + 1
        windows = torch.stack([tokens[:, i:i + n_windows] for i in range(self.k)],
                              dim=-1)                 # (U, L-k+1, k)
        valid = ((windows >= 1) & (windows <= 4)).all(-1)
        codes = ((windows - 1).clamp(0, 3) * self.powers).sum(-1)
        weights = valid.to(self.embedding.weight.dtype)
        summed = torch.einsum("uw,uwd->ud", weights, self.embedding(codes))
        return summed / weights.sum(1, keepdim=True).clamp_min(1.0)


class NucleotideEncoder(nn.Module):
    gradient_checkpointing = False
    skip_full_mask = True  # off for an exported graph (export.py)

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
        self.kmers = KmerEmbedding(config.kmer_size, d) if config.kmer_size else None

    def forward(self, tokens: torch.Tensor, with_token_logits: bool = False):
        mask = tokens != PAD
        positions = torch.arange(tokens.shape[1], device=tokens.device)
        x = self.token_embedding(tokens) + self.position_embedding(positions)
        # amplicons often share one length: then no position is padding
        attention_mask = None if self.skip_full_mask and bool(mask.all()) else mask
        x = run_blocks(self.blocks, x, attention_mask, self.gradient_checkpointing)
        x = self.final_norm(x)
        logits = self.token_head(x) if with_token_logits else None
        vectors = self.pool(x, mask)
        if self.kmers is not None:
            vectors = vectors + self.kmers(tokens)
        return vectors, logits


class SampleEncoder(nn.Module):
    gradient_checkpointing = False

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

    def forward(self, asv_vectors, asv_index, log_abundance, asv_mask,
                hidden=None, fusion=None, return_tokens: bool = False):
        """`hidden` (mask, vector): slots whose abundance input is replaced by
        a learned vector (abundance objective); `fusion`: conditioning hook
        on the ASV tokens before the blocks (cross-attention)."""
        x = asv_vectors[asv_index]  # scatter each distinct ASV to its samples
        abundance = self.abundance_embedding(log_abundance.unsqueeze(-1).to(x.dtype))
        if hidden is not None:
            abundance = torch.where(hidden[0][..., None], hidden[1].to(x.dtype), abundance)
        x = x + abundance
        if fusion is not None:
            x = fusion(x, asv_mask)
        x = self.final_norm(run_blocks(self.blocks, x, asv_mask,
                                       self.gradient_checkpointing))
        pooled = self.pool(x, asv_mask)
        return (pooled, x) if return_tokens else pooled


class AAM(nn.Module):
    """Encoders plus an optional target head (None for a pretrained encoder).

    head: None | "regression" | "classification"; n_outputs: quantiles or
    classes; conditioning: a model's config["conditioning"] block, or None;
    alpha_head: a linear head predicting alpha diversity from the sample
    embedding, a pretraining aid only (fine-tuned networks have none, so
    load_matching_weights leaves it behind); taxonomy_classes: the number of
    classes of each taxonomic rank, one linear head each on the ASV vectors,
    a pretraining aid likewise.
    """

    def __init__(self, config: ModelConfig, head: str | None = None,
                 n_outputs: int = 1, conditioning: dict | None = None,
                 monotone: bool = False, alpha_head: bool = False,
                 taxonomy_classes: tuple = ()):
        super().__init__()
        self.config = config
        self.nucleotide_encoder = NucleotideEncoder(config)
        self.sample_encoder = SampleEncoder(config)
        self.head = None
        if head == "regression":
            self.head = RegressionHead(config, n_outputs, monotone)
        elif head == "classification":
            self.head = ClassificationHead(config, n_outputs)
        elif head is not None:
            raise ValueError(f"Unknown head {head!r}.")
        self.conditioning = None if not conditioning else Conditioning(
            config.d_model, config.n_heads, conditioning, n_outputs)
        self.abundance_head = AbundanceHead(config.d_model)
        self.alpha_head = nn.Linear(config.d_model, 1) if alpha_head else None
        self.taxonomy_heads = nn.ModuleList(
            nn.Linear(config.d_model, n) for n in taxonomy_classes) if taxonomy_classes else None
        # (n_features, d) ASV vectors of a frozen nucleotide encoder, computed
        # once per run (see train/cache.py); not part of the state_dict
        self.asv_cache = None

    def set_gradient_checkpointing(self, on: bool) -> None:
        self.nucleotide_encoder.gradient_checkpointing = on
        self.sample_encoder.gradient_checkpointing = on

    def forward(self, batch, with_token_logits: bool = False, tokens=None,
                context: dict | None = None, hidden_abundance=None) -> dict:
        """`tokens` replaces batch.tokens (e.g. masked for pretraining);
        `context`: per-sample "conditions" (B, k) codes and the target
        normalisation "shift", "scale" (B,); `hidden_abundance` (B, A) bool:
        ASVs whose abundance is hidden and predicted."""
        context = context or {}
        if self.asv_cache is not None and not with_token_logits:
            asv_vectors, token_logits = self.asv_cache[batch.features], None
        else:
            tokens = batch.tokens if tokens is None else tokens
            asv_vectors, token_logits = self.nucleotide_encoder(tokens, with_token_logits)
        codes = vectors = fusion = None
        if self.conditioning is not None:
            codes = self.conditioning.codes(context.get("conditions"), batch.size,
                                            asv_vectors.device)
            vectors = self.conditioning.vectors(codes)
            fusion = self.conditioning.token_fusion(vectors)
        hidden = None if hidden_abundance is None else (
            hidden_abundance, self.abundance_head.mask_embedding)
        embedding, asv_tokens = self.sample_encoder(
            asv_vectors, batch.asv_index, batch.log_abundance, batch.asv_mask,
            hidden=hidden, fusion=fusion, return_tokens=True)
        out = {"embedding": embedding, "token_logits": token_logits}
        if self.taxonomy_heads is not None:  # per distinct ASV of the batch
            out["taxonomy"] = [head(asv_vectors) for head in self.taxonomy_heads]
        if hidden_abundance is not None:
            out["abundance"] = self.abundance_head(asv_tokens)
        if self.alpha_head is not None:
            out["alpha"] = self.alpha_head(embedding).squeeze(-1)
        if self.head is not None:
            features = embedding if vectors is None else self.conditioning.fuse(
                embedding, vectors)
            raw, gate = self.head.gated(features)
            if gate is not None:
                out["expert_gate"] = gate  # for the load-balancing loss
            if codes is not None:
                raw = self.conditioning.scale_output(raw, codes)
            out["prediction"] = self.head.finish(raw, context.get("shift"),
                                                 context.get("scale"))
        return out
