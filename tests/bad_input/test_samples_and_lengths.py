"""Samples and sequence lengths: too few samples to train on, a target with
nothing to learn, samples a prediction would lose, sequences longer than a
model reads, settings a pretrained model overrides. Each is refused with
its cause, named as the caller's interface names it."""
import biom
import numpy as np
import pandas as pd
import pytest
import qiime2
from qiime2.plugins import aam

from q2_aam import _examples

from .conftest import aam as aam_command
from .conftest import artifact_api, qiime, refused

TINY = dict(preset="tiny", epochs=1, batch_size=8, n_threads=1)


def _table(change=None) -> qiime2.Artifact:
    table = _examples.table_factory().view(biom.Table)
    counts = table.matrix_data.toarray()
    ids = list(table.ids(axis="observation"))
    if change:
        counts, ids = change(counts, ids)
    return qiime2.Artifact.import_data(
        "FeatureTable[Frequency]", biom.Table(counts, ids, list(table.ids())))


def _zero_sample(counts, ids):
    counts = counts.copy()
    counts[:, 3] = 0
    return counts, ids


def _long_asv(counts, ids):
    return counts, ids[:-1] + ["ACGT" * 75]  # 300 nt


def _age(values=None) -> qiime2.MetadataColumn:
    frame = _examples.metadata_factory().to_dataframe()
    if values is not None:
        frame["age"] = values
    return qiime2.NumericMetadataColumn(frame["age"])


def _label(value: str) -> qiime2.MetadataColumn:
    frame = _examples.metadata_factory().to_dataframe()
    frame["label"] = value
    return qiime2.CategoricalMetadataColumn(frame["label"])


def _other_ids() -> qiime2.MetadataColumn:
    frame = _examples.metadata_factory().to_dataframe()
    frame.index = pd.Index([f"X{i}" for i in range(len(frame))], name="sample-id")
    return qiime2.NumericMetadataColumn(frame["age"])


@pytest.fixture(scope="module")
def encoder():
    """A tiny pretrained encoder (max_length: the examples' longest, 40 nt)."""
    return aam.methods.pretrain(table=_examples.table_factory(),
                                distance_matrix=_examples.distance_matrix_factory(),
                                **TINY).model


@pytest.fixture(scope="module")
def regressor():
    return aam.methods.fit_regressor(table=_examples.table_factory(),
                                     metadata=_age(), **TINY).model


ROWS = {  # name: (call(encoder, regressor), expected fragment)
    "pretrain-one-training-sample": (
        lambda e, r: aam.methods.pretrain(
            table=_examples.table_factory(), validation_fraction=0.95,
            distance_matrix=_examples.distance_matrix_factory(), **TINY),
        "leaves 1 of the 16 usable samples to train on; training needs at least 4. "
        "Lower validation_fraction=0.95"),
    "fit-too-few-training-samples": (
        lambda e, r: aam.methods.fit_regressor(
            table=_examples.table_factory(), metadata=_age(),
            validation_fraction=0.9, **TINY),
        "training needs at least 4"),
    "fit-constant-target": (
        lambda e, r: aam.methods.fit_regressor(
            table=_examples.table_factory(), metadata=_age(np.full(16, 7.0)), **TINY),
        "has the same value (7) for every sample"),
    "fit-single-class": (
        lambda e, r: aam.methods.fit_classifier(
            table=_examples.table_factory(), metadata=_label("healthy"), **TINY),
        "needs at least two classes"),
    "fit-no-sample-in-metadata": (
        lambda e, r: aam.methods.fit_regressor(
            table=_examples.table_factory(), metadata=_other_ids(),
            missing_samples="ignore", **TINY),
        "None of the 16 samples is in the metadata"),
    "fit-all-zero-table": (
        lambda e, r: aam.methods.fit_regressor(
            table=_table(lambda c, i: (np.zeros_like(c), i)), metadata=_age(), **TINY),
        "All 16 samples of the table have zero counts"),
    "fit-rarefaction-deeper-than-every-sample": (
        lambda e, r: aam.methods.fit_regressor(
            table=_examples.table_factory(), metadata=_age(),
            rarefaction_depth=100000, **TINY),
        "No sample reaches the rarefaction depth (100000 reads"),
    "fit-pretrained-other-max-length": (
        lambda e, r: aam.methods.fit_regressor(
            table=_examples.table_factory(), metadata=_age(), pretrained_model=e,
            max_length=300, **TINY),
        "The pretrained model reads sequences of up to 40 nt, so it cannot take "
        "max_length=300"),
    "fit-pretrained-other-preset": (
        lambda e, r: aam.methods.fit_regressor(
            table=_examples.table_factory(), metadata=_age(), pretrained_model=e,
            **{**TINY, "preset": "base"}),
        "preset='base' does not match the pretrained model"),
    "fit-pretrained-longer-reads": (
        lambda e, r: aam.methods.fit_regressor(
            table=_table(_long_asv), metadata=_age(), pretrained_model=e, **TINY),
        "longer than 40 nt (longest 300 nt)"),
    "predict-zero-count-sample": (
        lambda e, r: aam.methods.predict_regression(
            table=_table(_zero_sample), model=r, n_threads=1),
        "1 sample(s) of the table have zero counts, so nothing can be said of them: S03"),
    "predict-longer-reads": (
        lambda e, r: aam.methods.predict_regression(
            table=_table(_long_asv), model=r, n_threads=1),
        "The model was trained on sequences of up to 40 nt"),
}


