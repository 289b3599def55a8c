"""Input files: a valid table that must be read as it is (sample ids
beyond ASCII in a BIOM file, which biom-format writes but cannot read
back), and a file given in the wrong place, named for what it is."""
import biom
import h5py
import numpy as np
import pytest

from aam_core.data.alpha import read_alpha
from aam_core.data.distances import read_distances
from aam_core.data.io import read_table
from aam_core.errors import AAMInputError
from q2_aam import _examples


def test_a_biom_table_with_non_ascii_ids_is_read(tmp_path):
    table = _examples.table_factory().view(biom.Table)
    ids = list(table.ids())
    renamed = table.update_ids({i: f"Zoë-{k}" if k < 3 else i for k, i in enumerate(ids)},
                               inplace=False)
    path = tmp_path / "table.biom"
    with h5py.File(path, "w") as handle:
        renamed.to_hdf5(handle, "test")
    read = read_table(str(path))
    assert list(read.ids())[:3] == ["Zoë-0", "Zoë-1", "Zoë-2"]
    assert list(read.ids(axis="observation")) == list(table.ids(axis="observation"))
    assert np.array_equal(read.matrix_data.toarray(), table.matrix_data.toarray())


def test_a_fasta_given_as_the_distance_matrix_is_named_a_fasta(tmp_path):
    path = tmp_path / "sequences.fasta"
    path.write_text(">asv1\nACGT\n>asv2\nACGA\n")
    with pytest.raises(AAMInputError, match="is a FASTA file, not a table of distances .*"
                                            "give the sequences with --sequences"):
        read_distances(path)
    with pytest.raises(AAMInputError, match="The alpha diversity file .* is a FASTA file"):
        read_alpha(path)


@pytest.mark.parametrize("text, fragment", [
    ("#OTU ID\ts1\ts2\nf1\t1\t2\nf1\t4\t5\nf2\t1\t1\n",
     "names 1 feature(s) more than once, e.g. 'f1': give each feature one line"),
    ("#OTU ID\ts1\ts1\ts3\nf1\t1\t2\t3\n",
     "names 1 sample(s) more than once, e.g. 's1': give each sample one column"),
    ("#OTU ID\ts1\ts2\n", "it holds a header line and no line of feature counts"),
], ids=["feature-twice", "sample-twice", "header-only"])
def test_a_tsv_table_names_its_repeated_ids_or_its_missing_rows(tmp_path, text, fragment):
    """biom said only 'Duplicate observation IDs', and a header alone was
    read as samples of zero counts ('All 2 samples ... have zero counts')."""
    path = tmp_path / "table.tsv"
    path.write_text(text)
    with pytest.raises(AAMInputError) as error:
        read_table(str(path))
    assert fragment in str(error.value), error.value
