"""Probe 19 (2026-12-01): summarize-predictions told regression from
classification by the values, not by the artifact's type; a large
test_size blamed on validation_fraction; --dropout with --pretrained
refused as a change of shape."""
import pandas as pd
import qiime2
from qiime2.plugins import aam as plugin

from q2_aam import _examples

from .conftest import aam, artifact_api, qiime, refused

TINY = dict(preset="tiny", epochs=1, batch_size=8, n_threads=1)


def _predictions(kind: str, values: list):
    ids = pd.Index([f"s{i}" for i in range(len(values))], name="id")
    return qiime2.Artifact.import_data(f"SampleData[{kind}Predictions]",
                                       pd.Series(values, index=ids, name="prediction"))


def _truth(values: list):
    ids = pd.Index([f"s{i}" for i in range(len(values))], name="sample-id")
    return qiime2.Metadata(pd.DataFrame({"age": values}, index=ids)).get_column("age")


def test_class_labels_that_look_like_numbers_are_not_scored_as_a_regression():
    """Study ids predicted by a classifier, a numeric truth: MAE 2171, exit 0."""
    artifact_api(lambda: plugin.visualizers.summarize_predictions(
        predictions=_predictions("Classifier", [2024, 550, 2024, 10317]),
        truth=_truth([20.0, 35.0, 50.0, 62.0])),
        "The predictions are a classifier's (SampleData[ClassifierPredictions]) but "
        "the truth column 'age' is numeric, so they would be scored as a regression")


def test_whole_number_regressions_are_scored(tmp_path):
    """A regressor's whole-number predictions drawn from the truth's values
    were refused as 'a classifier's labels'."""
    visualization, = plugin.visualizers.summarize_predictions(
        predictions=_predictions("Regressor", [20.0, 50.0, 35.0, 62.0]),
        truth=_truth([20.0, 35.0, 50.0, 62.0]))
    visualization.save(str(tmp_path / "summary.qzv"))


def test_q2cli_says_which_predictions_were_given(tmp_path):
    _predictions("Classifier", [2024, 550, 2024, 10317]).save(str(tmp_path / "c.qza"))
    (tmp_path / "truth.tsv").write_text(
        "sample-id\tage\ns0\t20\ns1\t35\ns2\t50\ns3\t62\n")
    code, output = qiime("aam", "summarize-predictions", "--i-predictions",
                         tmp_path / "c.qza", "--m-truth-file", tmp_path / "truth.tsv",
                         "--m-truth-column", "age", "--o-visualization", tmp_path / "s.qzv")
    refused(output, code, "The predictions are a classifier's "
            "(SampleData[ClassifierPredictions]) but the truth column 'age' is numeric")
    _predictions("Regressor", [20.0, 50.0, 35.0, 62.0]).save(str(tmp_path / "r.qza"))
    code, output = qiime("aam", "summarize-predictions", "--i-predictions",
                         tmp_path / "r.qza", "--m-truth-file", tmp_path / "truth.tsv",
                         "--m-truth-column", "age", "--o-visualization", tmp_path / "s.qzv")
    assert code == 0, output


def test_a_test_split_that_leaves_too_few_samples_names_test_size():
    artifact_api(lambda: plugin.pipelines.regress_samples(
        table=_examples.table_factory(),
        metadata=_examples.sample_metadata_factory().get_column("age"),
        test_size=0.75, ensemble_size=1, **TINY),
        "test_size=0.75 leaves 4 of the 16 samples to fit on: The validation split leaves")


def test_dropout_with_a_pretrained_model_is_refused_as_dropout(workspace, capsys, tmp_path):
    code, output = aam(capsys, "pretrain", "--table", workspace / "table.biom",
                       "--distances", workspace / "distances.tsv", "--preset", "tiny",
                       "--epochs", 1, "--batch-size", 8, "--n-threads", 1,
                       "--output-dir", tmp_path / "encoder")
    assert code == 0, output
    (tmp_path / "metadata.tsv").write_text(
        _examples.sample_metadata_factory().to_dataframe().to_csv(sep="\t"))
    code, output = aam(capsys, "fit-regressor", "--table", workspace / "table.biom",
                       "--metadata", tmp_path / "metadata.tsv", "--target", "age",
                       "--pretrained", tmp_path / "encoder" / "model", "--dropout", 0.3,
                       "--output-dir", tmp_path / "fit")
    refused(output, code, "--dropout would change the encoder's dropout, which "
            "--pretrained fixes")


def test_an_input_in_a_settings_file_is_said_to_be_a_flag(workspace, capsys, tmp_path):
    (tmp_path / "settings.json").write_text('{"target": "age"}')
    (tmp_path / "metadata.tsv").write_text(
        _examples.sample_metadata_factory().to_dataframe().to_csv(sep="\t"))
    code, output = aam(capsys, "fit-regressor", "--table", workspace / "table.biom",
                       "--metadata", tmp_path / "metadata.tsv", "--target", "age",
                       "--settings", tmp_path / "settings.json",
                       "--output-dir", tmp_path / "fit")
    refused(output, code, "'target' is not an option of aam fit-regressor. --target is "
            "an input, a flag of the command line, not a setting.")
