"""Probe 26 (2026-12-02): the pipelines' test splits and folds over few
groups (one group, a group that the test split takes whole, samples
without a group, the ridge and propagation readouts' grouped
cross-validation), the ridge readout with loss weights in one inner fold,
and the log of a model of one quantile."""
import pandas as pd
import pytest
import qiime2
from qiime2.plugins import aam as plugin

from q2_aam import _examples

from .conftest import aam, artifact_api, qiime, refused

TINY = dict(preset="tiny", epochs=1, batch_size=8, n_threads=1, ensemble_size=1)
READOUT = dict(preset="tiny", n_threads=1, ensemble_size=1)


def _ids():
    return [str(i) for i in _examples.sample_metadata_factory().ids]


def _groups(values):
    """A groups column of these values, one per example sample (None: the
    sample is left out of the groups metadata)."""
    named = {i: v for i, v in zip(_ids(), values) if v is not None}
    frame = pd.DataFrame({"subject": list(named.values())},
                         index=pd.Index(list(named), name="sample-id"))
    return qiime2.Metadata(frame).get_column("subject")


def _column(name):
    return _examples.sample_metadata_factory().get_column(name)


# -- 1. one subject: no test_size can split it ---------------------------------------

@pytest.mark.parametrize("pipeline, target, values, fragment", [
    ("regress_samples", "age", ["x"] * 16, "All 16 samples belong to one group (groups)"),
    ("regress_samples", "age", ["x"] * 15 + ["y"], "15 of the 16 samples belong to one "
     "group (groups)"),
    ("classify_samples", "label", ["x"] * 16, "All 16 samples belong to one group (groups)"),
])
def test_one_group_is_not_told_to_change_test_size(pipeline, target, values, fragment):
    """It was 'The split leaves 16 training and 0 test samples ... or change
    test_size', which no test_size could do."""
    action = getattr(plugin.pipelines, pipeline)
    artifact_api(lambda: action(table=_examples.table_factory(), metadata=_column(target),
                                groups=_groups(values), **TINY),
                 f"{fragment}, and a group goes whole to one side of the test split, so "
                 "no test_size leaves at least 4 training and 2 test samples")


def test_q2cli_names_the_groups_input(tmp_path):
    (tmp_path / "md.tsv").write_text("sample-id\tage\tsubject\n" + "".join(
        f"{i}\t{a}\tx\n" for i, a in zip(_ids(), range(16))))
    _examples.table_factory().save(str(tmp_path / "table.qza"))
    code, output = qiime("aam", "regress-samples", "--i-table", tmp_path / "table.qza",
                         "--m-metadata-file", tmp_path / "md.tsv", "--m-metadata-column",
                         "age", "--m-groups-file", tmp_path / "md.tsv",
                         "--m-groups-column", "subject", "--p-preset", "tiny",
                         "--output-dir", tmp_path / "out")
    refused(output, code, "belong to one group (--m-groups-file), and a group goes whole "
            "to one side of the test split, so no --p-test-size leaves")


# -- 2. what the test split leaves: advice that can help --------------------------------

@pytest.mark.parametrize("values, options, fragment", [
    (["x"] * 8 + ["y"] * 8, {}, "All 8 samples left to train on belong to one group"),
    ([f"g{i % 4}" for i in range(16)], dict(ensemble_size=5, ensemble_validation="folds"),
     "deals the groups into ensemble_size=5 folds, but there are only 3 groups"),
])
def test_a_test_split_of_one_group_is_not_told_to_shrink(values, options, fragment):
    """Two groups: the test split takes one whole and leaves one to fit on.
    It said '... to fit on, too few: ... Lower test_size first.', though 8
    samples are not too few and no test_size leaves two groups."""
    with pytest.raises(Exception) as info:
        plugin.pipelines.regress_samples(table=_examples.table_factory(),
                                         metadata=_column("age"), groups=_groups(values),
                                         **{**TINY, **options})
    message = " ".join(str(info.value).split())
    assert fragment in message, message
    assert "The test split holds one group, the fewest it can, so a lower test_size " \
        "would not help." in message, message
    assert "too few" not in message and "Lower test_size" not in message, message


@pytest.mark.parametrize("pipeline, readout, options, fragment", [
    ("regress_samples", "ridge", dict(validation_fraction=0.0),
     "test_size=0.2 leaves 8 of the 16 samples to fit on: all 8 belong to one group "
     "(groups), and readout='ridge' chooses its penalty by grouped cross-validation"),
    ("regress_samples_ncv", "propagation", dict(cv=2),
     "Fold 1 of cv=2 is predicted by a model fitted on the other folds' 8 samples, which "
     "cannot be split for its validation: all 8 belong to one group (groups), and "
     "readout='propagation' chooses its neighbours"),
])
def test_a_readout_over_one_group_is_said_as_the_splits_doing(encoder_qza, pipeline,
                                                              readout, options, fragment):
    """It came from inside the fit (after any pretraining): 'all 8 labelled
    samples belong to one group ... or leave out groups to cross-validate
    by sample', which in a pipeline would let the subject cross the split."""
    action = getattr(plugin.pipelines, pipeline)
    artifact_api(lambda: action(
        table=_examples.table_factory(), metadata=_column("age"),
        groups=_groups(["x"] * 8 + ["y"] * 8), readout=readout,
        pretrained_model=qiime2.Artifact.load(str(encoder_qza)), **READOUT, **options),
        fragment)


# -- 3. samples without a group are groups of their own, as in the fit ------------------

