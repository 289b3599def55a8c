"""blend-predictions: several regressors' predictions averaged into one
(aam_core/blend.py), e.g. an AAM readout's and q2-sample-classifier's."""
import pandas as pd
from q2_sample_classifier._format import PredictionsDirectoryFormat

from aam_core.spelling import spelled_input

from ._parameters import with_options
from ._prediction_summary import refuse_bound


def _blend_predictions(predictions: PredictionsDirectoryFormat, **options) -> pd.Series:
    from aam_core.blend import blend
    sets = list(predictions)
    for number, each in enumerate(sets, 1):
        refuse_bound(each.path, f'{spelled_input("predictions")} (set {number})')
    return blend([each.file.view(pd.Series) for each in sets], options['weights'])


blend_predictions = with_options('blend_predictions', _blend_predictions)
