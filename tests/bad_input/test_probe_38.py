"""Probe 38 (2026-12-02, pipelines, normalise-by, visualizers, sequences):
the README's recipe `--m-normalise-by-column study` was refused by QIIME 2
for a column of study ids (numbers: "Metadata column is of type 'numeric',
but expected Categorical"), which the `aam` command reads as categories; a
normalise-by column that was the target under another name trained (the
column handed the model its answer); one whose ids were none of the
samples' was called "an id column"; embedding a normalise-by model with
metadata blamed "this model's conditioning (fusion 'add')", which it has
none of; api.fit_regressor's categories= as a Series or a list ended in an
IndexError or AttributeError traceback, and normalise_by without any
categories said "not a column of the conditioning metadata ([])"; and the
pipelines checked the sequences only on a split's table: a feature without
one in a sample left out of the fits was refused after every fit, by
feature-importance."""
import dataclasses

import biom
import numpy as np
import pandas as pd
import pytest
import qiime2
import skbio

from aam_core import api
from aam_core.config import FIT_TRAIN_DEFAULTS, ConditioningConfig
from q2_aam import _examples

from .conftest import (EXAMPLE_AGES, EXAMPLE_IDS, aam, ages_file, artifact_api,
                       example_table, qiime, refused)

QUIET = lambda message: None  # noqa: E731
RIDGE = dataclasses.replace(FIT_TRAIN_DEFAULTS, n_threads=1, device="cpu", batch_size=8,
                            readout="ridge")
