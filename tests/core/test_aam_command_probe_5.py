"""Probe 5 (2026-11-30), the `aam` command: metadata read as QIIME 2 reads
it ('NA', 'None', 'null' are values, the spaces around cells do not count),
an --output that is an input, a --study that is another program's database,
a tune with nothing to search, --resume of a finished run with other
settings, the meaning of --checkpoint-every 0, and a YAML number read as
text. Each row failed before its fix (a misleading message, or exit 0).

It lives in tests/core, not tests/bad_input (whose conftest imports QIIME 2),
so that the rows of `aam tune` run in .venv-newest, where optuna is.
"""
import importlib.util
import json
import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from aam_core import cli
from tests.conftest import REPO, overridden, write_example_table

EXAMPLE = REPO / "examples" / "oral-age-mini"
RUN = ["--preset", "tiny", "--epochs", 1, "--ensemble-size", 1, "--batch-size", 8,
       "--n-threads", 1, "--device", "cpu"]
needs_optuna = pytest.mark.skipif(importlib.util.find_spec("optuna") is None,
                                  reason="optuna is not installed")


# -- the command and its data --------------------------------------------------

def aam(capsys, *arguments):
    """(exit status, what it printed) of the `aam` command in this process."""
    try:
        code = cli.main([str(a) for a in arguments])
    except SystemExit as exit:  # argparse: usage or --help
        code = exit.code
    captured = capsys.readouterr()
    return code, captured.err + captured.out


def refused(output: str, code: int, fragment: str) -> None:
    """One line, no traceback, not exit 0, and the fragment."""
    assert code != 0, f"exit 0 on bad input:\n{output}"
    assert "Traceback" not in output, output
    assert " ".join(fragment.split()) in " ".join(output.split()), output
    assert len(output.strip().splitlines()) == 1, output


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """24 example samples (real BIOM) and their metadata (real TSV)."""
    folder = tmp_path_factory.mktemp("probe-5-aam")
    ids = write_example_table(folder, 24)
    metadata = pd.read_csv(EXAMPLE / "metadata.tsv", sep="\t", index_col=0, dtype=str)
    metadata.loc[ids, ["age", "group"]].to_csv(folder / "md.tsv", sep="\t")
    return folder


def with_column(files, folder, name: str, values) -> Path:
    """The metadata with a column `name` of these values, written as text."""
    metadata = pd.read_csv(files / "md.tsv", sep="\t", index_col=0, dtype=str,
                           keep_default_na=False)
    metadata[name] = list(values)
    metadata.to_csv(folder / "m.tsv", sep="\t")
    return folder / "m.tsv"


def fit(capsys, files, kind: str, metadata, target: str, run, *more):
    return aam(capsys, f"fit-{kind}", *overridden([
        "--table", files / "table.biom", "--metadata", metadata, "--target", target,
        "--output-dir", run, *RUN], more))


def class_labels(run) -> list:
    return json.loads((run / "model" / "config.json").read_text())["class_labels"]


def fitting_line(output: str) -> str:
    return next(line for line in output.splitlines() if line.startswith("Fitting"))


# -- 190, 193, 192, 92: metadata as QIIME 2 reads it ----------------------------

@pytest.mark.parametrize("classes", [("NA", "EU"), ("NA", "EU", "AS")],
                         ids=["190-two-classes", "193-three-classes"])
def test_na_is_a_class_as_in_qiime2(classes, files, tmp_path, capsys):
    metadata = with_column(files, tmp_path, "region",
                           [classes[i % len(classes)] for i in range(24)])
    code, output = fit(capsys, files, "classifier", metadata, "region", tmp_path / "run")
    assert code == 0, output
    assert "no target value" not in output  # no sample dropped
    assert class_labels(tmp_path / "run") == sorted(classes)


def test_groups_named_none_and_null_are_two_groups_192(files, tmp_path, capsys):
    outputs = []
    for names in (("None", "null"), ("A", "B")):
        metadata = with_column(files, tmp_path, "subject",
                               [names[i % 2] for i in range(24)])
        code, output = fit(capsys, files, "regressor", metadata, "age",
                           tmp_path / names[0], "--groups", "subject")
        assert code == 0, output
        outputs.append(fitting_line(output))
    assert outputs[0] == outputs[1]  # 12 and 12, not 24 groups of one
    assert "(12 for validation, grouped)" in outputs[0]


