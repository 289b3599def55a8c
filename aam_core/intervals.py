"""Prediction intervals that cover what they claim: split-conformal
calibration on out-of-fold (grouped validation) predictions.

A regressor's raw quantiles are fitted on its training samples and are far
too narrow for new people (80% intervals covered about 30% of held-out
subjects). Each ensemble member predicts its own validation samples, which
it never trained on and which share no group with its training samples;
their errors are what a new subject's error looks like. The interval is
widened (or narrowed) by the conformal quantile of those errors:

- a point model: prediction +/- q, q the level-quantile of |truth - oof|
- a quantile model (conformalised quantile regression): [low - q, high + q],
  q the level-quantile of max(low - truth, truth - high)
"""
from __future__ import annotations

import math

import numpy as np

DEFAULT_LEVEL = 0.8  # a point model's interval: 80%, as the quantile default 0.1-0.9


def scores(truth: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Nonconformity of out-of-fold predictions: (n,) points or (n, q)
    quantiles (outer columns are the interval)."""
    truth = np.asarray(truth, dtype=float)
    predicted = np.asarray(predicted, dtype=float)
    if predicted.ndim == 1:
        return np.abs(truth - predicted)
    return np.maximum(predicted[:, 0] - truth, truth - predicted[:, -1])


def conformal_quantile(values: np.ndarray, level: float) -> float:
    """The ceil((n + 1) * level)-th smallest score: finite-sample coverage of
    at least `level` for exchangeable samples (the largest when n is small)."""
    values = np.sort(np.asarray(values, dtype=float))
    rank = min(len(values), math.ceil((len(values) + 1) * level))
    return float(values[rank - 1])


def calibration(truth: np.ndarray, predicted: np.ndarray, level: float) -> dict:
    """What a model stores to widen its intervals (config['target'])."""
    values = scores(truth, predicted)
    return {"method": "split-conformal on out-of-fold validation predictions",
            "level": float(level), "n": int(len(values)),
            "margin": conformal_quantile(values, level)}


def fewest(level: float) -> int:
    """The fewest out-of-fold predictions whose conformal quantile exists at
    `level` (ceil((n + 1) * level) <= n): 4 at 80%, 9 at 90%. With fewer,
    the margin would be the largest error seen and cover what it claims
    only by luck."""
    if not level < 1:  # no n reaches it: the loop below would not end
        raise ValueError(f"An interval level must lie below 1, not {level!r}.")
    n = 1
    while math.ceil((n + 1) * level - 1e-9) > n:
        n += 1
    return n


def too_few(calibrated: dict) -> int:
    """The fewest predictions the calibration's level needs, when it was
    made from fewer (its intervals would cover by luck); 0 otherwise."""
    needed = fewest(calibrated["level"])
    return needed if calibrated.get("n", 0) < needed else 0


def interval_level(quantiles) -> float:
    """The nominal coverage of a model's interval: between its outer
    quantiles, or the default for a point model."""
    if quantiles:
        return float(max(quantiles) - min(quantiles))
    return DEFAULT_LEVEL


def interval(point: np.ndarray, low: np.ndarray, high: np.ndarray,
             calibrated: dict | None) -> tuple[np.ndarray, np.ndarray]:
    """(lower, upper) bounds: the raw ones widened by the stored margin."""
    if not calibrated:
        return low, high
    margin = calibrated["margin"]
    return np.minimum(low - margin, point), np.maximum(high + margin, point)


def within(lower: np.ndarray, upper: np.ndarray, limits: tuple) -> tuple:
    """(lower, upper) cut to what the model can predict, (low, high), either
    None: its activation's floor and its bounds. Fitting refuses targets
    outside them, so cutting there keeps the coverage (a lower bound of -5
    for a model of non-negative values was widened past any value)."""
    low, high = limits
    return (lower if low is None else np.maximum(lower, low),
            upper if high is None else np.minimum(upper, high))
