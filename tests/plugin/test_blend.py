"""blend-predictions: an AAM readout's and q2-sample-classifier's forest's
predictions of the real oral-age mini set, averaged; and every input it
must refuse rather than blend into a partial or wrong result."""
import biom
import numpy as np
import pandas as pd
import pytest
import qiime2
from qiime2.plugins import aam, sample_classifier

from aam_core.errors import AAMInputError
from tests.conftest import REPO
from tests.plugin.test_q2cli import qiime

MINI = REPO / "examples" / "oral-age-mini"


@pytest.fixture(scope="module")
def two_models():
    """(forest predictions, AAM predictions) of the mini set's samples."""
    table = qiime2.Artifact.import_data(
        "FeatureTable[Frequency]", biom.load_table(str(MINI / "table.biom")))
    age = qiime2.Metadata.load(str(MINI / "metadata.tsv")).get_column("age")
    forest = sample_classifier.methods.fit_regressor(
        table=table, metadata=age, n_estimators=20, random_state=0, n_jobs=1)
    by_forest, = sample_classifier.methods.predict_regression(
        table=table, sample_estimator=forest.sample_estimator)
    model = aam.methods.fit_regressor(table=table, metadata=age, preset="tiny",
                                      epochs=1, batch_size=8, ensemble_size=1,
                                      n_threads=1).model
    by_aam, = aam.methods.predict_regression(table=table, model=model, n_threads=1)
    return by_forest, by_aam


def _predictions(values, ids):
    return qiime2.Artifact.import_data(
        "SampleData[RegressorPredictions]",
        pd.Series(values, index=pd.Index(ids, name="id"), name="prediction"))


def test_the_blend_is_the_weighted_mean_of_a_forest_and_aam(two_models):
    by_forest, by_aam = (p.view(pd.Series) for p in two_models)
    equal, = aam.methods.blend_predictions(predictions=list(two_models))
    expected = (by_forest + by_aam.reindex(by_forest.index)) / 2
    pd.testing.assert_series_equal(equal.view(pd.Series), expected, check_names=False)
    weighted, = aam.methods.blend_predictions(predictions=list(two_models),
                                              weights=[3.0, 1.0])
    expected = 0.75 * by_forest + 0.25 * by_aam.reindex(by_forest.index)
    np.testing.assert_allclose(weighted.view(pd.Series).to_numpy(), expected.to_numpy())
    assert str(weighted.type) == "SampleData[RegressorPredictions]"


@pytest.mark.parametrize("sets, weights, message", [
    ([[1.0, 2.0]], None, "give two sets of predictions or more"),
    ([[1.0, 2.0], [3.0, 4.0]], [1.0, 2.0, 3.0], "weights has 3 value.s. for 2 sets"),
    ([[1.0, 2.0], [3.0, np.inf]], None, "set 2 has 1 prediction.s. that are not finite"),
])
def test_what_cannot_be_blended_is_refused(sets, weights, message):
    artifacts = [_predictions(values, ["a", "b"]) for values in sets]
    with pytest.raises(AAMInputError, match=message):
        aam.methods.blend_predictions(predictions=artifacts, **({"weights": weights} if weights else {}))


def test_sets_of_other_samples_are_refused_not_cut():
    first, second = _predictions([1.0, 2.0], ["a", "b"]), _predictions([1.0, 2.0], ["a", "c"])
    with pytest.raises(AAMInputError, match=r"set 1 and set 2 predict different samples "
                                            r"\(1 only in set 1, e\.g\. b; 1 only in set 2, "
                                            r"e\.g\. c\)"):
        aam.methods.blend_predictions(predictions=[first, second])


def test_q2cli_names_its_own_flags(tmp_path):
    for name, values in (("one", [1.0, 2.0]), ("two", [3.0, 4.0])):
        _predictions(values, ["a", "b"]).save(str(tmp_path / f"{name}.qza"))
    done = qiime("aam", "blend-predictions", "--i-predictions", tmp_path / "one.qza",
                 tmp_path / "two.qza", "--p-weights", 1, 2, 3,
                 "--o-blended", tmp_path / "blended.qza")
    assert done.returncode == 1
    assert "--p-weights has 3 value(s) for 2 sets of predictions" in done.stderr
    assert "Traceback" not in done.stderr
    done = qiime("aam", "blend-predictions", "--i-predictions", tmp_path / "one.qza",
                 tmp_path / "two.qza", "--p-weights", 1, 3,
                 "--o-blended", tmp_path / "blended.qza")
    assert done.returncode == 0, done.stderr
    blended = qiime2.Artifact.load(str(tmp_path / "blended.qza")).view(pd.Series)
    assert blended.tolist() == [2.5, 3.5]
