"""The option declarations (config.py, settings.py) and what is read from them."""
import subprocess
import sys

import pytest

from aam_core.config import (FIT_TRAIN_DEFAULTS, PRETRAIN_TRAIN_DEFAULTS, DataConfig,
                             TrainConfig)
from aam_core.errors import AAMInputError
from aam_core.option import JOB, KINDS
from aam_core.settings import BY_NAME, OPTIONS, REQUIRED, build, for_action, for_command


def test_names_are_unique_and_every_option_is_used_somewhere():
    assert len(BY_NAME) == len(OPTIONS)
    for option in OPTIONS:
        assert option.kind in KINDS
        assert option.help.strip(), option.name
        assert option.actions or option.commands, option.name
        for where in option.actions + option.commands:
            assert where in JOB, (option.name, where)


def test_every_default_is_allowed_where_it_applies():
    for option in OPTIONS:
        for where in option.actions + option.commands:
            here = option.at(where)
            if here.default in (None, REQUIRED, "") or here.kind.endswith("column"):
                continue
            assert option.problem(here.default, where) is None, (option.name, where)


def test_the_recipe_defaults_per_job():
    assert PRETRAIN_TRAIN_DEFAULTS == TrainConfig(epochs=16, unifrac_weight=20.0)
    assert FIT_TRAIN_DEFAULTS == TrainConfig(
        nucleotide_weight=0.0, epochs=30, learning_rate=5e-4,
        freeze_nucleotide_encoder=True, ensemble_size=5)
    assert build(TrainConfig, {"epochs": 3, "random_state": 7}, "fit") == TrainConfig(
        **{**FIT_TRAIN_DEFAULTS.to_dict(), "quantiles": (0.1, 0.5, 0.9),
           "epochs": 3, "seed": 7})


def test_per_action_differences():
    assert BY_NAME["batch_size"].at("embed").default == 64
    assert BY_NAME["batch_size"].at("pretrain").default == 32
    assert "accuracy" in BY_NAME["selection_metric"].at("fit_classifier").choices
    assert "accuracy" not in BY_NAME["selection_metric"].at("fit-regressor").choices
    assert BY_NAME["hidden_layers"].at("fit_classifier").default == 0
    regression_only = {o.name for o in for_action("fit_regressor")} - {
        o.name for o in for_action("fit_classifier")}
    assert {"loss", "quantiles", "normalisation"} <= regression_only


def test_pretrain_takes_no_fine_tuning_option():
    names = {o.name for o in for_command("pretrain")} | {
        o.name for o in for_action("pretrain")}
    assert not names & {"freeze_encoder", "ensemble_size", "loss", "class_weight",
                        "selection_metric", "find_learning_rate"}


def test_python_api_gets_the_declared_range_checks():
    with pytest.raises(AAMInputError, match="asv_dropout must be below 1"):
        DataConfig(asv_dropout=1.0)
    with pytest.raises(AAMInputError, match="max_asvs must be at least 1"):
        DataConfig(max_asvs=0)


def test_cli_checks_ranges_in_its_own_vocabulary(capsys):
    from aam_core.cli import build_parser
    with pytest.raises(SystemExit):
        build_parser().parse_args(["pretrain", "--table", "t", "--output-dir", "o",
                                   "--asv-dropout", "1.5"])
    assert "--asv-dropout: must be below 1" in capsys.readouterr().err


def test_cli_accepts_an_old_flag_name_with_a_warning(capsys):
    from aam_core.cli import _warn_old_names, build_parser
    argv = ["fit-regressor", "--table", "t", "--metadata", "m", "--target", "y",
            "--output-dir", "o", "--seed", "3", "--target-loss", "mae"]
    args = build_parser().parse_args(argv)
    assert (args.random_state, args.loss) == (3, "mae")
    _warn_old_names(argv, "fit-regressor")
    err = capsys.readouterr().err
    assert "--seed is now --random-state" in err and "--target-loss is now --loss" in err


def test_declarations_load_without_torch():
    code = ("import sys, aam_core.settings, aam_core.cli\n"
            "assert 'torch' not in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True)
