"""Borderlines that earlier probes left (docs/bad-input-probe-2026-11-30.md,
"Mended at stop 38"): a ridge readout or a frozen encoder without a
pretrained model named no input to give; a float Series of ages made every
age a class of api.fit_classifier; a class of one sample, and groups that
validation_fraction 0 leaves nothing to do, passed without a word; `aam
tune` without optuna lacked the command's error prefix; `qiime tools
import` of an `aam` run folder said only that config.json is missing."""
import dataclasses

import pandas as pd
import pytest

from aam_core import api
from aam_core.config import FIT_TRAIN_DEFAULTS

from .conftest import (EXAMPLE_AGES, EXAMPLE_IDS, aam, ages_file, artifact_api,
                       example_table, qiime, refused)

FIT = dataclasses.replace(FIT_TRAIN_DEFAULTS, epochs=1, ensemble_size=1, n_threads=1,
                          device="cpu")


def _ages() -> pd.Series:
    """Fractional ages: measurements, never class codes."""
    return EXAMPLE_AGES + 0.5


# -- the pretrained model, named as each interface names it --------------------------------

@pytest.mark.parametrize("change", [dict(readout="ridge"), dict(freeze_encoder=True)])
def test_python_names_the_pretrained_input(change):
    train = dataclasses.replace(FIT, **change)
    artifact_api(lambda: api.fit_regressor(example_table(), _ages(), train=train,
                                           log=lambda m: None),
                 "pretrained_model (aam_core.api: pretrained)")


def test_aam_names_the_pretrained_flag(workspace, tmp_path, capsys):
    metadata = ages_file(tmp_path)
    code, output = aam(capsys, "fit-regressor", "--table", workspace / "table.biom",
                       "--metadata", metadata, "--target", "age", "--readout", "ridge",
                       "--output-dir", tmp_path / "run")
    refused(output, code, "give one with --pretrained, or use --readout fine_tune")
    assert not (tmp_path / "run").exists()


def test_q2cli_names_the_pretrained_input(workspace, tmp_path):
    metadata = ages_file(tmp_path)
    code, output = qiime("aam", "fit-regressor", "--i-table", workspace / "table.qza",
                         "--m-metadata-file", metadata, "--m-metadata-column", "age",
                         "--p-readout", "ridge", "--o-model", tmp_path / "model.qza")
    refused(output, code, "give one with --i-pretrained-model, or use --p-readout fine_tune")
    assert not (tmp_path / "model.qza").exists()


# -- classes ---------------------------------------------------------------------------

def test_python_classifier_refuses_fractional_numbers():
    artifact_api(lambda: api.fit_classifier(example_table(), _ages(), train=FIT,
                                            log=lambda m: None),
                 "holds numbers such as 20.5, 23.5, 26.5, and a classifier would make "
                 "each value a class of its own: fit a regressor")


def test_whole_numbers_stay_class_codes():
    codes = pd.Series([float(n % 2) for n in range(16)], index=EXAMPLE_IDS, name="sick")
    said = []
    model = api.fit_classifier(example_table(), codes, train=FIT, log=said.append)
    assert model.config["class_labels"] == ["0", "1"]
    assert not any("one sample each" in line for line in said)


def test_a_class_of_one_sample_is_said():
    labels = pd.Series(["a", "b"] * 7 + ["c", "d"], index=EXAMPLE_IDS, name="site")
    said = []
    api.fit_classifier(example_table(), labels, train=dataclasses.replace(
        FIT, validation_fraction=0.0), log=said.append)
    assert any("2 class(es) of the target column 'site' have one sample each ('c', 'd')"
               in line for line in said), said


# -- groups without a validation split -------------------------------------------------------

def test_groups_without_validation_samples_are_said_unused():
    groups = pd.Series([f"g{n // 2}" for n in range(16)], index=EXAMPLE_IDS, name="subject")
    said = []
    api.fit_regressor(example_table(), _ages(), groups=groups, train=dataclasses.replace(
        FIT, validation_fraction=0.0), log=said.append)
    assert any("The groups are not used: validation_fraction=0.0 holds no validation "
               "samples" in line for line in said), said
    assert not any("grouped" in line for line in said), said


# -- the model folder of an aam run ----------------------------------------------------------

def test_importing_an_aam_run_folder_points_at_its_model(encoder, tmp_path):
    run = encoder.parent
    code, output = qiime("tools", "import", "--type", "AAMModel[AAMEncoder]",
                         "--input-path", run, "--output-path", tmp_path / "e.qza")
    refused(output, code, f"{run} is the output folder of an aam run; its model is the "
                          f"folder {encoder}: import that one")


# -- a value from the settings file ----------------------------------------------------------

def test_aam_says_which_refused_value_came_from_the_settings_file(workspace, tmp_path, capsys):
    metadata, settings = ages_file(tmp_path), tmp_path / "fit.json"
    settings.write_text('{"freeze_encoder": true}')
    arguments = ("fit-regressor", "--table", workspace / "table.biom", "--metadata",
                 metadata, "--target", "age", "--settings", settings,
                 "--output-dir", tmp_path / "run")
    code, output = aam(capsys, *arguments)
    refused(output, code, f"(--freeze-encoder from --settings {settings})")
    code, output = aam(capsys, *arguments, "--freeze-encoder")  # the command line's own
    refused(output, code, "--freeze-encoder needs a pretrained model")
    assert "from --settings" not in output


# -- probe 40: summarize showed a normalise-by model's statistics as a line of JSON ---------

def test_summarize_shows_each_study_in_words(encoder, tmp_path):
    from aam_core.config import ConditioningConfig
    from q2_aam._visualization import summarize
    studies = pd.Series([f"s{n // 4}" for n in range(len(EXAMPLE_IDS))], index=EXAMPLE_IDS,
                        name="study")
    model = api.fit_regressor(example_table(), EXAMPLE_AGES, pretrained=api.load(encoder),
                              train=dataclasses.replace(FIT_TRAIN_DEFAULTS, readout="ridge",
                                                        n_threads=1, device="cpu"),
                              log=lambda m: None, categories=studies.to_frame(),
                              conditioning_config=ConditioningConfig(normalise_by="study"))
    summarize(str(tmp_path), model)
    page = (tmp_path / "index.html").read_text()
    assert "s0: shift " in page and "; s1: shift " in page
    assert '{"s0"' not in page and "&#34;s0&#34;" not in page
