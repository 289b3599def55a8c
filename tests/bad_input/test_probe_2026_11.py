"""The probe of 2026-11 (docs/bad-input-probe-2026-11.md): the bad inputs
and edge cases of the newer surface (summarize-predictions, attention-map,
pretraining on any distance with alpha diversity, output bounds, options
that would be ignored, conditioning at prediction, settings files, the
`aam` command's metadata and tracking paths) that ended in a silent wrong
result, a traceback or a misleading error before it. One row per case; each
asserts what is wrong and the fix, as the caller's interface names it."""
import re

import numpy as np
import pandas as pd
import pytest
import qiime2
import skbio
from qiime2.plugins import aam as plugin

from q2_aam import _examples

from .conftest import aam, artifact_api, overridden, qiime, refused

TINY = dict(preset="tiny", epochs=1, batch_size=8, n_threads=1)
FLAGS = ["--preset", "tiny", "--epochs", 1, "--batch-size", 8, "--n-threads", 1]


def _frame() -> pd.DataFrame:
    return _examples.sample_metadata_factory().to_dataframe()


def _numeric(values, name="value") -> qiime2.NumericMetadataColumn:
    frame = _frame()
    return qiime2.NumericMetadataColumn(pd.Series(values, index=frame.index, name=name,
                                                  dtype=float))


def _age() -> qiime2.NumericMetadataColumn:
    return _examples.sample_metadata_factory().get_column("age")


def _zero_distances() -> qiime2.Artifact:
    ids = list(_frame().index)
    return qiime2.Artifact.import_data("DistanceMatrix",
                                       skbio.DistanceMatrix(np.zeros((16, 16)), ids))


def _taxonomy_of_other_ids() -> qiime2.Artifact:
    return qiime2.Artifact.import_data("FeatureData[Taxonomy]", pd.Series(
        ["k__Bacteria; g__Rothia", "k__Bacteria; g__Prevotella"],
        index=pd.Index(["hash1", "hash2"], name="Feature ID"), name="Taxon"))


def _fit(**options):
    return plugin.methods.fit_regressor(table=_examples.table_factory(), **{
        "metadata": _age(), "ensemble_size": 1, **TINY, **options})


# -- the Artifact API ----------------------------------------------------------------

