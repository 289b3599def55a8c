"""Probe 8 (2026-12-01, the Artifact API): conditioning on the groups column,
a class of one sample in nested cross-validation, an abundance weight that
a frozen encoder cannot use, an asymmetric loss that weighs nothing. Each
row finished with exit 0 or blamed the wrong cause before its fix."""
import pandas as pd
import pytest
import qiime2
from qiime2.plugins import aam as plugin

from q2_aam import _examples

from .conftest import artifact_api

TINY = dict(preset="tiny", epochs=1, batch_size=8, n_threads=1, ensemble_size=1)


def _table():
    return _examples.table_factory()


def _metadata() -> pd.DataFrame:
    return _examples.sample_metadata_factory().to_dataframe()


def _column(frame: pd.DataFrame, name: str):
    return qiime2.Metadata(frame[[name]]).get_column(name)


def _conditioned_on_the_groups():
    frame = _metadata()
    return plugin.methods.fit_regressor(
        table=_table(), metadata=_column(frame, "age"), groups=_column(frame, "site"),
        conditioning=qiime2.Metadata(frame[["site"]]), **TINY)


def _ncv_with_a_lone_class():
    frame = _metadata()
    frame.loc[frame.index[0], "label"] = "rare"
    return plugin.actions.classify_samples_ncv(table=_table(),
                                               metadata=_column(frame, "label"), cv=2,
                                               **TINY)


def _frozen_encoder_with_an_abundance_weight():
    encoder = plugin.methods.pretrain(table=_table(), preset="tiny", epochs=1,
                                      batch_size=8, n_threads=1).model
    return plugin.methods.fit_regressor(
        table=_table(), metadata=_column(_metadata(), "age"), pretrained_model=encoder,
        freeze_encoder=True, abundance_weight=1.0, **{**TINY, "preset": "tiny"})


def _numeric_weights_read_as_categories():
    frame = _metadata()
    weights = [f"{w:.2f}" for w in 0.5 + frame["age"] / 100]  # text: categorical
    frame["w"] = weights[:-1] + ["inf"]
    return plugin.methods.fit_regressor(
        table=_table(), metadata=_column(frame, "age"), loss_weights=_column(frame, "w"),
        **TINY)


API = {  # case: (call, fragment of the expected message)
    "numeric-loss-weights-read-as-categories": (
        _numeric_weights_read_as_categories,
        "The loss-weights column 'w' is read as categories, but most of its values are "
        "numbers; these are not: 'inf'"),
    "conditioning-on-the-groups-column": (
        _conditioned_on_the_groups,
        "The conditioning column 'site' holds the same values as the groups"),
    "nested-cv-with-a-class-of-one-sample": (
        _ncv_with_a_lone_class, "The class(es) 'rare' of the target have one sample each"),
    "abundance-weight-with-a-frozen-encoder": (
        _frozen_encoder_with_an_abundance_weight,
        "freeze_encoder=True keeps the whole pretrained encoder from learning, so "
        "abundance_weight=1.0 would be ignored"),
    "asymmetric-loss-weighing-nothing": (
        lambda: plugin.methods.fit_regressor(
            table=_table(), metadata=_column(_metadata(), "age"), loss="asymmetric",
            overprediction_weight=0.0, underprediction_weight=0.0, **TINY),
        "is 0 for every prediction: there is nothing to learn"),
}


@pytest.mark.parametrize("case", sorted(API))
def test_artifact_api_refuses(case):
    call, fragment = API[case]
    artifact_api(call, fragment)


def test_embed_of_a_conditioned_model_needs_no_metadata():
    """The embedding comes before an 'add' fusion's conditioning enters: no
    metadata needed, no 'unknown category' notice; metadata given is
    refused as unread (probe 16), not silently ignored."""
    import biom
    from aam_core import api
    from aam_core.bundle import ModelBundle
    site = _examples.site_metadata_factory()
    model = plugin.methods.fit_regressor(
        table=_table(), metadata=_column(_metadata(), "age"), conditioning=site,
        **TINY).model.view(ModelBundle)
    table, heard = _table().view(biom.Table), []
    plain = api.embed(model, table, n_threads=1, log=heard.append)
    assert len(plain) == len(table.ids())
    assert not [m for m in heard if "unknown" in m], heard
    artifact_api(lambda: api.embed(model, table, conditioning=site.to_dataframe(),
                                   n_threads=1, log=lambda message: None),
                 "would not change the embedding: leave it out.")
