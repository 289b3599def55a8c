"""Probe 23 (2026-12-01): multi-process training, mismatched models,
conditioning and loss weights at fit and predict, resumed runs. Two faults
here (the third, rank 0's tracker refusal under torchrun, needs MLflow and
is tested in tests/core/test_tracking.py):

- a conditioning column with no value among the training samples was taken
  as a column of 0 categories: it conditioned nothing, and the model then
  asked for it at every prediction;
- a categorical loss-weights column weighed the samples without a value as
  one more category (named 'None'), and one of a single category, or of no
  value at all, weighed every sample 1 without a word.
"""
import numpy as np
import pandas as pd
import qiime2
from qiime2.plugins import aam as plugin

from q2_aam import _examples

from .conftest import aam, artifact_api, qiime, refused

TINY = dict(preset="tiny", epochs=1, batch_size=8, n_threads=1, ensemble_size=1)
FLAGS = ["--preset", "tiny", "--epochs", 1, "--batch-size", 8, "--n-threads", 1,
         "--ensemble-size", 1]


def _frame() -> pd.DataFrame:
    return _examples.sample_metadata_factory().to_dataframe()


def _with_column(path, values):
    """The example metadata with a categorical column 'extra' of these values
    (None: an empty cell), declared categorical, as a TSV file."""
    frame = _frame()
    frame["extra"] = ["" if v is None else v for v in values]
    lines = ["sample-id\t" + "\t".join(frame.columns),
             "#q2:types\tnumeric\tcategorical\tcategorical\tcategorical"]
    lines += [f"{i}\t" + "\t".join(map(str, row)) for i, row in frame.iterrows()]
    path.write_text("\n".join(lines) + "\n")
    return path


# -- 1. a conditioning column without a value among the training samples ------------

def test_an_empty_conditioning_column_is_refused_by_the_artifact_api():
    frame = _frame()[["site"]].copy()
    frame["batch"] = np.nan
    artifact_api(lambda: plugin.methods.fit_regressor(
        table=_examples.table_factory(),
        metadata=_examples.sample_metadata_factory().get_column("age"),
        conditioning=qiime2.Metadata(frame), **TINY),
        "The conditioning column 'batch' has no value among the training samples "
        "(their cells are empty), so it tells none apart, yet the model would ask for "
        "it at prediction: fill it in, or leave it out of the conditioning metadata.")


def test_an_empty_conditioning_column_is_refused_by_the_aam_command(workspace, capsys,
                                                                   tmp_path):
    metadata = _with_column(tmp_path / "metadata.tsv", [None] * 16)
    code, output = aam(capsys, "fit-regressor", "--table", workspace / "table.biom",
                       "--metadata", metadata, "--target", "age", "--conditioning",
                       "extra", *FLAGS, "--output-dir", tmp_path / "run")
    refused(output, code, "The conditioning column 'extra' has no value among the "
                          "training samples")
    assert not (tmp_path / "run" / "model").exists()


# -- 2. a categorical loss-weights column: missing values, one category -------------

def test_a_loss_weights_column_of_one_category_is_refused_in_q2cli(workspace, tmp_path):
    metadata = _with_column(tmp_path / "metadata.tsv", ["p"] * 16)
    code, output = qiime(
        "aam", "fit-regressor", "--i-table", workspace / "table.qza",
        "--m-metadata-file", metadata, "--m-metadata-column", "age",
        "--m-loss-weights-file", metadata, "--m-loss-weights-column", "extra",
        "--p-preset", "tiny", "--p-epochs", 1, "--p-batch-size", 8, "--p-n-threads", 1,
        "--p-ensemble-size", 1, "--o-model", tmp_path / "model.qza")
    refused(output, code, "The loss-weights column 'extra' has one category ('p') among "
                          "the training samples, so weighing by its categories weighs "
                          "every sample the same: choose a column with two categories "
                          "or more, or leave out --m-loss-weights-file.")
    assert not (tmp_path / "model.qza").exists()


def test_an_empty_loss_weights_column_is_refused_by_the_artifact_api():
    frame = _frame()[["site"]].copy()
    frame["weight"] = pd.Series([np.nan] * len(frame), index=frame.index, dtype=object)
    artifact_api(lambda: plugin.methods.fit_regressor(
        table=_examples.table_factory(),
        metadata=_examples.sample_metadata_factory().get_column("age"),
        loss_weights=qiime2.Metadata(frame).get_column("weight"), **TINY),
        "The loss-weights column 'weight' has no value among the training samples, so "
        "weighing by its categories weighs every sample the same")


def test_samples_without_a_loss_weight_category_weigh_1(workspace, capsys, tmp_path):
    """10 samples 'a', 2 'b', 4 empty, all of them training samples: the
    categories weigh by inverse frequency among the 12 with a value (12 / (2 *
    10) = 0.6 and 12 / (2 * 2) = 3) and the 4 without weigh 1, as samples
    without a numeric weight do. They were a third category 'None': 16 / (3 *
    10) = 0.533 to 16 / (3 * 2) = 2.67, without a word."""
    metadata = _with_column(tmp_path / "metadata.tsv", ["a"] * 10 + ["b"] * 2 + [None] * 4)
    code, output = aam(capsys, "fit-regressor", "--table", workspace / "table.biom",
                       "--metadata", metadata, "--target", "age", "--loss-weights",
                       "extra", "--validation-fraction", 0, *FLAGS,
                       "--output-dir", tmp_path / "run")
    assert code == 0, output
    assert "4 training sample(s) have no value in the loss-weights column 'extra' and " \
           "weigh 1." in output, output
    assert "Loss weights from 0.6 to 3 over the training samples." in output, output
