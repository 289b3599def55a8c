"""Several regressors' predictions of the same samples, averaged into one.

Two models that err differently err less together: on the grouped
oral-age folds a ridge readout on pretrained AAM embeddings and
q2-sample-classifier's random forest on the counts, averaged, beat each of
them once 500 or more samples are labelled (docs/label-efficiency.md). The
embedding carries what the forest does not read from the counts, and the
other way round. No torch here.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import AAMInputError, near_misses
from .spelling import spelled, spelled_input


def blend(predictions: list, weights: list = (1.0,)) -> pd.Series:
    """The weighted mean of `predictions` (Series of the same samples); one
    weight weighs them all the same. Named 'prediction' like each input."""
    weights = _as_list(weights)
    check(predictions, weights)
    weights = np.resize(np.asarray(weights, float), len(predictions))
    # aligned by the ids as text, as check() compares them: ids of 1 and '1'
    # would otherwise not meet, and the blend would be missing
    predictions = [p.set_axis(p.index.map(str)) for p in predictions]
    index = predictions[0].index
    stacked = np.column_stack([p.reindex(index).to_numpy(float) for p in predictions])
    weights = weights / weights.max()  # huge weights would overflow their sum
    return pd.Series(stacked @ (weights / weights.sum()), index=index, name="prediction")


def _as_list(weights) -> list:
    """One number, as a Python caller may give it, is one weight for all."""
    if isinstance(weights, (int, float, np.number)):
        return [weights]
    try:
        return list(weights)
    except TypeError:
        raise AAMInputError(f"{spelled('weights')} must be a list of numbers, one per set "
                            f"of predictions, not {weights!r}.") from None


def check(predictions: list, weights: list) -> None:
    """Refuse what would blend into a wrong or partial result: one input,
    weights that do not pair with the inputs, samples some inputs lack,
    predictions that are not numbers."""
    given = spelled_input("predictions")
    if len(predictions) < 2:
        raise AAMInputError(f"{given}: give two sets of predictions or more to blend; "
                            f"one set would come back unchanged.")
    if len(weights) not in (1, len(predictions)):
        raise AAMInputError(f"{spelled('weights')} has {len(weights)} value(s) for "
                            f"{len(predictions)} sets of predictions: give one weight "
                            "per set, in the order of the sets, or one value for "
                            "equal weights.")
    if not np.isfinite(np.asarray(weights, float)).all():
        raise AAMInputError(f"{spelled('weights')} must be finite numbers, not "
                            f"{list(weights)}: each set counts its share of their total.")
    if (np.asarray(weights, float) <= 0).any():
        # a negative weight made every blended value nan; 0 for every set, too
        raise AAMInputError(f"{spelled('weights')} must be above 0, not {list(weights)}: "
                            "each set counts its share of their total; leave a set out "
                            "rather than weigh it 0.")
    for number, series in enumerate(predictions, 1):
        _check_values(series, number, given)
    first = set(map(str, predictions[0].index))
    for number, series in enumerate(predictions[1:], 2):
        other = set(map(str, series.index))
        if other != first:
            only_first, only_other = sorted(first - other), sorted(other - first)
            sides = [f"{len(ids)} only in set {n}, e.g. {_some(ids)}"
                     for n, ids in ((1, only_first), (number, only_other)) if ids]
            raise AAMInputError(
                f"{given}: set 1 and set {number} predict different samples "
                f"({'; '.join(sides)}).{near_misses(only_first, only_other)} "
                "Predict the same table with each model, then blend.")
    _refuse_repeats(predictions, given)


def _refuse_repeats(predictions: list, given: str) -> None:
    """The same predictions given twice (one artifact passed twice) change
    nothing but the weights: as one set alone, they are refused."""
    seen = {}
    for number, series in enumerate(predictions, 1):
        values = series.set_axis(series.index.map(str)).sort_index()
        key = tuple(values.index), tuple(pd.to_numeric(values).to_numpy(float))
        if key in seen:
            raise AAMInputError(f"{given}: sets {seen[key]} and {number} are the same "
                                "predictions (one set given twice). Give the predictions "
                                f"of different models, each once; to count one more, give "
                                f"it a larger weight ({spelled('weights')}).")
        seen[key] = number


def _check_values(series: pd.Series, number: int, given: str) -> None:
    if series.index.has_duplicates:
        twice = series.index[series.index.duplicated()].unique()
        raise AAMInputError(f"{given}: set {number} predicts sample(s) "
                            f"{_some(list(map(str, twice)))} more than once.")
    values = pd.to_numeric(series, errors="coerce").to_numpy(float)
    if not np.isfinite(values).all():
        bad = series.index[~np.isfinite(values)]
        raise AAMInputError(f"{given}: set {number} has {len(bad)} prediction(s) that "
                            f"are not finite numbers (e.g. samples {_some(list(map(str, bad)))}); "
                            "blend a regressor's predictions, complete for every sample.")


def _some(ids: list) -> str:
    return ", ".join(ids[:3]) if ids else "none"
