"""blend-predictions: several regressors' predictions averaged into one
(aam_core/blend.py), e.g. an AAM readout's and q2-sample-classifier's."""
import pandas as pd

from ._parameters import with_options


def _blend_predictions(predictions: pd.Series, **options) -> pd.Series:
    from aam_core.blend import blend
    return blend(list(predictions), options['weights'])


blend_predictions = with_options('blend_predictions', _blend_predictions)
