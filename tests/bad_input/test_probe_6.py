"""Probe 6 (2026-12-01, the Artifact API and q2cli): blend weights that are
not numbers, overflow or repeat a set; bounds of nan; counts beyond what
torch can hold; repeated or one-sided quantiles; intervals calibrated on too
few predictions; conditioning metadata without the model's column; groups
that are a classifier's classes. Each row failed before its fix (exit 0, a
wrong cause, or a traceback)."""
import numpy as np
import pandas as pd
import pytest
import qiime2
from qiime2.plugins import aam as plugin

from q2_aam import _examples

from .conftest import artifact_api, qiime, refused

TINY = dict(preset="tiny", epochs=1, batch_size=8, n_threads=1, ensemble_size=1)


def _table():
    return _examples.table_factory()


def _metadata() -> qiime2.Metadata:
    return _examples.sample_metadata_factory()


def _fit(**options):
    return plugin.methods.fit_regressor(table=_table(), metadata=_metadata().get_column("age"),
                                        **{**TINY, **options}).model


def _blend(*sets, **options):
    return plugin.methods.blend_predictions(predictions=list(sets), **options)


def _two_sets():
    return _examples.predictions_factory(), _examples.other_predictions_factory()


def _conditioned_prediction_without_its_column():
    model = _fit(conditioning=_examples.site_metadata_factory())
    other = qiime2.Metadata(_metadata().to_dataframe()[["label"]])
    return plugin.methods.predict_regression(table=_table(), model=model, conditioning=other)


def _interval_from_two_predictions():
    # 16 samples, a validation fraction of 0.1 and one member: 2 out-of-fold
    model = _fit()
    return plugin.methods.predict_regression_interval(table=_table(), model=model)


API = {  # case: (call, fragment of the expected message)
    "blend-weight-nan": (lambda: _blend(*_two_sets(), weights=[1.0, float("nan")]),
                         "weights must be a number, not nan"),
    "blend-the-same-set-twice": (
        lambda: _blend(_examples.predictions_factory(), _examples.predictions_factory()),
        "sets 1 and 2 are the same predictions (one set given twice)"),
    "lower-bound-nan": (lambda: _fit(lower_bound=float("nan")),
                        "lower_bound must be a number, not nan"),
    "upper-bound-nan": (lambda: _fit(upper_bound=float("nan")),
                        "upper_bound must be a number, not nan"),
    "patience-beyond-a-32-bit-count": (lambda: _fit(patience=10 ** 30),
                                       "patience must be at most 2147483647"),
    "quantiles-repeated": (lambda: _fit(loss="quantile", quantiles=[0.5, 0.5, 0.9]),
                           "quantiles repeats 0.5: give each quantile once"),
    "quantiles-all-below-the-median": (
        lambda: _fit(loss="quantile", quantiles=[0.05, 0.1]),
        "With quantiles 0.05 0.1 the prediction (the quantile closest to 0.5, 0.1) "
        "would be an edge of its own interval"),
    "interval-calibrated-on-two-predictions": (
        _interval_from_two_predictions,
        "intervals were calibrated on 2 out-of-fold prediction(s); an interval at 80% "
        "needs at least 4"),
    "conditioning-metadata-without-the-models-column": (
        _conditioned_prediction_without_its_column,
        "reads the metadata column(s) 'site' (its conditioning) to predict, and the "
        "metadata given lacks them"),
    "groups-that-are-the-classes": (
        lambda: plugin.methods.fit_classifier(
            table=_table(), metadata=_metadata().get_column("label"),
            groups=_metadata().get_column("label"), **TINY),
        "The groups are the classes of the target itself"),
}


@pytest.mark.parametrize("case", sorted(API))
def test_artifact_api_refuses(case):
    call, fragment = API[case]
    artifact_api(call, fragment)


@pytest.mark.parametrize("option, value, declared", [
    ("n_threads", 10 ** 30, r"Range\(0, 1024, inclusive_end=True\)"),
    ("hidden_width", 10 ** 30, r"Range\(0, 65536, inclusive_end=True\)"),
    ("max_length", 10 ** 11, r"Range\(0, 100000, inclusive_end=True\)"),
    ("regression_experts", 10 ** 30, r"Range\(1, 64, inclusive_end=True\)"),
    ("ensemble_size", 10 ** 30, r"Range\(1, 100, inclusive_end=True\)"),
])
def test_counts_torch_cannot_hold_are_refused_by_their_range(option, value, declared):
    """QIIME 2's own type check names the parameter and its range, where
    torch overflowed ("Overflow when unpacking long long"), allocated
    terabytes or never finished."""
    with pytest.raises(TypeError, match=rf"Parameter '{option}' received .*{declared}"):
        _fit(**{option: value})


def test_huge_blend_weights_weigh_as_their_ratio():
    first, second = _two_sets()
    huge = _blend(first, second, weights=[1e308, 1e308]).blended.view(pd.Series)
    equal = _blend(first, second).blended.view(pd.Series)
    assert np.isfinite(huge).all() and np.allclose(huge, equal)


def test_an_infinite_weight_is_refused_on_both_routes():
    """QIIME 2's Range refuses inf; aam_core's blend (no QIIME 2) too."""
    from aam_core.blend import blend
    from aam_core.errors import AAMInputError
    with pytest.raises(TypeError, match=r"Parameter 'weights' received \[1.0, inf\]"):
        _blend(*_two_sets(), weights=[1.0, float("inf")])
    first, second = (made.view(pd.Series) for made in _two_sets())
    with pytest.raises(AAMInputError, match="weights must be finite numbers"):
        blend([first, second], [1.0, float("inf")])


def test_q2cli_names_a_nan_weight_by_its_flag(tmp_path):
    for number, made in enumerate(_two_sets()):
        made.save(str(tmp_path / f"p{number}.qza"))
    code, output = qiime("aam", "blend-predictions", "--i-predictions", tmp_path / "p0.qza",
                         tmp_path / "p1.qza", "--p-weights", 1, "nan",
                         "--o-blended", tmp_path / "blended.qza")
    refused(output, code, "--p-weights must be a number, not nan")
