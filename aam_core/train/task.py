"""The supervised target of a fine-tuning run, indexed by dataset row.

Holds what the target loss and the model's context need per sample:
normalised targets or class codes, per-sample loss weights, conditioning
codes and the normalisation (shift, scale) that output activations and
bounds use (model/heads.py).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .. import losses
from ..config import TrainConfig


@dataclass
class TargetTask:
    kind: str                   # regression | classification
    values: torch.Tensor        # (n,) normalised targets, or class codes
    loss: str                   # a losses.target_loss kind
    quantiles: tuple = ()
    delta: float = 1.0
    over: float = 1.0
    under: float = 1.0
    class_weights: torch.Tensor | None = None   # (n_classes,)
    smoothing: float = 0.0                      # cross-entropy label smoothing
    sample_weights: torch.Tensor | None = None  # (n,)
    conditions: torch.Tensor | None = None      # (n, n_columns) codes
    shift: torch.Tensor | None = None           # (n,)
    scale: torch.Tensor | None = None           # (n,)

    @classmethod
    def regression(cls, values, train: TrainConfig, **extra) -> "TargetTask":
        return cls("regression", _float(values), train.loss,
                   quantiles=tuple(train.quantiles), delta=train.huber_delta,
                   over=train.overprediction_weight,
                   under=train.underprediction_weight, **extra)

    @classmethod
    def classification(cls, codes, train: TrainConfig, class_weights=None,
                       **extra) -> "TargetTask":
        return cls("classification", torch.as_tensor(np.asarray(codes), dtype=torch.long),
                   "cross_entropy", class_weights=_float(class_weights),
                   smoothing=train.label_smoothing, **extra)

    def context(self, rows: torch.Tensor) -> dict:
        """The model's per-sample context for these dataset rows."""
        return {name: getattr(self, name)[rows.cpu()].to(rows.device)
                for name in ("conditions", "shift", "scale")
                if getattr(self, name) is not None}

    def loss_of(self, prediction: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        rows = rows.cpu()
        device = prediction.device
        weights = None if self.sample_weights is None else self.sample_weights[rows].to(device)
        return losses.target_loss(
            prediction, self.values[rows].to(device), self.loss, weights=weights,
            quantiles=self.quantiles, delta=self.delta, over=self.over,
            under=self.under, class_weights=self.class_weights,
            smoothing=self.smoothing)


def _float(values):
    return None if values is None else torch.as_tensor(np.asarray(values),
                                                       dtype=torch.float32)
