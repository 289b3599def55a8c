"""The front door: pretrain, fit, predict and embed on plain Python objects;
tune searches fit settings by grouped cross-validation (needs optuna).

Inputs: a biom.Table (or CountTable), optional sequences (feature id -> DNA),
an optional skbio.DistanceMatrix, targets and groups as pandas Series indexed
by sample id. Outputs: ModelBundle (see bundle.py) and pandas objects. Each
job lives in its own module; this one only gathers them.
"""
from .bundle import ModelBundle
from .data.prepare import distance_block, prepare
from .fit import fit_classifier, fit_regressor
from .model.build import build_model
from .predict import embed, predict_classification, predict_interval, predict_quantiles
from .predict import predict_regression as predict
from .pretrain import pretrain
from .tune import tune

save = ModelBundle.save
load = ModelBundle.load

__all__ = ["pretrain", "fit_regressor", "fit_classifier", "predict", "predict_quantiles", "predict_interval",
           "predict_classification", "embed", "save", "load", "prepare",
           "distance_block", "build_model", "tune"]