API = {  # case: (call(the untrained regressor .qza), fragment of the expected message)
    "summarize-predictions-regressor-with-categorical-truth": (
        lambda model: plugin.visualizers.summarize_predictions(
            predictions=_examples.predictions_factory(),
            truth=_examples.sample_metadata_factory().get_column("site")),
        "The predictions are a regressor's (SampleData[RegressorPredictions]) but "
        "the truth column 'site' is categorical; give the numeric column the "
        "regressor was fitted on"),
    "attention-map-taxonomy-of-other-features": (
        lambda model: plugin.visualizers.attention_map(
            model=model, table=_examples.table_factory(),
            taxonomy=_taxonomy_of_other_ids(), n_threads=1),
        "The taxonomy names none of the 10 features of the table (taxonomy e.g. "
        "hash1, hash2; table e.g. GGCCAAAATGTG..."),
    "pretrain-distances-all-zero": (
        lambda model: plugin.methods.pretrain(
            table=_examples.table_factory(), distance_matrix=_zero_distances(), **TINY),
        "The distance matrix is 0 between every two samples of the table: it says "
        "every sample is the same, so the distance loss has nothing to learn. "
        "Compute the distances on this table's samples"),
    "pretrain-alpha-weight-without-alpha-diversity": (
        lambda model: plugin.methods.pretrain(
            table=_examples.table_factory(),
            distance_matrix=_examples.distance_matrix_factory(), alpha_weight=3.0,
            **TINY),
        "alpha_weight=3.0 weighs the alpha-diversity objective, but no alpha "
        "diversity was given, so it would be ignored: give the alpha diversity, or "
        "leave alpha_weight at its default."),
    "fit-unifrac-weight-without-distance-matrix": (
        lambda model: _fit(unifrac_weight=2.0),
        "unifrac_weight=2.0 weighs the auxiliary distance loss, but no distance "
        "matrix was given, so it would be ignored"),
    "fit-quantiles-without-quantile-loss": (
        lambda model: _fit(quantiles=[0.2, 0.5, 0.8]),
        "quantiles=[0.2, 0.5, 0.8] only acts with loss='quantile', but loss is "
        "'huber', so it would be ignored: set loss='quantile', or leave quantiles "
        "at its default."),
    "fit-huber-delta-with-mse-loss": (
        lambda model: _fit(loss="mse", huber_delta=2.0),
        "huber_delta=2.0 only acts with loss='huber', but loss is 'mse'"),
    "fit-overprediction-weight-without-asymmetric-loss": (
        lambda model: _fit(overprediction_weight=3.0),
        "overprediction_weight=3.0 only acts with loss='asymmetric'"),
    "fit-lower-bound-above-targets": (
        lambda model: _fit(lower_bound=50.0),
        "10 of the 16 targets lie below the lower bound (50) of the predictions "
        "(e.g. S00: 1, S01: 6.26667, S02: 11.5333), which the model can never "
        "predict. Widen or leave out the bound"),
    "fit-softplus-with-negative-targets": (
        lambda model: _fit(metadata=_numeric(np.linspace(-40, 40, 16), "change"),
                           output_activation="softplus"),
        "8 of the 16 targets lie below the floor of output_activation='softplus' (0)"),
    "fit-negative-loss-weight": (
        lambda model: _fit(loss_weights=_numeric([-1.0] + [1.0] * 15, "w")),
        "The loss weights must be finite and not negative; 1 sample(s) are not "
        "(S00: -1). Correct the weights column."),
    "fit-ensemble-folds-more-than-samples": (
        lambda model: _fit(ensemble_size=20, ensemble_validation="folds"),
        "ensemble_validation='folds' deals the samples into ensemble_size=20 folds, "
        "but there are only 16 samples: lower ensemble_size"),
    "regress-samples-ncv-cv-above-samples": (
        lambda model: plugin.pipelines.regress_samples_ncv(
            table=_examples.table_factory(), metadata=_age(), cv=20, ensemble_size=1,
            **TINY),
        "cv=20, but there are only 16 samples to deal into folds: lower cv to at "
        "most 16."),
    "predict-unconditioned-model-with-conditioning": (
        lambda model: plugin.methods.predict_regression(
            table=_examples.table_factory(), model=model, n_threads=1,
            conditioning=_examples.site_metadata_factory()),
        "This model was fitted without conditioning (and without a per-category "
        "target normalisation), so it takes no metadata: the conditioning metadata "
        "given (columns ['site']) would be ignored. Leave it out"),
}


@pytest.fixture(scope="module")
def regressor(model_qza):
    return qiime2.Artifact.load(str(model_qza))


@pytest.mark.parametrize("case", sorted(API))
def test_artifact_api_refuses(case, regressor):
    call, fragment = API[case]
    artifact_api(lambda: call(regressor), fragment)


def test_summarize_predictions_counts_a_missing_prediction_as_such(tmp_path):
    predictions = _examples.predictions_factory().view(pd.Series).copy()
    predictions.iloc[0] = np.nan  # the truth of S00 is there: no prediction
    result, = plugin.visualizers.summarize_predictions(
        predictions=qiime2.Artifact.import_data("SampleData[RegressorPredictions]",
                                                predictions),
        truth=_age())
    result.export_data(str(tmp_path))
    page = " ".join(re.sub(r"<[^>]+>", " ", (tmp_path / "index.html").read_text()).split())
    assert "15 predicted samples with a true value; 1 left out (no prediction)" in page
    assert "no true value" not in page


def test_summarize_predictions_takes_numeric_class_labels(tmp_path):
    # a classifier's classes 1 and 2 are read back as integers: not a regressor's
    classes = pd.Series(["1", "2"] * 8, index=_frame().index, name="prediction")
    truth = qiime2.CategoricalMetadataColumn(pd.Series(["1", "2", "2", "1"] * 4,
                                                       index=_frame().index, name="cls"))
    plugin.visualizers.summarize_predictions(
        predictions=qiime2.Artifact.import_data("SampleData[ClassifierPredictions]",
                                                classes), truth=truth)


def test_error_analysis_keeps_a_metadata_column_named_error(tmp_path):
    frame = _frame()[["site"]].assign(error="lab", prediction="x")
    result, = plugin.visualizers.error_analysis(
        predictions=_examples.predictions_factory(), truth=_age(),
        metadata=qiime2.Metadata(frame), largest=3)
    result.export_data(str(tmp_path))
    page = (tmp_path / "index.html").read_text()
    assert "error (metadata)" in page and "prediction (metadata)" in page


