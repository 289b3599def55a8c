"""Target normalisation, fitted on training samples only and saved in the model."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..errors import AAMInputError

NORMALISATIONS = ("zscore", "minmax", "none")


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
            shift, scale = values.mean(), values.std()
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
