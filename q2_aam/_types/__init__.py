"""AAMModel: semantic types, the model directory format, its transformers."""
from ._format import (AAMConfigFormat, AAMHistoryFormat,
                      AAMModelDirectoryFormat, AAMWeightsFormat)
from ._type import (KIND_OF_VARIANT, AAMClassifier, AAMEncoder, AAMModel,
                    AAMRegressor)

__all__ = ['AAMModel', 'AAMEncoder', 'AAMRegressor', 'AAMClassifier',
           'KIND_OF_VARIANT', 'AAMConfigFormat', 'AAMWeightsFormat',
           'AAMHistoryFormat', 'AAMModelDirectoryFormat']
