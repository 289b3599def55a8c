"""`aam tune` and the settings files it writes (`--settings`): a tiny study on
the example data, resumed; the fit that reads its settings; pruning; and
clear errors. The studies need optuna (skipped without it); the settings
files and the message for a missing optuna are tested everywhere."""
import importlib.util
import json
import shutil
import sys

import biom
import h5py
import pandas as pd
import pytest

from aam_core import cli, settings_file, tune
from aam_core.errors import AAMInputError
from tests.conftest import REPO

EXAMPLE = REPO / "examples" / "oral-age-mini"
HAVE_OPTUNA = importlib.util.find_spec("optuna") is not None
needs_optuna = pytest.mark.skipif(not HAVE_OPTUNA, reason="optuna is not installed")
# every trial: the tiny model, one epoch, one member (the rest is searched)
FIXED = {"preset": "tiny", "epochs": 1, "ensemble_size": 1, "batch_size": 16,
         "n_threads": 1, "device": "cpu"}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The training side of the example (139 samples of 96 groups) and the
    fixed settings of the tiny search."""
    folder = tmp_path_factory.mktemp("aam-tune")
    metadata = pd.read_csv(EXAMPLE / "metadata.tsv", sep="\t", index_col=0, dtype=str)
    table = biom.load_table(str(EXAMPLE / "table.biom"))
    train = [i for i in table.ids() if metadata.loc[i, "split"] == "train"]
    table = table.filter(train, inplace=False).remove_empty(axis="observation")
    with h5py.File(folder / "table.biom", "w") as handle:
        table.to_hdf5(handle, "aam tests")
    shutil.copy(EXAMPLE / "metadata.tsv", folder / "metadata.tsv")
    (folder / "fixed.json").write_text(json.dumps(FIXED))
    return folder


def tune_args(files, study, output, *more):
    return ["tune", "--table", files / "table.biom", "--metadata",
            files / "metadata.tsv", "--target", "age", "--groups", "group",
            "--settings", files / "fixed.json", "--study", study, "--output", output,
            "--folds", 2, *more]


def run(arguments) -> int:
    return cli.main([str(a) for a in arguments])


@pytest.fixture(scope="module")
def study(files):
    """Two trials, then one more added to the same study file."""
    db, best = files / "study.db", files / "best.json"
    assert run(tune_args(files, db, best, "--trials", 2)) == 0
    first = json.loads(best.read_text())
    assert run(tune_args(files, db, best, "--trials", 1)) == 0
    return db, best, first


# -- without optuna -------------------------------------------------------------------

def test_without_optuna_tune_says_how_to_get_it_and_the_rest_works(
        files, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "optuna", None)  # import optuna fails
    assert run(tune_args(files, tmp_path / "s.db", tmp_path / "b.json")) == 1
    assert capsys.readouterr().err == f"aam tune: error: {tune.NEEDS_OPTUNA}\n"
    assert not (tmp_path / "s.db").exists()
    with pytest.raises(SystemExit) as done:
        cli.main(["fit-regressor", "--help"])
    assert done.value.code == 0


# -- settings files ---------------------------------------------------------------------

def test_settings_file_values_are_defaults_and_flags_win(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"learning_rate": 0.002, "epochs": 3,
                                "regression-hidden": [16, 8], "residual_head": True,
                                "about": {"written_by": "a person"}}))
    argv = ["fit-regressor", "--table", "t.biom", "--metadata", "m.tsv", "--target",
            "age", "--output-dir", str(tmp_path / "r"), "--settings", str(path),
            "--epochs", "5"]
    parser = cli.build_parser()
    args = cli._with_settings_file(parser, parser.parse_args(argv), argv)
    assert (args.learning_rate, args.epochs, args.regression_hidden,
            args.residual_head) == (0.002, 5, [16, 8], True)


def test_a_yaml_settings_file_round_trips(tmp_path):
    path = tmp_path / "s.yaml"
    settings_file.write(path, {"learning_rate": 1e-3, "quantiles": [0.2, 0.8]},
                        "fit-regressor", about={"study": "x.db"})
    assert settings_file.read(path, "fit-regressor") == {"learning_rate": 1e-3,
                                                         "quantiles": [0.2, 0.8]}


@pytest.mark.parametrize("content, message", [
    ({"learning_rat": 0.001}, "'learning_rat' is not an option of aam fit-regressor. "
                              "Did you mean learning_rate"),
    ({"learning_rate": 0}, "learning_rate must be above 0"),
    ({"epochs": "ten"}, "epochs must be an integer, not 'ten'"),
    ({"epochs": True}, "epochs must be an integer"),
    ({"loss": "cauchy"}, "loss must be one of"),
    ({"lower_bound": None}, "lower_bound must be a number, not null (leave it out for "
                            "no bound)"),
    ({"class_weight": "balanced"}, "not an option of aam fit-regressor"),
    ([1, 2], "must hold a mapping"),
    ("{not json", "is not valid JSON"),
])
def test_bad_settings_files_are_one_line_errors(files, tmp_path, capsys, content, message):
    path = tmp_path / "s.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    assert run(["fit-regressor", "--table", files / "table.biom", "--metadata",
                files / "metadata.tsv", "--target", "age", "--output-dir", tmp_path / "r",
                "--settings", path]) == 1
    error = capsys.readouterr().err
    assert message in error and "Traceback" not in error and str(path) in error, error
    assert len(error.strip().splitlines()) == 1


def test_too_few_groups_for_the_folds(files):
    metadata = pd.read_csv(files / "metadata.tsv", sep="\t", index_col=0)
    table = biom.load_table(str(files / "table.biom"))
    groups = pd.Series("a", index=metadata.index).where(metadata.index.str[-1] < "5", "b")
    with pytest.raises(AAMInputError, match="--folds 3 needs at least 3 groups"):
        tune.tune_data("regressor", table, metadata["age"], None, groups, None, 3, 0,
                       print)


def test_the_space_leaves_out_what_is_fixed():
    open_ = tune.searched(tune.SPACE, {"epochs": 5, "regression_hidden": [8]}, "regressor")
    assert "epochs" not in open_ and "hidden_layers" not in open_
    assert "learning_rate" in open_
    open_ = tune.searched(tune.SPACE, {"hidden_layers": 0}, "classifier")
    assert "hidden_layers" not in open_ and "hidden_width" in open_


# -- studies ------------------------------------------------------------------------------

@needs_optuna
def test_trials_are_stored_and_a_rerun_adds_to_them(study):
    import optuna
    db, best, first = study
    stored = optuna.load_study(study_name=tune.STUDY_NAME, storage=f"sqlite:///{db}")
    assert len(stored.trials) == 3
    assert stored.user_attrs["aam"]["target"] == "age"
    states = {t.state for t in stored.trials}
    assert states <= {optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED}
    settings = json.loads(best.read_text())
    assert first["about"]["trials"] == 2 and settings["about"]["trials"] == 3
    assert settings["about"]["mae"] == pytest.approx(stored.best_value)
    # the fixed values, then the best trial's, as fit-regressor options
    assert {k: settings[k] for k in FIXED} == FIXED
    assert {"learning_rate", "head_dropout", "asv_dropout",
            "hidden_layers"} <= set(settings)


@needs_optuna
@pytest.mark.filterwarnings("ignore:Argument ``heartbeat_interval``",
                            "ignore:Heartbeat of storage")  # the dead run's, made by hand
def test_a_trial_left_running_by_a_dead_process_is_failed_and_said(study, tmp_path,
                                                                   monkeypatch):
    """A killed `aam tune` left its trial 'running' in the study for good."""
    import time

    import optuna
    db = tmp_path / "study.db"
    shutil.copy(study[0], db)
    storage = optuna.storages.RDBStorage(f"sqlite:///{db}", heartbeat_interval=1,
                                         grace_period=1)
    stored = optuna.load_study(study_name=tune.STUDY_NAME, storage=storage)
    abandoned = stored.ask()  # what the killed process had started
    storage.record_heartbeat(abandoned._trial_id)
    monkeypatch.setattr(tune, "GRACE_S", 1)
    time.sleep(2.2)  # SQLite's clock counts whole seconds
    said = []
    reopened = tune.open_study(optuna, db, stored.user_attrs["aam"], "minimize", 0,
                               said.append)
    state = reopened.trials[abandoned.number].state
    assert state == optuna.trial.TrialState.FAIL, state
    assert said == [f"Trial(s) {abandoned.number} of an earlier run stopped without "
                    "finishing (the process ended): marked failed; the study goes on "
                    "from the finished ones."], said


@needs_optuna
def test_fit_regressor_takes_the_best_settings(files, study, tmp_path):
    _, best, _ = study
    settings = json.loads(best.read_text())
    assert run(["fit-regressor", "--table", files / "table.biom", "--metadata",
                files / "metadata.tsv", "--target", "age", "--groups", "group",
                "--settings", best, "--batch-size", 8, "--output-dir", tmp_path]) == 0
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    training, architecture = config["training"], config["architecture"]
    assert training["learning_rate"] == settings["learning_rate"]
    assert (training["epochs"], training["ensemble_size"]) == (1, 1)
    assert training["batch_size"] == 8  # the flag wins over the file
    assert architecture["head_dropout"] == settings["head_dropout"]
    width = settings.get("hidden_width") or architecture["d_model"]
    assert architecture["regression_hidden"] == [width] * settings["hidden_layers"]
    assert architecture["d_model"] == 32  # the tiny preset
    assert config["data"]["asv_dropout"] == settings["asv_dropout"]


@needs_optuna
def test_a_study_of_other_inputs_is_not_mixed_in(files, study, tmp_path, capsys):
    db, _, _ = study
    shutil.copy(db, tmp_path / "copy.db")
    assert run(tune_args(files, tmp_path / "copy.db", tmp_path / "b.json",
                         "--folds", 3)) == 1
    error = capsys.readouterr().err
    assert "holds a study of other inputs or settings (they differ in: --folds)" in error


@needs_optuna
def test_a_poor_trial_is_pruned_after_its_first_fold(tmp_path):
    import optuna
    identity = {"kind": "regressor"}
    opened = tune.open_study(optuna, tmp_path / "s.db", identity, "minimize", 0,
                             lambda message: None)
    splits = [([0], [1]), ([1], [0])]
    for error in (1.0, 1.2, 0.9, 1.1, 1.0, 5.0):  # five start the pruner, then a poor one
        folds_seen = []

        def fold_error(train_rows, validation_rows, error=error, seen=folds_seen):
            seen.append(validation_rows)
            return error
        opened.optimize(lambda trial: tune.cross_validate(trial, splits, fold_error),
                        n_trials=1)
    last = opened.trials[-1]
    assert last.state == optuna.trial.TrialState.PRUNED
    assert len(folds_seen) == 1 and list(last.intermediate_values) == [0]
    assert opened.best_value == 0.9


@needs_optuna
def test_a_classifier_study(files, tmp_path):
    metadata = pd.read_csv(files / "metadata.tsv", sep="\t", index_col=0, dtype=str)
    table = biom.load_table(str(files / "table.biom"))
    result = tune.tune("classifier", table, metadata["study"], groups=metadata["group"],
                       study=tmp_path / "c.db", fixed=FIXED, trials=1, folds=2,
                       space={"learning_rate": tune.SPACE["learning_rate"]},
                       log=lambda message: None)
    assert result.metric == "balanced_accuracy" and 0 <= result.value <= 1
    assert set(result.settings) == set(FIXED) | {"learning_rate"}


@needs_optuna
def test_a_failing_trial_or_a_bad_study_file_is_a_one_line_error(
        files, tmp_path, monkeypatch, capsys):
    def fail(*args):
        raise AAMInputError("this fold cannot be fitted")
    monkeypatch.setattr(tune, "fold_score", fail)
    assert run(tune_args(files, tmp_path / "s.db", tmp_path / "b.json")) == 1
    error = capsys.readouterr().err
    assert error == "aam tune: error: this fold cannot be fitted\n", error
    (tmp_path / "text.db").write_text("not a database")
    assert run(tune_args(files, tmp_path / "text.db", tmp_path / "b.json")) == 1
    error = capsys.readouterr().err
    assert "is not a study file of aam tune" in error and "Traceback" not in error


def test_an_old_name_in_a_settings_file_is_taken_with_the_flags_warning(tmp_path,
                                                                      capsys):
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"seed": 3}))
    assert settings_file.read(path, "fit-regressor") == {"random_state": 3}
    assert "'seed' is now 'random_state'; the old name still works" in \
        capsys.readouterr().err