def test_spaces_around_cells_do_not_count_92(files, tmp_path, capsys):
    values = ["young " if i < 5 else " old" if i < 10 else ["young", "old"][i % 2]
              for i in range(24)]
    metadata = with_column(files, tmp_path, "agegroup", values)
    text = metadata.read_text().splitlines()
    text[2] = " " + text[2].replace("\t", " \t", 1)  # an id padded on both sides
    metadata.write_text("\n".join(text) + "\n")
    code, output = fit(capsys, files, "classifier", metadata, "agegroup", tmp_path / "run")
    assert code == 0, output
    assert "no target value" not in output
    assert class_labels(tmp_path / "run") == ["old", "young"]


def test_a_good_metadata_file_reads_as_before(files, tmp_path, capsys):
    """Plain values read the same; an empty cell is still a missing value."""
    from aam_core.data.io import read_metadata
    values = ["" if i < 2 else ["F", "M"][i % 2] for i in range(24)]
    metadata = with_column(files, tmp_path, "sex", values)
    pd.testing.assert_frame_equal(read_metadata(metadata),
                                  pd.read_csv(metadata, sep="\t", index_col=0, dtype=str),
                                  check_names=False)
    code, output = fit(capsys, files, "classifier", metadata, "sex", tmp_path / "run")
    assert code == 0, output
    assert "Dropped 2 sample(s)" in output
    assert class_labels(tmp_path / "run") == ["F", "M"]


def test_a_na_word_in_a_numeric_target_says_to_leave_the_cell_empty(files, tmp_path,
                                                                      capsys):
    metadata = with_column(files, tmp_path, "weight",
                           ["NA" if i < 2 else str(60 + i) for i in range(24)])
    code, output = fit(capsys, files, "regressor", metadata, "weight", tmp_path / "run")
    refused(output, code, "QIIME 2 reads only empty cells as missing, so leave the cells "
                          "of missing values empty instead of 'NA'")


# -- 103, 123, 137: an --output that is an input --------------------------------

def predict_onto_table(folder, files):
    table = folder / "t.biom"
    table.write_bytes((files / "table.biom").read_bytes())
    return (["predict", "--table", table, "--model", model_directory(folder), "--output",
             folder / "sub" / ".." / "t.biom"], table, "--output")


def onnx_onto_config(folder, files):
    model = model_directory(folder)
    return (["export-onnx", model, "--output", model / "config.json"],
            model / "config.json", "lies inside the model directory MODEL_DIR")


def onnx_into_model(folder, files):
    model = model_directory(folder)
    return (["export-onnx", model, "--output", model / "model.onnx"],
            model / "config.json", "lies inside the model directory MODEL_DIR")


def tune_onto_study(folder, files):
    study = folder / "same.json"
    study.write_bytes(b"")
    (folder / "fixed.json").write_text(json.dumps(FIXED))
    return (["tune", "--table", files / "table.biom", "--metadata", files / "md.tsv",
             "--target", "age", "--settings", folder / "fixed.json", "--trials", 1,
             "--folds", 2, "--study", study, "--output", study], study, "is also --study")


def model_directory(folder) -> Path:
    """A folder holding a config.json: the check runs before any model loads."""
    model = folder / "model"
    model.mkdir(exist_ok=True)
    (model / "config.json").write_text('{"kind": "regressor"}')
    return model


@pytest.mark.parametrize("make", [predict_onto_table, onnx_onto_config, onnx_into_model,
                                  tune_onto_study],
                         ids=["103-predict-table", "123-onnx-model-file",
                              "123-onnx-into-model", "137-tune-study"])
def test_an_output_that_is_an_input_is_refused(make, files, tmp_path, capsys):
    (tmp_path / "sub").mkdir()
    arguments, kept, fragment = make(tmp_path, files)
    before = kept.read_bytes()
    code, output = aam(capsys, *arguments)
    refused(output, code, fragment)
    assert "choose another path" in output or "choose a path outside it" in output
    assert kept.read_bytes() == before
    assert not list(tmp_path.rglob("*.onnx"))


def test_an_output_that_is_the_table_names_both_flags(files, tmp_path, capsys):
    arguments, _, _ = predict_onto_table(tmp_path, files)
    arguments[-1] = tmp_path / "t.biom"
    code, output = aam(capsys, *arguments)
    refused(output, code, f"--output {tmp_path / 't.biom'} is also --table: writing "
                          "there would overwrite the input; choose another path.")


