"""Output heads on the sample embedding.

Regression heads work in normalised target units (the loss is computed
there) but know the per-sample (shift, scale) of the normalisation, so that
an output activation or bounds hold in the target's own units:

    target = normalised * scale + shift
    softplus / exp:  target = scale * act(raw + c)          >= 0
    bounds (lo, hi): target = lo + (hi - lo) * sigmoid(raw + c)
    lower only:      target = lo + scale * softplus(raw + c)
The offset c puts raw = 0 at the sample's normalisation centre (the training
mean for z-scores), as without an activation, so training starts near the
mean instead of at 0 or at the middle of the bounds.

Several quantiles are made non-crossing by construction: the first output
is the lowest quantile and each next one adds a softplus step.
"""
from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from torch import nn

from ..config import ModelConfig
from ..option import choices_of

ACTIVATIONS = choices_of(ModelConfig, "output_activation")


class ResidualBlock(nn.Module):
    """x + MLP(LN(x)): a head layer that can be stacked without degrading."""

    def __init__(self, d_model: int, hidden: int, dropout: float):
        super().__init__()
        self.mlp = nn.Sequential(nn.LayerNorm(d_model), nn.Linear(d_model, hidden),
                                 nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(hidden, d_model))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.mlp(x)


def mlp(d_model: int, hidden: tuple, n_outputs: int, dropout: float,
        residual: bool = False) -> nn.Sequential:
    """Plain MLP (hidden widths in turn) or residual blocks of those inner widths."""
    layers, width = [], d_model
    for size in hidden:
        if residual:
            layers.append(ResidualBlock(d_model, size, dropout))
        else:
            layers += [nn.Linear(width, size), nn.GELU(), nn.Dropout(dropout)]
            width = size
    layers.append(nn.Linear(width, n_outputs))
    return nn.Sequential(*layers)


class MixtureOfExperts(nn.Module):
    """k expert MLPs mixed by a softmax gate over the same input.

    One head must fit one function of the embedding; a target whose rule
    flips between kinds of samples (y = +x in one regime, -x in another) is
    a product a small head fits badly, but a gate that picks the regime and
    an expert per regime fit it with linear parts.
    """

    def __init__(self, d_model: int, hidden: tuple, n_outputs: int, dropout: float,
                 residual: bool, n_experts: int):
        super().__init__()
        self.experts = nn.ModuleList(mlp(d_model, hidden, n_outputs, dropout, residual)
                                     for _ in range(n_experts))
        self.gate = nn.Linear(d_model, n_experts)

    def forward(self, x: torch.Tensor):
        """(mixed outputs (B, n_outputs), gate weights (B, k))."""
        gate = torch.softmax(self.gate(x).float(), dim=-1)
        outputs = torch.stack([expert(x) for expert in self.experts], dim=-1)
        return torch.einsum("bok,bk->bo", outputs.float(), gate), gate


