"""Probe 32 (2026-12-02): a groups or weights column of another file sharing the
target's name was refused as "the target column itself"; the regress-samples
pipelines refused groups named as the target only after the split and the
pretraining; regress-samples-ncv failed on numeric groups with empty cells
("'<' not supported between instances of 'str' and 'float'"); a file named
`model` in a run folder failed after training under --resume; a checkpoints
folder the run may not write in was blamed on a full disk, after an epoch; two
runs into one --output-dir both "wrote" it; Ctrl-C before the first checkpoint
pointed at checkpoints that did not exist; pretrain's refusals of
nucleotide_epochs said to "leave it at 0", no longer its default."""
import fcntl
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import qiime2

from q2_aam import _examples

from .conftest import aam, artifact_api, refused

TINY = {"preset": "tiny", "epochs": 1, "batch_size": 8, "n_threads": 1}
PRETRAIN = ("pretrain", "--preset", "tiny", "--epochs", 1, "--batch-size", 8,
            "--n-threads", 1)


def _column(name: str, values, kind=qiime2.NumericMetadataColumn):
    ids = pd.Index([str(i) for i in _examples.sample_metadata_factory().ids],
                   name="sample-id")
    return kind(pd.Series(values, index=ids, name=name))


# -- 1. a column of another file that shares the target's name -------------------------

@pytest.mark.parametrize("option", ["groups", "sample_weights"])
def test_a_column_named_as_the_target_with_other_values_is_not_the_target(option):
    from qiime2.plugins import aam as plugin
    ages = _examples.sample_metadata_factory().get_column("age")
    n = ages.to_series().size
    other = (_column("age", [f"household {i // 4}" for i in range(n)],
                     qiime2.CategoricalMetadataColumn) if option == "groups"
             else _column("age", np.linspace(0.5, 2.0, n)))
    parameter = "groups" if option == "groups" else "loss_weights"
    model, = plugin.methods.fit_regressor(  # was: "... is the target column itself"
        table=_examples.table_factory(), metadata=ages, ensemble_size=1,
        **{parameter: other}, **TINY)
    assert model.type == qiime2.sdk.parse_type("AAMModel[AAMRegressor]")


# -- 2. the pipelines refuse groups named as the target before pretraining -------------

def test_regress_samples_refuses_groups_named_as_the_target_before_pretraining(capfd):
    from qiime2.plugins import aam as plugin
    ages = _examples.sample_metadata_factory().get_column("age")
    artifact_api(lambda: plugin.pipelines.regress_samples(
        table=_examples.table_factory(), distance_matrix=_examples.distance_matrix_factory(),
        metadata=ages, groups=ages, ensemble_size=1, **TINY),
        "groups (column 'age') is the target column itself")
    said = capfd.readouterr().err
    assert "Pretraining" not in said and "Test samples" not in said, said


# -- 3. numeric groups with empty cells are dealt into folds ---------------------------

def test_numeric_groups_with_empty_cells_are_dealt_into_folds():
    from aam_core.data.split import cv_folds
    ids = [f"s{i}" for i in range(12)]
    targets = pd.Series(np.arange(12.0), index=ids)
    groups = pd.Series([np.nan, np.nan] + [float(i // 2) for i in range(10)], index=ids)
    folds = cv_folds(targets, 2, 0, groups)  # was: TypeError '<' between str and float
    assert sorted(sum(folds, [])) == sorted(ids)


# -- 4. a file (or a link to nothing) where the run's folders belong -------------------

@pytest.mark.parametrize("name, kind", [("model", "a file"),
                                        ("checkpoints", "a link to nothing")])
def test_a_non_folder_where_a_run_folder_belongs_is_refused_at_once(workspace, tmp_path,
                                                                    capsys, name, kind):
    run = tmp_path / "run"
    run.mkdir()
    if kind == "a file":
        (run / name).write_text("not a folder\n")
    else:
        (run / name).symlink_to(tmp_path / "nowhere")
    code, text = aam(capsys, *PRETRAIN, "--table", workspace / "table.biom",
                     "--output-dir", run, "--resume")
    refused(text, code, f"{run / name} is {kind}, not a folder: the run keeps its {name} "
                        "in a folder of that name.")
    assert "Errno" not in text and "epoch 1/1" not in text  # before any training
    assert not (run / "model.partial").exists()


# -- 5. a checkpoints folder the run may not write in ----------------------------------

def test_an_unwritable_checkpoints_folder_is_refused_at_once(workspace, tmp_path, capsys,
                                                             monkeypatch):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    real = tempfile.TemporaryFile

    def denied(*args, dir=None, **kwargs):  # chmod does not bind root, who runs CI
        if dir is not None and Path(dir).name == "checkpoints":
            raise PermissionError(13, "Permission denied")
        return real(*args, dir=dir, **kwargs)
    monkeypatch.setattr(tempfile, "TemporaryFile", denied)
    code, text = aam(capsys, *PRETRAIN, "--table", workspace / "table.biom",
                     "--output-dir", run)
    refused(text, code, f"{run / 'checkpoints'} is not writable (Permission denied), and "
                        "the run keeps its checkpoints there: make it writable")
    assert "disk" not in text and "epoch 1/1" not in text


# -- 6. two runs into one --output-dir -------------------------------------------------

def test_a_run_into_a_folder_another_run_is_writing_is_refused(workspace, tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    other = os.open(run, os.O_RDONLY)  # what the other run holds: the folder
    try:
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        code, text = aam(capsys, *PRETRAIN, "--table", workspace / "table.biom",
                         "--output-dir", run)
    finally:
        os.close(other)
    refused(text, code, f"{run} is in use: another aam run is writing to it now. Wait for "
                        "that run to end, or choose another --output-dir.")
    assert not (run / "model").exists()


# -- 7. Ctrl-C before the first checkpoint ---------------------------------------------

def test_ctrl_c_before_the_first_checkpoint_says_nothing_was_kept(workspace, tmp_path,
                                                                  capsys, monkeypatch):
    from aam_core import cli

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(cli, "_train_in", interrupt)
    code, text = aam(capsys, *PRETRAIN, "--table", workspace / "table.biom",
                     "--output-dir", tmp_path / "run")
    assert code == 130 and "Traceback" not in text, text
    assert "stopped before its first checkpoint, so nothing was kept: run the same " \
           "command again" in " ".join(text.split()), text
    assert "Continue from the last checkpoint" not in text


# -- 8. nucleotide_epochs refusals name its default ------------------------------------

def test_nucleotide_epochs_refusal_offers_the_default(workspace):
    from qiime2.plugins import aam as plugin
    artifact_api(lambda: plugin.methods.pretrain(
        table=qiime2.Artifact.load(str(workspace / "table.qza")),
        distance_matrix=qiime2.Artifact.load(str(workspace / "distances.qza")),
        nucleotide_epochs=1, **TINY),
        "epochs=1 ends the run first, so it would be ignored: set it below epochs, set it "
        "to 0 (the nucleotide encoder trains every epoch), or leave out nucleotide_epochs "
        "(auto: 3 of every 8 epochs)")
