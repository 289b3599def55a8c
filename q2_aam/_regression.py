"""fit-regressor, predict-regression, predict-regression-interval."""
import biom
import pandas as pd

from aam_core.bundle import ModelBundle

from . import _views
from ._fit import fitting
from ._parameters import with_options


def _predict_regression(table: biom.Table, model: ModelBundle,
                        sequences: pd.Series = None, **options) -> pd.Series:
    from aam_core import api
    # a Series named 'prediction', as q2-sample-classifier writes it
    return api.predict(model, table, _views.sequences(sequences),
                       **_views.prediction_options(options))


def _predict_regression_interval(table: biom.Table, model: ModelBundle,
                                 sequences: pd.Series = None, **options
                                 ) -> (pd.Series, pd.Series, pd.Series):
    from aam_core import api
    frame = api.predict_interval(model, table, _views.sequences(sequences),
                                 **_views.prediction_options(options))
    return tuple(frame[column].rename('prediction')
                 for column in ('prediction', 'lower', 'upper'))


fit_regressor = with_options('fit_regressor', fitting('regression'))
predict_regression = with_options('predict_regression', _predict_regression)
predict_regression_interval = with_options('predict_regression_interval',
                                           _predict_regression_interval)