IDS, AGES = EXAMPLE_IDS, EXAMPLE_AGES  # 16 samples
# study ids are numbers: 8 studies of two samples each
STUDIES = pd.Series([float(550 + n // 2) for n in range(16)], index=IDS, name="study")
BY_STUDY = ConditioningConfig(normalise_by="study")


def _column(values: pd.Series):
    return qiime2.Metadata(values.rename_axis("id").to_frame()).get_column(values.name)


@pytest.fixture(scope="module")
def by_study(encoder):
    """A ridge regressor whose target is normalised per study."""
    return api.fit_regressor(example_table(), AGES, pretrained=api.load(encoder), train=RIDGE,
                             log=QUIET, conditioning_config=BY_STUDY,
                             categories=STUDIES.to_frame())


# -- 1. a numeric normalise-by column (study ids) in QIIME 2 ------------------------------

def test_q2cli_normalises_by_a_column_of_study_ids(workspace, encoder_qza, tmp_path):
    """Not a refusal: the README's recipe on numeric study ids trains."""
    metadata = ages_file(tmp_path, study=STUDIES)
    code, output = qiime("aam", "fit-regressor", "--i-table", workspace / "table.qza",
                         "--i-pretrained-model", encoder_qza, "--m-metadata-file",
                         metadata, "--m-metadata-column", "age", "--m-normalise-by-file",
                         metadata, "--m-normalise-by-column", "study", "--p-n-threads", 1,
                         "--o-model", tmp_path / "model.qza")
    assert code == 0, output
    from aam_core.bundle import ModelBundle
    model = qiime2.Artifact.load(str(tmp_path / "model.qza")).view(ModelBundle)
    assert model.config["target"]["by"] == "study"
    assert sorted(model.config["target"]["categories"]) == [str(550 + n) for n in range(8)]


def test_the_artifact_api_normalises_by_a_numeric_column(encoder_qza):
    from qiime2.plugins import aam as plugin
    model, = plugin.methods.fit_regressor(
        table=_examples.table_factory(), metadata=_column(AGES),
        pretrained_model=qiime2.Artifact.load(str(encoder_qza)),
        normalise_by=_column(STUDIES), n_threads=1)
    predicted, = plugin.methods.predict_regression(
        table=_examples.table_factory(), model=model, n_threads=1,
        conditioning=qiime2.Metadata(STUDIES.astype(int).astype(str)
                                     .rename_axis("id").to_frame()))
    assert predicted.view(pd.Series).notna().all()


# -- 2. a normalise-by column that is the target under another name ----------------------

TARGET_COPY = "the samples share one target value, so the normalised target is 0"


def test_a_copy_of_the_target_is_refused_in_the_aam_command(capsys, workspace, encoder,
                                                             tmp_path):
    decades = AGES.round(-1)  # the target, and the same values under another name
    code, output = aam(capsys, "fit-regressor", "--table", workspace / "table.biom",
                       "--metadata", ages_file(tmp_path, years=decades, decade=decades),
                       "--target", "years", "--normalise-by", "decade", "--pretrained",
                       encoder, "--n-threads", 1, "--output-dir", tmp_path / "run")
    refused(output, code, f"categories of --normalise-by decade that hold two training "
                          f"samples or more, {TARGET_COPY}")
    assert not (tmp_path / "run").exists()


def test_a_copy_of_the_target_is_refused_in_python(encoder):
    copy = AGES.round(-1)
    artifact_api(lambda: api.fit_regressor(
        example_table(), copy, pretrained=api.load(encoder), train=RIDGE, log=QUIET,
        conditioning_config=ConditioningConfig(normalise_by="years"),
        categories=copy.rename("years").to_frame()),
        f"of normalise_by (column 'years') that hold two training samples or more, "
        f"{TARGET_COPY}")


# -- 3. a normalise-by column of other samples ----------------------------------------------

NO_VALUE = "No training sample has a value in"


def test_normalise_by_of_other_samples_in_the_artifact_api(encoder_qza):
    from qiime2.plugins import aam as plugin
    other = pd.Series(["a", "b", "a", "b"], index=["x1", "x2", "x3", "x4"], name="study")
    artifact_api(lambda: plugin.methods.fit_regressor(
        table=_examples.table_factory(), metadata=_column(AGES),
        pretrained_model=qiime2.Artifact.load(str(encoder_qza)),
        normalise_by=_column(other), n_threads=1),
        f"{NO_VALUE} normalise_by (column 'study'): its sample ids are none of the "
        "table's, or its cells are empty")


def test_normalise_by_of_other_samples_in_python(encoder):
    artifact_api(lambda: api.fit_regressor(
        example_table(), AGES, pretrained=api.load(encoder), train=RIDGE, log=QUIET,
        conditioning_config=BY_STUDY,
        categories=STUDIES.to_frame().set_axis([f"x{i}" for i in range(16)])),
        f"{NO_VALUE} normalise_by (column 'study')")


# -- 4. embedding a normalise-by model with metadata --------------------------------------

NOT_CONDITIONED = ("This model reads metadata only to undo the normalisation of its "
                   "target per category of 'study', after the sample embedding")


def test_embed_of_a_normalise_by_model_in_python(by_study):
    artifact_api(lambda: api.embed(by_study, example_table(), conditioning=STUDIES.to_frame(),
                                   log=QUIET, n_threads=1), NOT_CONDITIONED)


def test_embed_of_a_normalise_by_model_in_the_aam_command(capsys, workspace, by_study,
                                                         tmp_path):
    api.save(by_study, tmp_path / "model")
    code, output = aam(capsys, "embed", "--table", workspace / "table.biom", "--model",
                       tmp_path / "model", "--metadata", ages_file(tmp_path, study=STUDIES),
                       "--output", tmp_path / "embedding.tsv")
    refused(output, code, f"{NOT_CONDITIONED}, so --metadata")
    assert not (tmp_path / "embedding.tsv").exists()


# -- 5. categories= of another kind, or none ----------------------------------------------

@pytest.mark.parametrize("categories, kind", [
    (STUDIES, "a Series"), (list(STUDIES), "a list")])
def test_categories_of_another_kind(categories, kind):
    artifact_api(lambda: api.fit_regressor(
        example_table(), AGES, model="tiny", train=RIDGE, log=QUIET,
        conditioning_config=BY_STUDY, categories=categories),
        f"categories= must be a pandas DataFrame of categorical columns indexed by "
        f"sample id, not {kind}")


def test_normalise_by_without_categories(encoder):
    artifact_api(lambda: api.fit_regressor(
        example_table(), AGES, pretrained=api.load(encoder), train=RIDGE, log=QUIET,
        conditioning_config=BY_STUDY),
        "normalise_by: 'study' is not a column of conditioning or of categories (their "
        "columns: []): give it by sample id in categories=")


# -- 6. the pipelines' sequences, checked on the whole table ------------------------------

def test_a_feature_without_sequence_outside_the_fits(encoder_qza, capsys):
    """The 11th feature is only in a sample without a target: no split holds it,
    and feature-importance, over the whole table, refused it after the fits."""
    table = example_table()
    hashed = [f"f{i}" for i in range(table.shape[0])]
    counts = np.vstack([table.matrix_data.toarray(), np.eye(1, 16, 15) * 5])
    ids = list(table.ids())
    whole = biom.Table(counts, hashed + ["f_only_in_unlabelled"], ids)
    sequences = pd.Series({f: skbio.DNA(str(s)) for f, s in
                           zip(hashed, table.ids(axis="observation"))})
    ages = AGES.copy()
    ages.iloc[15] = np.nan
    from qiime2.plugins import aam as plugin
    artifact_api(lambda: plugin.pipelines.regress_samples(
        table=qiime2.Artifact.import_data("FeatureTable[Frequency]", whole),
        sequences=qiime2.Artifact.import_data("FeatureData[Sequence]", sequences),
        metadata=_column(ages), pretrained_model=qiime2.Artifact.load(str(encoder_qza)),
        n_threads=1),
        "1 feature(s) of the table have no sequence in the sequences given, e.g. "
        "'f_only_in_unlabelled'")
    assert "Ridge readout" not in capsys.readouterr().err  # said before any fit