def test_a_fold_of_samples_without_a_group_is_fitted(encoder_qza):
    """Groups of two samples only, cv 2: the fold that holds them left 8
    samples without a group, read as one group 'nan' and refused ('All 8
    samples left to train on belong to one group'); the fit makes each its
    own group."""
    predictions, *_ = plugin.pipelines.regress_samples_ncv(
        table=_examples.table_factory(), metadata=_column("age"),
        groups=_groups(["x", "x"] + [None] * 14), cv=2, readout="ridge",
        pretrained_model=qiime2.Artifact.load(str(encoder_qza)), **READOUT)
    assert len(predictions.view(pd.Series)) == 16


def test_groups_of_none_of_the_samples_are_refused_before_the_split():
    frame = pd.DataFrame({"subject": ["x", "y"]}, index=pd.Index(["Z1", "Z2"], name="id"))
    artifact_api(lambda: plugin.pipelines.regress_samples(
        table=_examples.table_factory(), metadata=_column("age"),
        groups=qiime2.Metadata(frame).get_column("subject"), **TINY),
        "None of the 16 samples is in the groups (ids there: e.g. Z1, Z2")


# -- 4. the ridge readout with every weighted sample in one inner fold -------------------

def _weights_metadata(path):
    frame = _examples.sample_metadata_factory().to_dataframe()
    frame["w"] = [1.0] + [0.0] * 15
    frame.to_csv(path, sep="\t")
    return path


def test_ridge_with_loss_weights_in_one_fold_is_refused(workspace, encoder, capsys,
                                                        tmp_path):
    """One sample of weight above 0: the other inner folds fit on weight 0,
    and the penalty search ended in numpy's 'zero-size array to reduction
    operation maximum which has no identity'."""
    code, output = aam(capsys, "fit-regressor", "--table", workspace / "table.biom",
                       "--metadata", _weights_metadata(tmp_path / "md.tsv"), "--target",
                       "age", "--pretrained", encoder, "--readout", "ridge",
                       "--loss-weights", "w", "--validation-fraction", 0,
                       "--ensemble-size", 1, "--n-threads", 1,
                       "--output-dir", tmp_path / "fit")
    refused(output, code, "--readout ridge chooses its penalty by grouped "
            "cross-validation, but every training sample with a loss weight above 0 "
            "(1 of 16, --loss-weights) falls in one of its 5 folds")
    assert "zero-size" not in output


def test_ridge_with_loss_weights_in_one_fold_through_the_artifact_api(encoder_qza,
                                                                     tmp_path):
    weights = qiime2.Metadata.load(str(_weights_metadata(tmp_path / "md.tsv")))
    artifact_api(lambda: plugin.methods.fit_regressor(
        table=_examples.table_factory(), metadata=_column("age"),
        loss_weights=weights.get_column("w"), readout="ridge", validation_fraction=0.0,
        pretrained_model=qiime2.Artifact.load(str(encoder_qza)), **READOUT),
        "(1 of 16, loss_weights) falls in one of its 5 folds, so the others would fit "
        "on nothing: give more samples (of more groups) a weight above 0, or use "
        "readout='fine_tune'.")


# -- 5. borderline, mended: the log of a model of one quantile ---------------------------

def test_one_quantile_is_not_logged_as_a_calibrated_interval(workspace, encoder, capsys,
                                                            tmp_path):
    """It logged 'Intervals calibrated on 16 out-of-fold predictions: 0%
    margin 41.6' for an interval that prediction refuses."""
    code, output = aam(capsys, "fit-regressor", "--table", workspace / "table.biom",
                       "--metadata", _weights_metadata(tmp_path / "md.tsv"), "--target",
                       "age", "--pretrained", encoder, "--readout", "ridge", "--loss",
                       "quantile", "--quantiles", 0.5, "--n-threads", 1,
                       "--output-dir", tmp_path / "fit")
    assert code == 0, output
    assert "No intervals: the model predicts one quantile (0.5)" in output, output
    assert "0% margin" not in output, output


# -- 6. samples with a target that the rarefaction depth dropped --------------------------

def _six_labelled(path):
    """Ages of six samples only, four of them (S02, S07, S08, S09) with
    fewer than 45 reads."""
    frame = _examples.sample_metadata_factory().to_dataframe()[["age"]]
    frame.loc[~frame.index.isin(["S07", "S09", "S08", "S02", "S13", "S01"]), "age"] = None
    frame.to_csv(path, sep="\t")
    return path


def test_targets_rarefied_away_name_the_depth(tmp_path):
    """It said only 'Only 2 sample(s) have both counts and a target', the
    depth's log line hidden without --verbose: all six have counts."""
    metadata = qiime2.Metadata.load(str(_six_labelled(tmp_path / "md.tsv")))
    artifact_api(lambda: plugin.methods.fit_regressor(
        table=_examples.table_factory(), metadata=metadata.get_column("age"),
        rarefaction_depth=45, **TINY),
        "Only 2 sample(s) have both counts and a target; a regressor needs at least 4. "
        "rarefaction_depth=45 dropped 4 more that have one")


def test_q2cli_names_the_depth_that_dropped_the_targets(tmp_path):
    _examples.table_factory().save(str(tmp_path / "table.qza"))
    code, output = qiime("aam", "fit-regressor", "--i-table", tmp_path / "table.qza",
                         "--m-metadata-file", _six_labelled(tmp_path / "md.tsv"),
                         "--m-metadata-column", "age", "--p-rarefaction-depth", 45,
                         "--p-preset", "tiny", "--o-model", tmp_path / "model.qza")
    refused(output, code, "--p-rarefaction-depth 45 dropped 4 more that have one")
