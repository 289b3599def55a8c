"""Probe 6 (2026-12-01), the `aam` command: --resume into a run whose input
files changed (finished or not), metadata with a column name twice,
--sequences that is a folder, counts beyond what torch can hold, repeated
quantiles, predicting a conditioned model from metadata without its column.
Each row failed before its fix (exit 0, a raw OS error or a traceback)."""
import shutil

import pandas as pd
import pytest

from tests.conftest import REPO, write_example_table

from tests.core.test_aam_command_probe_5 import RUN, aam

EXAMPLE = REPO / "examples" / "oral-age-mini"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """24 example samples (real BIOM), their metadata, and the same metadata
    with every age changed."""
    folder = tmp_path_factory.mktemp("probe-6-aam")
    ids = write_example_table(folder, 24)
    metadata = pd.read_csv(EXAMPLE / "metadata.tsv", sep="\t", index_col=0, dtype=str)
    metadata = metadata.loc[ids, ["age", "group", "study"]]
    metadata.to_csv(folder / "md.tsv", sep="\t")
    metadata.assign(age=metadata["age"].astype(float) + 10).to_csv(folder / "older.tsv",
                                                                  sep="\t")
    return folder


def refused(output: str, code: int, fragment: str) -> None:
    """Not exit 0, no traceback, the fragment (after argparse's usage lines,
    or a log line of the run, where there are)."""
    assert code != 0, f"exit 0 on bad input:\n{output}"
    assert "Traceback" not in output, output
    assert " ".join(fragment.split()) in " ".join(output.split()), output


def fit(capsys, files, run, metadata="md.tsv", *more):
    return aam(capsys, "fit-regressor", "--table", files / "table.biom", "--metadata",
               files / metadata, "--target", "age", "--output-dir", run, *RUN, *more)


def test_resume_of_a_finished_run_with_other_metadata_is_refused(capsys, files, tmp_path):
    code, output = fit(capsys, files, tmp_path / "run")
    assert code == 0, output
    code, output = fit(capsys, files, tmp_path / "run", "older.tsv", "--resume")
    refused(output, code, "belongs to a run with other settings or data (the --metadata "
                          "file changed)")
    code, output = fit(capsys, files, tmp_path / "run", "md.tsv", "--resume")
    assert code == 0 and "has finished" in output, output


def test_resume_of_a_stopped_run_with_other_metadata_is_refused(capsys, files, tmp_path):
    code, output = fit(capsys, files, tmp_path / "run", "md.tsv", "--checkpoint-every", 1)
    assert code == 0, output
    shutil.rmtree(tmp_path / "run" / "model")  # as if stopped before the model was written
    code, output = fit(capsys, files, tmp_path / "run", "older.tsv", "--checkpoint-every", 1,
                       "--resume")
    refused(output, code, "(the --metadata file changed)")


def test_metadata_with_a_column_name_twice_is_refused(capsys, files, tmp_path):
    text = (files / "md.tsv").read_text().splitlines()
    rows = [line + "\t" + line.split("\t")[1] for line in text]
    rows[0] = rows[0].rsplit("\t", 1)[0] + "\tage"
    (tmp_path / "twice.tsv").write_text("\n".join(rows) + "\n")
    code, output = aam(capsys, "fit-regressor", "--table", files / "table.biom", "--metadata",
                       tmp_path / "twice.tsv", "--target", "age", "--output-dir",
                       tmp_path / "run", *RUN)
    refused(output, code, "has the column name(s) ['age'] more than once; column names "
                          "must be unique")


def test_sequences_that_are_a_folder_are_refused(capsys, files, tmp_path):
    code, output = fit(capsys, files, tmp_path / "run", "md.tsv", "--sequences", tmp_path)
    refused(output, code, f"The sequences file {tmp_path} is a directory; give the FASTA")


@pytest.mark.parametrize("flags, fragment", [
    (["--max-length", 10 ** 30], "argument --max-length: must be at most 100000"),
    (["--max-length", 10 ** 11], "argument --max-length: must be at most 100000"),
    (["--hidden-layers", 1, "--hidden-width", 10 ** 30],
     "argument --hidden-width: must be at most 65536"),
    (["--n-threads", 10 ** 30], "argument --n-threads: must be at most 1024"),
    (["--ensemble-size", 10 ** 30], "argument --ensemble-size: must be at most 100"),
    (["--patience", 10 ** 30], "argument --patience: must be at most 2147483647"),
    (["--loss", "quantile", "--quantiles", 0.5, 0.5, 0.9], "--quantiles repeats 0.5"),
])
def test_values_beyond_what_can_run_are_refused(capsys, files, tmp_path, flags, fragment):
    code, output = fit(capsys, files, tmp_path / "run", "md.tsv", *flags)
    refused(output, code, fragment)


def test_predicting_a_conditioned_model_from_metadata_without_its_column(capsys, files,
                                                                        tmp_path):
    code, output = fit(capsys, files, tmp_path / "run", "md.tsv", "--conditioning", "study")
    assert code == 0, output
    pd.read_csv(files / "md.tsv", sep="\t", index_col=0)[["group"]].to_csv(
        tmp_path / "other.tsv", sep="\t")
    code, output = aam(capsys, "predict", "--table", files / "table.biom", "--model",
                       tmp_path / "run" / "model", "--metadata", tmp_path / "other.tsv",
                       "--output", tmp_path / "p.tsv", "--n-threads", 1)
    refused(output, code, "other.tsv lacks the column(s) ['study'] this model reads")