# -- 133, 134: aam tune ----------------------------------------------------------

def tune(capsys, files, folder, settings: dict, study):
    (folder / "fixed.json").write_text(json.dumps(settings))
    return aam(capsys, "tune", "--table", files / "table.biom", "--metadata",
               files / "md.tsv", "--target", "age", "--groups", "group", "--settings",
               folder / "fixed.json", "--trials", 1, "--folds", 2, "--study", study,
               "--output", folder / "best.json")


FIXED = {"preset": "tiny", "epochs": 1, "ensemble_size": 1, "n_threads": 1,
         "device": "cpu"}


@needs_optuna
def test_tune_refuses_another_programs_database_133(files, tmp_path, capsys):
    study = tmp_path / "other.db"
    with sqlite3.connect(study) as connection:
        connection.execute("create table runs(id int, name text)")
    connection.close()
    code, output = tune(capsys, files, tmp_path, FIXED, study)
    refused(output, code, f"--study {study} is an SQLite database of another program "
                          "(its tables: runs), not an aam tune study")
    with sqlite3.connect(study) as connection:
        tables = [r[0] for r in connection.execute("select name from sqlite_master")]
    connection.close()
    assert tables == ["runs"]
    assert not (tmp_path / "best.json").exists()


@needs_optuna
@pytest.mark.parametrize("fixed", [
    {"learning_rate": 0.001, "hidden_layers": 1, "hidden_width": 32,
     "head_dropout": 0.1, "asv_dropout": 0.0},
    {"learning_rate": 0.001, "hidden_layers": 0, "asv_dropout": 0.0}],
    ids=["134-all-fixed", "134-linear-head"])
def test_tune_with_nothing_to_search_is_refused(fixed, files, tmp_path, capsys):
    code, output = tune(capsys, files, tmp_path, {**FIXED, **fixed}, tmp_path / "s.db")
    refused(output, code, "nothing to tune: --settings fixes every option of the search "
                          "space (learning_rate, hidden_layers")
    assert "leave some out" in output
    assert not (tmp_path / "best.json").exists()


# -- 183: --resume of a finished run -------------------------------------------------

def test_resume_of_a_finished_run_with_more_epochs_is_refused_183(files, tmp_path,
                                                                   capsys):
    run = tmp_path / "run"
    code, output = fit(capsys, files, "regressor", files / "md.tsv", "age", run)
    assert code == 0, output
    model = (run / "model" / "model.pt").read_bytes()
    code, output = fit(capsys, files, "regressor", files / "md.tsv", "age", run,
                       "--resume", "--epochs", 3, "--n-threads", 2)
    refused(output, code, "belongs to a run with other settings or data (--epochs 1 -> 3). "
                          "Resume with the same settings and inputs")
    assert (run / "model" / "model.pt").read_bytes() == model
    # the same settings (threads may change): the finished model, as before
    code, output = fit(capsys, files, "regressor", files / "md.tsv", "age", run,
                       "--resume", "--n-threads", 2)
    assert code == 0, output
    assert f"The run in {run} has finished" in output


# -- 188, 80: the help of --checkpoint-every, a YAML number read as text --------------

def test_the_help_says_what_checkpoint_every_0_means_188(capsys):
    code, output = aam(capsys, "fit-regressor", "--help")
    assert code == 0
    assert "0 (the default): at the end of each epoch only" in " ".join(output.split())


@pytest.mark.parametrize("text, fragment", [
    ("learning_rate: 1e-3\n", "learning_rate must be a number, not '1e-3'. YAML reads "
                              "1e-3 as text; write 1.0e-3 or 0.001."),
    ("epochs: 1e1\n", "epochs must be an integer, not '1e1'. YAML reads 1e1 as text; "
                      "write 10.")], ids=["80-float", "80-int"])
def test_a_yaml_number_read_as_text_says_how_to_write_it(text, fragment, files,
                                                          tmp_path, capsys):
    (tmp_path / "s.yaml").write_text(text)
    code, output = fit(capsys, files, "regressor", files / "md.tsv", "age",
                       tmp_path / "run", "--settings", tmp_path / "s.yaml")
    refused(output, code, fragment)
