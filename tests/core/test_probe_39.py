"""Probe 39 (2026-12-02): the same bad inputs through the `aam` command and
aam_core.api on the Debian stack (.venv) and the newest one (.venv-newest,
numpy 2, pandas 3). Each row failed before its fix, on both stacks: a
traceback, exit 0 on bad input, or a message naming the wrong cause.

It lives in tests/core (no QIIME 2 import), so both environments run it."""
import importlib.util
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from aam_core import api, settings_file
from aam_core.config import FIT_TRAIN_DEFAULTS, ConditioningConfig
from aam_core.data.distances import read_distances
from aam_core.errors import AAMInputError
from tests.conftest import write_example_files

TRAIN = replace(FIT_TRAIN_DEFAULTS, epochs=1, batch_size=8, ensemble_size=1)
TINY = {"preset": "tiny", "epochs": 1, "ensemble_size": 1, "batch_size": 8}
needs_optuna = pytest.mark.skipif(importlib.util.find_spec("optuna") is None,
                                  reason="optuna is not installed")


def quiet(message):
    pass


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    """(table, ages, metadata) of 24 example samples."""
    import biom
    folder = tmp_path_factory.mktemp("probe-39")
    write_example_files(folder, 24)
    metadata = pd.read_csv(folder / "md.tsv", sep="\t", index_col=0, dtype=str)
    return biom.load_table(str(folder / "table.biom")), metadata["age"].astype(float), metadata


@pytest.fixture(scope="module")
def hashed(example):
    """The table with hashed feature ids, its sequences, and a tiny model."""
    table, ages, _ = example
    features = list(table.ids("observation"))
    names = {f: f"asv{i}" for i, f in enumerate(features)}
    renamed = table.update_ids(names, axis="observation", inplace=False)
    model = api.fit_regressor(table, ages, model="tiny", train=TRAIN, log=quiet)
    return renamed, {n: f for f, n in names.items()}, model


@pytest.mark.parametrize("ids", [["NA", "nan", "None", "x"], ["null", "NaN", "n/a", "#N/A"]])
def test_distance_ids_that_pandas_reads_as_missing_are_ids(ids, tmp_path):
    """Were read as NaN, and the matrix refused: 'the row ids do not match
    the column ids'."""
    matrix = pd.DataFrame(1.0 - np.eye(4), index=ids, columns=ids)
    matrix.to_csv(tmp_path / "dm.tsv", sep="\t")
    assert read_distances(tmp_path / "dm.tsv").ids == ids


def test_a_nan_cell_of_a_distance_matrix_is_still_refused(tmp_path):
    (tmp_path / "dm.tsv").write_text("\ta\tb\na\t0\tnan\nb\tnan\t0\n")
    with pytest.raises(AAMInputError, match="holds NaN or infinite values"):
        read_distances(tmp_path / "dm.tsv")


@pytest.mark.parametrize("missing", [None, np.nan, pd.NA])
def test_a_missing_sequence_is_refused_as_missing(missing, hashed):
    """NaN became the DNA 'NAN' (exit 0, other predictions); None and pd.NA
    were 'not DNA ... has 'o' at position 2' / '<' at position 1."""
    table, sequences, model = hashed
    given = pd.Series(sequences, dtype=object)
    given["asv0"] = missing
    with pytest.raises(AAMInputError, match=r"sequences= holds no sequence for 1 "
                       r"feature\(s\) \(a missing value: None, NaN or pd.NA\), e.g. 'asv0'"):
        api.predict(model, table, given, log=quiet)


def test_a_reindexed_series_of_sequences_is_refused(hashed):
    table, sequences, model = hashed
    given = pd.Series(sequences).drop("asv3").reindex(list(table.ids("observation")))
    with pytest.raises(AAMInputError, match="e.g. 'asv3'"):
        api.predict(model, table, given, log=quiet)


def test_sequences_as_bytes_are_read_as_text(hashed):
    """Were refused as 'not DNA ... has "'" at position 2' (str(b'ACG'))."""
    table, sequences, model = hashed
    as_text = api.predict(model, table, sequences, log=quiet)
    as_bytes = api.predict(model, table, {k: v.encode() for k, v in sequences.items()},
                           log=quiet)
    pd.testing.assert_series_equal(as_text, as_bytes)


