"""Probe 28 (2026-12-02): compressed and binary files where the `aam` command
reads text (a gzip of the sequences, metadata, distances, their ids or the
settings; a .qza or a BIOM table as distances), which failed in Python's
codec words, and a classifier's class holding a tab, which fitted and then
broke every prediction."""
import gzip
import shutil

import pandas as pd
import pytest
import qiime2
from qiime2.plugins import aam as plugin

from q2_aam import _examples

from .conftest import aam, artifact_api, refused

TINY = dict(preset="tiny", batch_size=8, n_threads=1, epochs=1, ensemble_size=1)


def _gzip(source, destination):
    with open(source, "rb") as plain, gzip.open(destination, "wb") as packed:
        shutil.copyfileobj(plain, packed)
    return destination


def _labels(values):
    ids = pd.Index([str(i) for i in _examples.sample_metadata_factory().ids],
                   name="sample-id")
    return qiime2.Metadata(pd.DataFrame({"label": values}, index=ids)).get_column("label")


# -- 1. a gzip (or a zip) where text is read: "'utf-8' codec can't decode byte 0x8b" -----

def test_gzipped_sequences_are_named(workspace, model_dir, tmp_path, capsys):
    fasta = tmp_path / "seqs.fa"
    ids = _examples.table_factory().view(pd.DataFrame).columns
    fasta.write_text("".join(f">{i}\n{i}\n" for i in ids))
    code, output = aam(capsys, "predict", "--table", workspace / "table.biom",
                       "--sequences", _gzip(fasta, tmp_path / "seqs.fa.gz"),
                       "--model", model_dir, "--output", tmp_path / "p.tsv",
                       "--n-threads", 1)
    refused(output, code, "seqs.fa.gz is gzip-compressed: decompress it first (gunzip)")


def test_gzipped_metadata_is_named(workspace, tmp_path, capsys):
    metadata = tmp_path / "md.tsv"
    _examples.sample_metadata_factory().save(str(metadata))
    code, output = aam(capsys, "fit-regressor", "--table", workspace / "table.biom",
                       "--metadata", _gzip(metadata, tmp_path / "md.tsv.gz"),
                       "--target", "age", "--output-dir", tmp_path / "run")
    refused(output, code, "--metadata")
    refused(output, code, "md.tsv.gz is gzip-compressed: decompress it first (gunzip)")


@pytest.mark.parametrize("given, fragment", [
    ("gzip", "distances.tsv.gz is gzip-compressed: decompress it first (gunzip)"),
    ("qza", "distances.qza is a zip archive (a QIIME 2 .qza is one): "
     "`qiime tools export` it"),
    ("biom", "table.biom lacks the datasets 'order' and 'matrix' that unifrac's"),
])
def test_distances_that_are_not_text(workspace, tmp_path, capsys, given, fragment):
    path = {"gzip": lambda: _gzip(workspace / "distances.tsv",
                                  tmp_path / "distances.tsv.gz"),
            "qza": lambda: workspace / "distances.qza",
            "biom": lambda: workspace / "table.biom"}[given]()
    code, output = aam(capsys, "pretrain", "--table", workspace / "table.biom",
                       "--distances", path, "--preset", "tiny", "--n-threads", 1,
                       "--output-dir", tmp_path / "run")
    refused(output, code, fragment)


def test_gzipped_distance_ids_are_named(workspace, tmp_path, capsys):
    import numpy as np
    np.save(tmp_path / "d.npy", np.zeros((16, 16)))
    (tmp_path / "ids.txt").write_text("a\nb\n")
    code, output = aam(capsys, "pretrain", "--table", workspace / "table.biom",
                       "--distances", tmp_path / "d.npy", "--distance-ids",
                       _gzip(tmp_path / "ids.txt", tmp_path / "ids.txt.gz"),
                       "--preset", "tiny", "--n-threads", 1, "--output-dir", tmp_path / "r")
    refused(output, code, "--distance-ids")
    refused(output, code, "ids.txt.gz is gzip-compressed: decompress it first (gunzip)")


