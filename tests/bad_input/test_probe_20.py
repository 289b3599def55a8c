"""Probe 20 (2026-12-01): the ridge and propagation readouts (one group,
checkpoints, --resume, the pipelines' unlabelled samples, the summary),
`aam tune` of a readout, `aam export-onnx` in the command's spelling, and a
FASTA letter that is not DNA blamed on the length."""

import biom
import h5py
import pandas as pd
import pytest
import qiime2
from qiime2.plugins import aam as plugin

from q2_aam import _examples

from .conftest import aam, artifact_api, qiime, refused, summary_cells

TINY = ["--preset", "tiny", "--epochs", 1, "--ensemble-size", 1, "--batch-size", 8,
        "--n-threads", 1]


def _metadata(folder, groups=None, unlabelled=0):
    """The examples' metadata as a file; `groups`: one group for every sample;
    `unlabelled`: this many of the last samples without an age."""
    frame = _examples.sample_metadata_factory().to_dataframe()
    if groups is not None:
        frame["group"] = groups
    if unlabelled:
        frame = frame.astype({"age": object})
        frame.iloc[-unlabelled:, frame.columns.get_loc("age")] = ""
    path = folder / "metadata.tsv"
    frame.to_csv(path, sep="\t")
    return path


# -- 1. a readout's grouped cross-validation over one group -------------------------

def test_propagation_over_one_group_is_refused(workspace, encoder, capsys, tmp_path):
    """It chose k and calibrated the intervals on folds of single samples (one
    subject on both sides) and logged 'chosen by grouped cross-validation'."""
    code, output = aam(capsys, "fit-regressor", "--table", workspace / "table.biom",
                       "--metadata", _metadata(tmp_path, "g", unlabelled=4),
                       "--target", "age", "--groups", "group", "--pretrained", encoder,
                       "--readout", "propagation", "--n-threads", 1,
                       "--output-dir", tmp_path / "fit")
    refused(output, code, "--readout propagation chooses its neighbours and calibrates "
            "its intervals by grouped cross-validation, but all 12 labelled samples "
            "belong to one group (--groups)")
    assert not (tmp_path / "fit" / "model").exists()


def test_ridge_over_one_group_is_refused_in_python(encoder_qza):
    """validation_fraction 0 (as the validation split's refusal advises) gave
    the ridge readout folds of single samples."""
    metadata = _examples.sample_metadata_factory().to_dataframe().assign(group="g")
    metadata = qiime2.Metadata(metadata)
    artifact_api(lambda: plugin.methods.fit_regressor(
        table=_examples.table_factory(), metadata=metadata.get_column("age"),
        groups=metadata.get_column("group"), pretrained_model=qiime2.Artifact.load(
            str(encoder_qza)), readout="ridge", validation_fraction=0.0, n_threads=1),
        "readout='ridge' chooses its penalty by grouped cross-validation, but all 16 "
        "labelled samples belong to one group (groups)")


def test_propagation_over_one_group_is_refused_in_q2cli(workspace, encoder_qza, tmp_path):
    code, output = qiime("aam", "fit-regressor", "--i-table", workspace / "table.qza",
                         "--i-pretrained-model", encoder_qza,
                         "--m-metadata-file", _metadata(tmp_path, "g", unlabelled=4),
                         "--m-metadata-column", "age",
                         "--m-groups-file", tmp_path / "metadata.tsv",
                         "--m-groups-column", "group", "--p-readout", "propagation",
                         "--p-n-threads", 1, "--o-model", tmp_path / "model.qza")
    refused(output, code, "all 12 labelled samples belong to one group "
            "(--m-groups-file)")


# -- 2. what summarize says applied to a propagation model --------------------------

def test_summary_of_a_propagation_model_lists_no_unused_setting(encoder_qza, tmp_path):
    """validation_fraction, loss and head_dropout were listed as applied."""
    metadata = qiime2.Metadata(_examples.sample_metadata_factory().to_dataframe())
    model, = plugin.methods.fit_regressor(
        table=_examples.table_factory(), metadata=metadata.get_column("age"),
        pretrained_model=qiime2.Artifact.load(str(encoder_qza)), readout="propagation",
        n_threads=1)
    cells = summary_cells(model, tmp_path)
    assert "readout" in cells and "propagation" in cells, cells
    # the loss by its value: 'loss' also names a row of the final metrics
    for unused in ("validation_fraction", "huber", "head_dropout"):
        assert unused not in cells, unused


# -- 3. the pipelines keep the propagation readout's unlabelled samples -------------

