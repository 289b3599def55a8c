"""Probe 31 (2026-12-02): `aam predict` (embed, export-onnx) under torchrun ran
in every process, each writing the same --output (with `--output -` the table
came out twice on standard output, exit 0); a file where a run's checkpoints
folder belongs failed at the first save, after an epoch, as "[Errno 17] File
exists"; and an HDF5 BIOM table with a non-ASCII sample id was refused by
`aam` as a file that "does not appear to be a BIOM file" (biom 2.1.12 decodes
HDF5 ids as ASCII)."""
import biom
import h5py
import pandas as pd
import pytest

from .conftest import aam, refused


# -- 1. commands of one process under torchrun ----------------------------------------

@pytest.mark.parametrize("command, output", [
    ("predict", "-"), ("embed", "e.tsv"), ("export-onnx", "m.onnx")])
def test_a_one_process_command_under_torchrun_is_refused(workspace, model_dir, tmp_path,
                                                         capsys, monkeypatch, command,
                                                         output):
    monkeypatch.setenv("WORLD_SIZE", "2")  # what torchrun sets in each process
    monkeypatch.setenv("RANK", "1")
    table = () if command == "export-onnx" else ("--table", workspace / "table.biom")
    code, text = aam(capsys, command, *table, "--model", model_dir, "--output",
                     output if output == "-" else tmp_path / output)
    refused(text, code, f"aam {command} (process 1): error: aam {command} runs in one "
                        "process, and torchrun started 2: each would do the whole work "
                        f"and write the same output. Run aam {command} without torchrun")
    assert "prediction" not in text  # no table on standard output


# -- 2. a file in the checkpoints folder's place --------------------------------------

def test_a_file_where_the_checkpoints_belong_is_refused_at_once(workspace, tmp_path,
                                                                capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoints").write_text("not a folder\n")
    code, text = aam(capsys, "pretrain", "--table", workspace / "table.biom",
                     "--preset", "tiny", "--epochs", 1, "--batch-size", 8,
                     "--n-threads", 1, "--output-dir", run)
    refused(text, code, f"{run / 'checkpoints'} is a file, not a folder: the run keeps "
                        "its checkpoints in a folder of that name.")
    assert "Errno" not in text and "epoch 1/1" not in text  # before any training


# -- 3. non-ASCII sample ids in an HDF5 BIOM table -------------------------------------

def test_an_hdf5_table_with_non_ascii_ids_is_read(workspace, model_dir, tmp_path, capsys):
    table = biom.load_table(str(workspace / "table.biom"))
    first = table.ids()[0]
    renamed = table.update_ids({i: "ünï-çødé 1" if i == first else i
                                for i in table.ids()}, inplace=False)
    with h5py.File(tmp_path / "t.biom", "w") as handle:
        renamed.to_hdf5(handle, "probe 31")
    code, text = aam(capsys, "predict", "--table", tmp_path / "t.biom", "--model",
                     model_dir, "--output", tmp_path / "p.tsv", "--n-threads", 1)
    assert code == 0, text  # was: "does not appear to be a BIOM file!"
    predictions = pd.read_csv(tmp_path / "p.tsv", sep="\t", index_col=0)
    assert list(predictions.index) == list(renamed.ids())
