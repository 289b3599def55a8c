"""The Python API's arguments checked by kind: an object of another kind
where a setting, a model or a by-sample column belongs (a dict for
train=, a path for bundle, a text for targets) is refused naming the
argument and saying how to make the right one, instead of failing deep
inside with an AttributeError or a wrong-cause message."""
from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np
import pandas as pd

from .bundle import ModelBundle
from .config import PRESETS, ConditioningConfig, DataConfig, ModelConfig, TrainConfig
from .errors import AAMInputError, kind_of

# what is one value, never a column of values by sample id
SCALARS = (str, bytes, os.PathLike, int, float, bool, np.generic)


def check_settings(model, data, train, log, *, defaults: str,
                   conditioning_config=None, head_options=None) -> None:
    """model=, data=, train=, log= (and a fit's conditioning_config=,
    head_options=) of the kinds the functions read; `defaults`: the
    TrainConfig to start from, as its module names it."""
    if isinstance(model, ModelBundle):
        raise AAMInputError(f"model= takes a preset name or a ModelConfig, not a trained "
                            "model: pass a trained model as pretrained= (fit_regressor, "
                            "fit_classifier), and leave model= at its default.")
    if not isinstance(model, (str, ModelConfig)):
        raise AAMInputError(f"model= must be a preset name ({', '.join(map(repr, sorted(PRESETS)))}) "
                            f"or a ModelConfig, not {kind_of(model)}: e.g. "
                            "ModelConfig.preset('small', d_model=64).")
    _check_config("data", data, DataConfig, "DataConfig(max_length=150)")
    _check_config("train", train, TrainConfig,
                  f"dataclasses.replace({defaults}, epochs=5), {defaults} from "
                  "aam_core.config")
    if conditioning_config is not None:
        _check_config("conditioning_config", conditioning_config, ConditioningConfig,
                      "ConditioningConfig(fusion='film')")
    if head_options is not None and not isinstance(head_options, Mapping):
        raise AAMInputError(f"head_options= must be a dict of head settings, not "
                            f"{kind_of(head_options)}: e.g. head_options="
                            "{'head_dropout': 0.2}.")
    check_log(log)


def _check_config(argument: str, value, kind: type, example: str) -> None:
    if not isinstance(value, kind):
        raise AAMInputError(f"{argument}= must be a {kind.__name__}, not {kind_of(value)}: "
                            f"e.g. {example}.")


def check_log(log) -> None:
    if not callable(log):
        raise AAMInputError(f"log= must be a function that takes one message (e.g. print, "
                            "or lambda message: None for silence), not "
                            f"{kind_of(log)}.")


def check_bundle(bundle, argument: str = "bundle") -> None:
    """A ModelBundle where one belongs (a path: load it first)."""
    if isinstance(bundle, ModelBundle):
        return
    if isinstance(bundle, (str, os.PathLike)):
        how = f"load it first: api.load({str(bundle)!r})"
    elif type(bundle).__name__ == "Table":
        how = "the model comes first, then the table: api.predict(bundle, table)"
    else:
        how = "e.g. api.load('model-directory'), or what api.fit_regressor returns"
    raise AAMInputError(f"{argument} must be a ModelBundle, not {kind_of(bundle)}: {how}.")


def one_column(values, subject: str):
    """A one-column DataFrame's column (what was meant); a table of more
    columns refused, `subject` opening the message ('targets= is')."""
    if not isinstance(values, pd.DataFrame):
        return values
    if values.shape[1] != 1:
        raise AAMInputError(f"{subject} a table of {values.shape[1]} columns "
                            f"({list(values.columns)[:5]}); give one column, as a "
                            "pandas Series indexed by sample id.")
    return values.iloc[:, 0]


def by_sample(values, argument: str):
    """A column by sample id as a Series (a one-column DataFrame's column, a
    dict's values by key), refused when it is one value or names a sample
    twice; None stays None."""
    if values is None:
        return None
    if isinstance(values, SCALARS):
        raise AAMInputError(f"{argument}= must be a pandas Series indexed by sample id "
                            f"(a column of the metadata), not {kind_of(values)}: one "
                            "value is no column of values by sample.")
    values = pd.Series(one_column(values, f"{argument}= is"))
    repeated = values.index[values.index.map(str).duplicated()].unique()
    if len(repeated):
        raise AAMInputError(f"{argument}= names {len(repeated)} sample(s) more than once, "
                            f"e.g. {', '.join(map(repr, map(str, repeated[:3])))}: give "
                            "one value per sample.")
    return values


