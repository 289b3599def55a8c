"""Options that another option's value, or a missing input, would make
ignored or contradictory (the probe of 2026-11-30): each is refused before
any training, naming both options as the caller's interface spells them."""
import numpy as np
import pandas as pd
import pytest
import qiime2
from qiime2.plugins import aam as plugin

from q2_aam import _examples

from .conftest import aam, artifact_api, refused

TINY = dict(preset="tiny", epochs=1, batch_size=8, n_threads=1)
FLAGS = ["--preset", "tiny", "--epochs", 1, "--batch-size", 8, "--n-threads", 1]


def _metadata() -> qiime2.Metadata:
    return _examples.sample_metadata_factory()


def _fit(**options):
    return plugin.methods.fit_regressor(table=_examples.table_factory(), **{
        "metadata": _metadata().get_column("age"), "ensemble_size": 1, **TINY, **options})


def _site() -> qiime2.Metadata:
    return _examples.site_metadata_factory()


API = {  # case: (call, fragment of the expected message)
    "expert-balance-with-one-expert": (
        lambda: _fit(expert_balance=0.5),
        "expert_balance=0.5 balances the experts of a head with regression_experts "
        "above 1, and this head has 1, so it would be ignored"),
    "abundance-mask-ratio-without-abundance-objective": (
        lambda: _fit(abundance_mask_ratio=0.4),
        "abundance_mask_ratio=0.4 only acts with abundance_weight above 0, but "
        "abundance_weight is 0.0"),
    "mask-ratio-without-nucleotide-objective": (
        lambda: _fit(mask_ratio=0.4),
        "mask_ratio=0.4 only acts with nucleotide_weight above 0"),
    "patience-without-validation": (
        lambda: _fit(patience=2, validation_fraction=0.0),
        "patience=2 only acts with validation_fraction above 0, but "
        "validation_fraction is 0.0, so it would be ignored"),
    "selection-metric-without-validation": (
        lambda: _fit(selection_metric="r2", validation_fraction=0.0),
        "selection_metric='r2' only acts with validation_fraction above 0"),
    "ensemble-folds-with-one-member": (
        lambda: _fit(ensemble_validation="folds"),
        "ensemble_validation='folds' only acts with ensemble_size above 1"),
    "ensemble-folds-with-a-validation-fraction": (
        lambda: _fit(ensemble_size=2, ensemble_validation="folds",
                     validation_fraction=0.3),
        "With ensemble_validation='folds' each member validates on one of "
        "ensemble_size folds, so validation_fraction=0.3 would be ignored"),
    "learning-rate-with-the-range-test": (
        lambda: _fit(find_learning_rate=True, learning_rate=0.01),
        "learning_rate=0.01 only acts with find_learning_rate=False"),
    "normalise-by-without-normalisation": (
        lambda: _fit(normalisation="none", normalise_by=_metadata().get_column("site")),
        "normalise_by (column 'site') normalises the target per category, but "
        "normalisation='none' turns normalisation off"),
    "normalise-by-the-target": (
        lambda: plugin.methods.fit_regressor(
            table=_examples.table_factory(), metadata=_metadata().get_column("age"),
            normalise_by=qiime2.CategoricalMetadataColumn(
                _metadata().get_column("site").to_series().rename("age")),
            ensemble_size=1, **TINY),
        "normalise_by (column 'age') names the target column: the target cannot be "
        "normalised by itself"),
    "unknown-rate-without-conditioning": (
        lambda: _fit(unknown_rate=0.3),
        "unknown_rate=0.3 acts on the conditioning columns, and none were given, "
        "so it would be ignored"),
    "conditional-output-without-conditioning": (
        lambda: _fit(conditional_output=True),
        "conditional_output=True acts on the conditioning columns, and none were given"),
    "hierarchical-without-conditioning": (
        lambda: _fit(hierarchical=True),
        "hierarchical=True finds nested columns of the conditioning metadata, and none "
        "was given"),
    "groups-of-other-samples": (
        lambda: _fit(groups=qiime2.CategoricalMetadataColumn(pd.Series(
            ["a", "b"], index=pd.Index(["X1", "X2"], name="id"), name="group"))),
        "None of the 16 samples is in the groups (ids there: e.g. X1, X2"),
    "loss-weights-of-other-samples": (
        lambda: _fit(loss_weights=qiime2.NumericMetadataColumn(pd.Series(
            [1.0, 2.0], index=pd.Index(["X1", "X2"], name="id"), name="w"))),
        "None of the 16 samples is in the loss_weights"),
    "predict-with-conditioning-of-other-samples": (
        lambda: plugin.methods.predict_regression(
            table=_examples.table_factory(), n_threads=1,
            model=_fit(conditioning=_site(), epochs=1).model,
            conditioning=qiime2.Metadata(pd.DataFrame(
                {"site": ["gum", "tongue"]}, index=pd.Index(["X1", "X2"], name="id")))),
        "None of the 16 samples is in the conditioning metadata"),
    "summarize-classes-against-a-column-without-them": (
        lambda: plugin.visualizers.summarize_predictions(
            predictions=qiime2.Artifact.import_data(
                "SampleData[ClassifierPredictions]", pd.Series(
                    ["caries"] * 16, index=pd.Index(_metadata().ids, name="id"),
                    name="prediction")),
            truth=_metadata().get_column("site")),
        "None of the predicted classes (caries) occurs in the truth column 'site'"),
    "hierarchical-without-nested-columns": (
        lambda: _fit(conditioning=_site(), hierarchical=True),
        "hierarchical=True found no nested columns among ['site']"),
    "fusion-none-without-conditional-output": (
        lambda: _fit(conditioning=_site(), fusion="none"),
        "fusion='none' uses the conditioning columns only for conditional_output, "
        "which is off, so the columns would be ignored"),
    "head-dropout-with-a-linear-head": (
        lambda: _fit(hidden_layers=0, head_dropout=0.5),
        "head_dropout=0.5 acts in the head's hidden layers, but hidden_layers=0 makes "
        "the head linear"),
    "regress-samples-pretrain-epochs-without-distances": (
        lambda: plugin.pipelines.regress_samples(
            table=_examples.table_factory(), metadata=_metadata().get_column("age"),
            pretrain_epochs=5, ensemble_size=1, **TINY),
        "pretrain_epochs=5 sets the pretraining that this pipeline runs only with a "
        "distance matrix, and none was given, so it would be ignored"),
    "frozen-encoder-with-its-nucleotide-encoder-not": (
        lambda: _fit(freeze_encoder=True, freeze_nucleotide_encoder=False),
        "freeze_encoder=True freezes the whole encoder, its nucleotide encoder too, so "
        "freeze_nucleotide_encoder=False contradicts it"),
    "pretrain-patience-without-validation": (
        lambda: plugin.methods.pretrain(
            table=_examples.table_factory(),
            distance_matrix=_examples.distance_matrix_factory(), patience=3,
            validation_fraction=0.0, **TINY),
        "patience=3 only acts with validation_fraction above 0"),
    "pretrain-abundance-mask-ratio-without-abundance": (
        lambda: plugin.methods.pretrain(
            table=_examples.table_factory(),
            distance_matrix=_examples.distance_matrix_factory(),
            abundance_mask_ratio=0.3, **TINY),
        "abundance_mask_ratio=0.3 only acts with abundance_weight above 0"),
}


