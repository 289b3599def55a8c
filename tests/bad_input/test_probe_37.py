"""Probe 37 (2026-12-02, the readouts and their neighbours): the
propagation readout with loss 'mae' was told to "set loss to 'mse', 'huber'
or 'quantile'", and 'quantile' is then refused by it; api.fit_regressor
with quantiles=() said "quantiles must lie strictly between 0 and 1";
normalise_by the groups column (the subject) trained, every validation and
new subject falling back to the global normalisation; `aam --resume` of a
run asked for with --readout auto refused the readout 'auto' had come to
("--readout 'auto' -> 'ridge'"); targets below 32-bit floats' smallest
number (1e-300) ended the ridge readout under 'exp' in a ZeroDivisionError
traceback (its --output-dir left behind), stopped fine-tuning under an
activation or bounds on "the target loss became nan ... lower
--learning-rate", and gave every readout's intervals a margin of 0; and
ensemble_validation='folds' whose fold left too few samples to train on
advised lowering validation_fraction, which it refuses."""
import dataclasses

import numpy as np
import pandas as pd
import pytest

from aam_core import api
from aam_core.config import FIT_TRAIN_DEFAULTS
from aam_core.errors import AAMInputError
from aam_core.spelling import speaking
from aam_core.train.checkpoint import Checkpoints, check_finished_settings, settled

from .conftest import (EXAMPLE_AGES, EXAMPLE_IDS, aam, ages_file, artifact_api,
                       example_table, qiime, refused)

QUIET = lambda message: None  # noqa: E731
FIT = dataclasses.replace(FIT_TRAIN_DEFAULTS, epochs=1, ensemble_size=1, n_threads=1,
                          device="cpu", batch_size=8)
RIDGE = dataclasses.replace(FIT_TRAIN_DEFAULTS, n_threads=1, device="cpu", batch_size=8,
                            readout="ridge")
IDS, AGES = EXAMPLE_IDS, EXAMPLE_AGES  # 16 samples
# one subject per pair of samples; 'study' the same pairs under another name
SUBJECTS = pd.Series([f"s{n // 2}" for n in range(16)], index=IDS, name="subject")
BIG_GROUP = pd.Series(["big"] * 14 + ["g14", "g15"], index=IDS, name="subject")


# -- 1. the propagation readout's losses ----------------------------------------------------

def test_propagation_is_told_only_the_losses_it_takes(encoder):
    artifact_api(lambda: api.fit_regressor(
        example_table(), AGES, pretrained=api.load(encoder), log=QUIET,
        train=dataclasses.replace(RIDGE, readout="propagation", loss="mae")),
        "readout='propagation' minimises the squared error: set loss to 'mse' or "
        "'huber', not 'mae'.")


def test_propagation_losses_in_the_aam_command(capsys, workspace, encoder, tmp_path):
    code, output = aam(capsys, "fit-regressor", "--table", workspace / "table.biom",
                       "--metadata", ages_file(tmp_path), "--target", "age",
                       "--pretrained", encoder, "--readout", "propagation", "--loss",
                       "asymmetric", "--output-dir", tmp_path / "run")
    refused(output, code, "--readout propagation minimises the squared error: set "
                          "--loss to 'mse' or 'huber', not 'asymmetric'.")


def test_ridge_is_still_told_of_quantile(encoder):
    artifact_api(lambda: api.fit_regressor(
        example_table(), AGES, pretrained=api.load(encoder), log=QUIET,
        train=dataclasses.replace(RIDGE, loss="mae")),
        "set loss to 'mse', 'huber' or 'quantile', not 'mae'.")


# -- 2. no quantiles ------------------------------------------------------------------------

def test_no_quantiles_are_said_as_none():
    artifact_api(lambda: api.fit_regressor(
        example_table(), AGES, model="tiny", log=QUIET,
        train=dataclasses.replace(FIT, loss="quantile", quantiles=())),
        "quantiles holds no quantile: give the quantiles the 'quantile' loss fits, "
        "e.g. 0.1 0.5 0.9")


# -- 3. normalising by the subject ----------------------------------------------------------

SUBJECT_NORMALISED = "holds the same values as the groups"


def test_normalise_by_the_groups_is_refused_in_python():
    from aam_core.config import ConditioningConfig
    artifact_api(lambda: api.fit_regressor(
        example_table(), AGES, groups=SUBJECTS, model="tiny", train=FIT, log=QUIET,
        categories=SUBJECTS.to_frame(),
        conditioning_config=ConditioningConfig(normalise_by="subject")),
        f"normalise_by (column 'subject') {SUBJECT_NORMALISED} (groups: what ties "
        "samples together, e.g. the subject)")


def test_normalise_by_the_groups_is_refused_in_the_aam_command(capsys, workspace,
                                                               tmp_path):
    code, output = aam(capsys, "fit-regressor", "--table", workspace / "table.biom",
                       "--metadata", ages_file(tmp_path, subject=SUBJECTS), "--target",
                       "age", "--groups", "subject", "--normalise-by", "subject",
                       "--preset", "tiny", "--epochs", 1, "--ensemble-size", 1,
                       "--output-dir", tmp_path / "run")
    refused(output, code, f"--normalise-by subject {SUBJECT_NORMALISED} (--groups:")
    assert not (tmp_path / "run").exists()


