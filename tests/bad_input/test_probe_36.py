"""Probe 36 (2026-12-02): the Python API took settings that the job never
reads without a word: pretrain with a fit's ensemble_size, loss,
class_weight, selection_metric or find_learning_rate trained one encoder
as if they were not given (config.json even recorded ensemble_size 3), and
with freeze_encoder=True it ended in "AttributeError: 'float' object has
no attribute 'backward'"; fit_regressor took a classifier's class_weight
and label_smoothing, fit_classifier a regressor's loss, normalisation,
huber_delta and normalise_by, and head_options of the other kind's head
(a classifier's output_bounds, regression_experts, output_activation; a
regressor's classification_hidden). The `aam` command took a flag's prefix
for the flag: `fit-classifier --loss mse` (fit-regressor's flag) was read
as --loss-weights mse and said "no column 'mse'", and `--epoch 2` escaped
the checks of --epochs. `aam pretrain --tensorboard FILE` left the
--output-dir it had made before refusing the file."""
import dataclasses

import biom
import pandas as pd
import pytest

from aam_core import api
from aam_core.config import FIT_TRAIN_DEFAULTS, PRETRAIN_TRAIN_DEFAULTS, ConditioningConfig
from q2_aam import _examples

from .conftest import aam, artifact_api, refused

QUIET = lambda message: None  # noqa: E731
FIT = dataclasses.replace(FIT_TRAIN_DEFAULTS, epochs=1, ensemble_size=1, n_threads=1,
                          device="cpu")
PRETRAIN = dataclasses.replace(PRETRAIN_TRAIN_DEFAULTS, epochs=1, n_threads=1,
                               device="cpu")


def _table() -> biom.Table:
    return _examples.table_factory().view(biom.Table)


def _targets(kind: str) -> pd.Series:
    ids = [str(i) for i in _table().ids()]
    values = [float(20 + 3 * n) for n in range(len(ids))] if kind == "regressor" \
        else ["a" if n % 2 else "b" for n in range(len(ids))]
    return pd.Series(values, index=ids, name="target")


# -- 1. settings of another job, in Python ------------------------------------------------

OTHER_JOB = "so it would be ignored: leave {name} at its default."


@pytest.mark.parametrize("change, fragment", [
    (dict(ensemble_size=3), "ensemble_size=3 acts only in fitting a regressor or "
                            "fitting a classifier, not in pretraining"),
    (dict(loss="mse"), "loss='mse' acts only in fitting a regressor, not in pretraining"),
    (dict(class_weight="balanced"), "class_weight='balanced' acts only in fitting a "
                                    "classifier, not in pretraining"),
    (dict(freeze_encoder=True), "freeze_encoder=True acts only in fitting a regressor "
                                "or fitting a classifier, not in pretraining"),
    (dict(selection_metric="mae"), "selection_metric='mae' acts only in fitting a "
                                   "regressor or fitting a classifier, not in pretraining"),
    (dict(find_learning_rate=True), "find_learning_rate=True acts only in fitting a "
                                    "regressor or fitting a classifier, not in pretraining"),
])
def test_pretrain_refuses_a_fit_setting(change, fragment):
    train = dataclasses.replace(PRETRAIN, **change)
    name = next(iter(change))
    artifact_api(lambda: api.pretrain(_table(), model="tiny", train=train, log=QUIET),
                 f"{fragment}, {OTHER_JOB.format(name=name)}")


@pytest.mark.parametrize("kind, change, fragment", [
    ("regressor", dict(class_weight="balanced"),
     "class_weight='balanced' acts only in fitting a classifier, not in fitting a "
     "regressor"),
    ("regressor", dict(label_smoothing=0.2), "label_smoothing=0.2 acts only in fitting "
                                             "a classifier, not in fitting a regressor"),
    ("classifier", dict(loss="quantile"), "loss='quantile' acts only in fitting a "
                                          "regressor, not in fitting a classifier"),
    ("classifier", dict(normalisation="minmax"), "normalisation='minmax' acts only in "
                                                 "fitting a regressor"),
    ("classifier", dict(huber_delta=3.0), "huber_delta=3.0 acts only in fitting a "
                                          "regressor"),
])
def test_a_fit_refuses_the_other_kinds_setting(kind, change, fragment):
    fit = api.fit_regressor if kind == "regressor" else api.fit_classifier
    train = dataclasses.replace(FIT, **change)
    artifact_api(lambda: fit(_table(), _targets(kind), model="tiny", train=train,
                             log=QUIET), fragment)


def test_a_classifier_refuses_normalise_by():
    artifact_api(lambda: api.fit_classifier(
        _table(), _targets("classifier"), model="tiny", train=FIT, log=QUIET,
        conditioning_config=ConditioningConfig(normalise_by="site")),
        "normalise_by='site' acts only in fitting a regressor, not in fitting a "
        "classifier")


@pytest.mark.parametrize("kind, head, fragment", [
    ("classifier", {"output_bounds": (0, 1)}, "output_bounds=(0, 1) shapes a "
                                              "regressor's head, and a classifier's head"),
    ("classifier", {"regression_experts": 3}, "regression_experts=3 shapes a regressor's"),
    ("classifier", {"output_activation": "softplus"}, "output_activation='softplus' "
                                                      "shapes a regressor's head"),
    ("regressor", {"classification_hidden": [8]}, "classification_hidden=(8,) shapes a "
                                                  "classifier's head, and a regressor's"),
])
def test_head_options_of_the_other_kind_are_refused(kind, head, fragment):
    fit = api.fit_regressor if kind == "regressor" else api.fit_classifier
    artifact_api(lambda: fit(_table(), _targets(kind), model="tiny", train=FIT,
                             head_options=head, log=QUIET),
                 fragment)


# -- 2. the `aam` command: flags are never abbreviated -----------------------------------

@pytest.mark.parametrize("command, flag, fragment", [
    ("fit-classifier", ("--loss", "mse"),
     "unrecognized arguments: --loss mse; --loss is a flag of aam fit-regressor, not "
     "of aam fit-classifier"),
    ("fit-classifier", ("--lower-bound", 0),
     "--lower-bound is a flag of aam fit-regressor, not of aam fit-classifier"),
    ("fit-regressor", ("--epoch", 2),
     "unrecognized arguments: --epoch 2; flags are spelled out in full: did you mean "
     "--epochs?"),
])
def test_a_flag_is_not_read_from_its_prefix(capsys, workspace, tmp_path, command, flag,
                                            fragment):
    code, output = aam(capsys, command, "--table", workspace / "table.biom",
                       "--metadata", tmp_path / "m.tsv", "--target", "age",
                       "--output-dir", tmp_path / "run", *flag)
    refused(output, code, fragment)
    assert "no column" not in output
    assert not (tmp_path / "run").exists()


# -- 3. a --tensorboard that is a file ----------------------------------------------------

def test_a_tensorboard_file_leaves_no_output_dir(capsys, workspace, tmp_path):
    (tmp_path / "events").write_text("a file\n")
    run = tmp_path / "new" / "run"
    code, output = aam(capsys, "pretrain", "--table", workspace / "table.biom",
                       "--tensorboard", tmp_path / "events", "--output-dir", run)
    refused(output, code, "is a file, not a directory; choose another path.")
    assert not (tmp_path / "new").exists()