def test_conditioning_with_a_column_twice_is_refused(example):
    """Ended in 'TypeError: int() argument must be ... not Series'."""
    table, ages, metadata = example
    twice = pd.concat([metadata[["study"]], metadata[["study"]]], axis=1)
    with pytest.raises(AAMInputError, match=r"conditioning= has the column name\(s\) "
                       r"\['study'\] more than once"):
        api.fit_regressor(table, ages, conditioning=twice, model="tiny", train=TRAIN,
                          conditioning_config=ConditioningConfig(fusion="add"), log=quiet)


def test_complex_targets_are_refused(example):
    """Trained on their real part, with numpy's ComplexWarning only."""
    table, ages, _ = example
    with pytest.raises(AAMInputError, match="holds complex numbers \\(complex128\\); a "
                       "regressor needs real ones"):
        api.fit_regressor(table, ages.astype(complex), model="tiny", train=TRAIN, log=quiet)


def test_numpy_numbers_in_a_settings_dict_are_their_python_values():
    """fixed={'epochs': np.int64(3)} was 'epochs must be an integer, not
    np.int64(3)' (on numpy 1: 'not 3')."""
    checked = settings_file.check({"epochs": np.int64(3), "learning_rate": np.float32(0.5)},
                                  "fit-regressor", "the fixed settings")
    assert checked == {"epochs": 3, "learning_rate": 0.5}
    assert type(checked["epochs"]) is int and type(checked["learning_rate"]) is float


@needs_optuna
@pytest.mark.parametrize("given, message", [
    ({"trials": 0}, "trials must be at least 1, not 0."),
    ({"trials": 1.5}, "trials must be a whole number, not 1.5."),
    ({"trials": True}, "not True."),
    ({"folds": 1}, "folds must be at least 2, not 1."),
])
def test_tune_refuses_counts_out_of_range(given, message, example, tmp_path):
    """trials=0 said 'No trial of --study ... has finished (all were pruned or
    failed)', trials=1.5 ran, folds=1 said 'The fit of a tuning fold (0
    training samples) was refused: The table has no samples.'"""
    table, ages, metadata = example
    with pytest.raises(AAMInputError, match=message.replace(".", r"\.")):
        api.tune("regressor", table, ages, groups=metadata["group"], fixed=TINY,
                 study=tmp_path / "s.db", log=quiet, **given)
    assert not (tmp_path / "s.db").exists()


@needs_optuna
def test_tune_takes_numpy_counts_and_settings(example, tmp_path):
    """trials=np.int64(1) ended in 'TypeError: Object of type int64 is not
    JSON serializable'."""
    table, ages, metadata = example
    result = api.tune("regressor", table, ages, groups=metadata["group"],
                      fixed={**TINY, "epochs": np.int64(1)}, study=tmp_path / "s.db",
                      trials=np.int64(1), folds=np.int64(2), log=quiet)
    assert result.settings["epochs"] == 1 and type(result.settings["epochs"]) is int


# -- borderlines of probe 39, mended ----------------------------------------------

def test_a_tab_at_the_end_of_every_line_of_a_distance_matrix_is_no_column(tmp_path):
    """Was refused as 'the row ids do not match the column ids'."""
    ids = ["a", "b", "c"]
    rows = ["\t".join([""] + ids) + "\t"] + [
        "\t".join([i] + [str(float(i != j)) for j in ids]) + "\t" for i in ids]
    (tmp_path / "dm.tsv").write_text("\n".join(rows) + "\n")
    read = read_distances(tmp_path / "dm.tsv")
    assert read.ids == ids
    np.testing.assert_array_equal(np.asarray(read.matrix), 1.0 - np.eye(3))


def test_a_regressor_of_numbers_as_text_names_them(example):
    """Said only 'must be numeric for a regressor'."""
    table, ages, _ = example
    with pytest.raises(AAMInputError, match=r"holds .* values such as '20.0'.*pd.to_numeric"):
        api.fit_regressor(table, ages.map(str), model="tiny", train=TRAIN, log=quiet)