def test_regress_samples_keeps_the_unlabelled_samples_for_propagation(encoder_qza,
                                                                     tmp_path):
    """The pipeline dropped the samples without a target before the fit, so
    the labels spread over the labelled ones alone, and the log told the
    user to add the unlabelled samples, which were in the table."""
    metadata = qiime2.Metadata.load(str(_metadata(tmp_path, unlabelled=4)))
    results = plugin.pipelines.regress_samples(
        table=_examples.table_factory(), metadata=metadata.get_column("age"),
        pretrained_model=qiime2.Artifact.load(str(encoder_qza)), readout="propagation",
        test_size=0.25, n_threads=1, batch_size=8)
    from aam_core.bundle import ModelBundle
    config = results.model.view(ModelBundle).config
    tested = len(results.predictions.view(pd.Series))
    # the fit's nodes: the labelled samples the test split left, and the 4
    assert config["architecture"]["neighbour_nodes"] == 12 - tested + 4


# -- 4. checkpoints and --resume of a run that trains no network --------------------

def test_checkpoint_every_with_a_readout_is_refused(workspace, encoder, capsys, tmp_path):
    code, output = aam(capsys, "fit-regressor", "--table", workspace / "table.biom",
                       "--metadata", _metadata(tmp_path), "--target", "age",
                       "--pretrained", encoder, "--readout", "ridge",
                       "--checkpoint-every", 5, "--n-threads", 1,
                       "--output-dir", tmp_path / "fit")
    refused(output, code, "--readout ridge trains no network, so it writes no checkpoints "
            "and --checkpoint-every 5 would be ignored")


def test_checkpoint_every_with_the_default_readout_fine_tunes(workspace, encoder, capsys,
                                                              tmp_path):
    """readout 'auto' would read the encoder out by ridge, which writes no
    checkpoints: asking for checkpoints asks for gradient training."""
    code, output = aam(capsys, "fit-regressor", "--table", workspace / "table.biom",
                       "--metadata", _metadata(tmp_path), "--target", "age",
                       "--pretrained", encoder, "--checkpoint-every", 1,
                       "--ensemble-size", 1, "--n-threads", 1,
                       "--output-dir", tmp_path / "fit")
    assert code == 0, output
    config = (tmp_path / "fit" / "model" / "config.json").read_text()
    assert '"readout": "fine_tune"' in config


def test_resume_of_a_finished_readout_run_compares_its_settings(workspace, encoder, capsys,
                                                                tmp_path):
    """--resume found no checkpoint, started afresh with --random-state 3 and
    overwrote the finished model, exit 0."""
    fit = ["fit-regressor", "--table", workspace / "table.biom",
           "--metadata", _metadata(tmp_path), "--target", "age", "--pretrained", encoder,
           "--readout", "ridge", "--n-threads", 1, "--output-dir", tmp_path / "fit"]
    code, output = aam(capsys, *fit)
    assert code == 0, output
    weights = (tmp_path / "fit" / "model" / "model.pt").read_bytes()
    code, output = aam(capsys, *fit, "--resume", "--random-state", 3)
    refused(output, code, "belongs to a run with other settings or data "
            "(--random-state 0 -> 3)")
    code, output = aam(capsys, *fit, "--resume")
    assert code == 0 and "has finished" in output, output
    assert (tmp_path / "fit" / "model" / "model.pt").read_bytes() == weights


# -- 5. aam tune of a readout that trains no network --------------------------------

def test_tune_of_a_readout_is_refused_before_any_trial(workspace, encoder, capsys,
                                                       tmp_path, monkeypatch):
    """Each trial was refused for a drawn epochs=50 ('leave it at its
    default'), an option the user never set. The refusal comes before
    optuna is used, so the row runs without it."""
    from aam_core import tune
    monkeypatch.setattr(tune, "require_optuna", lambda: None)
    (tmp_path / "fixed.json").write_text('{"preset": "tiny", "readout": "propagation"}')
    code, output = aam(capsys, "tune", "--table", workspace / "table.biom",
                       "--metadata", _metadata(tmp_path), "--target", "age",
                       "--pretrained", encoder, "--settings", tmp_path / "fixed.json",
                       "--study", tmp_path / "study.db", "--output", tmp_path / "best.json")
    refused(output, code, "aam tune searches options of gradient training")
    refused(output, code, "which readout 'propagation' does not use")
    assert not (tmp_path / "study.db").exists()


# -- 6. the aam command's spelling in export-onnx -----------------------------------

def test_export_onnx_names_normalise_by_as_the_command_spells_it(workspace, capsys,
                                                                tmp_path):
    code, output = aam(capsys, "fit-regressor", "--table", workspace / "table.biom",
                       "--metadata", _metadata(tmp_path), "--target", "age",
                       "--normalise-by", "site", *TINY, "--output-dir", tmp_path / "fit")
    assert code == 0, output
    code, output = aam(capsys, "export-onnx", tmp_path / "fit" / "model",
                       "--output", tmp_path / "model.onnx")
    refused(output, code, "export a model fitted without --normalise-by.")


