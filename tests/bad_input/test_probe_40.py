"""Probe 40 (2026-12-02, the README as a script, normalise-by in the
regression pipelines): regress-samples and regress-samples-ncv refused a
wrong normalise-by column (one category, a copy of the target, ...) only
from inside the fit, after pretraining on the distance matrix given; a
normalise-by column without the test samples was refused after the fits,
by the test predictions, as "None of the 48 samples is in the conditioning
metadata", which the pipelines take none of; the ridge readout with
`output_activation` 'exp' of a target normalised per category fitted the
logarithm with the first sample's statistics for every sample (numpy's
"invalid value encountered in log", then "zero-size array to reduction
operation maximum which has no identity"); and the README's alpha-diversity
recipe called `qiime diversity beta` and `qiime diversity alpha`, which the
Debian packages it installs do not hold."""
import dataclasses
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import qiime2

from aam_core import api
from aam_core.config import FIT_TRAIN_DEFAULTS, ConditioningConfig
from aam_core.data.split import cv_folds, holdout_split
from q2_aam import _examples

from .conftest import (EXAMPLE_AGES, EXAMPLE_IDS, ages_file, artifact_api, example_table,
                       qiime, refused)

QUIET = lambda message: None  # noqa: E731
IDS, AGES = EXAMPLE_IDS, EXAMPLE_AGES  # 16 samples
STUDIES = pd.Series([float(550 + n // 4) for n in range(16)], index=IDS, name="study")
PRETRAINING = "Pretraining on"


def _column(values: pd.Series):
    return qiime2.Metadata(values.rename_axis("id").to_frame()).get_column(values.name)


def _plugin():
    from qiime2.plugins import aam as plugin
    return plugin


# -- 1. a wrong normalise-by column, said before the pretraining ---------------------------

@pytest.mark.parametrize("column, fragment", [
    (pd.Series("x", index=IDS, name="one"),
     "normalise_by (column 'one') has one category ('x') for every training sample"),
    (pd.Series([f"s{i}" for i in range(16)], index=IDS, name="sample"),
     "No category of normalise_by (column 'sample') has two training samples or more")])
def test_the_pipeline_refuses_the_column_before_pretraining(column, fragment, capsys):
    plugin = _plugin()
    artifact_api(lambda: plugin.pipelines.regress_samples(
        table=_examples.table_factory(), metadata=_column(AGES),
        distance_matrix=_examples.distance_matrix_factory(), normalise_by=_column(column),
        preset="tiny", pretrain_epochs=1, ensemble_size=1, n_threads=1), fragment)
    assert PRETRAINING not in capsys.readouterr().err


def test_the_ncv_pipeline_refuses_the_column_before_pretraining(workspace, tmp_path):
    metadata = ages_file(tmp_path, one=["x"] * 16)
    code, output = qiime(
        "aam", "regress-samples-ncv", "--i-table", workspace / "table.qza",
        "--i-distance-matrix", workspace / "distances.qza", "--m-metadata-file", metadata,
        "--m-metadata-column", "age", "--m-normalise-by-file", metadata,
        "--m-normalise-by-column", "one", "--p-cv", 2, "--p-preset", "tiny",
        "--p-ensemble-size", 1, "--p-n-threads", 1, "--output-dir", tmp_path / "out",
        "--verbose")  # the log, to show no pretraining ran (and, on error, q2cli's trace)
    assert code != 0, output
    assert ("--m-normalise-by-column one has one category ('x') for every training "
            "sample") in " ".join(output.split())
    assert PRETRAINING not in output


# -- 2. a normalise-by column without the predicted samples ---------------------------------

def test_a_column_without_the_test_samples(encoder_qza, capsys):
    _, test_ids = holdout_split(AGES, 0.25, 1)
    plugin = _plugin()
    artifact_api(lambda: plugin.pipelines.regress_samples(
        table=_examples.table_factory(), metadata=_column(AGES),
        pretrained_model=qiime2.Artifact.load(str(encoder_qza)),
        normalise_by=_column(STUDIES.drop(test_ids)), test_size=0.25, random_state=1,
        ensemble_size=1, n_threads=1),
        f"normalise_by (column 'study') has no value for any of the {len(test_ids)} test "
        "samples")
    assert "Ridge readout" not in capsys.readouterr().err  # before the fit


def test_a_column_without_the_samples_of_a_fold(workspace, encoder_qza, tmp_path):
    first = cv_folds(AGES, 2, 0)[0]
    metadata = ages_file(tmp_path, study=STUDIES.drop(first))
    code, output = qiime(
        "aam", "regress-samples-ncv", "--i-table", workspace / "table.qza",
        "--i-pretrained-model", encoder_qza, "--m-metadata-file", metadata,
        "--m-metadata-column", "age", "--m-normalise-by-file", metadata,
        "--m-normalise-by-column", "study", "--p-cv", 2, "--p-ensemble-size", 1,
        "--p-n-threads", 1, "--output-dir", tmp_path / "out")
    refused(output, code, f"--m-normalise-by-column study has no value for any of the "
                          f"{len(first)} samples of fold 1")
    assert "conditioning metadata" not in output


def test_the_pipeline_predicts_as_predict_regression_does(encoder_qza):
    """Not a refusal: the test predictions are predict-regression's of the
    pipeline's model with the column as the conditioning metadata."""
    plugin = _plugin()
    results = plugin.pipelines.regress_samples(
        table=_examples.table_factory(), metadata=_column(AGES),
        pretrained_model=qiime2.Artifact.load(str(encoder_qza)),
        normalise_by=_column(STUDIES), test_size=0.25, random_state=1, ensemble_size=1,
        n_threads=1)
    tested = results.predictions.view(pd.Series)
    again, = plugin.methods.predict_regression(
        table=_examples.table_factory(), model=results.model, n_threads=1,
        conditioning=qiime2.Metadata(STUDIES.rename_axis("id").to_frame()))
    assert np.allclose(tested, again.view(pd.Series).reindex(tested.index), atol=1e-5)


# -- 3. the ridge readout of a target normalised per category, under 'exp' ------------------

# category a holds 1-9, b 100-300: the log was taken of b's normalised values
# put back with a's statistics (negative: NaN), and the fit ended in numpy's
# 'zero-size array' error
CATEGORIES = pd.Series(["a"] * 8 + ["b"] * 8, index=IDS, name="study")
PLANTED = pd.Series([1, 9, 2, 8, 3, 7, 4, 6, 100] + [300] * 7, index=IDS, dtype=float,
                    name="y")


def test_exp_readout_of_a_target_normalised_per_category(encoder):
    categories, target = CATEGORIES.to_frame(), PLANTED
    train = dataclasses.replace(FIT_TRAIN_DEFAULTS, n_threads=1, device="cpu", batch_size=8,
                                readout="ridge", validation_fraction=0, ensemble_size=1)
    model = api.fit_regressor(example_table(), target, pretrained=api.load(encoder),
                              train=train, log=QUIET, categories=categories,
                              conditioning_config=ConditioningConfig(normalise_by="study"),
                              head_options={"output_activation": "exp"})
    predicted = np.asarray(api.predict(model, example_table(), conditioning=categories,
                                       log=QUIET, n_threads=1)).ravel()
    assert np.all((predicted[:8] > 1) & (predicted[:8] < 9)), predicted
    assert np.all((predicted[8:] > 100) & (predicted[8:] < 300)), predicted


def test_exp_readout_in_q2cli(workspace, encoder_qza, tmp_path):
    metadata = ages_file(tmp_path, y=PLANTED, study=CATEGORIES)
    code, output = qiime(
        "aam", "fit-regressor", "--i-table", workspace / "table.qza",
        "--i-pretrained-model", encoder_qza, "--m-metadata-file", metadata,
        "--m-metadata-column", "y", "--m-normalise-by-file", metadata,
        "--m-normalise-by-column", "study", "--p-output-activation", "exp",
        "--p-readout", "ridge", "--p-ensemble-size", 1, "--p-n-threads", 1,
        "--o-model", tmp_path / "model.qza")
    assert code == 0, output


# -- 4. the README's alpha-diversity recipe -------------------------------------------------

def test_the_readme_alpha_recipe_names_installed_actions():
    """Each `qiime PLUGIN ACTION` of the recipe beside --i-alpha-diversity
    exists where the README's Debian packages are installed."""
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    recipe = readme.split("**Alpha diversity**", 1)[1].split("With the `aam` command", 1)[0]
    block = "\n".join(line for line in recipe.splitlines() if line.startswith("    "))
    calls = re.findall(r"qiime ([a-z0-9-]+) ([a-z0-9-]+)", block)
    assert len(calls) == 3, block
    plugins = {p.replace("_", "-"): p for p in qiime2.sdk.PluginManager().plugins}
    for plugin, action in calls:
        assert plugin in plugins, f"no plugin {plugin}"
        actions = qiime2.sdk.PluginManager().plugins[plugins[plugin]].actions
        assert action.replace("-", "_") in actions, f"no action {plugin} {action}"
