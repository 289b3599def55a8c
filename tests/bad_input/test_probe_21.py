"""Probe 21 (2026-12-01): readout 'auto' (the default) and what it resolves
to on the three interfaces: several processes in the caller's words, an
interrupted fine-tuning resumed (not replaced by a ridge readout), and the
reason said when checkpoints make it fine-tune."""
import json

import pytest
import qiime2

from q2_aam import _examples

from .conftest import aam, artifact_api, qiime, refused, summary_cells


@pytest.fixture
def metadata(tmp_path):
    path = tmp_path / "metadata.tsv"
    _examples.sample_metadata_factory().to_dataframe().to_csv(path, sep="\t")
    return path


def _readout(run) -> str:
    return json.loads((run / "model" / "config.json").read_text())["training"]["readout"]


def _interrupted_run(capsys, fit: list, run) -> None:
    """A run of readout 'auto' fine-tuned with checkpoints, its last.json set
    back to unfinished as an interruption leaves it (last.pt in place)."""
    code, output = aam(capsys, *fit, "--checkpoint-every", 1)
    assert code == 0, output
    record = run / "checkpoints" / "last.json"
    info = json.loads(record.read_text())
    assert (run / "checkpoints" / "last.pt").is_file()
    record.write_text(json.dumps({**info, "finished": False, "stopped": False}))


# -- 1. --resume of an interrupted fine-tuning with readout 'auto' ------------------

def test_resume_of_an_interrupted_auto_run_fine_tunes_on(workspace, encoder, metadata,
                                                         capsys, tmp_path):
    """--checkpoint-every made 'auto' fine-tune; the resume (without it, as a
    resume needs no new checkpoint interval) resolved 'auto' to the ridge
    readout, threw the checkpointed fine-tuning away and wrote a ridge model,
    exit 0."""
    run = tmp_path / "fit"
    fit = ["fit-regressor", "--table", workspace / "table.biom", "--metadata", metadata,
           "--target", "age", "--pretrained", encoder, "--ensemble-size", 1,
           "--n-threads", 1, "--output-dir", run]
    _interrupted_run(capsys, fit, run)
    code, output = aam(capsys, *fit, "--resume")
    assert code == 0, output
    assert "--readout auto: fine-tuning, not the ridge readout: --resume continues the " \
           "fine-tuning checkpointed in" in output, output
    assert "Resumed from" in output, output
    assert _readout(run) == "fine_tune"


def test_resume_of_an_interrupted_run_with_another_readout_is_refused(
        workspace, encoder, metadata, capsys, tmp_path):
    """--resume --readout ridge over an interrupted fine-tuning loaded no
    checkpoint, so no setting was compared: it wrote a ridge model over the
    run, exit 0."""
    run = tmp_path / "fit"
    fit = ["fit-regressor", "--table", workspace / "table.biom", "--metadata", metadata,
           "--target", "age", "--pretrained", encoder, "--ensemble-size", 1,
           "--n-threads", 1, "--output-dir", run]
    _interrupted_run(capsys, fit, run)
    weights = (run / "model" / "model.pt").read_bytes()
    code, output = aam(capsys, *fit, "--resume", "--readout", "ridge")
    refused(output, code, "belongs to a run with other settings or data "
            "(--readout 'auto' -> 'ridge')")
    assert (run / "model" / "model.pt").read_bytes() == weights


# -- 2. why 'auto' fine-tunes, in the caller's words -------------------------------

def test_checkpoint_every_says_why_auto_fine_tunes(workspace, encoder, metadata, capsys,
                                                   tmp_path):
    """'auto' turned to fine-tuning for --checkpoint-every without a word,
    where every other reason is said."""
    code, output = aam(capsys, "fit-regressor", "--table", workspace / "table.biom",
                       "--metadata", metadata, "--target", "age", "--pretrained", encoder,
                       "--checkpoint-every", 1, "--ensemble-size", 1, "--epochs", 1,
                       "--n-threads", 1, "--output-dir", tmp_path / "fit")
    assert code == 0, output
    assert "--readout auto: fine-tuning, not the ridge readout: --checkpoint-every 1 " \
           "asks for checkpoints, which only gradient training writes." in output, output


def test_n_devices_with_auto_is_said_in_q2cli_words(workspace, encoder_qza, metadata,
                                                    tmp_path):
    """q2cli --p-n-devices 2: 'auto' fine-tuned 'because torchrun started 2
    processes: run it without torchrun', a launcher the user never used."""
    code, output = qiime("aam", "fit-regressor", "--i-table", workspace / "table.qza",
                         "--i-pretrained-model", encoder_qza,
                         "--m-metadata-file", metadata, "--m-metadata-column", "age",
                         "--p-n-devices", 2, "--p-n-threads", 2, "--p-device", "cpu",
                         "--p-ensemble-size", 1, "--p-batch-size", 8,
                         "--o-model", tmp_path / "model.qza", "--verbose", process=True)
    assert code == 0, output
    assert "torchrun" not in output, output
    assert "--p-readout auto: fine-tuning, not the ridge readout, which says: " \
           "--p-readout ridge solves its head in closed form in one process, so " \
           "--p-n-devices 2 would be ignored" in output, output


# -- 3. a tracked run of the default readout ---------------------------------------

