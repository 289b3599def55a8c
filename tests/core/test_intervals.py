"""Conformal prediction intervals: the margin rule, and a fitted model's
intervals cover held-out samples about as often as they claim."""
import numpy as np
import pytest

from aam_core import api, intervals
from aam_core.config import TrainConfig
from aam_core.errors import AAMInputError
from tests.core.test_fit import QUIET, _site_data, pools  # noqa: F401


def test_conformal_quantile_is_the_finite_sample_rank():
    values = np.arange(1.0, 10.0)  # 9 scores: rank ceil(10 * 0.8) = 8
    assert intervals.conformal_quantile(values, 0.8) == 8.0
    assert intervals.conformal_quantile(values[:3], 0.9) == 3.0  # few: the largest


def test_scores_of_points_and_of_quantile_intervals():
    truth = np.array([1.0, 5.0, 3.0])
    np.testing.assert_allclose(intervals.scores(truth, np.array([2.0, 5.0, 1.0])),
                               [1.0, 0.0, 2.0])
    bounds = np.array([[0.0, 2.0], [0.0, 4.0], [2.0, 4.0]])  # inside -> negative
    np.testing.assert_allclose(intervals.scores(truth, bounds), [-1.0, 1.0, -1.0])


def test_calibrated_interval_covers_new_noisy_samples():
    rng = np.random.default_rng(0)
    truth = rng.normal(size=2000)
    predicted = truth + rng.normal(scale=2.0, size=2000)  # errors N(0, 2)
    calibrated = intervals.calibration(truth[:1000], predicted[:1000], 0.8)
    lower, upper = intervals.interval(predicted[1000:], predicted[1000:],
                                      predicted[1000:], calibrated)
    covered = np.mean((truth[1000:] >= lower) & (truth[1000:] <= upper))
    assert abs(covered - 0.8) < 0.04
    assert abs(calibrated["margin"] - 2.0 * 1.2816) < 0.25  # the normal's 80% margin


@pytest.mark.parametrize("validation", ["random", "folds"])
def test_a_fitted_regressor_stores_its_calibration(pools, validation):
    table, target, _ = _site_data(pools, 40, "c", 3)
    train = TrainConfig(epochs=2, batch_size=8, nucleotide_weight=0.0, random_state=1,
                        validation_fraction=0.2 if validation == "random" else 0.1,
                        ensemble_size=2, ensemble_validation=validation)
    bundle = api.fit_regressor(table, target, model="tiny", train=train, **QUIET)
    calibrated = bundle.config["target"]["calibration"]
    assert calibrated["level"] == 0.8 and calibrated["margin"] > 0
    # folds: every sample is out of exactly one member's fold
    assert calibrated["n"] == (40 if validation == "folds" else calibrated["n"])
    frame = api.predict_interval(bundle, table, **QUIET)
    assert (frame["lower"] <= frame["prediction"]).all()
    assert (frame["prediction"] <= frame["upper"]).all()
    width = (frame["upper"] - frame["lower"]).to_numpy()
    np.testing.assert_allclose(width, 2 * calibrated["margin"], rtol=1e-5)


def test_a_regressor_without_validation_has_no_interval(pools):
    table, target, _ = _site_data(pools, 24, "n", 4)
    train = TrainConfig(epochs=1, batch_size=8, nucleotide_weight=0.0,
                        validation_fraction=0.0)
    bundle = api.fit_regressor(table, target, model="tiny", train=train, **QUIET)
    assert "calibration" not in bundle.config["target"]
    with pytest.raises(AAMInputError, match="no prediction intervals"):
        api.predict_interval(bundle, table, **QUIET)
