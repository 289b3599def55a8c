"""Probe 9 (2026-12-01), the `aam` command and the library under it: a
table of fractional or of very deep counts with rarefaction, a feature id
whose one non-DNA letter its shortened quote hid, numpy numbers as
settings, `aam tune`'s advice for a categorical target. Each row failed
before its fix (numpy's own message, a misleading quote, a traceback after
training, advice of another command)."""
import json

import biom
import h5py
import numpy as np
import pandas as pd
import pytest

from aam_core import api
from aam_core.config import TrainConfig
from aam_core.data.batching import rarefy
from aam_core.data.tokens import resolve_sequences
from aam_core.errors import AAMInputError
from tests.conftest import write_example_files
from tests.core.test_aam_command_probe_5 import RUN, aam, needs_optuna
from tests.core.test_aam_command_probe_6 import refused



@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """24 example samples (real BIOM), their metadata, and the same table
    scaled: to fractions (x 0.37) and to 10^12 times the reads."""
    folder = tmp_path_factory.mktemp("probe-9-aam")
    write_example_files(folder, 24)
    table = biom.load_table(str(folder / "table.biom"))
    for name, factor in (("fractions", 0.37), ("deep", 1e12)):
        scaled = biom.Table(table.matrix_data * factor, table.ids("observation"),
                            table.ids())
        with h5py.File(folder / f"{name}.biom", "w") as handle:
            scaled.to_hdf5(handle, "aam tests")
    return folder


def fit(capsys, files, table, run, *more):
    return aam(capsys, "fit-regressor", "--table", files / table, "--metadata",
               files / "md.tsv", "--target", "age", "--output-dir", run, *RUN, *more)


def test_fractional_counts_are_refused_for_rarefaction(files, tmp_path, capsys):
    code, output = fit(capsys, files, "fractions.biom", tmp_path / "run",
                       "--rarefaction-depth", 100)
    refused(output, code, "Rarefaction draws whole reads, but the table holds")
    assert "--rarefaction-depth to 0" in output and "nsample" not in output
    # without rarefaction the relative abundances are read as they are
    code, output = fit(capsys, files, "fractions.biom", tmp_path / "plain")
    assert code == 0, output


def test_very_deep_samples_are_rarefied(files, tmp_path, capsys):
    """numpy's exact draw stops at 10^9 reads; deeper samples are drawn with
    replacement, which differs by a fraction depth/reads of a read."""
    code, output = fit(capsys, files, "deep.biom", tmp_path / "run",
                       "--rarefaction-depth", 1000)
    assert code == 0, output
    drawn = rarefy(np.array([5e11, 5e11, 0.0]), 1000, np.random.default_rng(0))
    assert drawn.sum() == 1000 and drawn[2] == 0 and abs(drawn[0] - 500) < 100


def test_a_non_dna_id_is_quoted_with_its_bad_letter():
    dna = "TACGTAGGGGGCAAGCGTTATCCGGATTTACTGGGTGTAAAGGGAGCGTAGACGGCGA"
    typo = dna[:50] + "X" + dna[50:] + dna
    with pytest.raises(AAMInputError, match=r"\(has 'X' at position 51\)"):
        resolve_sequences([dna, typo], None)
    with pytest.raises(AAMInputError, match=r"\(has ' ' at position 51\)"):
        resolve_sequences([dna[:50] + " " + dna[50:] + dna], None)


def test_numpy_numbers_are_settings_like_any_other(files):
    """What df['x'].max() or np.arange give: they reached json.dumps and
    torch's seed, after a whole fit."""
    from aam_core.data.table import CountTable
    train = TrainConfig(epochs=np.int64(1), ensemble_size=np.int64(1),
                        batch_size=np.int32(8), learning_rate=np.float32(1e-3),
                        random_state=np.int64(3), n_threads=1)
    assert type(train.random_state) is int and type(train.learning_rate) is float
    table = CountTable.from_biom(biom.load_table(str(files / "table.biom")))
    ages = pd.read_csv(files / "md.tsv", sep="\t", index_col=0)["age"]
    bundle = api.fit_regressor(table, ages, model="tiny", train=train, log=lambda m: None)
    json.dumps(bundle.config)  # what saving writes


