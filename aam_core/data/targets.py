"""Target normalisation, fitted on training samples only and saved in the model."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..config import TrainConfig
from ..errors import AAMInputError
from ..option import choices_of
from ..spelling import spelled_column

NORMALISATIONS = choices_of(TrainConfig, "normalisation")


def magnitude(values: np.ndarray) -> float:
    """The largest absolute value, the scale to square values on: squares of
    values below ~1e-154 underflow to 0 (above ~1e154 they overflow); 1 when
    it is no usable divisor (no values, all 0, or not finite)."""
    size = float(np.abs(values).max()) if len(values) else 0.0
    return size if 0.0 < size < np.inf else 1.0


def _spread(values: np.ndarray) -> float:
    """The standard deviation, on the values' own scale (magnitude), so
    that targets of ~1e-200 are not left unscaled."""
    if not len(values):
        return 0.0
    size = magnitude(values)
    return float((values / size).std() * size)


@dataclass(frozen=True)
class TargetScaler:
    method: str
    shift: float  # subtracted first
    scale: float  # then divided by

    @classmethod
    def fit(cls, values: np.ndarray, method: str) -> "TargetScaler":
        if method not in NORMALISATIONS:
            raise AAMInputError(f"normalisation must be one of {NORMALISATIONS}, "
                                f"not {method!r}.")
        values = np.asarray(values, dtype=np.float64)
        if method == "zscore":
            shift, scale = values.mean(), _spread(values)
        elif method == "minmax":
            shift, scale = values.min(), values.max() - values.min()
        else:
            shift, scale = 0.0, 1.0
        # a constant target would divide by zero; keep it unscaled instead
        return cls(method, float(shift), float(scale) if scale > 0 else 1.0)

    def transform(self, values):
        return (values - self.shift) / self.scale

    def inverse(self, values):
        return values * self.scale + self.shift

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "TargetScaler":
        return cls(values["method"], float(values["shift"]), float(values["scale"]))


@dataclass(frozen=True)
class CategoryScaler:
    """Per-category statistics of one categorical column.

    Each category with two training samples or more gets its own shift
    (and its own scale when its values differ); a category with fewer (one
    sample's shift would be its own target, handed to the model), not seen
    in training, or missing, falls back to the global statistics.
    """
    column: str
    overall: TargetScaler
    categories: dict  # category -> (shift, scale)

    @property
    def method(self) -> str:
        return self.overall.method

    @classmethod
    def fit(cls, values: np.ndarray, categories: np.ndarray, method: str,
            column: str) -> "CategoryScaler":
        values = np.asarray(values, dtype=np.float64)
        categories = np.asarray(categories, dtype=object)
        overall = TargetScaler.fit(values, method)
        named = sorted({c for c in categories if isinstance(c, str)})
        if not named:
            _refuse_no_values(column)
        if len(named) == 1 and all(isinstance(c, str) for c in categories):
            _refuse_one_category(named[0], column)
        stats, spread = {}, False
        for category in named:
            members = values[categories == category]
            if len(members) < 2:
                continue
            own, varies = TargetScaler.fit(members, method), np.ptp(members) > 0
            spread = spread or varies
            stats[category] = (own.shift, own.scale if varies else overall.scale)
        if stats and not spread:
            _refuse_target_copy(column, len(stats))
        if not stats:
            raise AAMInputError(
                f"No category of {spelled_column('normalise_by', column)} has two training "
                "samples or more, so none gets a normalisation of its own (is it an id "
                f"column?): choose a column whose categories are shared, or leave out "
                f"{spelled_column('normalise_by')}.")
        return cls(column, overall, stats)

    def parameters(self, categories, log=None) -> tuple:
        """Per-sample (shift, scale) arrays for these samples' categories."""
        categories = np.asarray(categories, dtype=object)
        shift = np.full(len(categories), self.overall.shift)
        scale = np.full(len(categories), self.overall.scale)
        for i, category in enumerate(categories):
            if category in self.categories:
                shift[i], scale[i] = self.categories[category]
        if log is not None:
            self._say_fallbacks(categories, log)
        return shift, scale

    def _say_fallbacks(self, categories: np.ndarray, log) -> None:
        """Which samples take the global statistics: those of categories not
        seen (or seen once) in training, and those without a value."""
        unseen = sorted({c for c in categories
                         if isinstance(c, str) and c not in self.categories})
        missing = sum(1 for c in categories if not isinstance(c, str))
        if unseen:
            log(f"Warning: {len(unseen)} {self.column!r} categor(ies) were not seen "
                f"in training, or in fewer than two training samples "
                f"({', '.join(unseen[:5])}); their samples use the global target "
                "normalisation.")
        if missing:
            log(f"{missing} sample(s) have no value in {self.column!r}; they use the "
                "global target normalisation.")

    def to_dict(self) -> dict:
        return {**self.overall.to_dict(), "by": self.column,
                "categories": {k: list(v) for k, v in self.categories.items()}}

    @classmethod
    def from_dict(cls, values: dict) -> "CategoryScaler":
        return cls(values["by"], TargetScaler.from_dict(values),
                   {k: (float(v[0]), float(v[1]))
                    for k, v in values["categories"].items()})


def _refuse_no_values(column: str) -> None:
    """A column whose ids are none of the samples' (or whose cells are all
    empty) has no category: not an id column, as 'no category of two
    samples' would say."""
    raise AAMInputError(
        f"No training sample has a value in {spelled_column('normalise_by', column)}: "
        "its sample ids are none of the table's, or its cells are empty, so every "
        "sample would use the global normalisation. Give the column's values for the "
        f"table's samples (the same sample ids), or leave out "
        f"{spelled_column('normalise_by')}.")


def _refuse_target_copy(column: str, n_categories: int) -> None:
    """Each category's training samples share one target value: the column
    hands the model the answer (a copy of the target, read as categories
    when numeric, or the subject), and at prediction it is unknown."""
    raise AAMInputError(
        f"In each of the {n_categories} categories of "
        f"{spelled_column('normalise_by', column)} that hold two training samples or "
        "more, the samples share one target value, so the normalised target is 0 "
        "and the column itself gives the answer (is it the target under another name, "
        "or the subject?): normalise by what new samples share with the training ones "
        f"(a study, a sequencing run), or leave out {spelled_column('normalise_by')}.")


def _refuse_one_category(category: str, column: str) -> None:
    """Every training sample of one category: its own statistics are the
    global ones, so normalising by the column would do nothing."""
    raise AAMInputError(
        f"{spelled_column('normalise_by', column)} has one category ({category!r}) for "
        "every training sample, so normalising per category would be the global "
        "normalisation: name a column whose categories differ between samples, or "
        f"leave out {spelled_column('normalise_by')}.")


def scaler_from_dict(values: dict):
    """The scaler saved in a model's 'target' block, global or per category."""
    if values.get("by"):
        return CategoryScaler.from_dict(values)
    return TargetScaler.from_dict(values)


def scaling_parameters(scaler, n: int, categories=None, log=None) -> tuple:
    """Per-sample (shift, scale) arrays of any scaler."""
    if isinstance(scaler, CategoryScaler):
        if categories is None:
            categories = np.full(n, None, dtype=object)
        return scaler.parameters(categories, log)
    return np.full(n, scaler.shift), np.full(n, scaler.scale)


def category_values(frame, column: str) -> np.ndarray:
    """A column's values as category texts (None where missing)."""
    from ..model.conditioning import category_text
    return np.array([category_text(v) for v in frame[column]], dtype=object)


def point_index(quantiles) -> int:
    """Which quantile output serves as the point prediction: the median's
    (the one closest to 0.5), in training, prediction and importance alike."""
    return int(np.argmin(np.abs(np.asarray(quantiles, dtype=float) - 0.5)))


def encode_classes(values) -> tuple:
    """(sorted class labels, integer code of each value)."""
    values = np.asarray([str(v) for v in values], dtype=object)
    labels, codes = np.unique(values, return_inverse=True)
    return [str(label) for label in labels], codes.astype(np.int64)
