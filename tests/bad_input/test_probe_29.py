"""Probe 29 (2026-12-02): an exported model whose config.json lost its
digest and was then edited in its interval settings (a calibration margin
below 0, nan or a string, a level of 1.5, quantiles out of order or beyond
1), which predicted zero-width or nan intervals, failed in numpy's words or
hung; and a pipeline's target column with values on too few samples, whose
refusal asked for more samples of a table that had plenty."""
import numpy as np
import pandas as pd
import pytest
import qiime2
from qiime2.plugins import aam as plugin

from aam_core import intervals
from q2_aam import _examples

from .conftest import artifact_api, damaged_copy, edit_config

TINY = dict(preset="tiny", batch_size=8, n_threads=1, epochs=1, ensemble_size=1)
CALIBRATION = {"method": "split-conformal on out-of-fold validation predictions",
               "level": 0.8, "margin": 2.0, "n": 10}


def _target(**changes):
    """The model's digest removed (as an older q2-aam saved it, or a user
    who edits it does), then its target block changed."""
    def change(config):
        config.pop("config_sha256", None)
        config["target"].update(changes)
    return edit_config(change)


# -- 1. interval settings of an edited config.json ----------------------------------------

@pytest.mark.parametrize("changes, fragment", [
    # a margin below 0 gave intervals of width 0 (lower = upper = prediction), exit 0
    ({"calibration": {**CALIBRATION, "margin": -5.0}}, "'margin': -5.0"),
    ({"calibration": {**CALIBRATION, "margin": float("nan")}}, "'margin': nan"),
    # numpy: "ufunc 'subtract' did not contain a loop with signature matching types"
    ({"calibration": {**CALIBRATION, "margin": "wide"}}, "'margin': 'wide'"),
    # intervals.fewest() looped forever
    ({"calibration": {**CALIBRATION, "level": 1.5}}, "'level': 1.5"),
    ({"calibration": [1, 2]}, "target.calibration ([1, 2])"),
], ids=["margin-below-0", "margin-nan", "margin-string", "level-1.5", "not-an-object"])
def test_an_edited_calibration_is_refused(model_dir, tmp_path, changes, fragment):
    folder = damaged_copy(model_dir, _target(**changes), tmp_path / "model")
    artifact_api(lambda: qiime2.Artifact.import_data("AAMModel[AAMRegressor]", str(folder)),
                 fragment)
    artifact_api(lambda: qiime2.Artifact.import_data("AAMModel[AAMRegressor]", str(folder)),
                 "needs a level from 0 to below 1, a finite margin of 0 or more and a count "
                 "n of 0 or more; the file was edited or damaged")


def test_a_quantile_models_calibration_still_loads(model_dir, tmp_path):
    """Not refused: conformalised quantile regression narrows an interval
    that was too wide (a margin below 0); one quantile has a level of 0."""
    folder = damaged_copy(model_dir, _target(quantiles=[0.5], calibration={
        **CALIBRATION, "level": 0.0, "margin": -1.5}), tmp_path / "model")
    qiime2.Artifact.import_data("AAMModel[AAMRegressor]", str(folder)).validate("max")


@pytest.mark.parametrize("quantiles", [[0.9, 0.5, 0.1], [0.1, 0.5, 1.5]])
def test_edited_quantiles_are_refused(model_dir, tmp_path, quantiles):
    """They relabelled the model's outputs (0.9 read as the lower bound) or
    claimed a level beyond 100%, exit 0."""
    folder = damaged_copy(model_dir, _target(quantiles=quantiles), tmp_path / "model")
    artifact_api(lambda: qiime2.Artifact.import_data("AAMModel[AAMRegressor]", str(folder)),
                 f"target.quantiles must be increasing numbers between 0 and 1, not "
                 f"{quantiles!r}")


def test_an_impossible_level_raises_instead_of_looping():
    with pytest.raises(ValueError, match="below 1"):
        intervals.fewest(1.5)


# -- 2. a pipeline's target with values on too few samples ------------------------------

def test_too_few_targets_are_named_before_the_split():
    """Was: 'The split leaves 2 training and 1 test samples ... Use more
    samples (or groups)', of a table of 16 samples, 13 without a value."""
    metadata = _examples.sample_metadata_factory()
    ids = pd.Index([str(i) for i in metadata.ids], name="sample-id")
    values = np.full(len(ids), np.nan)
    values[:3] = [20.0, 30.0, 40.0]
    column = qiime2.Metadata(pd.DataFrame({"age": values}, index=ids)).get_column("age")
    for pipeline in (plugin.pipelines.regress_samples, plugin.pipelines.regress_samples_ncv):
        artifact_api(lambda: pipeline(table=_examples.table_factory(), metadata=column,
                                      **TINY),
                     "Only 3 of the table's 16 samples have a value in 'age' (13 have none, "
                     "or no row in the metadata); fitting and testing need at least 6")