@pytest.mark.parametrize("case", sorted(ROWS))
def test_artifact_api_refuses(case, encoder, regressor):
    call, fragment = ROWS[case]
    artifact_api(lambda: call(encoder, regressor), fragment)


def test_a_pretrained_model_fixes_max_length_and_the_default_preset_gives_way(encoder):
    # the defaults (max_length 0, preset 'small') take the encoder's; truncate
    # is the run's own, so longer reads are cut to the encoder's 40 nt
    model = aam.methods.fit_regressor(
        table=_table(_long_asv), metadata=_age(), pretrained_model=encoder,
        truncate=True, epochs=1, batch_size=8, n_threads=1).model
    from aam_core.bundle import ModelBundle
    config = model.view(ModelBundle).config
    assert config["data"]["max_length"] == 40 and config["data"]["truncate"]
    assert config["architecture"]["d_model"] == 32  # the tiny encoder's


def test_max_length_0_reads_the_longest_sequence():
    model = aam.methods.pretrain(table=_table(_long_asv),
                                 distance_matrix=_examples.distance_matrix_factory(),
                                 **TINY).model
    from aam_core.bundle import ModelBundle
    config = model.view(ModelBundle).config
    assert config["data"]["max_length"] == config["architecture"]["max_length"] == 300


def test_q2cli_names_its_own_flags(encoder, tmp_path):
    encoder.save(str(tmp_path / "encoder.qza"))
    _examples.table_factory().save(str(tmp_path / "table.qza"))
    _examples.metadata_factory().save(str(tmp_path / "age.tsv"))
    code, output = qiime(
        "aam", "fit-regressor", "--i-table", tmp_path / "table.qza",
        "--i-pretrained-model", tmp_path / "encoder.qza",
        "--m-metadata-file", tmp_path / "age.tsv", "--m-metadata-column", "age",
        "--p-max-length", 300, "--p-epochs", 1, "--o-model", tmp_path / "m.qza")
    refused(output, code, "so it cannot take --p-max-length 300")


def test_aam_names_its_own_flags(tmp_path, capsys):
    table = _examples.table_factory().view(biom.Table)
    with open(tmp_path / "t.biom", "w") as handle:
        handle.write(table.to_json("test"))
    code, output = aam_command(
        capsys, "pretrain", "--table", tmp_path / "t.biom", "--output-dir",
        tmp_path / "run", "--preset", "tiny", "--epochs", 1,
        "--validation-fraction", 0.95, "--nucleotide-weight", 1)
    refused(output, code, "Lower --validation-fraction 0.95")
    assert not (tmp_path / "run").exists()  # no empty --output-dir left behind