@needs_optuna
def test_tune_of_a_categorical_target_offers_its_own_flag(files, tmp_path, capsys):
    metadata = pd.read_csv(files / "md.tsv", sep="\t", index_col=0, dtype=str)
    metadata["age"] = np.where(metadata["age"].astype(float) > 30, "old", "young")
    metadata.to_csv(files / "md-classes.tsv", sep="\t")
    code, output = aam(capsys, "tune", "--table", files / "table.biom", "--metadata",
                       files / "md-classes.tsv", "--target", "age", "--trials", 1,
                       "--folds", 2, "--study", tmp_path / "study.db",
                       "--output", tmp_path / "best.json")
    refused(output, code, "must be numeric for a regressor")
    assert "pass --kind classifier for categories" in output
    assert "fit-classifier" not in output


def test_study_2024_and_2024_point_0_are_one_category(files, tmp_path, capsys):
    """QIIME 2 reads a column of numbers as numbers; the command read them as
    text, so 2024.0 at prediction was a study never seen in training."""
    code, output = fit(capsys, files, "table.biom", tmp_path / "run",
                       "--conditioning", "study")
    assert code == 0, output
    metadata = pd.read_csv(files / "md.tsv", sep="\t", index_col=0, dtype=str)
    metadata["study"] = metadata["study"] + ".0"
    metadata.to_csv(tmp_path / "md.tsv", sep="\t")
    code, output = aam(capsys, "predict", "--table", files / "table.biom", "--model",
                       tmp_path / "run" / "model", "--metadata", tmp_path / "md.tsv",
                       "--output", tmp_path / "predictions.tsv", "--n-threads", 1)
    assert code == 0, output
    assert "not seen in training" not in output


def test_an_empty_sample_is_removed_with_advice_for_plain_files(files, tmp_path, capsys):
    """The command runs without QIIME 2: no `qiime ...` advice there."""
    table = biom.load_table(str(files / "table.biom"))
    data = table.matrix_data.tolil()
    data[:, 0] = 0
    empty = biom.Table(data.tocsr(), table.ids("observation"), table.ids())
    with h5py.File(tmp_path / "empty.biom", "w") as handle:
        empty.to_hdf5(handle, "aam tests")
    code, output = fit(capsys, files, "table.biom", tmp_path / "run")
    assert code == 0, output
    code, output = aam(capsys, "embed", "--table", tmp_path / "empty.biom", "--model",
                       tmp_path / "run" / "model", "--output", tmp_path / "e.tsv",
                       "--n-threads", 1)
    refused(output, code, "1 sample(s) of the table have zero counts")
    assert "with biom-format" in output and "qiime" not in output


def test_table_samples_without_metadata_are_refused_as_in_the_actions(files, tmp_path,
                                                                      capsys):
    """The command dropped them with a log line, where the actions refuse
    them unless missing_samples is 'ignore'."""
    metadata = pd.read_csv(files / "md.tsv", sep="\t", index_col=0, dtype=str)
    metadata.iloc[4:].to_csv(tmp_path / "md.tsv", sep="\t")
    arguments = ["fit-regressor", "--table", files / "table.biom", "--metadata",
                 tmp_path / "md.tsv", "--target", "age", *RUN]
    code, output = aam(capsys, *arguments, "--output-dir", tmp_path / "run")
    refused(output, code, "4 sample(s) of the table are not in the metadata (e.g. "
            f"{', '.join(metadata.index[:4])}). Add them, or pass --missing-samples "
            "ignore to drop them.")
    code, output = aam(capsys, *arguments, "--output-dir", tmp_path / "kept",
                       "--missing-samples", "ignore")
    assert code == 0, output
    assert "Dropped 4 sample(s) that have no target value" in output
