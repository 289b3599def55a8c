"""Probe 12 (2026-12-01), the `aam` command and the library: targets too
small to square, a run folder inside a model directory, settings of the
wrong type, targets that are no Series by sample id, a conditioning column
that is an id or a constant, samples without a group, a DataFrame for a
table."""
import biom
import numpy as np
import pandas as pd
import pytest

from aam_core import api
from aam_core.config import TrainConfig
from aam_core.errors import AAMInputError
from aam_core.train.metrics import regression_metrics
from tests.core.test_aam_command_probe_5 import RUN, aam
from tests.core.test_aam_command_probe_11 import files  # noqa: F401 (a fixture)
from tests.core.test_aam_command_probe_6 import refused

TINY = dict(epochs=1, ensemble_size=1, batch_size=8, n_threads=1, device="cpu")


@pytest.fixture(scope="module")
def table(files):
    return biom.load_table(str(files / "table.biom"))


@pytest.fixture(scope="module")
def metadata(files):
    return pd.read_csv(files / "md.tsv", sep="\t", index_col=0, dtype=str)


def _fit(table, targets, log=lambda m: None, **options):
    return api.fit_regressor(table, targets, model="tiny",
                             train=TrainConfig(**{**TINY, **options}), log=log)


def test_targets_too_small_to_square_are_scaled_not_left_as_they_are(table, metadata):
    """Ages times 1e-200: the standard deviation underflowed to 0, the scale
    fell back to 1, and every prediction came out near 0.2."""
    targets = metadata["age"].astype(float) * 1e-200
    bundle = _fit(table, targets)
    ages = metadata["age"].astype(float)
    assert bundle.config["target"]["scale"] == pytest.approx(ages.std(ddof=0) * 1e-200,
                                                             rel=1e-6)
    predicted = api.predict(bundle, table, log=lambda m: None)
    assert predicted.abs().max() < 1e-197
    # the log's metrics square errors on the truth's own scale
    scores = regression_metrics(targets.to_numpy(), targets.to_numpy() * 1.5)
    assert scores["rmse"] > 0 and scores["r2"] == scores["r2"]


def test_a_run_folder_in_a_model_directory_is_refused(files, tmp_path, capsys):
    """--output-dir RUN/model (or the --pretrained input itself) wrote
    checkpoints/ and model/ into it, and it no longer imported."""
    code, output = aam(capsys, "fit-regressor", "--table", files / "table.biom",
                       "--metadata", files / "md.tsv", "--target", "age",
                       "--output-dir", tmp_path / "run", *RUN)
    assert code == 0, output
    model = tmp_path / "run" / "model"
    before = sorted(p.name for p in model.iterdir())
    for folder in (model, model / "inner"):
        code, output = aam(capsys, "fit-regressor", "--table", files / "table.biom",
                           "--metadata", files / "md.tsv", "--target", "age",
                           "--pretrained", model, "--output-dir", folder, *RUN)
        refused(output, code, f"the model directory {model}: the run would write its "
                "checkpoints and model into it")
    assert sorted(p.name for p in model.iterdir()) == before


@pytest.mark.parametrize("field, value, words", [
    ("epochs", "2", "epochs must be an integer or 'auto', not '2'"),
    ("epochs", 1.5, "epochs must be an integer or 'auto', not 1.5"),
    ("epochs", True, "epochs must be an integer or 'auto', not True"),
    ("learning_rate", "0.001", "learning_rate must be a number, not '0.001'"),
    ("ensemble_size", 1.0, "ensemble_size must be an integer, not 1.0"),
    ("quantiles", (0.1, "0.5", 0.9), "quantiles must be a list of numbers"),
])
def test_settings_of_the_wrong_type_are_refused_by_name(table, metadata, field, value, words):
    """They passed the range check and failed in the scheduler or torch."""
    with pytest.raises(AAMInputError, match=words.replace("(", r"\(").replace(".", r"\.")):
        _fit(table, metadata["age"].astype(float), **{field: value})


def test_targets_must_name_samples_once(table, metadata):
    ages = metadata["age"].astype(float)
    with pytest.raises(AAMInputError, match="None of the 24 samples is in the targets"):
        _fit(table, list(ages))
    with pytest.raises(AAMInputError, match="names 1 sample.s. more than once"):
        _fit(table, pd.concat([ages, ages.iloc[:1] + 1]))
    with pytest.raises(AAMInputError, match="true/false values: fit a classifier"):
        _fit(table, ages > 40)


