"""Probe 13 (2026-12-01), the `aam` command and the library: a target the
file declares numeric given to a classifier, a declared-numeric column
holding text, ONNX inputs that dropped an empty sample or gave training
advice, a class a member never trains on, ids that differ only by case or
spaces, and the library's advice for an empty sample."""
import biom
import pandas as pd
import pytest

from aam_core import api, export
from aam_core.errors import AAMInputError
from aam_core.spelling import speaking
from tests.core.test_aam_command_probe_5 import RUN, aam
from tests.core.test_aam_command_probe_6 import refused
from tests.core.test_aam_command_probe_11 import files, model  # noqa: F401 (fixtures)


def _typed(files, folder, types: dict, **columns):
    """The example metadata with these columns and a '#q2:types' row."""
    metadata = pd.read_csv(files / "md.tsv", sep="\t", index_col=0, dtype=str)
    for name, values in columns.items():
        metadata[name] = values
    row = ["#q2:types"] + [types.get(c, "categorical") for c in metadata.columns]
    lines = metadata.to_csv(sep="\t").splitlines()
    (folder / "typed.tsv").write_text("\n".join([lines[0], "\t".join(row), *lines[1:]]))
    return folder / "typed.tsv"


def test_a_target_declared_numeric_is_no_classifier_target(files, tmp_path, capsys):
    """QIIME 2's fit-classifier refuses it; the `aam` command trained."""
    metadata = _typed(files, tmp_path, {"age": "numeric", "study": "numeric"})
    code, output = aam(capsys, "fit-classifier", "--table", files / "table.biom",
                       "--metadata", metadata, "--target", "study",
                       "--output-dir", tmp_path / "run", *RUN)
    refused(output, code, "The target column 'study' is declared numeric (the file's "
            "'#q2:types' row), and a classifier needs a categorical one")


def test_a_declared_numeric_column_of_text_is_refused_as_qiime2_does(files, tmp_path,
                                                                    capsys):
    metadata = _typed(files, tmp_path, {"age": "numeric", "site": "numeric"},
                      site=["gum", "tongue"] * 12)
    code, output = aam(capsys, "fit-regressor", "--table", files / "table.biom",
                       "--metadata", metadata, "--target", "age",
                       "--output-dir", tmp_path / "run", *RUN)
    refused(output, code, "the column 'site' is declared numeric (its '#q2:types' row) "
            "but holds 'gum'")
    # an empty cell is a missing number, not text
    ages = pd.read_csv(files / "md.tsv", sep="\t", index_col=0, dtype=str)["age"]
    metadata = _typed(files, tmp_path, {"age": "numeric"},
                      age=[""] + list(ages.iloc[1:]))
    code, output = aam(capsys, "fit-regressor", "--table", files / "table.biom",
                       "--metadata", metadata, "--target", "age",
                       "--output-dir", tmp_path / "run2", *RUN)
    assert code == 0, output


def test_onnx_inputs_keep_every_sample_and_give_a_models_advice(files, model):
    """An empty sample was left out without a word (40 in, 39 out), and
    longer reads were told to raise max_length, a training option."""
    bundle = api.load(model)
    table = biom.load_table(str(files / "table.biom"))
    counts = table.matrix_data.toarray()
    counts[:, 0] = 0
    empty = biom.Table(counts, table.ids("observation"), table.ids())
    with pytest.raises(AAMInputError, match="1 sample.s. of the table have zero counts"):
        export.onnx_inputs(bundle, empty)
    longer = table.update_ids({f: f + "ACGT" * 10 for f in table.ids("observation")},
                              axis="observation", inplace=False)
    with pytest.raises(AAMInputError, match="The model was trained on sequences of up to"):
        export.onnx_inputs(bundle, longer)


def test_the_library_advises_on_empty_samples_in_its_own_terms(files, model):
    bundle = api.load(model)
    table = biom.load_table(str(files / "table.biom"))
    counts = table.matrix_data.toarray()
    counts[:, 0] = 0
    empty = biom.Table(counts, table.ids("observation"), table.ids())
    with speaking("python"), pytest.raises(AAMInputError) as info:
        api.predict(bundle, empty, log=lambda m: None)
    assert "filter_samples(table=..., min_frequency=1)" in str(info.value)
    assert "qiime feature-table" not in str(info.value)


def test_a_class_a_member_never_trains_on_is_said(files):
    table = biom.load_table(str(files / "table.biom"))
    ids = list(table.ids())
    labels = pd.Series(["A", "B"] * 11 + ["C", "C"], index=ids)
    said = []
    from aam_core.config import TrainConfig
    # with the default seed, some members' validation splits take both 'C'
    # samples (the split is seeded: the same members every run)
    api.fit_classifier(table, labels, model="tiny", log=said.append, train=TrainConfig(
        epochs=1, ensemble_size=5, batch_size=8, n_threads=1, validation_fraction=0.3))
    notices = [line for line in said if "trains on no sample of class" in line]
    assert notices and all("class(es) 'C' (all went to validation)" in line
                           for line in notices), said


def test_ids_that_differ_only_by_case_or_spaces_are_pointed_out(files, tmp_path, capsys):
    metadata = pd.read_csv(files / "md.tsv", sep="\t", index_col=0, dtype=str)
    metadata.index = pd.Index([i.upper() if n == 0 else i for n, i in
                               enumerate(metadata.index)], name=metadata.index.name)
    metadata.to_csv(tmp_path / "md.tsv", sep="\t")
    table_id = str(biom.load_table(str(files / "table.biom")).ids()[0])
    code, output = aam(capsys, "fit-regressor", "--table", files / "table.biom",
                       "--metadata", tmp_path / "md.tsv", "--target", "age",
                       "--output-dir", tmp_path / "run", *RUN)
    refused(output, code, f"1 of them differ only by case or spaces (e.g. {table_id!r} here, "
            f"{table_id.upper()!r} there): sample ids must match exactly")
