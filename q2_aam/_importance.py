"""feature-importance: per-ASV importance of a fitted model.

The method (gradient x input on the sample encoder's ASV tokens) and why it
was chosen are described in aam_core/importance.py.
"""
import biom
import pandas as pd

from aam_core.bundle import ModelBundle

from . import _views
from ._parameters import with_options


def _feature_importance(table: biom.Table, model: ModelBundle,
                        sequences: pd.Series = None, **options) -> pd.DataFrame:
    from aam_core.importance import feature_importance
    return feature_importance(model, table, _views.sequences(sequences),
                              **_views.prediction_options(options))


feature_importance = with_options('feature_importance', _feature_importance)