def test_a_dataframe_is_no_table(table, metadata):
    frame = pd.DataFrame(table.matrix_data.toarray().T, index=table.ids(),
                         columns=table.ids("observation"))
    with pytest.raises(AAMInputError, match="must be a biom.Table"):
        _fit(frame, metadata["age"].astype(float))


def test_conditioning_on_an_id_or_a_constant_is_refused(table, metadata):
    ages = metadata["age"].astype(float)
    for values, words in (([f"s{i}" for i in range(24)], "a value of its own for every"),
                          (["one"] * 24, "has one category ('one')")):
        frame = pd.DataFrame({"column": values}, index=metadata.index)
        with pytest.raises(AAMInputError, match=words.replace("(", r"\(").replace(")", r"\)")):
            api.fit_regressor(table, ages, model="tiny", conditioning=frame,
                              train=TrainConfig(**TINY), log=lambda m: None)
    with pytest.raises(AAMInputError, match="has no columns, only sample ids"):
        api.fit_regressor(table, ages, model="tiny",
                          conditioning=pd.DataFrame(index=metadata.index),
                          train=TrainConfig(**TINY), log=lambda m: None)


def test_samples_without_a_group_are_said(table, metadata):
    groups = metadata["group"].copy()
    groups.iloc[:5] = np.nan
    said = []
    api.fit_regressor(table, metadata["age"].astype(float), groups=groups, model="tiny",
                      train=TrainConfig(**TINY), log=said.append)
    assert any("5 of the 24 samples have no group" in line for line in said), said


def test_a_sequence_the_fasta_lacks_is_asked_for_by_the_flag(files, tmp_path, capsys):
    table = biom.load_table(str(files / "table.biom"))
    names = {f: f"asv{i}" for i, f in enumerate(table.ids("observation"))}
    renamed = table.update_ids(names, axis="observation", inplace=False)
    (tmp_path / "hashed.txt").write_text(renamed.to_tsv())
    (tmp_path / "seqs.fa").write_text("".join(f">{n}\n{f}\n" for f, n in
                                              list(names.items())[1:]))
    code, output = aam(capsys, "fit-regressor", "--table", tmp_path / "hashed.txt",
                       "--sequences", tmp_path / "seqs.fa", "--metadata", files / "md.tsv",
                       "--target", "age", "--output-dir", tmp_path / "run", *RUN)
    refused(output, code, "Pass the representative sequences (--sequences) that belong")


def test_settings_tuned_for_a_classifier_are_refused_by_fit_regressor(files, tmp_path,
                                                                    capsys):
    """A classifier's best.json holds options of a regressor too: taken
    silently, it chose a regressor's settings by a classifier's score."""
    (tmp_path / "best.json").write_text(
        '{"learning_rate": 0.001, "about": {"written_by": "aam tune", '
        '"command": "fit-classifier"}}')
    code, output = aam(capsys, "fit-regressor", "--table", files / "table.biom",
                       "--metadata", files / "md.tsv", "--target", "age",
                       "--settings", tmp_path / "best.json",
                       "--output-dir", tmp_path / "run", *RUN)
    refused(output, code, "holds the settings aam tune found for aam fit-classifier, not "
            "aam fit-regressor")


def test_one_number_written_two_ways_is_not_two_classes(files, tmp_path, capsys):
    """Labels 1 / 01 / 2 / 2.0 were four classes; QIIME 2 reads two numbers."""
    metadata = pd.read_csv(files / "md.tsv", sep="\t", index_col=0, dtype=str)
    metadata["code"] = ["1", "01", "2", "2.0"] * 6
    metadata.to_csv(tmp_path / "md.tsv", sep="\t")
    code, output = aam(capsys, "fit-classifier", "--table", files / "table.biom",
                       "--metadata", tmp_path / "md.tsv", "--target", "code",
                       "--output-dir", tmp_path / "run", *RUN)
    refused(output, code, "writes one number in two ways ('1' and '01')")
    # declared categorical, they stay four classes, as in QIIME 2
    lines = (tmp_path / "md.tsv").read_text().splitlines()
    header = lines[0].split("\t")
    types = ["#q2:types"] + ["categorical"] * (len(header) - 1)
    (tmp_path / "typed.tsv").write_text("\n".join([lines[0], "\t".join(types), *lines[1:]]))
    code, output = aam(capsys, "fit-classifier", "--table", files / "table.biom",
                       "--metadata", tmp_path / "typed.tsv", "--target", "code",
                       "--output-dir", tmp_path / "typed", *RUN)
    assert code == 0, output