def test_normalise_by_the_groups_is_refused_in_q2cli(workspace, tmp_path):
    metadata = ages_file(tmp_path, subject=SUBJECTS)
    code, output = qiime("aam", "fit-regressor", "--i-table", workspace / "table.qza",
                         "--m-metadata-file", metadata, "--m-metadata-column", "age",
                         "--m-groups-file", metadata, "--m-groups-column", "subject",
                         "--m-normalise-by-file", metadata, "--m-normalise-by-column",
                         "subject", "--p-preset", "tiny", "--p-epochs", 1,
                         "--p-ensemble-size", 1, "--p-n-threads", 1,
                         "--o-model", tmp_path / "model.qza")
    refused(output, code, f"--m-normalise-by-column subject {SUBJECT_NORMALISED} "
                          "(--m-groups-file")
    assert not (tmp_path / "model.qza").exists()


# -- 4. --resume with what 'auto' came to -----------------------------------------------------

def test_the_readout_auto_came_to_is_recorded(tmp_path):
    run = Checkpoints(tmp_path, settings={"readout": "auto", "epochs": 30})
    assert settled(run, {"readout": "ridge", "epochs": 30}) == {"readout": "ridge"}


@pytest.mark.parametrize("asked, refused_as", [
    ("auto", None), ("fine_tune", None), ("ridge", "--readout 'auto' -> 'ridge'")])
def test_resume_takes_the_readout_auto_came_to(tmp_path, asked, refused_as):
    info = {"settings": {"readout": "auto"}, "settled": {"readout": "fine_tune"}}
    run = Checkpoints(tmp_path, settings={"readout": asked})
    with speaking("aam"):
        if refused_as:
            with pytest.raises(AAMInputError, match=refused_as):
                check_finished_settings(run, info)
        else:
            check_finished_settings(run, info)


def test_aam_resume_of_a_ridge_run_with_its_readout(capsys, workspace, encoder, tmp_path):
    arguments = ("fit-regressor", "--table", workspace / "table.biom", "--metadata",
                 ages_file(tmp_path), "--target", "age", "--pretrained", encoder,
                 "--n-threads", 1, "--output-dir", tmp_path / "run")
    assert aam(capsys, *arguments)[0] == 0  # readout 'auto': ridge
    code, output = aam(capsys, *arguments, "--resume", "--readout", "ridge")
    assert code == 0 and "has finished; its model is" in output, output


# -- 5. targets too small for 32-bit numbers --------------------------------------------------

TOO_SMALL = "too small for the model's 32-bit numbers in which the head applies"


def test_tiny_targets_under_exp_with_the_ridge_readout(encoder):
    artifact_api(lambda: api.fit_regressor(
        example_table(), AGES * 1e-300, pretrained=api.load(encoder), train=RIDGE, log=QUIET,
        head_options={"output_activation": "exp"}),
        f"The target column 'age' holds values no larger than 6.5e-299, {TOO_SMALL} "
        "output_activation='exp'")


def test_tiny_targets_under_bounds_in_the_aam_command(capsys, workspace, tmp_path):
    path = tmp_path / "metadata.tsv"
    (AGES * 1e-300).rename_axis("sample-id").to_frame().to_csv(path, sep="\t")
    code, output = aam(capsys, "fit-regressor", "--table", workspace / "table.biom",
                       "--metadata", path, "--target", "age", "--lower-bound", 0,
                       "--preset", "tiny", "--epochs", 1, "--ensemble-size", 1,
                       "--n-threads", 1, "--output-dir", tmp_path / "run")
    refused(output, code, f"{TOO_SMALL} the bounds (--lower-bound, --upper-bound)")
    assert "learning" not in output
    assert not (tmp_path / "run").exists()


def test_tiny_targets_keep_their_interval_margin(encoder):
    """Not a refusal: the margin scales with the target (it was 0)."""
    pretrained = api.load(encoder)
    margins = [api.fit_regressor(example_table(), AGES * factor, pretrained=pretrained,
                                 train=RIDGE, log=QUIET).config["target"]["calibration"]
               ["margin"] for factor in (1.0, 1e-300)]
    assert margins[0] > 0
    assert np.isclose(margins[1], margins[0] * 1e-300, rtol=1e-6, atol=0), margins


# -- 6. folds that leave too few samples to train on ----------------------------------------

FOLD_TOO_BIG = "an ensemble member validates on a fold of 14 of the 16 usable samples"


def test_a_fold_too_big_is_not_told_to_lower_validation_fraction():
    artifact_api(lambda: api.fit_regressor(
        example_table(), AGES, groups=BIG_GROUP, model="tiny", log=QUIET,
        train=dataclasses.replace(FIT, ensemble_size=2, ensemble_validation="folds")),
        f"With ensemble_validation='folds' {FOLD_TOO_BIG}, which leaves 2 to train on; "
        "training needs at least 4. Give more samples (or groups: a group goes whole "
        "into one fold), or use ensemble_validation='random'.")


def test_a_fold_too_big_in_the_aam_command(capsys, workspace, tmp_path):
    code, output = aam(capsys, "fit-regressor", "--table", workspace / "table.biom",
                       "--metadata", ages_file(tmp_path, subject=BIG_GROUP), "--target",
                       "age", "--groups", "subject", "--ensemble-size", 2,
                       "--ensemble-validation", "folds", "--preset", "tiny",
                       "--epochs", 1, "--output-dir", tmp_path / "run")
    refused(output, code, f"With --ensemble-validation folds {FOLD_TOO_BIG}")
    assert "validation-fraction" not in output
