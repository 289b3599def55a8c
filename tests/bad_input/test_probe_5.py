"""Probe 5 (2026-11-30, the Artifact API and q2cli): predictions without a
number, metadata of other samples, folds a giant group leaves too small to
fit, SILVA's numbered ranks, swapped bounds, an interval from one quantile,
a target that is an id column, seeds beyond what numpy takes. Each row
failed before its fix (a misleading message, or exit 0)."""
import numpy as np
import pandas as pd
import pytest
import qiime2
from qiime2.plugins import aam as plugin

from aam_core.data.taxonomy import parse_lineage
from q2_aam import _examples

from .conftest import artifact_api, qiime, refused

TINY = dict(preset="tiny", epochs=1, batch_size=8, n_threads=1, ensemble_size=1)


def _table():
    return _examples.table_factory()


def _ids() -> pd.Index:
    return pd.Index(_examples._sample_ids(), name="sample-id")


def _column(values, name="c") -> qiime2.MetadataColumn:
    return qiime2.Metadata(pd.DataFrame({name: values}, index=_ids())).get_column(name)


def _age():
    return _examples.metadata_factory().get_column("age")


def _no_numbers():
    missing = pd.Series(np.nan, index=_ids(), name="prediction")
    return qiime2.Artifact.import_data("SampleData[RegressorPredictions]", missing)


def _swap_for_giant_group() -> qiime2.MetadataColumn:
    return _column(["big"] * 13 + ["s1", "s2", "s3"], "g")


def _one_quantile_interval():
    model = plugin.methods.fit_regressor(table=_table(), metadata=_age(), loss="quantile",
                                         quantiles=[0.5], **TINY).model
    return plugin.methods.predict_regression_interval(table=_table(), model=model)


def _silva_pretrain():
    ids = list(_table().view(pd.DataFrame).columns)
    lineages = pd.Series([f"D_0__Bacteria;D_1__P{i % 3};D_2__C{i % 4}" for i in
                          range(len(ids))], index=pd.Index(ids, name="Feature ID"),
                         name="Taxon")
    taxonomy = qiime2.Artifact.import_data("FeatureData[Taxonomy]", lineages)
    return plugin.methods.pretrain(table=_table(), taxonomy=taxonomy, preset="tiny",
                                   epochs=1, batch_size=8, n_threads=1)


API = {  # case: (call, fragment of the expected message)
    "summarize-predictions-without-numbers": (
        lambda: plugin.visualizers.summarize_predictions(predictions=_no_numbers(),
                                                         truth=_age()),
        "None of the 16 predictions has a value (all are missing or not numbers"),
    "error-analysis-without-numbers": (
        lambda: plugin.visualizers.error_analysis(predictions=_no_numbers(), truth=_age()),
        "None of the 16 predictions has a value"),
    "error-analysis-metadata-of-other-samples": (
        lambda: plugin.visualizers.error_analysis(
            predictions=_examples.predictions_factory(), truth=_age(),
            metadata=qiime2.Metadata(pd.DataFrame(
                {"site": ["a", "b"]}, index=pd.Index(["x1", "x2"], name="id")))),
        "None of the 16 samples is in the metadata (ids there: e.g. x1, x2"),
    "ncv-fold-left-too-small-by-a-giant-group": (
        lambda: plugin.pipelines.regress_samples_ncv(
            table=_table(), metadata=_age(), groups=_swap_for_giant_group(), cv=4, **TINY),
        "group 'big' holds 13 of the 16 samples, so the model that predicts it would "
        "train on the other 3 only"),
    "classifier-folds-advice-fits-folds": (
        lambda: plugin.methods.fit_classifier(
            table=_table(), metadata=_column(["b"] * 4 + ["a"] * 12),
            groups=_column(["g1"] * 4 + [f"p{i}" for i in range(12)], "g"),
            ensemble_validation="folds", **{**TINY, "ensemble_size": 2}),
        "or ensemble_validation='random' (a smaller split per member)"),
    "classifier-of-an-id-column": (
        lambda: plugin.methods.fit_classifier(
            table=_table(), metadata=_column([f"c{i}" for i in range(16)]), **TINY),
        "Every sample has a class of its own in the target column 'c' (16 classes for "
        "16 samples): is it an id column?"),
    "normalise-by-an-id-column": (
        lambda: plugin.methods.fit_regressor(
            table=_table(), metadata=_age(), **TINY,
            normalise_by=_column([f"s{i}" for i in range(16)], "subject")),
        "No category of normalise_by (column 'subject') has two training samples or more"),
    "interval-from-one-quantile": (
        _one_quantile_interval,
        "This regressor predicts one quantile (0.5), and an interval needs a lower and "
        "an upper one"),
    "swapped-bounds": (
        lambda: plugin.methods.fit_regressor(table=_table(), metadata=_age(), **TINY,
                                             lower_bound=100.0, upper_bound=0.0),
        "lower_bound=100.0 is not below upper_bound=0.0: swap them"),
}


@pytest.mark.parametrize("case", sorted(API))
def test_artifact_api_refuses(case):
    call, fragment = API[case]
    artifact_api(call, fragment)


def test_silva_numbered_ranks_are_read_by_their_level():
    lineage = parse_lineage("D_0__Bacteria;D_1__Firmicutes;D_2__Bacilli;"
                            "D_5__Streptococcus;D_6__uncultured bacterium")
    assert lineage == {"domain": "Bacteria", "phylum": "Firmicutes", "class": "Bacilli",
                       "genus": "Streptococcus"}
    from aam_core.bundle import ModelBundle
    model, = _silva_pretrain()
    assert model.view(ModelBundle).config["taxonomy"]["ranks"] == ["phylum", "class"]


def test_q2cli_names_swapped_bounds_by_flag(tmp_path):
    _table().save(str(tmp_path / "table.qza"))
    _examples.metadata_factory().save(str(tmp_path / "metadata.tsv"))
    code, output = qiime("aam", "fit-regressor", "--i-table", tmp_path / "table.qza",
                         "--m-metadata-file", tmp_path / "metadata.tsv",
                         "--m-metadata-column", "age", "--p-preset", "tiny",
                         "--p-lower-bound", 100, "--p-upper-bound", 0,
                         "--o-model", tmp_path / "model.qza")
    refused(output, code, "--p-lower-bound 100 is not below --p-upper-bound 0: swap them")


def test_a_seed_beyond_numpy_is_refused_by_its_range():
    """QIIME 2's own type check (a TypeError naming the parameter and its
    range), where torch's overflow was raised from inside the fit."""
    with pytest.raises(TypeError, match=r"Parameter 'random_state' received "
                                        r"1180591620717411303424 .* Range\(0, 2147483648\)"):
        plugin.methods.fit_regressor(table=_table(), metadata=_age(), **TINY,
                                     random_state=2 ** 70)