@pytest.mark.parametrize("case", sorted(API))
def test_artifact_api_refuses(case):
    call, fragment = API[case]
    artifact_api(call, fragment)


FIT = ["fit-regressor", "--target", "age", "--ensemble-size", 1, *FLAGS]
AAM = {  # case: (arguments, fragment of the expected message)
    "heads-that-do-not-divide-the-width": (
        ["--n-heads", 3], "--d-model 32 must divide by --n-heads 3"),
    "target-weight-0": (["--target-weight", 0],
                        "--target-weight 0.0 leaves fitting nothing to learn"),
    "kmer-size-too-large": (["--kmer-size", 20], "argument --kmer-size: must be at most 8, not 20"),
    "plateau-factor-without-plateau": (
        ["--plateau-factor", 0.2],
        "--plateau-factor 0.2 only acts with --scheduler plateau, but --scheduler is "
        "'cosine'"),
    "selection-metric-without-validation": (
        ["--selection-metric", "r2", "--validation-fraction", 0],
        "--selection-metric r2 only acts with --validation-fraction above 0"),
    "unknown-rate-without-conditioning": (
        ["--unknown-rate", 0.3], "--unknown-rate 0.3 acts on the conditioning columns"),
    "fusion-without-conditioning": (
        ["--fusion", "film"], "--fusion film acts on the conditioning columns"),
    "frozen-encoder-with-its-nucleotide-encoder-not": (
        ["--freeze-encoder", "--no-freeze-nucleotide-encoder"],
        "--freeze-encoder freezes the whole encoder, its nucleotide encoder too, so "
        "--no-freeze-nucleotide-encoder contradicts it"),
}


@pytest.mark.parametrize("case", sorted(AAM))
def test_aam_refuses(case, workspace, tmp_path, capsys):
    arguments, fragment = AAM[case]
    frame = _metadata().to_dataframe()
    frame.index.name = "sample-id"
    frame.to_csv(tmp_path / "metadata.tsv", sep="\t")
    code, output = aam(capsys, *FIT, "--table", workspace / "table.biom", "--metadata",
                       tmp_path / "metadata.tsv", "--output-dir", tmp_path / "run",
                       *arguments)
    refused(output, code, fragment)
    assert "epoch 1/" not in output  # refused before training
