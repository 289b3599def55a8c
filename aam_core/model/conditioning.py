"""Conditioning on categorical metadata.

Each column (site, season, study...) gets an embedding table whose row 0 is
reserved for "unknown": a missing value, or a category never seen in
training, maps there, so prediction never fails on new categories. During
training a small share of categories (`unknown_rate`) is shown as unknown so
that row is learned, not left at its initial value.

Hierarchies: a child column (city) adds its parent's vector (country) to its
own, so an unseen city still carries what is known about its country.

Fusion of the column vectors c_1..c_k with the sample embedding e:
    none             the columns only serve normalisation / weighting / scaling
    add              e + sum_k c_k
    concat           Linear([e, c_1, ..., c_k]) -> d
    film             e * (1 + gamma) + beta, (gamma, beta) = Linear([c_1..c_k])
    cross_attention  inside the sample encoder, before its blocks, every ASV
                     token attends to one token per column plus a learned
                     "null" token. With a single column, attention over one
                     key would always give weight 1, i.e. the same vector added
                     to every ASV (a plain shift); the null token turns it into
                     a per-ASV gate: each ASV token decides, from its own
                     content, how much of the category it takes in, so the
                     category can change some taxa's representation and not
                     others'.
Output scaling (optional): prediction = raw * (1 + s_c) + b_c, with s, b
learned per category (summed over columns), zero at the start.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from ..config import ConditioningConfig
from ..errors import AAMInputError, other_spellings
from ..option import choices_of

FUSIONS = choices_of(ConditioningConfig, "fusion")
UNKNOWN = 0


def category_text(value) -> str | None:
    """Metadata value -> category; 550.0 and '550' are the same category."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def build_vocabularies(frame: pd.DataFrame) -> dict:
    """column -> sorted categories seen (code = position + 1; 0 is unknown)."""
    return {str(column): sorted({c for c in map(category_text, frame[column])
                                 if c is not None})
            for column in frame.columns}


def nested_columns(frame: pd.DataFrame) -> tuple:
    """((child, parent), ...) for columns whose every category lies within
    one category of another column with fewer categories (city within
    country); the parent is the finest such column. Missing values ignored."""
    texts = {c: frame[c].map(category_text) for c in frame.columns}
    sizes = {c: texts[c].nunique() for c in frame.columns}
    pairs = []
    for child in frame.columns:
        parents = []
        for parent in frame.columns:
            if parent == child or not 1 < sizes[parent] < sizes[child]:
                continue
            both = pd.DataFrame({"c": texts[child], "p": texts[parent]}).dropna()
            if len(both) and (both.groupby("c")["p"].nunique() == 1).all():
                parents.append(parent)
        if parents:
            pairs.append((str(child), str(max(parents, key=sizes.get))))
    return tuple(pairs)


def encode_conditions(frame: pd.DataFrame | None, sample_ids, vocabularies: dict,
                      columns: list, log=None) -> np.ndarray:
    """(n_samples, n_columns) int64 codes, in the model's column order
    `columns` (required: a saved config's vocabularies come back with sorted
    keys); missing or unseen categories -> UNKNOWN."""
    columns = list(columns)
    codes = np.zeros((len(sample_ids), len(columns)), dtype=np.int64)
    if frame is None:
        if columns and log is not None:
            log("Warning: no conditioning metadata given; every sample uses the "
                "'unknown' category of " + ", ".join(columns) + ".")
        return codes
    frame = frame.copy()
    frame.index = frame.index.map(str)
    absent = [c for c in columns if c not in frame.columns]
    if absent:  # metadata given without them is a mistake, not missing values
        raise AAMInputError(
            f"The conditioning metadata lacks the column(s) {absent} this model was "
            f"fitted with (it has {list(frame.columns)[:5]}): give the metadata with "
            "those columns.")
    outside = int((~pd.Index(list(sample_ids)).isin(frame.index)).sum())
    for j, column in enumerate(columns):
        position = {c: i + 1 for i, c in enumerate(vocabularies[column])}
        values = frame[column].reindex(list(sample_ids))
        texts = [category_text(v) for v in values]
        codes[:, j] = [position.get(t, UNKNOWN) for t in texts]
        unseen = sorted({t for t in texts if t is not None and t not in position})
        _refuse_other_spellings(column, unseen, position)
        missing = sum(t is None for t in texts) - outside
        parts = ([f"{len(unseen)} categor(ies) not seen in training "
                  f"({', '.join(unseen[:5])})"] if unseen else []) + (
                 [f"{missing} missing value(s)"] if missing else []) + (
                 [f"{outside} sample(s) absent from the metadata"] if outside else [])
        if parts and log is not None:
            log(f"Conditioning column {column!r}: {' and '.join(parts)} use the "
                "'unknown' embedding.")
    return codes


