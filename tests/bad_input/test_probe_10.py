"""Probe 10 (2026-12-01, the Artifact API): a metadata column named as the
truth in error-analysis, a conditioning hierarchy that fusion 'none' cannot
use, the pipelines' test split and the samples they leave out. Each row
finished with exit 0 and lost or ignored something without a word before
its fix."""
import pandas as pd
import qiime2
from qiime2.plugins import aam as plugin

from q2_aam import _examples

from .conftest import artifact_api, summarize_classes

TINY = dict(preset="tiny", epochs=1, batch_size=8, n_threads=1, ensemble_size=1)


def _metadata() -> pd.DataFrame:
    return _examples.sample_metadata_factory().to_dataframe()


def test_a_metadata_column_named_as_the_truth_is_kept(tmp_path):
    """A breakdown column 'age' of other values vanished from the page."""
    frame = _metadata()
    predictions = qiime2.Artifact.import_data(
        "SampleData[RegressorPredictions]",
        (frame["age"] + 3).rename("prediction").rename_axis("id"))
    breakdown = qiime2.Metadata(pd.DataFrame(
        {"age": [float(i % 3) for i in range(len(frame))]}, index=frame.index))
    visualization, = plugin.visualizers.error_analysis(
        predictions=predictions, truth=_examples.sample_metadata_factory().get_column("age"),
        metadata=breakdown)
    visualization.export_data(str(tmp_path / "page"))
    assert "age (metadata)" in (tmp_path / "page" / "index.html").read_text()
    # the same file for both: its truth column is the truth, listed once
    visualization, = plugin.visualizers.error_analysis(
        predictions=predictions, truth=_examples.sample_metadata_factory().get_column("age"),
        metadata=_examples.sample_metadata_factory())
    visualization.export_data(str(tmp_path / "same"))
    assert "age (metadata)" not in (tmp_path / "same" / "index.html").read_text()


def test_a_hierarchy_with_fusion_none_is_refused():
    frame = _metadata()
    frame["region"] = ["north" if s == "gum" else "south" for s in frame["site"]]
    frame["spot"] = [f"{s}-{i % 4}" for i, s in enumerate(frame["site"])]
    artifact_api(
        lambda: plugin.methods.fit_regressor(
            table=_examples.table_factory(),
            metadata=qiime2.Metadata(frame[["age"]]).get_column("age"),
            conditioning=qiime2.Metadata(frame[["region", "spot"]]), hierarchical=True,
            fusion="none", conditional_output=True, **TINY),
        "hierarchical=True adds each parent category's embedding to its child's for "
        "the fusion; fusion='none' fuses nothing")


def test_the_pipelines_say_what_they_leave_out_and_why(capfd):
    frame = _metadata()
    frame.loc[frame.index[:4], "age"] = float("nan")
    plugin.pipelines.regress_samples(
        table=_examples.table_factory(),
        metadata=qiime2.Metadata(frame[["age"]]).get_column("age"), **TINY)
    said = capfd.readouterr().err
    assert "Left out 4 of the table's 16 samples: they have no value in 'age'" in said
    # two classes, each needs a test sample: 2 where 5% asks for about 1
    plugin.pipelines.classify_samples(
        table=_examples.table_factory(),
        metadata=_examples.sample_metadata_factory().get_column("label"),
        test_size=0.05, **TINY)
    said = capfd.readouterr().err
    assert "Test samples: 2 of 16 (12%); test_size=0.05 asks for about 1, but every " \
           "class with two samples (or groups) or more has one on both sides" in said


def test_class_labels_that_look_like_numbers_are_not_scored_as_a_regression():
    """Probe 11: study ids predicted by a classifier, against a truth column
    QIIME 2 reads as numbers, gave a regression page (MAE 7640)."""
    labels = ["550" if i % 2 else "11052" for i in range(16)]
    artifact_api(lambda: summarize_classes(labels, [float(v) for v in reversed(labels)],
                                           "study"),
        "The predictions are a classifier's (SampleData[ClassifierPredictions]) but "
        "the truth column 'study' is numeric")
