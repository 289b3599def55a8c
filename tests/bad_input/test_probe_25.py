"""Probe 25 (2026-12-01): the `aam` command's TSV readers against QIIME 2's
metadata reader (rows longer than the header, empty header cells, names
QIIME 2 reserves for the id header), and small training sets with the
defaults (the validation split's advice, two samples of two classes)."""
import biom
import h5py
import pytest
import qiime2
from qiime2.plugins import aam as plugin

from q2_aam import _examples

from .conftest import aam, artifact_api, refused

FAST = ("--preset", "tiny", "--epochs", 1, "--ensemble-size", 1, "--n-threads", 1,
        "--batch-size", 8)


def _metadata_lines(end: str = "") -> list:
    frame = _examples.sample_metadata_factory().to_dataframe()
    return ["sample-id\tage\tsite"] + [f"{i}\t{r.age}\t{r.site}{end}"
                                       for i, r in frame.iterrows()]


def _blank_third(line: str) -> str:
    cells = line.split("\t")
    return "\t".join(cells[:2] + [""] + cells[2:])


def _write(path, lines):
    path.write_text("\n".join(lines) + "\n")
    return path


# -- 1. a row longer than the header shifted every column (pandas' index) -----------

def test_a_tab_ending_every_row_is_read_as_qiime2_reads_it(workspace, capsys, tmp_path):
    """Every data row ending in a tab (an empty last cell): QIIME 2 drops
    the empty cells; pandas took the rows' first cells as an index, so the
    ages became the sample ids and `aam fit-regressor` said the file
    'holds the sample id(s) [...] on more than one row' (the ages)."""
    path = _write(tmp_path / "md.tsv", _metadata_lines("\t"))
    ids = list(qiime2.Metadata.load(str(path)).ids)
    code, output = aam(capsys, "fit-regressor", "--table", workspace / "table.biom",
                       "--metadata", path, "--target", "age", *FAST,
                       "--output-dir", tmp_path / "fit")
    assert code == 0, output
    assert (tmp_path / "fit" / "model").is_dir()
    from aam_core.data.io import read_metadata
    frame = read_metadata(str(path))
    assert list(frame.index) == ids and list(frame.columns) == ["age", "site"]


def test_alpha_and_taxonomy_rows_ending_in_a_tab(tmp_path):
    """The same in the --alpha-diversity and --taxonomy files: their values
    were read as the ids (alpha: every value missing)."""
    from aam_core.data.alpha import read_alpha
    from aam_core.data.taxonomy import read_taxonomy
    _write(tmp_path / "a.tsv", ["# alpha", "sample-id\tshannon", "S1\t3.2\t", "S2\t2.1\t"])
    assert read_alpha(tmp_path / "a.tsv").to_dict() == {"S1": "3.2", "S2": "2.1"}
    _write(tmp_path / "t.tsv", ["Feature ID\tTaxon", "F1\tk__B; p__X\t", "F2\tk__B; p__Y\t"])
    assert read_taxonomy(tmp_path / "t.tsv").to_dict() == {"F1": "k__B; p__X",
                                                          "F2": "k__B; p__Y"}


def test_a_row_with_an_extra_value_is_refused(workspace, capsys, tmp_path):
    lines = _metadata_lines()
    lines[3] += "\tnote"
    path = _write(tmp_path / "md.tsv", lines)
    with pytest.raises(Exception, match="more cells than are declared by the header"):
        qiime2.Metadata.load(str(path))
    code, output = aam(capsys, "fit-regressor", "--table", workspace / "table.biom",
                       "--metadata", path, "--target", "age", *FAST,
                       "--output-dir", tmp_path / "fit")
    refused(output, code, "has 4 cells, the header 3 (['note'] beyond it)")


# -- 2. the header and ids as QIIME 2 reads them -------------------------------------

@pytest.mark.parametrize("edit, fragment", [
    (lambda lines: [lines[0] + "\t\t"] + lines[1:], None),  # trailing empty header cells
    (lambda lines: [_blank_third(line) for line in lines], "a column without a name "
     "(column 3)"),
    (lambda lines: ["sample-id\tage\tID"] + lines[1:], "has a column named 'ID'"),
    (lambda lines: lines + lines[:1] + lines[1:2], "has a sample named 'sample-id'"),
    (lambda lines: lines + ["#SampleID\tage\tsite"], "has a sample named '#SampleID'"),
    (lambda lines: lines + ["\t30\tx"], "has a row without a sample id"),
])
def test_the_metadata_reader_agrees_with_qiime2(edit, fragment, tmp_path):
    from aam_core.data.io import read_metadata
    from aam_core.errors import AAMInputError
    path = _write(tmp_path / "md.tsv", edit(_metadata_lines()))
    if fragment is None:
        assert list(read_metadata(str(path)).index) == list(qiime2.Metadata.load(
            str(path)).ids)
        return
    with pytest.raises(Exception):
        qiime2.Metadata.load(str(path))
    with pytest.raises(AAMInputError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        read_metadata(str(path))


# -- 3. small training sets with the defaults ----------------------------------------

def _first(table, n):
    return table.filter(table.ids()[:n], inplace=False)


def test_five_samples_are_told_to_set_validation_fraction_0(capsys, tmp_path):
    """5 samples: the split validates on at least 2 whatever the fraction,
    but the advice was 'Lower --validation-fraction 0.01' even at 0.01."""
    table = _first(_examples.table_factory().view(biom.Table), 5)
    with h5py.File(tmp_path / "t.biom", "w") as handle:
        table.to_hdf5(handle, "probe 25")
    code, output = aam(capsys, "pretrain", "--table", tmp_path / "t.biom",
                       "--validation-fraction", 0.01, "--nucleotide-weight", 1, "--preset",
                       "tiny", "--epochs", 1, "--n-threads", 1,
                       "--output-dir", tmp_path / "run")
    refused(output, code, "A lower fraction still validates on 2 of them: set "
            "--validation-fraction 0")
    artifact = qiime2.Artifact.import_data("FeatureTable[Frequency]", table)
    artifact_api(lambda: plugin.methods.fit_regressor(
        table=artifact, metadata=_examples.sample_metadata_factory().get_column("age"),
        preset="tiny", epochs=1, n_threads=1, ensemble_size=1),
        "set validation_fraction=0")


def test_two_samples_of_two_classes_are_too_few_not_an_id_column(workspace, capsys,
                                                                  tmp_path):
    table = _first(_examples.table_factory().view(biom.Table), 2)
    with h5py.File(tmp_path / "t.biom", "w") as handle:
        table.to_hdf5(handle, "probe 25")
    lines = ["sample-id\tsex"] + [f"{s}\t{x}" for s, x in zip(table.ids(), "MF")]
    code, output = aam(capsys, "fit-classifier", "--table", tmp_path / "t.biom",
                       "--metadata", _write(tmp_path / "md.tsv", lines), "--target",
                       "sex", *FAST, "--output-dir", tmp_path / "fit")
    refused(output, code, "Only 2 sample(s) have both counts and a target; a classifier "
            "needs at least 4")
    assert "id column" not in output