def test_missing_loss_weights_are_counted():
    from aam_core import supervision
    from aam_core.config import ConditioningConfig
    messages = []
    weights = pd.Series([np.nan, np.nan, 2.0, 1.0], index=["a", "b", "c", "d"])
    supervision.sample_weights(None, weights, ["a", "b", "c", "d"], np.arange(4),
                               ConditioningConfig(), messages.append)
    assert "2 sample(s) have no loss weight and weigh 1 (e.g. a, b)." in messages


# -- the `aam` command ---------------------------------------------------------------

@pytest.fixture(scope="module")
def files(workspace, tmp_path_factory):
    folder = tmp_path_factory.mktemp("probe-2026-11")
    frame = _frame()
    frame.index.name = "sample-id"
    frame.to_csv(folder / "metadata.tsv", sep="\t")
    lines = (folder / "metadata.tsv").read_text().splitlines()
    (folder / "repeated.tsv").write_text("\n".join(lines + [lines[1]]) + "\n")
    (folder / "a-file").write_text("")
    return folder


def _settings(content: str, name: str):
    def make(folder):
        (folder / name).write_text(content)
        return ["--settings", folder / name]
    return make


FIT = ["fit-regressor", "--target", "age", "--ensemble-size", 1, *FLAGS]
AAM = {  # case: (command, extra arguments made in code, fragment of the message)
    "settings-empty-yaml": (FIT, _settings("", "s.yaml"),
                            "s.yaml is empty; write option values by name in it"),
    "settings-a-list": (FIT, _settings("[1]", "s.json"),
                        'must hold a mapping of option names to values, e.g. '
                        '{"epochs": 30}, not a list.'),
    "settings-nan-learning-rate": (FIT, _settings('{"learning_rate": NaN}', "s.json"),
                                   "s.json: learning_rate must be a number, not nan."),
    "settings-one-option-twice": (
        FIT, _settings('{"learning_rate": 0.001, "learning-rate": 0.01}', "s.json"),
        "s.json: 'learning_rate' and 'learning-rate' both set learning_rate; keep "
        "one of them."),
    "settings-quantiles-without-quantile-loss": (
        FIT, _settings('{"quantiles": [0.2, 0.8]}', "s.json"),
        "--quantiles 0.2 0.8 only acts with --loss quantile, but --loss is 'huber', "
        "so it would be ignored: set --loss quantile, or leave --quantiles at its "
        "default."),
    "learning-rate-nan": (FIT, lambda f: ["--learning-rate", "nan"],
                          "argument --learning-rate: must be a number, not nan"),
    "output-bounds-nan": (FIT, lambda f: ["--output-bounds", "nan", "none"],
                          "argument --output-bounds: must be a number, not nan"),
    "output-bounds-below-targets": (
        FIT, lambda f: ["--output-bounds", "none", 10],
        "14 of the 16 targets lie above the upper bound (10) of the predictions"),
    "lower-bound-nan": (FIT, lambda f: ["--lower-bound", "nan"],
                        "argument --lower-bound: must be a number, not nan"),
    "upper-bound-below-targets": (
        FIT, lambda f: ["--upper-bound", 10],
        "14 of the 16 targets lie above the upper bound (10) of the predictions"),
    "lr-cycles-without-restarts": (
        FIT, lambda f: ["--lr-cycles", 5],
        "--lr-cycles 5 only acts with --scheduler cosine_restarts, but --scheduler "
        "is 'cosine'"),
    "metadata-repeated-sample-id": (
        FIT, lambda f: ["--metadata", f / "repeated.tsv"],
        "holds the sample id(s) ['S00'] on more than one row; sample ids must be "
        "unique. Remove or merge the repeated rows."),
    "tensorboard-is-a-file": (FIT, lambda f: ["--tensorboard", f / "a-file"],
                              "a-file is a file, not a directory; choose another path."),
    "tensorboard-under-a-file": (FIT, lambda f: ["--tensorboard", f / "a-file" / "tb"],
                                 "is not writable"),
    "pretrain-alpha-weight-without-alpha-diversity": (
        ["pretrain", "--distances", "DISTANCES", *FLAGS], lambda f: ["--alpha-weight", 2],
        "--alpha-weight 2.0 weighs the alpha-diversity objective, but no alpha "
        "diversity was given, so it would be ignored: give the alpha diversity, or "
        "leave --alpha-weight at its default."),
    "pretrain-taxonomy-weight-without-taxonomy": (
        ["pretrain", "--distances", "DISTANCES", *FLAGS], lambda f: ["--taxonomy-weight", 2],
        "--taxonomy-weight 2.0 weighs the taxonomy objective, but no taxonomy was "
        "given, so it would be ignored: give the taxonomy, or leave --taxonomy-weight "
        "at its default."),
}