class NeighbourReadout(nn.Module):
    """The propagation readout's head (propagation.py): the embeddings of the
    samples it was fitted on, labelled or not, and the values their labels
    spread to over the neighbour graph; a sample gets the mean of its k
    nearest values, weighted by inverse distance. Buffers, not parameters:
    the fit sets them, no gradient step trains them."""

    def __init__(self, d_model: int, n_nodes: int, n_outputs: int):
        super().__init__()
        self.register_buffer("nodes", torch.zeros(n_nodes, d_model))
        self.register_buffer("values", torch.zeros(n_nodes, n_outputs))
        # a buffer: the k the fit chose travels with the weights (the
        # architecture, which builds the head, does not hold it)
        self.register_buffer("k", torch.tensor(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # the exact distance, not the matrix-product shortcut, which rounds a
        # sample's distance to itself to ~1e-3 instead of 0
        distances = torch.cdist(x.float(), self.nodes.float(),
                                compute_mode="donot_use_mm_for_euclid_dist")
        with warnings.catch_warnings():  # a model's k is a constant of its export
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            k = max(1, min(int(self.k), self.nodes.shape[0]))
        nearest, index = distances.topk(k, dim=-1, largest=False)
        weights = 1.0 / (nearest + 1e-9)
        return (self.values[index] * weights[..., None]).sum(1) / weights.sum(-1, keepdim=True)


class RegressionHead(nn.Module):
    def __init__(self, config: ModelConfig, n_outputs: int = 1, monotone: bool = False):
        super().__init__()
        if config.output_activation not in ACTIVATIONS:
            raise ValueError(f"output_activation must be one of {ACTIVATIONS}.")
        lower, upper = config.output_bounds
        if (lower is not None or upper is not None) and config.output_activation != "none":
            raise ValueError("Give either output bounds or an output activation, "
                             "not both.")
        if lower is not None and upper is not None and not lower < upper:
            raise ValueError(f"The lower bound ({lower}) must be below the upper "
                             f"bound ({upper}).")
        experts = config.regression_experts
        if experts < 1:
            raise ValueError(f"regression_experts must be at least 1, not {experts}.")
        # one expert keeps the plain head, and the state_dict names of models
        # saved before mixtures existed
        if config.neighbour_nodes:  # the propagation readout's stored graph
            self.mlp = NeighbourReadout(config.d_model, config.neighbour_nodes, n_outputs)
        else:
            self.mlp = mlp(config.d_model, config.regression_hidden, n_outputs,
                           config.head_dropout, config.residual_head) if experts == 1 \
                else MixtureOfExperts(config.d_model, config.regression_hidden, n_outputs,
                                      config.head_dropout, config.residual_head, experts)
        self.n_outputs, self.monotone = n_outputs, monotone
        self.activation, self.lower, self.upper = config.output_activation, lower, upper

    def raw(self, embedding: torch.Tensor) -> torch.Tensor:
        return self.gated(embedding)[0]  # (B, n_outputs)

    def gated(self, embedding: torch.Tensor):
        """(raw outputs, gate weights (B, k) of a mixture of experts or None)."""
        out = self.mlp(embedding)
        return out if isinstance(out, tuple) else (out, None)

    def finish(self, raw: torch.Tensor, shift=None, scale=None) -> torch.Tensor:
        """Raw outputs -> normalised predictions, (B,) or (B, n_outputs)."""
        raw = raw.float()
        if self.monotone and self.n_outputs > 1:
            steps = F.softplus(raw[:, 1:])
            raw = torch.cat([raw[:, :1], raw[:, :1] + steps.cumsum(-1)], dim=-1)
        if shift is None:
            shift = torch.zeros(raw.shape[0], device=raw.device)
            scale = torch.ones(raw.shape[0], device=raw.device)
        shift, scale = shift.float()[:, None], scale.float()[:, None]

        def normalised(value):  # a limit in target units, in this sample's units
            return (value - shift) / scale
        if self.lower is not None and self.upper is not None:
            low, high = normalised(self.lower), normalised(self.upper)
            centre = torch.logit((-low / (high - low)).clamp(1e-3, 1 - 1e-3))
            out = low + (high - low) * torch.sigmoid(raw + centre)
        elif self.lower is not None:
            low = normalised(self.lower)
            out = low + F.softplus(raw + _inverse_softplus(-low))
        elif self.upper is not None:
            high = normalised(self.upper)
            out = high - F.softplus(-raw + _inverse_softplus(high))
        elif self.activation == "softplus":
            zero = normalised(0.0)
            out = zero + F.softplus(raw + _inverse_softplus(-zero))
        elif self.activation == "exp":
            zero = normalised(0.0)
            out = zero + torch.exp((raw + torch.log((-zero).clamp_min(1e-3))).clamp(max=30.0))
        else:
            out = raw
        return out.squeeze(-1) if self.n_outputs == 1 else out


def _inverse_softplus(y: torch.Tensor) -> torch.Tensor:
    """x with softplus(x) = y (y clamped to stay positive)."""
    y = y.clamp_min(1e-3)
    return y + torch.log(-torch.expm1(-y))


class ClassificationHead(nn.Module):
    """Linear (or MLP) to class logits."""

    def __init__(self, config: ModelConfig, n_classes: int):
        super().__init__()
        self.mlp = mlp(config.d_model, config.classification_hidden, n_classes,
                       config.head_dropout)

    def raw(self, embedding: torch.Tensor) -> torch.Tensor:
        return self.mlp(embedding)

    def gated(self, embedding: torch.Tensor):
        return self.mlp(embedding), None

    def finish(self, raw: torch.Tensor, shift=None, scale=None) -> torch.Tensor:
        return raw.float()


class AbundanceHead(nn.Module):
    """Masked-abundance objective: a learned 'hidden' abundance input, and a
    linear read-out of log relative abundance from the ASV token outputs."""

    def __init__(self, d_model: int):
        super().__init__()
        self.mask_embedding = nn.Parameter(torch.zeros(d_model))
        self.predict = nn.Linear(d_model, 1)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.predict(tokens).squeeze(-1).float()