# -- 7. a FASTA letter that is not DNA, at the end of a read ------------------------

def test_a_letter_past_the_models_length_is_named_as_not_dna(workspace, capsys, tmp_path):
    """'*' after a read of the model's length was 'longer than N nt ... fit a
    model with --max-length N+1', which then refuses the '*'."""
    table = biom.load_table(str(workspace / "table.biom"))
    sequences = list(table.ids(axis="observation"))
    ids = [f"asv{i}" for i in range(len(sequences))]
    renamed = biom.Table(table.matrix_data, ids, table.ids())
    with h5py.File(tmp_path / "table.biom", "w") as handle:
        renamed.to_hdf5(handle, "probe 20")
    (tmp_path / "good.fa").write_text("".join(f">{i}\n{s}\n" for i, s in zip(ids, sequences)))
    code, output = aam(capsys, "fit-regressor", "--table", tmp_path / "table.biom",
                       "--sequences", tmp_path / "good.fa", "--metadata", _metadata(tmp_path),
                       "--target", "age", *TINY, "--output-dir", tmp_path / "fit")
    assert code == 0, output
    longest = max(range(len(ids)), key=lambda i: len(sequences[i]))
    (tmp_path / "star.fa").write_text("".join(
        f">{i}\n{s}{'*' if n == longest else ''}\n"
        for n, (i, s) in enumerate(zip(ids, sequences))))
    code, output = aam(capsys, "predict", "--model", tmp_path / "fit" / "model",
                       "--table", tmp_path / "table.biom", "--sequences", tmp_path / "star.fa",
                       "--n-threads", 1, "--output", tmp_path / "predictions.tsv")
    refused(output, code, f"1 sequence(s) contain characters that are not DNA (A C G T U "
            f"or IUPAC codes): '{ids[longest]}' (has '*' at position "
            f"{len(sequences[longest]) + 1})")


# -- 8. the library's blend of a weight of 0 or below ----------------------------

@pytest.mark.parametrize("weights", [[1.0, -1.0], [0.0, 0.0]])
def test_blend_weights_at_or_below_zero_are_refused(weights):
    """Every blended value came back nan, without a word (the actions'
    Range refuses them; the library did not)."""
    from aam_core.blend import blend
    ids = ["a", "b", "c"]
    artifact_api(lambda: blend([pd.Series([1.0, 2.0, 3.0], index=ids),
                                pd.Series([3.0, 3.0, 3.0], index=ids)], weights),
                 f"weights must be above 0, not {weights}")


# -- 9. a classifier of measurements ---------------------------------------------

def test_a_classifier_of_decimal_numbers_is_refused(workspace, capsys, tmp_path):
    """`aam fit-classifier --target age` (ages written 20.0, 56.0) trained a
    classifier of 16 classes, exit 0, where QIIME 2 reads the column as
    numeric and its fit-classifier refuses it (class codes 0/1 still pass)."""
    code, output = aam(capsys, "fit-classifier", "--table", workspace / "table.biom",
                       "--metadata", _metadata(tmp_path), "--target", "age", *TINY,
                       "--output-dir", tmp_path / "fit")
    refused(output, code, "The target column 'age' holds numbers such as")
    refused(output, code, "a classifier would make each value a class of its own: fit a "
            "regressor")


# -- left by probe 20, fixed after it -------------------------------------------

def test_blend_takes_one_number_as_one_weight_and_refuses_other_things():
    """One number was a bare TypeError ('float' has no len())."""
    from aam_core.blend import blend
    ids = ["a", "b"]
    sets = [pd.Series([1.0, 2.0], index=ids), pd.Series([3.0, 4.0], index=ids)]
    assert blend(sets, 0.5).tolist() == [2.0, 3.0]
    artifact_api(lambda: blend(sets, None), "weights must be a list of numbers")


def test_a_run_folder_given_as_the_model_points_to_its_model(workspace, encoder, capsys,
                                                             tmp_path):
    """`aam predict --model RUN` said only that RUN has no config.json."""
    fit = ["fit-regressor", "--table", workspace / "table.biom", "--metadata",
           _metadata(tmp_path), "--target", "age", "--pretrained", encoder,
           "--n-threads", 1, "--output-dir", tmp_path / "fit"]
    code, output = aam(capsys, *fit)
    assert code == 0, output
    code, output = aam(capsys, "predict", "--table", workspace / "table.biom", "--model",
                       tmp_path / "fit", "--output", tmp_path / "p.tsv", "--n-threads", 1)
    refused(output, code, f"It holds one in {tmp_path / 'fit' / 'model'}: give that folder")