@pytest.mark.parametrize("readout", ["auto", "propagation"])
def test_a_readout_run_reports_its_metrics_to_the_tracker(workspace, encoder, metadata,
                                                         capsys, tmp_path, monkeypatch,
                                                         readout):
    """--tensorboard (or --mlflow-uri) with the default readout, now ridge
    where a pretrained encoder is given: the run logged the options and the
    validation plot but no metric at all (the readouts skipped the tracker's
    epoch), where the same command fine-tuning logged every epoch's."""
    from aam_core import tracking

    class Recorder(tracking.Tracker):
        records = []

        def epoch(self, record):
            self.records.append(record)
    monkeypatch.setattr(tracking, "open_tracker", lambda *args: Recorder())
    code, output = aam(capsys, "fit-regressor", "--table", workspace / "table.biom",
                       "--metadata", metadata, "--target", "age", "--pretrained", encoder,
                       "--readout", readout, "--n-threads", 1,
                       *(["--ensemble-size", 2] if readout == "auto" else []),
                       "--output-dir", tmp_path / "fit")
    assert code == 0, output
    assert len(Recorder.records) == (2 if readout == "auto" else 1), Recorder.records
    assert all("train_mae" in record for record in Recorder.records), Recorder.records


# -- 4. loss weights read out by the ridge readout ----------------------------------

def _weighted(folder, weights: list):
    frame = _examples.sample_metadata_factory().to_dataframe()
    frame["weight"] = weights + [1.0] * (len(frame) - len(weights))
    path = folder / "weighted.tsv"
    frame.to_csv(path, sep="\t")
    return path


def _fit_weighted(capsys, workspace, encoder, tmp_path, weights: list):
    """aam fit-regressor from the encoder, the first samples weighing `weights`."""
    return aam(capsys, "fit-regressor", "--table", workspace / "table.biom",
               "--metadata", _weighted(tmp_path, weights), "--target", "age",
               "--loss-weights", "weight", "--pretrained", encoder, "--ensemble-size", 1,
               "--n-threads", 1, "--output-dir", tmp_path / "fit")


def test_ridge_with_samples_of_weight_0_fits(workspace, encoder, capsys, tmp_path):
    """Loss weights of 0 on most samples (allowed: some training samples
    weigh more than 0) left an inner fold of weight 0: the default readout
    ended in a ZeroDivisionError traceback."""
    code, output = _fit_weighted(capsys, workspace, encoder, tmp_path, [0.0] * 12)
    assert code == 0, output
    assert _readout(tmp_path / "fit") == "ridge"


def test_huge_loss_weights_give_a_model_not_nan(workspace, encoder, capsys, tmp_path):
    """Loss weights of 1e300 (finite, so accepted) overflowed the float32
    weights into inf: the ridge readout wrote a model that predicts nan
    (empty predictions), exit 0; fine-tuning stopped on a nan loss. Only
    the weights' ratios count."""
    code, output = _fit_weighted(capsys, workspace, encoder, tmp_path, [1e300] * 16)
    assert code == 0, output
    code, output = aam(capsys, "predict", "--table", workspace / "table.biom",
                       "--model", tmp_path / "fit" / "model", "--n-threads", 1,
                       "--output", tmp_path / "predictions.tsv")
    assert code == 0, output
    import pandas as pd
    predictions = pd.read_csv(tmp_path / "predictions.tsv", sep="\t", index_col=0)
    assert predictions["prediction"].notna().all(), predictions


def test_a_member_without_weighted_training_samples_is_refused(encoder):
    """One sample of weight above 0 and ensemble_validation 'folds': the
    member that validates on it trained on samples of weight 0 only; the
    ridge readout gave it a head of nan (intervals 'margin nan'), exit 0."""
    from qiime2.plugins import aam as plugin
    frame = _examples.sample_metadata_factory().to_dataframe()
    frame["weight"] = [1.0] + [0.0] * (len(frame) - 1)
    metadata = qiime2.Metadata(frame)
    encoder = qiime2.Artifact.import_data("AAMModel[AAMEncoder]", str(encoder))
    artifact_api(lambda: plugin.methods.fit_regressor(
        table=_examples.table_factory(), metadata=metadata.get_column("age"),
        loss_weights=metadata.get_column("weight"), pretrained_model=encoder,
        ensemble_size=2, ensemble_validation="folds", n_threads=1),
        "all have loss weight 0 (loss_weights): their validation split holds every "
        "sample of weight above 0, so they would learn nothing")


# -- 5. what summarize says applied to a ridge model --------------------------------

def test_summary_of_a_ridge_model_lists_no_huber_loss(encoder, tmp_path):
    """The default readout, ridge, fits least squares, reading the default
    loss 'huber' as 'mse'; summarize listed 'loss huber' among the settings
    that applied to the model."""
    import re
    import zipfile
    from qiime2.plugins import aam as plugin
    metadata = qiime2.Metadata(_examples.sample_metadata_factory().to_dataframe())
    model, = plugin.methods.fit_regressor(
        table=_examples.table_factory(), metadata=metadata.get_column("age"),
        pretrained_model=qiime2.Artifact.import_data("AAMModel[AAMEncoder]", str(encoder)),
        ensemble_size=1, n_threads=1)
    cells = summary_cells(model, tmp_path)
    assert "ridge" in cells and "huber" not in cells, cells
