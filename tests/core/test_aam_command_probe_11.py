"""Probe 11 (2026-12-01), the `aam` command: a BIOM TSV table or a FASTA
file that starts with a UTF-8 byte-order mark, quantiles whose point
prediction is an edge of the interval, a target the file declares
categorical, and advice for reads longer than the model's that named the
default it was fitted with."""
import biom
import pandas as pd
import pytest

from tests.conftest import write_example_files
from tests.core.test_aam_command_probe_5 import RUN, aam
from tests.core.test_aam_command_probe_6 import refused

BOM = "\ufeff"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("probe-11-aam")
    write_example_files(folder, 24)
    return folder


@pytest.fixture(scope="module")
def model(files, tmp_path_factory):
    run = tmp_path_factory.mktemp("probe-11-run") / "run"
    from aam_core import cli
    assert cli.main([str(a) for a in ["fit-regressor", "--table", files / "table.biom",
                                      "--metadata", files / "md.tsv", "--target", "age",
                                      "--output-dir", run, *RUN]]) == 0
    return run / "model"


def test_a_tsv_table_and_a_fasta_with_a_byte_order_mark_are_read(files, model, tmp_path,
                                                                capsys):
    table = biom.load_table(str(files / "table.biom"))
    (tmp_path / "table.txt").write_text(BOM + table.to_tsv(), encoding="utf-8")
    code, output = aam(capsys, "predict", "--table", tmp_path / "table.txt", "--model",
                       model, "--output", tmp_path / "a.tsv", "--n-threads", 1)
    assert code == 0, output
    # the same table with hashed ids and its sequences in a FASTA with a BOM
    names = {f: f"asv{i}" for i, f in enumerate(table.ids("observation"))}
    renamed = table.update_ids(names, axis="observation", inplace=False)
    (tmp_path / "hashed.txt").write_text(renamed.to_tsv())
    (tmp_path / "seqs.fa").write_text(
        BOM + "".join(f">{n}\n{f}\n" for f, n in names.items()), encoding="utf-8")
    code, output = aam(capsys, "predict", "--table", tmp_path / "hashed.txt",
                       "--sequences", tmp_path / "seqs.fa", "--model", model,
                       "--output", tmp_path / "b.tsv", "--n-threads", 1)
    assert code == 0, output
    a, b = (pd.read_csv(tmp_path / n, sep="\t", index_col=0) for n in ("a.tsv", "b.tsv"))
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize("quantiles", [["0.1", "0.9"], ["0.25", "0.75", "0.95"]])
def test_quantiles_whose_prediction_is_an_edge_are_refused(files, tmp_path, capsys,
                                                            quantiles):
    code, output = aam(capsys, "fit-regressor", "--table", files / "table.biom",
                       "--metadata", files / "md.tsv", "--target", "age", "--loss",
                       "quantile", "--quantiles", *quantiles, "--output-dir",
                       tmp_path / "run", *RUN)
    refused(output, code, "the prediction (the quantile closest to 0.5, "
            f"{quantiles[0]}) would be an edge of its own interval")


def test_a_target_declared_categorical_is_no_regression_target(files, tmp_path, capsys):
    text = (files / "md.tsv").read_text().splitlines()
    header = text[0].split("\t")
    types = ["#q2:types"] + ["categorical" if c == "study" else "numeric"
                             if c == "age" else "categorical" for c in header[1:]]
    (tmp_path / "md.tsv").write_text("\n".join([text[0], "\t".join(types), *text[1:]]))
    code, output = aam(capsys, "fit-regressor", "--table", files / "table.biom",
                       "--metadata", tmp_path / "md.tsv", "--target", "study",
                       "--output-dir", tmp_path / "run", *RUN)
    refused(output, code, "The target column 'study' is declared categorical (the "
            "file's '#q2:types' row)")


def test_reads_longer_than_the_model_name_the_length_to_fit_with(files, model, tmp_path,
                                                                 capsys):
    table = biom.load_table(str(files / "table.biom"))
    longer = {f: f + "ACGTACGTAC" for f in table.ids("observation")}
    (tmp_path / "long.txt").write_text(
        table.update_ids(longer, axis="observation", inplace=False).to_tsv())
    code, output = aam(capsys, "predict", "--table", tmp_path / "long.txt", "--model",
                       model, "--output", tmp_path / "p.tsv", "--n-threads", 1)
    longest = max(map(len, longer.values()))
    refused(output, code, f"or fit a model with --max-length {longest} or more (the "
            "default, 0, takes the longest sequence of the training table)")
