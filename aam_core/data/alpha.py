"""Alpha diversity (one number per sample: Shannon entropy, Faith PD,
observed features...) as a pretraining target.

The QIIME 2 action takes `qiime diversity alpha`'s SampleData[AlphaDiversity]
(a pandas Series); the `aam` command a TSV as `qiime tools export` writes it
(a header, then one sample id and one value a line). Both end in
`alpha_targets`, the one check of the values.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from ..errors import AAMInputError, refuse_missing
from .io import read_by_id

SOURCE = "the alpha diversity"


def read_alpha(path: str | Path) -> pd.Series:
    """One column of values by sample id from a TSV (values kept as text, so
    that alpha_targets can name the ones that are not numbers)."""
    frame = read_by_id(path, "alpha diversity", "sample ids and values")
    if frame.shape[1] != 1:
        raise AAMInputError(
            f"{path} has {frame.shape[1]} value columns ({', '.join(frame.columns[:5])}); "
            "an alpha diversity file has one (e.g. as `qiime tools export` writes "
            "alpha-diversity.tsv). Keep only the column to pretrain on.")
    series = frame.iloc[:, 0]
    series.index = series.index.astype(str)
    return series.rename(str(frame.columns[0]))


def alpha_targets(values, sample_ids: Sequence[str], source: str = SOURCE) -> np.ndarray:
    """The values of `sample_ids`, in their order, as float64. Samples
    absent from `values`, and values that are not finite numbers, are an
    error that names them."""
    if isinstance(values, pd.DataFrame):
        if values.shape[1] != 1:
            raise AAMInputError(f"{source} must be one column, not {values.shape[1]}.")
        values = values.iloc[:, 0]
    series = pd.Series(values)
    series.index = series.index.astype(str)
    refuse_missing(sample_ids, set(series.index), source, "Compute it on this table "
                   "(qiime diversity alpha), or filter the table to its samples.")
    chosen = series.loc[list(sample_ids)]
    numbers = pd.to_numeric(chosen, errors="coerce").astype(float)
    bad = chosen[~np.isfinite(numbers.to_numpy())]
    if len(bad):
        shown = ", ".join(f"{i!r}: {v!r}" for i, v in list(bad.items())[:5])
        raise AAMInputError(
            f"{source} must hold a finite number for every sample; {len(bad)} do "
            f"not ({shown}).")
    return numbers.to_numpy()


def zscores(values: np.ndarray, fit_rows: np.ndarray,
            source: str = SOURCE) -> tuple[np.ndarray, dict]:
    """(values as z-scores, {"mean", "std"}), the statistics fitted on
    `fit_rows` (the training samples)."""
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is refused below
        mean, std = float(values[fit_rows].mean()), float(values[fit_rows].std())
    if not (np.isfinite(mean) and np.isfinite(std)):
        raise AAMInputError(f"{source} holds values too large to scale (up to "
                            f"{np.abs(values).max():g}); is it an alpha diversity?")
    if not std > 0:
        raise AAMInputError(f"{source} is the same ({mean:g}) for every training "
                            "sample: there is nothing to learn from it.")
    return ((values - mean) / std).astype(np.float32), {"mean": mean, "std": std}
