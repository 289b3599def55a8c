"""Probe 17 (2026-12-01) through QIIME 2 and the library: samples without
a group in the pipelines' splits, advice that would be refused (a
pretrained encoder and longer reads; a pretrained encoder and pretraining
options)."""
import pandas as pd
import qiime2
from qiime2.plugins import aam as plugin

from aam_core.data.split import ungrouped
from q2_aam import _examples

from .conftest import artifact_api

TINY = dict(preset="tiny", epochs=1, batch_size=8, n_threads=1, ensemble_size=1)


def _encoder():
    return plugin.methods.pretrain(table=_examples.table_factory(),
                                   distance_matrix=_examples.distance_matrix_factory(),
                                   preset="tiny", epochs=1, batch_size=8, n_threads=1).model


def test_the_pipelines_say_which_samples_have_no_group(capfd):
    """They became groups of one in the test split without a word."""
    metadata = _examples.sample_metadata_factory().to_dataframe()
    groups = pd.Series([f"g{i // 2}" for i in range(len(metadata))], index=metadata.index,
                       name="subject").iloc[4:]  # the first four samples absent
    plugin.pipelines.regress_samples(
        table=_examples.table_factory(), metadata=qiime2.Metadata(metadata).get_column("age"),
        groups=qiime2.CategoricalMetadataColumn(groups), **TINY)
    said = capfd.readouterr().err
    assert "samples have no group (4 not in the groups metadata" in said
    assert "each is a group of its own in the test split." in said


def test_ungrouped_tells_absent_samples_from_empty_cells():
    groups = pd.Series(["a", None, "b"], index=["s1", "s2", "s3"])
    said = ungrouped(["s1", "s2", "s3", "s4"], groups, "the folds")
    assert said.startswith("2 of the 4 samples have no group (1 not in the groups "
                           "metadata, 1 with an empty group; e.g. s4, s2)")
    assert ungrouped(["s1", "s3"], groups, "the folds") is None


def test_pretraining_options_with_a_pretrained_model_say_to_leave_them_out():
    """It advised to give a distance matrix, which is then refused beside
    a pretrained model."""
    artifact_api(lambda: plugin.pipelines.regress_samples(
        table=_examples.table_factory(),
        metadata=_examples.sample_metadata_factory().get_column("age"),
        pretrained_model=_encoder(), pretrain_epochs=5, **TINY),
        "pretrain_epochs=5 sets the pretraining that this pipeline runs only with a "
        "distance matrix, and none was given, so it would be ignored: leave it out: "
        "pretrained_model is already pretrained.")


def test_a_matrix_of_one_distance_is_refused():
    """Every off-diagonal distance 1 trained without a word (all 0 was refused)."""
    import numpy as np
    import skbio
    ids = list(_examples.distance_matrix_factory().view(skbio.DistanceMatrix).ids)
    flat = np.ones((len(ids), len(ids))) - np.eye(len(ids))
    artifact_api(lambda: plugin.methods.pretrain(
        table=_examples.table_factory(),
        distance_matrix=qiime2.Artifact.import_data("DistanceMatrix",
                                                    skbio.DistanceMatrix(flat, ids)),
        preset="tiny", epochs=1, batch_size=8, n_threads=1),
        "The distance matrix is 1 between every two samples of the table: it tells no "
        "sample from another")
