"""Valid tables that must be read as they are: sample ids beyond ASCII in
a BIOM (HDF5) file, which biom-format writes but cannot read back."""
import biom
import h5py
import numpy as np

from aam_core.data.io import read_table
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