def test_a_folder_as_distance_ids_is_named(workspace, tmp_path, capsys):
    """Its message read the folder as a file first: IsADirectoryError."""
    import numpy as np
    np.save(tmp_path / "d.npy", np.zeros((16, 16)))
    (tmp_path / "ids").mkdir()
    code, output = aam(capsys, "pretrain", "--table", workspace / "table.biom",
                       "--distances", tmp_path / "d.npy", "--distance-ids", tmp_path / "ids",
                       "--preset", "tiny", "--n-threads", 1, "--output-dir", tmp_path / "r")
    refused(output, code, f"--distance-ids {tmp_path / 'ids'} is a directory; give a text "
            "file of the matrix's sample ids")


def test_gzipped_settings_are_named(workspace, tmp_path, capsys):
    (tmp_path / "s.json").write_text('{"epochs": 1}')
    code, output = aam(capsys, "fit-regressor", "--table", workspace / "table.biom",
                       "--metadata", workspace / "table.biom", "--target", "age",
                       "--settings", _gzip(tmp_path / "s.json", tmp_path / "s.json.gz"),
                       "--output-dir", tmp_path / "run")
    refused(output, code, "--settings")
    refused(output, code, "s.json.gz is gzip-compressed: decompress it first (gunzip)")


def test_a_qza_as_the_table_is_named(workspace, model_dir, tmp_path, capsys):
    """Mended borderline: 'it is neither HDF5 nor text'."""
    code, output = aam(capsys, "predict", "--table", workspace / "table.qza",
                       "--model", model_dir, "--output", tmp_path / "p.tsv")
    refused(output, code, "table.qza is not a BIOM table: it is a zip archive (a QIIME 2 "
            ".qza is one): `qiime tools export` it")


# -- 2. classes the predictions cannot hold ------------------------------------------------

def test_a_class_with_a_tab_is_refused_before_fitting():
    """It fitted, then every prediction failed: 'not a(n) PredictionsFormat
    file: Expected data record to be TSV with 2 fields'."""
    artifact_api(lambda: plugin.methods.fit_classifier(
        table=_examples.table_factory(), metadata=_labels(["a\tb", "c"] * 8), **TINY),
        "The target column 'label' holds the class 'a\\tb', with a tab or a line break, "
        "which the predictions (tab-separated, a line per sample) cannot hold")


def test_one_class_is_named():
    """Mended borderline: 'a' and 'a ' are one class in QIIME 2, and the
    refusal did not say which."""
    artifact_api(lambda: plugin.methods.fit_classifier(
        table=_examples.table_factory(), metadata=_labels(["a", "a "] * 8), **TINY),
        "needs at least two classes among the table's samples; those with a target "
        "have one, 'a'.")


# -- 3. --output - ----------------------------------------------------------------------------

def test_output_dash_is_standard_output(workspace, model_dir, tmp_path, capsys,
                                        monkeypatch):
    """Borderline of probe 28: a file named '-' was written."""
    monkeypatch.chdir(tmp_path)
    code = __import__("aam_core.cli", fromlist=["main"]).main(
        ["predict", "--table", str(workspace / "table.biom"), "--model", str(model_dir),
         "--output", "-", "--n-threads", "1"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.out.splitlines()[0].startswith("sample-id\t")
    assert len(captured.out.splitlines()) == 17 and not (tmp_path / "-").exists()
    code, output = aam(capsys, "tune", "--table", workspace / "table.biom", "--metadata",
                       workspace / "table.biom", "--target", "y", "--study", tmp_path / "s.db", "--output", "-")
    refused(output, code, "--output - (standard output) takes the table of predict and "
            "embed; give tune a file name.")


def test_metadata_of_a_header_alone_is_said_so(workspace, tmp_path, capsys):
    """Borderline of probe 28: '... (ids there: e.g. none; ...)'."""
    metadata = tmp_path / "m.tsv"
    metadata.write_text("sample-id\ty\n")
    code, output = aam(capsys, "fit-regressor", "--table", workspace / "table.biom",
                       "--metadata", metadata, "--target", "y", "--preset", "tiny",
                       "--n-threads", 1, "--output-dir", tmp_path / "fit")
    refused(output, code, "No sample has a value in the metadata, so there is nothing "
            "to learn")