def check_conditioning(conditioning, argument: str = "conditioning") -> None:
    if conditioning is not None and not isinstance(conditioning, pd.DataFrame):
        series = isinstance(conditioning, pd.Series)
        raise AAMInputError(f"{argument}= must be a pandas DataFrame of categorical columns "
                            f"indexed by sample id, not {kind_of(conditioning)}: e.g. "
                            f"{'series.to_frame()' if series else 'metadata[[' + repr('site') + ']]'}.")
    names = conditioning.columns.map(str) if conditioning is not None else pd.Index([])
    if names.duplicated().any():
        raise AAMInputError(f"{argument}= has the column name(s) "
                            f"{list(names[names.duplicated()].unique())} more than once; "
                            "column names must be unique: rename or drop the repeated "
                            "columns.")


def sequence_items(sequences):
    """(feature id, sequence) pairs of a mapping (a dict, a Series), or of
    a list of pairs; a path, a DataFrame or a bare list of sequences is
    refused with how to make the mapping."""
    if isinstance(sequences, (str, bytes, os.PathLike)):
        raise AAMInputError(
            f"sequences= must be a mapping of feature id to DNA (a dict or a pandas "
            f"Series), not {kind_of(sequences)}: read a FASTA file into one with "
            "{r.metadata['id']: str(r) for r in skbio.io.read(path, format='fasta')}.")
    if isinstance(sequences, pd.DataFrame):
        raise AAMInputError(
            f"sequences= must be a mapping of feature id to DNA (a dict or a pandas "
            f"Series), not a DataFrame of {sequences.shape[1]} column(s) "
            f"({list(sequences.columns)[:3]}): give its sequence column, e.g. "
            f"frame[{str(sequences.columns[0]) if len(sequences.columns) else 'Sequence'!r}].")
    pairs = list(sequences.items()) if hasattr(sequences, "items") else list(sequences)
    if not all(isinstance(p, tuple) and len(p) == 2 for p in pairs):
        raise AAMInputError(
            f"sequences= must be a mapping of feature id to DNA (a dict or a pandas "
            f"Series), not {kind_of(sequences)} of {len(pairs)} item(s) that are not "
            "(feature id, sequence) pairs: e.g. dict(zip(feature_ids, sequences)).")
    return _text_sequences(pairs)


def _text_sequences(pairs: list) -> list:
    """The pairs with bytes decoded; a missing value (None, NaN, pd.NA, as a
    reindexed Series holds) is refused: as text it read as 'nan' or 'None'."""
    missing = [str(k) for k, v in pairs if v is None or v is pd.NA
               or (isinstance(v, float) and v != v)]
    if missing:
        raise AAMInputError(
            f"sequences= holds no sequence for {len(missing)} feature(s) (a missing "
            f"value: None, NaN or pd.NA), e.g. {', '.join(map(repr, missing[:3]))}: give "
            "each feature its DNA, or filter those features out of the table.")
    return [(k, v.decode("ascii", "replace") if isinstance(v, bytes) else v)
            for k, v in pairs]


def check_distance_matrix(distances) -> None:
    """An skbio.DistanceMatrix (anything with .ids and .data), not a bare
    array, a DataFrame or a path."""
    if hasattr(distances, "ids") and hasattr(distances, "data") \
            and not isinstance(distances, pd.DataFrame):
        return
    if isinstance(distances, pd.DataFrame):
        how = "skbio.DistanceMatrix(frame.to_numpy(), list(frame.index))"
    elif isinstance(distances, (str, bytes, os.PathLike)):
        how = ("read the file first: skbio.DistanceMatrix.read(path), or, for a large "
               "matrix, aam_core.data.distances.read_distances(path)")
    elif distances is None:
        how = "give the matrix itself, e.g. skbio.DistanceMatrix.read(path)"
    else:
        how = ("an array names no samples: skbio.DistanceMatrix(array, sample_ids), in "
               "the order of its rows")
    raise AAMInputError(f"distances= must be a skbio.DistanceMatrix, not "
                        f"{kind_of(distances)}: {how}.")
