"""Probe 12 (2026-12-01) through QIIME 2, and the borderline cases earlier
probes left: a distance matrix short of some samples, counted in the
pipelines by one split's samples; the pipelines' ridge readout; a q2cli
flag that does not exist; a conditioning file without columns; whole
numbers written as 1.032e+04."""
import pandas as pd
import qiime2
import skbio
from qiime2.plugins import aam as plugin

from q2_aam import _examples

from .conftest import artifact_api, qiime, refused

TINY = dict(preset="tiny", epochs=1, batch_size=8, n_threads=1, ensemble_size=1)


def _short_matrix(dropped: int):
    """The example distance matrix without its first `dropped` samples."""
    full = _examples.distance_matrix_factory().view(skbio.DistanceMatrix)
    kept = list(full.ids)[dropped:]
    return qiime2.Artifact.import_data("DistanceMatrix", full.filter(kept))


def test_the_pipelines_count_the_tables_samples_a_matrix_lacks():
    """Four samples short: the message said 3 (those of the training split)."""
    for pipeline in (plugin.pipelines.regress_samples, plugin.pipelines.regress_samples_ncv):
        artifact_api(
            lambda: pipeline(table=_examples.table_factory(),
                             metadata=_examples.sample_metadata_factory().get_column("age"),
                             distance_matrix=_short_matrix(4), **TINY),
            "4 sample(s) of the table are not in the distance matrix (distance_matrix)")


def test_the_pipelines_ridge_readout_names_their_distance_matrix_route():
    """fit-regressor's refusal asked for a pretrained model only; a pipeline
    can also pretrain one itself from a distance matrix."""
    artifact_api(
        lambda: plugin.pipelines.regress_samples(
            table=_examples.table_factory(),
            metadata=_examples.sample_metadata_factory().get_column("age"),
            readout="ridge", **TINY),
        "readout='ridge' reads a pretrained encoder's embeddings: give pretrained_model, "
        "or distance_matrix to pretrain one on the training samples here")


def test_normalise_by_is_named_by_its_q2cli_flag(workspace, tmp_path):
    """Probe 12: q2cli was told of --p-normalise-by, which does not exist."""
    frame = _examples.sample_metadata_factory().to_dataframe()
    frame["subject"] = [f"s{i}" for i in range(len(frame))]
    frame.to_csv(tmp_path / "md.tsv", sep="\t")
    code, output = qiime(
        "aam", "fit-regressor", "--i-table", workspace / "table.qza",
        "--m-metadata-file", tmp_path / "md.tsv", "--m-metadata-column", "age",
        "--m-normalise-by-file", tmp_path / "md.tsv", "--m-normalise-by-column", "subject",
        "--p-preset", "tiny", "--p-epochs", 1, "--p-ensemble-size", 1, "--p-n-threads", 1,
        "--o-model", tmp_path / "model.qza")
    refused(output, code, "No category of --m-normalise-by-column subject has two training "
            "samples or more")
    assert "--p-normalise-by" not in output


def test_a_conditioning_file_without_columns_is_refused():
    """Probe 12: the model came out unconditioned, without a word."""
    ids = _examples.sample_metadata_factory().to_dataframe().index
    artifact_api(
        lambda: plugin.methods.fit_regressor(
            table=_examples.table_factory(),
            metadata=_examples.sample_metadata_factory().get_column("age"),
            conditioning=qiime2.Metadata(pd.DataFrame(index=ids)), **TINY),
        "The conditioning metadata (conditioning) has no columns, only sample ids")


def test_whole_numbers_of_a_page_are_written_in_full():
    """Probe 12: error-analysis showed study 10317 as 1.032e+04."""
    from q2_aam._errors import _format
    assert [_format(v) for v in (10317.0, 2.5, 123456.0, float("nan"))] == \
        ["10317", "2.5", "123456", ""]
