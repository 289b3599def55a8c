"""Metrics on original units; higher_is_better says which way selection goes."""
from __future__ import annotations

import numpy as np

from ..data.targets import magnitude

HIGHER_IS_BETTER = {"loss": False, "mae": False, "rmse": False, "r2": True,
                    "accuracy": True, "f1": True, "auroc": True}


def regression_metrics(truth: np.ndarray, predicted: np.ndarray) -> dict:
    # squares on the truth's own scale: targets near 1e-200 (or 1e200) would
    # underflow (overflow) when squared in their units
    size = magnitude(truth)
    error, centred = (predicted - truth) / size, (truth - truth.mean()) / size
    total = (centred ** 2).sum()
    r2 = 1.0 - (error ** 2).sum() / total if total > 0 else float("nan")
    return {"mae": float(np.abs(error).mean() * size),
            "rmse": float(np.sqrt((error ** 2).mean()) * size),
            "r2": float(r2)}


def classification_metrics(truth: np.ndarray, probabilities: np.ndarray) -> dict:
    """Accuracy, macro F1 and macro one-vs-rest AUROC (classes absent from
    `truth` are left out of the averages)."""
    truth = np.asarray(truth, dtype=np.int64)
    predicted = probabilities.argmax(axis=1)
    present = np.unique(truth)
    f1s, aurocs = [], []
    for c in present:
        tp = np.sum((predicted == c) & (truth == c))
        fp = np.sum((predicted == c) & (truth != c))
        fn = np.sum((predicted != c) & (truth == c))
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
        if len(present) > 1:
            aurocs.append(auroc(truth == c, probabilities[:, c]))
    return {"accuracy": float(np.mean(predicted == truth)),
            "f1": float(np.mean(f1s)),
            "auroc": float(np.mean(aurocs)) if aurocs else float("nan")}


def auroc(positive: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve: the Mann-Whitney U statistic, ties at 1/2."""
    positive = np.asarray(positive, dtype=bool)
    n_pos, n_neg = positive.sum(), (~positive).sum()
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = _average_ranks(np.asarray(score, dtype=np.float64))
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _average_ranks(values: np.ndarray) -> np.ndarray:
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values))
    sorted_values = values[order]
    start = 0
    for end in range(1, len(values) + 1):
        if end == len(values) or sorted_values[end] != sorted_values[start]:
            ranks[order[start:end]] = (start + end + 1) / 2  # 1-based average
            start = end
    return ranks
