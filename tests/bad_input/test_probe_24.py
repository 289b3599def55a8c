"""Probe 24 (2026-12-01): prediction on tables unlike the training table,
the visualizers and summaries, the pipelines' edges, outputs reused as
another action's input. Two faults here:

- a bound of predict-regression-interval (its `lower` or `upper` output)
  has the type of predictions, so summarize-predictions, error-analysis and
  blend-predictions took it as a model's point predictions: an MAE of the
  interval's edge, or a blend of a prediction with a bound, exit 0. Its
  provenance names the output: refused;
- the propagation readout refused `ensemble_size` 1 and
  `validation_fraction` 0, which ask for what it does (one head, no
  validation split), as "would be ignored: leave it at its default" (5 and
  0.1, which it ignores).
"""
import pandas as pd
import pytest
import qiime2
from qiime2.plugins import aam as plugin

from q2_aam import _examples

from .conftest import aam, artifact_api, qiime, refused

TINY = dict(preset="tiny", epochs=1, batch_size=8, n_threads=1, ensemble_size=1)


@pytest.fixture(scope="module")
def interval(tmp_path_factory):
    """(predictions, lower, upper, folder) of a tiny regressor's
    predict-regression-interval on the example table, saved as .qza too."""
    table = _examples.table_factory()
    truth = _examples.sample_metadata_factory().get_column("age")
    model, = plugin.methods.fit_regressor(table=table, metadata=truth, validation_fraction=0.3,
                                          **TINY)
    outputs = plugin.methods.predict_regression_interval(table=table, model=model,
                                                         n_threads=1)
    folder = tmp_path_factory.mktemp("interval")
    for name, artifact in zip(("predictions", "lower", "upper"), outputs):
        artifact.save(str(folder / f"{name}.qza"))
    return (*outputs, folder)


def _age():
    return _examples.sample_metadata_factory().get_column("age")


# -- 1. a bound of an interval where point predictions are meant ----------------------

@pytest.mark.parametrize("bound", ["lower", "upper"])
def test_summarize_predictions_refuses_a_bound(interval, bound):
    bounds = {"lower": interval[1], "upper": interval[2]}
    artifact_api(lambda: plugin.visualizers.summarize_predictions(
        predictions=bounds[bound], truth=_age()),
        f"predictions is the {bound} bound of an interval "
        f"(predict_regression_interval's {bound} output), not point predictions")


def test_error_analysis_refuses_a_bound_reloaded(interval):
    lower = qiime2.Artifact.load(str(interval[3] / "lower.qza"))
    artifact_api(lambda: plugin.visualizers.error_analysis(predictions=lower,
                                                           truth=_age()),
                 "give the point predictions (predict_regression_interval's "
                 "predictions output, or predict_regression's)")


def test_blend_predictions_refuses_a_bound_among_its_sets(interval):
    predictions, lower = interval[0], interval[1]
    artifact_api(lambda: plugin.methods.blend_predictions(
        predictions=[predictions, lower]),
        "predictions (set 2) is the lower bound of an interval")


def test_the_point_predictions_still_pass(interval):
    predictions = interval[0]
    plugin.visualizers.summarize_predictions(predictions=predictions, truth=_age())
    plugin.visualizers.error_analysis(predictions=predictions, truth=_age())
    shifted = qiime2.Artifact.import_data("SampleData[RegressorPredictions]",
                                          predictions.view(pd.Series) + 2)
    blended, = plugin.methods.blend_predictions(predictions=[predictions, shifted])
    assert (blended.view(pd.Series) - predictions.view(pd.Series)).round(6).eq(1).all()


def test_q2cli_names_the_bound_as_its_output(interval):
    code, output = qiime("aam", "summarize-predictions", "--i-predictions",
                         interval[3] / "upper.qza", "--m-truth-file",
                         _examples_metadata(interval[3]), "--m-truth-column", "age",
                         "--o-visualization", interval[3] / "summary.qzv")
    refused(output, code, "(predict-regression-interval's --o-upper output)")
    assert not (interval[3] / "summary.qzv").exists()


def _examples_metadata(folder):
    path = folder / "metadata.tsv"
    _examples.sample_metadata_factory().save(str(path))
    return path


# -- 2. the propagation readout's own values of the ensemble's options -----------------

@pytest.mark.parametrize("option", [{"ensemble_size": 1}, {"validation_fraction": 0.0}])
def test_propagation_takes_the_values_that_ask_for_what_it_does(encoder_qza, option):
    model, = plugin.methods.fit_regressor(
        table=_examples.table_factory(), metadata=_age(), readout="propagation",
        pretrained_model=qiime2.Artifact.load(str(encoder_qza)), n_threads=1,
        **option)
    assert str(model.type) == "AAMModel[AAMRegressor]"


def test_propagation_still_refuses_an_ensemble(encoder_qza):
    artifact_api(lambda: plugin.methods.fit_regressor(
        table=_examples.table_factory(), metadata=_age(), readout="propagation",
        pretrained_model=qiime2.Artifact.load(str(encoder_qza)), n_threads=1,
        ensemble_size=3),
        "so ensemble_size=3 would be ignored: leave it at its default (or set it to 1)")


def test_the_aam_command_takes_validation_fraction_0_for_propagation(
        workspace, encoder, capsys, tmp_path):
    metadata = _examples_metadata(tmp_path)
    code, output = aam(capsys, "fit-regressor", "--table", workspace / "table.biom",
                       "--metadata", metadata, "--target", "age", "--pretrained", encoder,
                       "--readout", "propagation", "--validation-fraction", 0,
                       "--n-threads", 1, "--output-dir", tmp_path / "run")
    assert code == 0, output
    assert (tmp_path / "run" / "model" / "config.json").exists()


# -- borderline, mended after: an artifact's name for a plain file -------------------

def test_the_aam_command_writes_no_tsv_under_an_artifact_name(tmp_path, capsys):
    """`aam predict --output preds.qza` wrote a TSV named .qza, which `qiime
    tools peek` then failed to open; refused before the model is read."""
    from .conftest import aam
    for name in ("preds.qza", "preds.QZV"):
        code, output = aam(capsys, "predict", "--table", tmp_path / "absent.biom",
                           "--model", tmp_path / "absent", "--output", tmp_path / name)
        assert code != 0 and "Traceback" not in output, output
        assert "names a QIIME 2 artifact, but the aam command writes plain files" in output
        assert not (tmp_path / name).exists()


def test_sequences_that_do_not_match_ids_that_are_dna_say_to_leave_them_out():
    import pytest
    from aam_core.data.tokens import resolve_sequences
    from aam_core.errors import AAMInputError
    with pytest.raises(AAMInputError, match="or leave out sequences: the table's "
                       "feature ids are DNA themselves"):
        resolve_sequences(["ACGTACGT", "GGGTACCA"], {"asv1": "ACGT"})
    with pytest.raises(AAMInputError) as refused:
        resolve_sequences(["asv9"], {"asv1": "ACGT"})
    assert "leave out" not in str(refused.value)
