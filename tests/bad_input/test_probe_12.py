"""Probe 12 (2026-12-01) and the borderline cases earlier probes left: a
distance matrix short of some samples, counted in the pipelines by one
split's samples instead of the table's."""
import qiime2
import skbio
from qiime2.plugins import aam as plugin

from q2_aam import _examples

from .conftest import artifact_api

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
