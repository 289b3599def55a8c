"""fit-classifier and predict-classification."""
import biom
import pandas as pd

from aam_core.bundle import ModelBundle

from . import _views
from ._fit import fitting
from ._parameters import with_options


def _predict_classification(table: biom.Table, model: ModelBundle,
                            sequences: pd.Series = None,
                            **options) -> (pd.Series, pd.DataFrame):
    from aam_core import api
    # q2-sample-classifier's views: a Series named 'prediction' and a
    # DataFrame of probabilities with one column per class
    return api.predict_classification(model, table, _views.sequences(sequences),
                                      **_views.prediction_options(options))


fit_classifier = with_options('fit_classifier', fitting('classification'))
predict_classification = with_options('predict_classification',
                                      _predict_classification)
