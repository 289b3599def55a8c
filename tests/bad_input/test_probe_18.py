"""Probe 18 (2026-12-01): intervals of a target with a large offset, empty
samples found after the pipelines' fits, the library's batch_size, counts
whose sample total overflows."""
import biom
import numpy as np
import pandas as pd
import pytest
import qiime2
from qiime2.plugins import aam as plugin

from aam_core import api
from aam_core.config import FIT_TRAIN_DEFAULTS
from aam_core.errors import AAMInputError
from q2_aam import _examples

from .conftest import artifact_api

TINY = dict(preset="tiny", epochs=1, batch_size=8, n_threads=1)


def test_a_constant_offset_leaves_the_interval_margin_as_it_is():
    """age + 1e9 gave a margin of 63 for 29.3: the out-of-fold predictions
    were taken in 32-bit target units."""
    from dataclasses import replace
    table = _examples.table_factory().view(biom.Table)
    age = _examples.sample_metadata_factory().to_dataframe()["age"]
    train = replace(FIT_TRAIN_DEFAULTS, epochs=1, batch_size=8, ensemble_size=2,
                    random_state=3)
    margins = [api.fit_regressor(table, age + offset, model="tiny", train=train,
                                 log=lambda m: None).config["target"]["calibration"]["margin"]
               for offset in (0.0, 1e9)]
    assert margins[1] == pytest.approx(margins[0], rel=1e-4)


def test_the_pipelines_refuse_empty_samples_before_any_fit(capfd):
    frame = _examples.table_factory().view(pd.DataFrame)
    frame.iloc[:3] = 0
    table = qiime2.Artifact.import_data("FeatureTable[Frequency]", frame)
    artifact_api(lambda: plugin.pipelines.regress_samples(
        table=table, metadata=_examples.sample_metadata_factory().get_column("age"),
        ensemble_size=1, **TINY), "3 sample(s) of the table have zero counts")
    assert "Fitting" not in capfd.readouterr().err


@pytest.mark.parametrize("size", [0, -3, 2.5, True])
def test_the_librarys_batch_size_is_checked(size):
    table = _examples.table_factory().view(biom.Table)
    with pytest.raises(AAMInputError, match="batch_size must be a whole number of 1 or more"):
        api.embed(None, table, batch_size=size)


def test_counts_whose_sample_total_overflows_are_refused():
    """Each count finite, their sum not: a NaN prediction, exit 0."""
    from aam_core.data.table import CountTable, clean_table
    counts = np.array([[1.5e308, 1.5e308], [3.0, 4.0]])
    table = CountTable.from_dense(counts, ["s1", "s2"], ["ACGT", "ACGA"])
    with pytest.raises(AAMInputError, match="The counts of 1 sample.s. add up to more "
                                            "than a 64-bit number holds .e.g. s1."):
        clean_table(table, 0, lambda m: None)


def test_feature_ids_that_are_not_dna_name_the_aam_commands_flag(tmp_path, capsys):
    """It named FeatureData[Sequence], a QIIME 2 type, to an aam command user."""
    from .conftest import aam, refused
    frame = _examples.table_factory().view(pd.DataFrame)
    frame.columns = [f"asv{i}" for i in range(frame.shape[1])]
    table = biom.Table(frame.T.to_numpy(), list(frame.columns), list(frame.index))
    with biom.util.biom_open(str(tmp_path / "t.biom"), "w") as handle:
        table.to_hdf5(handle, "test")
    metadata = _examples.sample_metadata_factory().to_dataframe()[["age"]]
    metadata.index.name = "sample-id"
    metadata.to_csv(tmp_path / "md.tsv", sep="\t")
    code, output = aam(capsys, "fit-regressor", "--table", tmp_path / "t.biom", "--metadata",
                       tmp_path / "md.tsv", "--target", "age", "--output-dir",
                       tmp_path / "run", "--preset", "tiny", "--epochs", 1)
    refused(output, code, "Pass the representative sequences that belong to the table "
            "(--sequences: a FASTA file).")


def test_a_table_of_identical_samples_is_refused_for_training():
    """It trained without a word, and every prediction was the same."""
    frame = _examples.table_factory().view(pd.DataFrame)
    frame.iloc[:] = frame.iloc[0].to_numpy()
    table = biom.Table(frame.T.to_numpy(), list(frame.columns), list(frame.index))
    age = _examples.sample_metadata_factory().to_dataframe()["age"]
    with pytest.raises(AAMInputError, match=f"All {len(frame)} samples of the table hold "
                                            "the same counts"):
        api.fit_regressor(table, age, model="tiny", log=lambda m: None)


def test_the_library_takes_a_one_column_frame_as_targets_and_refuses_more():
    from dataclasses import replace
    table = _examples.table_factory().view(biom.Table)
    frame = _examples.sample_metadata_factory().to_dataframe()
    train = replace(FIT_TRAIN_DEFAULTS, epochs=1, batch_size=8, ensemble_size=1)
    api.fit_regressor(table, frame[["age"]], model="tiny", train=train, log=lambda m: None)
    with pytest.raises(AAMInputError, match="targets= is a table of 3 columns"):
        api.fit_regressor(table, frame, model="tiny", train=train, log=lambda m: None)


def test_truncation_is_said(tmp_path):
    from aam_core.config import DataConfig
    from aam_core.data.prepare import prepare
    from aam_core.data.table import CountTable
    table = CountTable.from_dense(np.array([[1.0, 2.0], [3.0, 1.0]]), ["s1", "s2"],
                                  ["ACGTACGTAC", "ACGT"])
    heard = []
    prepare(table, None, DataConfig(max_length=6, truncate=True), heard.append)
    assert "1 sequence(s) longer than 6 nt are cut to 6 nt (truncate)." in heard
