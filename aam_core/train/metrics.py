"""Metrics on original units; higher_is_better says which way selection goes."""
from __future__ import annotations

import numpy as np

HIGHER_IS_BETTER = {"loss": False, "mae": False, "rmse": False, "r2": True}


def regression_metrics(truth: np.ndarray, predicted: np.ndarray) -> dict:
    error = predicted - truth
    total = ((truth - truth.mean()) ** 2).sum()
    r2 = 1.0 - (error ** 2).sum() / total if total > 0 else float("nan")
    return {"mae": float(np.abs(error).mean()),
            "rmse": float(np.sqrt((error ** 2).mean())),
            "r2": float(r2)}