@pytest.mark.parametrize("case", sorted(AAM))
def test_aam_refuses(case, files, workspace, tmp_path, capsys):
    command, make, fragment = AAM[case]
    command = [workspace / "distances.tsv" if a == "DISTANCES" else a for a in command]
    metadata = [] if command[0] == "pretrain" else ["--metadata", files / "metadata.tsv"]
    code, output = aam(capsys, *command, *overridden(
        ["--table", workspace / "table.biom", *metadata, "--output-dir", tmp_path / "run"],
        make(files)))
    refused(output, code, fragment)
    assert "epoch 1/" not in output  # refused before training


def test_aam_predict_refuses_metadata_an_unconditioned_model_would_ignore(
        model_dir, workspace, files, tmp_path, capsys):
    code, output = aam(capsys, "predict", "--model", model_dir, "--table",
                       workspace / "table.biom", "--output", tmp_path / "p.tsv",
                       "--metadata", files / "metadata.tsv")
    refused(output, code, "This model was fitted without conditioning, so it reads no "
            "metadata: --metadata")
    assert not (tmp_path / "p.tsv").exists()


# -- q2cli -----------------------------------------------------------------------------

def test_q2cli_names_its_own_flags_for_an_ignored_option(workspace, files, tmp_path):
    code, output = qiime(
        "aam", "fit-regressor", "--i-table", workspace / "table.qza",
        "--m-metadata-file", files / "metadata.tsv", "--m-metadata-column", "age",
        "--p-quantiles", 0.2, 0.5, 0.8, "--p-preset", "tiny", "--p-epochs", 1,
        "--o-model", tmp_path / "m.qza")
    refused(output, code, "--p-quantiles 0.2 0.5 0.8 only acts with --p-loss quantile, "
            "but --p-loss is 'huber'")


def test_q2cli_summarize_predictions_with_a_categorical_truth(files, tmp_path):
    _examples.predictions_factory().save(str(tmp_path / "p.qza"))
    code, output = qiime(
        "aam", "summarize-predictions", "--i-predictions", tmp_path / "p.qza",
        "--m-truth-file", files / "metadata.tsv", "--m-truth-column", "site",
        "--o-visualization", tmp_path / "s.qzv")
    refused(output, code, "The predictions are a regressor's "
            "(SampleData[RegressorPredictions]) but the truth column 'site' is categorical")


def test_aam_normalises_by_a_column_that_is_not_conditioning_and_predicts_with_it(
        workspace, files, tmp_path, capsys):
    # the help says --normalise-by "need not be a conditioning column": it was
    # refused as "not a column of the conditioning metadata ([])", and `aam
    # predict` undid a per-category normalisation with the global statistics
    code, output = aam(capsys, *FIT, "--table", workspace / "table.biom", "--metadata",
                       files / "metadata.tsv", "--normalise-by", "site",
                       "--output-dir", tmp_path / "run")
    assert code == 0, output
    predict = ["predict", "--model", tmp_path / "run" / "model", "--table",
               workspace / "table.biom", "--output", tmp_path / "p.tsv"]
    code, output = aam(capsys, *predict)
    refused(output, code, "This model reads the metadata column(s) ['site'] (its "
            "conditioning or target normalisation); give them with --metadata.")
    code, output = aam(capsys, *predict, "--metadata", files / "metadata.tsv")
    assert code == 0 and "global statistics" not in output, output
    assert len(pd.read_csv(tmp_path / "p.tsv", sep="\t")) == 16


def test_a_distance_matrix_with_unifrac_weight_0_is_said_to_be_unused():
    from dataclasses import replace

    from aam_core.config import FIT_TRAIN_DEFAULTS
    from aam_core.fit import _uses_distances
    messages = []
    used = _uses_distances(object(), replace(FIT_TRAIN_DEFAULTS, unifrac_weight=0.0),
                           messages.append)
    assert not used
    assert messages == ["unifrac_weight is 0: the distance matrix given is not used."]
