"""Probe 30 (2026-12-02): `aam predict/embed --output x.tsv.gz` wrote plain
text under the .gz name (the atomic write's PATH.partial hid the suffix from
pandas), which gzip-reading tools then rejected; and a model whose
history.tsv was damaged or edited passed `qiime tools import`, then failed in
summarize with pandas' "invalid literal for int() with base 10"."""
import gzip
import zipfile

import pandas as pd
import pytest
import qiime2
from qiime2.plugins import aam as plugin

from .conftest import aam, artifact_api, damaged_copy, damaged_qza, refused

FIX = "The file was damaged or edited: use an intact copy of the model"


# -- 1. a compressed --output ----------------------------------------------------

@pytest.mark.parametrize("name, opener", [
    ("p.tsv.gz", gzip.open),
    ("p.tsv.zip", lambda path, mode: zipfile.ZipFile(path).open("p.tsv")),
])
def test_a_compressed_output_is_compressed(workspace, model_dir, tmp_path, capsys,
                                           name, opener):
    code, output = aam(capsys, "predict", "--table", workspace / "table.biom",
                       "--model", model_dir, "--output", tmp_path / name,
                       "--n-threads", 1)
    assert code == 0, output
    with opener(tmp_path / name, "rb") as handle:  # plain text raised BadGzipFile
        frame = pd.read_csv(handle, sep="\t", index_col=0)
    assert len(frame) == 16 and list(frame.columns) == ["prediction"]
    assert not list(tmp_path.glob("*.partial"))


# -- 2. a damaged history.tsv -----------------------------------------------------

def _garbage_row(folder):
    with open(folder / "history.tsv", "a") as handle:
        handle.write("garbage\n")


def test_a_damaged_history_is_refused_at_import(model_dir, tmp_path):
    folder = damaged_copy(model_dir, _garbage_row, tmp_path / "model")
    artifact_api(lambda: qiime2.Artifact.import_data("AAMModel[AAMRegressor]", folder),
                 "column 'epoch' holds 'garbage' on line 3, where a number belongs")


def test_a_damaged_history_is_refused_by_aam(workspace, model_dir, tmp_path, capsys):
    folder = damaged_copy(model_dir, _garbage_row, tmp_path / "model")
    code, output = aam(capsys, "predict", "--table", workspace / "table.biom",
                       "--model", folder, "--output", tmp_path / "p.tsv",
                       "--n-threads", 1)
    refused(output, code, f"The history.tsv of the model {folder}: column 'epoch' "
                          f"holds 'garbage' on line 3, where a number belongs. {FIX}")


def test_a_damaged_history_is_refused_by_summarize(model_qza, tmp_path):
    # was: "invalid literal for int() with base 10: 'garbage'"
    damaged = damaged_qza(model_qza, _garbage_row, tmp_path / "model.qza")
    artifact_api(lambda: plugin.actions.summarize(model=qiime2.Artifact.load(str(damaged))),
                 "where a number belongs")


def test_a_fit_option_typed_for_tune_points_to_settings(workspace, tmp_path, capsys):
    """Borderline of probe 30: argparse's 'unrecognized arguments' alone."""
    code, output = aam(capsys, "tune", "--table", workspace / "table.biom", "--metadata",
                       workspace / "table.biom", "--target", "y", "--study",
                       tmp_path / "s.db", "--output", tmp_path / "o.json", "--n-threads", 1)
    refused(output, code, "unrecognized arguments: --n-threads 1; aam tune reads the fit "
            "options from its --settings file")
