"""Probe 9 (2026-12-01) and the review before it: what a prediction needs
from the metadata, asked for in the caller's words. Each row finished with
exit 0 or a misleading message before its fix."""
import qiime2
from qiime2.plugins import aam as plugin

from q2_aam import _examples

from .conftest import artifact_api, qiime, refused, summarize_classes

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


# -- probe 9 ------------------------------------------------------------------------

def test_numpy_numbers_reach_the_actions_as_python_numbers():
    """QIIME 2's Int and Float accept np.int64 and np.float32; the fit then
    ran and failed on save ('int64 is not JSON serializable')."""
    import numpy as np
    model, = plugin.methods.fit_regressor(
        table=_examples.table_factory(),
        metadata=_examples.sample_metadata_factory().get_column("age"),
        preset="tiny", epochs=np.int64(1), ensemble_size=np.int64(1),
        batch_size=np.int32(8), learning_rate=np.float32(1e-3),
        random_state=np.int64(3), n_threads=1)
    assert str(model.type) == "AAMModel[AAMRegressor]"


def test_more_processes_than_samples_are_refused_before_they_start():
    metadata = _examples.sample_metadata_factory()
    artifact_api(lambda: plugin.methods.fit_regressor(
        table=_examples.table_factory(), metadata=metadata.get_column("age"),
        n_devices=20, **TINY),
        "20 processes need at least one training sample each, and there are at most 16")
    artifact_api(lambda: plugin.methods.fit_regressor(
        table=_examples.table_factory(), metadata=metadata.get_column("age"),
        n_devices=4, **{**TINY, "batch_size": 2}),
        "but batch_size=2 gives 2: raise batch_size to 4 or more")


def test_a_script_read_from_standard_input_trains_on_two_processes(tmp_path):
    """`python - < script`: each spawned process tried to re-run '<stdin>' as
    a file, died, and the launch waited for ever."""
    import subprocess
    import sys
    _examples.table_factory().save(str(tmp_path / "table.qza"))
    script = ("from qiime2 import Artifact\n"
              "from qiime2.plugins import aam\n"
              "from q2_aam import _examples\n"
              "model, = aam.methods.fit_regressor(\n"
              "    table=Artifact.load('table.qza'),\n"
              "    metadata=_examples.sample_metadata_factory().get_column('age'),\n"
              "    preset='tiny', epochs=1, ensemble_size=1, batch_size=8,\n"
              "    n_threads=2, device='cpu', n_devices=2)\n"
              "print('trained', model.type)\n")
    done = subprocess.run([sys.executable, "-"], input=script, text=True,
                          capture_output=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "trained AAMModel[AAMRegressor]" in done.stdout


def _classes_against(truth_labels):
    """summarize-predictions of 'young'/'old' predictions against a truth
    spelled with these labels instead."""
    predicted = ["young" if i % 2 else "old" for i in range(16)]
    return summarize_classes(predicted, [truth_labels.get(p, p) for p in predicted],
                             "stage")


def test_class_labels_in_another_case_are_refused():
    """Accuracy 0, exit 0, where 'young' was spelled 'Young' in the truth."""
    artifact_api(lambda: _classes_against({"young": "Young"}),
                 "The predicted class(es) 'young' (the truth has 'Young') occur in the "
                 "truth column 'stage' only in another case or spacing")


def test_a_predicted_class_the_truth_lacks_is_said_on_the_page(tmp_path):
    visualization, = _classes_against({"young": "juvenile"})
    visualization.export_data(str(tmp_path / "page"))
    page = (tmp_path / "page" / "index.html").read_text()
    assert "Predicted classes that no true value has:</strong>\n    young." in page


def test_a_classifier_imported_as_a_regressor_is_told_its_type(tmp_path):
    model, = plugin.methods.fit_classifier(
        table=_examples.table_factory(),
        metadata=_examples.sample_metadata_factory().get_column("label"), **TINY)
    model.export_data(str(tmp_path / "model"))
    artifact_api(lambda: qiime2.Artifact.import_data("AAMModel[AAMRegressor]",
                                                     str(tmp_path / "model")),
                 "holds a model of kind 'classifier' (config.json), not 'regressor'; "
                 "import it as AAMModel[AAMClassifier]")
