"""Metadata columns in the roles fit gives them: a regressor's loss weights
or groups named as its own target column would weigh each sample by its
target, or split by it (refused on every interface, in its words); numeric
group labels (family ids) are labels, as the `aam` command always read
them; a folder given as --settings is named a directory."""
import biom
import pandas as pd
import qiime2
from qiime2.plugins import aam as plugin

from aam_core.bundle import ModelBundle

from .conftest import aam, artifact_api, qiime, refused

WHY = "is the target column itself: each sample would weigh as much as its own age"


def _metadata(workspace, folder):
    ids = biom.load_table(str(workspace / "table.biom")).ids()
    path = folder / "m.tsv"
    path.write_text("sample-id\tage\n" + "".join(f"{s}\t{20 + i}\n" for i, s in enumerate(ids)))
    return path


def test_aam(workspace, tmp_path, capsys):
    code, output = aam(capsys, "fit-regressor", "--table", workspace / "table.biom",
                       "--metadata", _metadata(workspace, tmp_path), "--target", "age",
                       "--loss-weights", "age", "--preset", "tiny", "--epochs", 1,
                       "--n-threads", 1, "--output-dir", tmp_path / "run")
    refused(output, code, f"--loss-weights age {WHY}")


def test_artifact_api(workspace, tmp_path):
    metadata = qiime2.Metadata.load(str(_metadata(workspace, tmp_path)))
    table = qiime2.Artifact.load(str(workspace / "table.qza"))
    artifact_api(lambda: plugin.methods.fit_regressor(
        table=table, metadata=metadata.get_column("age"),
        loss_weights=metadata.get_column("age"), preset="tiny", epochs=1, n_threads=1),
        f"loss_weights (column 'age') {WHY}")


def test_q2cli(workspace, tmp_path):
    metadata = _metadata(workspace, tmp_path)
    code, output = qiime("aam", "fit-regressor", "--i-table", workspace / "table.qza",
                         "--m-metadata-file", metadata, "--m-metadata-column", "age",
                         "--m-loss-weights-file", metadata, "--m-loss-weights-column", "age",
                         "--p-preset", "tiny", "--p-epochs", 1, "--p-n-threads", 1,
                         "--o-model", tmp_path / "m.qza")
    refused(output, code, f"--m-loss-weights-column age {WHY}")


def test_aam_groups_as_the_target(workspace, tmp_path, capsys):
    code, output = aam(capsys, "fit-regressor", "--table", workspace / "table.biom",
                       "--metadata", _metadata(workspace, tmp_path), "--target", "age",
                       "--groups", "age", "--preset", "tiny", "--epochs", 1,
                       "--n-threads", 1, "--output-dir", tmp_path / "run")
    refused(output, code, "--groups age is the target column itself: every validation "
                          "split would hold whole target values")


def test_artifact_api_groups_as_the_target(workspace, tmp_path):
    metadata = qiime2.Metadata.load(str(_metadata(workspace, tmp_path)))
    table = qiime2.Artifact.load(str(workspace / "table.qza"))
    artifact_api(lambda: plugin.methods.fit_regressor(
        table=table, metadata=metadata.get_column("age"), groups=metadata.get_column("age"),
        preset="tiny", epochs=1, n_threads=1), "groups (column 'age') is the target column")


def test_a_settings_folder_is_named_a_directory(workspace, tmp_path, capsys):
    code, output = aam(capsys, "fit-regressor", "--table", workspace / "table.biom",
                       "--metadata", _metadata(workspace, tmp_path), "--target", "age",
                       "--settings", tmp_path, "--output-dir", tmp_path / "run")
    refused(output, code, f"--settings {tmp_path} is a directory; give a JSON or YAML file")


def test_numeric_groups_are_labels(workspace, tmp_path):
    table = qiime2.Artifact.load(str(workspace / "table.qza"))
    ids = list(table.view(biom.Table).ids())
    frame = pd.DataFrame({"age": [20.0 + i for i in range(len(ids))],
                          "family": [i // 4 for i in range(len(ids))]},
                         index=pd.Index(ids, name="id"))
    metadata = qiime2.Metadata(frame)  # 'family' is numeric, as QIIME 2 reads it
    model = plugin.methods.fit_regressor(
        table=table, metadata=metadata.get_column("age"), groups=metadata.get_column("family"),
        preset="tiny", epochs=1, ensemble_size=1, batch_size=8, n_threads=1).model
    validation = model.view(ModelBundle).config["training"]["run"]["validation_samples"][0]
    assert validation > 0 and validation % 4 == 0  # whole families of four