def _refuse_other_spellings(column: str, unseen: list, known: dict) -> None:
    """A category that differs from a trained one only by case or spaces is
    a spelling, not a new category: read as 'unknown', its samples would
    lose what the model learned of it without a word."""
    pairs = other_spellings(unseen, known)
    if pairs:
        given, trained = pairs[0]
        raise AAMInputError(
            f"Conditioning column {column!r}: {len(pairs)} categor(ies) differ from the "
            f"model's only by case or spaces (e.g. {given!r} here, {trained!r} in "
            "training) and would be read as unknown: write them as in training.")


class CrossAttentionFusion(nn.Module):
    """ASV tokens (queries) attend to [null, c_1, ..., c_k]; zero-initialised
    output, so a pretrained encoder starts exactly as it was."""

    def __init__(self, d_model: int, n_heads: int):
        super().__init__()
        self.n_heads = n_heads
        self.norm = nn.LayerNorm(d_model)
        self.query = nn.Linear(d_model, d_model)
        self.key_value = nn.Linear(d_model, 2 * d_model)
        self.null = nn.Parameter(torch.randn(d_model) * 0.02)
        self.out = nn.Linear(d_model, d_model)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor, columns: torch.Tensor) -> torch.Tensor:
        batch, length, d_model = x.shape
        context = torch.cat([self.null.expand(batch, 1, d_model).to(columns.dtype),
                             columns], dim=1)  # (B, 1 + k, d)
        q = self.query(self.norm(x)).view(batch, length, self.n_heads, -1).transpose(1, 2)
        k, v = self.key_value(context.to(x.dtype)).view(
            batch, context.shape[1], 2, self.n_heads, -1).unbind(2)
        attended = F.scaled_dot_product_attention(q, k.transpose(1, 2), v.transpose(1, 2))
        return x + self.out(attended.transpose(1, 2).reshape(batch, length, d_model))


