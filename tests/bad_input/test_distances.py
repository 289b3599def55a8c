"""Distance matrices no distance matrix can be: refused by the one check
(aam_core.data.distances.check_distances) that both routes use, before
training starts; a lazy (.npy, HDF5) matrix is checked in its first rows at
opening and block by block as batches read it."""
import numpy as np
import pytest
import qiime2
import skbio

from .conftest import aam, artifact_api, qiime, refused, write_matrix


def asymmetric(d):
    d = d.copy()
    d[0, 1] += 0.3
    return d


def non_hollow(d):
    d = d.copy()
    np.fill_diagonal(d, 0.2)
    return d


def negative(d):
    return d - 0.5 * (1 - np.eye(len(d)))


def with_nan(d):
    d = d.copy()
    d[0, 1] = d[1, 0] = np.nan
    return d


def with_inf(d):
    d = d.copy()
    d[0, 1] = d[1, 0] = np.inf
    return d


MATRICES = {  # name: (change, fragment of the expected message)
    "asymmetric": (asymmetric, "is not symmetric"),
    "non-hollow": (non_hollow, "is not hollow"),
    "negative": (negative, "holds negative values"),
    "nan": (with_nan, "NaN or infinite"),
    "infinite": (with_inf, "NaN or infinite"),
}
# skbio.DistanceMatrix itself refuses asymmetric, non-hollow and NaN data,
# so a QIIME 2 DistanceMatrix can only be negative or infinite
ROWS = ([("aam-tsv", m) for m in MATRICES]
        + [("aam-npy", m) for m in ("asymmetric", "negative", "non-hollow")]
        + [("artifact-api-pretrain", m) for m in ("negative", "infinite")]
        + [("artifact-api-fit-regressor", "negative")]
        + [("q2cli-pretrain", "negative")])


@pytest.mark.parametrize("interface, matrix", ROWS, ids=[f"{i}:{m}" for i, m in ROWS])
def test_bad_distance_matrix_is_refused(interface, matrix, workspace, tmp_path, capsys):
    change, fragment = MATRICES[matrix]
    good = qiime2.Artifact.load(str(workspace / "distances.qza")).view(skbio.DistanceMatrix)
    data, ids = change(good.data), list(good.ids)
    training = ["--preset", "tiny", "--epochs", 1, "--batch-size", 8, "--n-threads", 1,
                "--output-dir", tmp_path / "run"]
    if interface == "aam-tsv":
        path = write_matrix(tmp_path / "d.tsv", data, ids)
        code, output = aam(capsys, "pretrain", "--table", workspace / "table.biom",
                           "--distances", path, *training)
        refused(output, code, fragment)
        assert "epoch 1/" not in output  # refused before training
    elif interface == "aam-npy":
        np.save(tmp_path / "d.npy", data.astype(np.float32))
        (tmp_path / "d.ids").write_text("\n".join(ids) + "\n")
        code, output = aam(capsys, "pretrain", "--table", workspace / "table.biom",
                           "--distances", tmp_path / "d.npy", "--distance-ids",
                           tmp_path / "d.ids", "--validation-fraction", 0, *training)
        refused(output, code, fragment)
        assert "epoch 1/" not in output  # its first block is checked at opening
    else:
        artifact = qiime2.Artifact.import_data(
            "DistanceMatrix", skbio.DistanceMatrix(data, ids, validate=False))
        table = qiime2.Artifact.load(str(workspace / "table.qza"))
        tiny = dict(preset="tiny", epochs=1, batch_size=8)
        from qiime2.plugins import aam as plugin
        if interface == "artifact-api-pretrain":
            artifact_api(lambda: plugin.methods.pretrain(
                table=table, distance_matrix=artifact, **tiny), fragment)
        elif interface == "artifact-api-fit-regressor":
            from q2_aam import _examples
            age = _examples.metadata_factory().get_column("age")
            artifact_api(lambda: plugin.methods.fit_regressor(
                table=table, metadata=age, distance_matrix=artifact,
                unifrac_weight=1.0, ensemble_size=1, **tiny), fragment)
        else:
            artifact.save(str(tmp_path / "d.qza"))
            code, output = qiime("aam", "pretrain", "--i-table", workspace / "table.qza",
                                 "--i-distance-matrix", tmp_path / "d.qza",
                                 "--p-preset", "tiny", "--p-epochs", 1,
                                 "--o-model", tmp_path / "m.qza")
            refused(output, code, fragment)


def test_a_lazy_matrix_is_checked_block_by_block_beyond_its_corner():
    """Past the corner checked at opening, each block batches read is checked."""
    from aam_core.data.distances import DistanceFile
    from aam_core.errors import AAMInputError
    n = 600
    rng = np.random.default_rng(0)
    data = rng.random((n, n)).astype(np.float32)
    data = data + data.T
    np.fill_diagonal(data, 0)
    data[590, 595] += 1.0  # beyond the first 512 rows and columns
    ids = [f"s{i}" for i in range(n)]
    view = DistanceFile(ids, data).view(ids)
    rows = np.arange(0, 8)
    view.block(rows, rows)  # an intact block reads fine
    rows = np.arange(588, 596)
    with pytest.raises(AAMInputError, match="is not symmetric"):
        view.block(rows, rows)
