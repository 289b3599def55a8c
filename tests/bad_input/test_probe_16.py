"""Probe 16 (2026-12-01) through QIIME 2: embed of a model whose sample
encoder reads its conditioning (fusion 'cross_attention'), intervals
advice in q2cli's words, conditioning categories spelled in another case."""
import pandas as pd
import qiime2
from qiime2.plugins import aam as plugin

from q2_aam import _examples

from .conftest import artifact_api, qiime, refused

TINY = dict(preset="tiny", epochs=1, batch_size=8, n_threads=1, ensemble_size=1)


def _site(upper: bool = False):
    frame = _examples.sample_metadata_factory().to_dataframe()[["site"]]
    if upper:
        frame["site"] = frame["site"].str.upper()
    return qiime2.Metadata(frame)


def _fitted(fusion: str):
    return plugin.methods.fit_regressor(
        table=_examples.table_factory(),
        metadata=_examples.sample_metadata_factory().get_column("age"),
        conditioning=_site(), fusion=fusion, **TINY).model


def test_embed_of_a_cross_attention_model_needs_its_conditioning():
    """Its embedding depends on the categories: embed took none and made
    the embedding of every sample as of an unknown category, exit 0."""
    model, table = _fitted("cross_attention"), _examples.table_factory()
    artifact_api(lambda: plugin.methods.embed(table=table, model=model, n_threads=1),
                 "This model reads the metadata column(s) 'site' (its conditioning) "
                 "to embed, and no metadata was given")
    embeddings, distances = plugin.methods.embed(table=table, model=model,
                                                 conditioning=_site(), n_threads=1)
    import skbio
    matrix = distances.view(skbio.DistanceMatrix)
    assert len(matrix.ids) == len(_examples.table_factory().view(pd.DataFrame))
    assert matrix.data.max() > 0


def test_embed_of_an_add_fusion_model_refuses_conditioning_it_would_not_read():
    model, table = _fitted("add"), _examples.table_factory()
    artifact_api(lambda: plugin.methods.embed(table=table, model=model,
                                              conditioning=_site(), n_threads=1),
                 "This model's conditioning enters after the sample embedding (fusion "
                 "'add'), so the metadata given (columns ['site']) would not change the "
                 "embedding: leave it out.")
    plugin.methods.embed(table=table, model=model, n_threads=1)  # needs none


def test_categories_in_another_case_than_in_training_are_refused():
    """Every sample was predicted as of an unknown site, exit 0, no word."""
    model = _fitted("add")
    artifact_api(lambda: plugin.methods.predict_regression(
        table=_examples.table_factory(), model=model, conditioning=_site(upper=True)),
        "Conditioning column 'site': 2 categor(ies) differ from the model's only by "
        "case or spaces (e.g. 'GUM' here, 'gum' in training)")


def test_intervals_advice_names_q2cli_flags(tmp_path):
    """It said loss='quantile' to a q2cli user."""
    model = plugin.methods.fit_regressor(
        table=_examples.table_factory(),
        metadata=_examples.sample_metadata_factory().get_column("age"),
        validation_fraction=0.0, **TINY).model
    model.save(str(tmp_path / "model.qza"))
    _examples.table_factory().save(str(tmp_path / "table.qza"))
    code, output = qiime("aam", "predict-regression-interval", "--i-table",
                         tmp_path / "table.qza", "--i-model", tmp_path / "model.qza",
                         "--o-predictions", tmp_path / "p.qza", "--o-lower", tmp_path / "l.qza",
                         "--o-upper", tmp_path / "u.qza")
    refused(output, code, "Refit it with --p-validation-fraction above 0 (any loss), or "
            "with --p-loss quantile.")


def test_infinite_predictions_are_refused_by_the_pages():
    """MAE inf and R2 -inf pages, without a note."""
    frame = _examples.sample_metadata_factory().to_dataframe()
    values = (frame["age"] + 3).rename("prediction").rename_axis("id")
    values.iloc[2] = float("inf")
    predictions = qiime2.Artifact.import_data("SampleData[RegressorPredictions]", values)
    truth = _examples.sample_metadata_factory().get_column("age")
    for visualizer in (plugin.visualizers.summarize_predictions,
                       plugin.visualizers.error_analysis):
        artifact_api(lambda: visualizer(predictions=predictions, truth=truth),
                     f"1 of the {len(values)} predictions are infinite (e.g. sample "
                     f"{values.index[2]}: inf)")