class Conditioning(nn.Module):
    """Category embeddings, their fusion, and the optional output scaling.

    `spec` is the model's config['conditioning'] block: columns,
    vocabularies, parents {child: parent}, fusion, conditional_output,
    unknown_rate.
    """

    def __init__(self, d_model: int, n_heads: int, spec: dict, n_outputs: int):
        super().__init__()
        self.columns = list(spec["columns"])
        self.fusion = spec.get("fusion", "add")
        if self.fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {FUSIONS}, not {self.fusion!r}.")
        self.unknown_rate = float(spec.get("unknown_rate", 0.0))
        sizes = [len(spec["vocabularies"][c]) + 1 for c in self.columns]
        # N(0, 1) rows: on the scale of the LayerNorm-ed sample embedding, so
        # that 'add' and 'concat' feel the category from the first step
        self.embeddings = nn.ModuleList(nn.Embedding(n, d_model) for n in sizes)
        self.order, self.parent = _hierarchy(self.columns, spec.get("parents") or {})
        k = len(self.columns)
        if self.fusion == "concat":
            self.mix = nn.Linear(d_model * (1 + k), d_model)
        elif self.fusion == "film":
            self.mix = nn.Linear(d_model * k, 2 * d_model)
            nn.init.zeros_(self.mix.weight)
            nn.init.zeros_(self.mix.bias)
        elif self.fusion == "cross_attention":
            self.cross = CrossAttentionFusion(d_model, n_heads)
        self.output_affine = None
        if spec.get("conditional_output"):
            self.output_affine = nn.ModuleList(nn.Embedding(n, 2 * n_outputs) for n in sizes)
            for table in self.output_affine:
                nn.init.zeros_(table.weight)

    def codes(self, conditions: torch.Tensor | None, batch_size: int,
              device) -> torch.Tensor:
        """Codes to use: all unknown when absent; some dropped in training."""
        if conditions is None:
            return torch.zeros(batch_size, len(self.columns), dtype=torch.long,
                               device=device)
        conditions = conditions.to(device)
        if self.training and self.unknown_rate > 0:
            dropped = torch.rand(conditions.shape, device=device) < self.unknown_rate
            conditions = conditions.masked_fill(dropped, UNKNOWN)
        return conditions

    def vectors(self, codes: torch.Tensor) -> torch.Tensor:
        """(B, k, d): each column's embedding plus its ancestors'."""
        own = [table(codes[:, j]) for j, table in enumerate(self.embeddings)]
        full = list(own)
        for j in self.order:  # parents before children
            if self.parent[j] >= 0:
                full[j] = own[j] + full[self.parent[j]]
        return torch.stack(full, dim=1)

    def token_fusion(self, vectors: torch.Tensor):
        """The hook the sample encoder applies to its ASV tokens, or None."""
        if self.fusion != "cross_attention":
            return None
        return lambda x, mask: self.cross(x, vectors)

    def fuse(self, embedding: torch.Tensor, vectors: torch.Tensor) -> torch.Tensor:
        vectors = vectors.to(embedding.dtype)
        if self.fusion == "add":
            return embedding + vectors.sum(1)
        if self.fusion == "concat":
            return self.mix(torch.cat([embedding, vectors.flatten(1)], dim=-1))
        if self.fusion == "film":
            gamma, beta = self.mix(vectors.flatten(1)).chunk(2, dim=-1)
            return embedding * (1 + gamma) + beta
        return embedding  # none; cross_attention already acted inside the encoder

    def scale_output(self, raw: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        if self.output_affine is None:
            return raw
        affine = sum(table(codes[:, j]) for j, table in enumerate(self.output_affine))
        scale, bias = affine.float().chunk(2, dim=-1)
        return raw.float() * (1 + scale) + bias


def unknown_parent(child: str, mother: str, columns: list) -> AAMInputError:
    return AAMInputError(f"The hierarchy {child}:{mother} (child:parent) names a column "
                         f"the model is not conditioned on; both must be conditioning "
                         f"columns ({', '.join(map(str, columns)) or 'none given'}).")


def _ancestry(j: int, parent: list) -> list:
    """j, its parent, and so on, until a column comes round again."""
    seen = [j]
    while parent[seen[-1]] >= 0 and parent[seen[-1]] not in seen:
        seen.append(parent[seen[-1]])
    return seen + [parent[seen[-1]]]


def _hierarchy(columns: list, parents: dict) -> tuple:
    """(an order with parents first, parent index of each column or -1)."""
    index = {c: i for i, c in enumerate(columns)}
    parent = [-1] * len(columns)
    for child, mother in parents.items():
        if child not in index or mother not in index:
            raise unknown_parent(child, mother, columns)
        if child == mother:
            raise AAMInputError(f"The column {child!r} cannot be its own parent in the "
                                "conditioning hierarchy.")
        parent[index[child]] = index[mother]
    order, state = [], [0] * len(columns)

    def visit(j):
        if state[j] == 1:
            loop = " -> ".join(columns[k] for k in _ancestry(j, parent))
            raise AAMInputError(f"The conditioning hierarchy (child:parent) has a "
                                f"loop: {loop}. Give each column a parent that does "
                                "not lead back to it.")
        if state[j] == 0:
            state[j] = 1
            if parent[j] >= 0:
                visit(parent[j])
            state[j] = 2
            order.append(j)
    for j in range(len(columns)):
        visit(j)
    return order, parent
