"""Probe 9 (2026-12-01) and the review before it: what a prediction needs
from the metadata, asked for in the caller's words. Each row finished with
exit 0 or a misleading message before its fix."""
import qiime2
from qiime2.plugins import aam as plugin

from q2_aam import _examples

from .conftest import qiime, refused

TINY = dict(preset="tiny", epochs=1, batch_size=8, n_threads=1, ensemble_size=1)


def test_a_model_normalised_per_site_is_not_predicted_without_the_site(tmp_path):
    """Its predictions are shifted and scaled by each site's training
    statistics; without the site every sample came back in the global
    units, years off, after a warning only --verbose showed."""
    metadata = _examples.sample_metadata_factory()
    model, = plugin.methods.fit_regressor(
        table=_examples.table_factory(), metadata=metadata.get_column("age"),
        normalise_by=metadata.get_column("site"), **TINY)
    model.save(str(tmp_path / "model.qza"))
    _examples.table_factory().save(str(tmp_path / "table.qza"))
    frame = metadata.to_dataframe()
    qiime2.Metadata(frame[["label"]]).save(str(tmp_path / "other.tsv"))
    command = ["aam", "predict-regression", "--i-table", tmp_path / "table.qza",
               "--i-model", tmp_path / "model.qza",
               "--o-predictions", tmp_path / "predictions.qza"]
    code, output = qiime(*command)
    refused(output, code, "This model reads the metadata column(s) 'site' (its target "
            "was normalised per category of it) to predict, and no metadata was given: "
            "give the samples' metadata, with those columns, as --m-conditioning-file.")
    code, output = qiime(*command, "--m-conditioning-file", tmp_path / "other.tsv")
    refused(output, code, "the metadata given lacks them (it has ['label'])")
    assert not (tmp_path / "predictions.qza").exists()


def test_the_librarys_unifrac_weight_without_distances_is_refused_in_q2cli(workspace,
                                                                            tmp_path):
    """1 is TrainConfig()'s default, so it passed as 'the default' in q2cli,
    whose default is 20: a weight the user typed for a matrix not given."""
    code, output = qiime("aam", "pretrain", "--i-table", workspace / "table.qza",
                         "--p-unifrac-weight", "1", "--p-preset", "tiny",
                         "--o-model", tmp_path / "encoder.qza")
    refused(output, code, "--p-unifrac-weight 1 weighs the distance objective, but no "
            "distance matrix was given, so it would be ignored")
