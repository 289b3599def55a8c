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
    assert PRETRAIN_TRAIN_DEFAULTS == TrainConfig(epochs="auto", learning_rate=2e-3, batch_size=64,
                                                  unifrac_weight=20.0, nucleotide_epochs="auto")
    assert FIT_TRAIN_DEFAULTS == TrainConfig(
        nucleotide_weight=0.0, epochs=30, learning_rate=5e-4,
        freeze_nucleotide_encoder=True, ensemble_size=5)
    assert build(TrainConfig, {"epochs": 3, "random_state": 7}, "fit") == TrainConfig(
        **{**FIT_TRAIN_DEFAULTS.to_dict(), "quantiles": (0.1, 0.5, 0.9),
           "epochs": 3, "random_state": 7})


def test_per_action_differences():
    assert BY_NAME["batch_size"].at("embed").default == 64
    assert BY_NAME["batch_size"].at("pretrain").default == 64
    # the pipelines' one batch_size (their pretraining and fitting) keeps 32
    assert BY_NAME["batch_size"].at("regress_samples").default == 32
    assert BY_NAME["batch_size"].at("fit_regressor").default == 32
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


def test_the_head_is_one_option_in_every_front_end():
    """hidden_layers/hidden_width and lower_bound/upper_bound are the names of
    QIIME 2 and of `aam` alike; the older `aam` forms still work, and win."""
    from aam_core.fit import _head_widths
    from aam_core.config import ModelConfig
    from aam_core.settings import head_options
    for where in ("fit_regressor", "fit-regressor"):
        names = {o.name for o in (for_action(where) or for_command(where))}
        assert {"hidden_layers", "hidden_width", "lower_bound", "upper_bound"} <= names
    assert "regression_hidden" not in {o.name for o in for_command("fit-classifier")}
    given = head_options({"hidden_layers": 2, "hidden_width": 0, "lower_bound": 0.0,
                          "upper_bound": float("inf"), "head_dropout": 0.2})
    assert given == {"hidden_layers": 2, "hidden_width": 0, "head_dropout": 0.2,
                     "output_bounds": (0.0, None)}
    small = ModelConfig.preset("small")  # width 64
    assert _head_widths("regressor", small, given)["regression_hidden"] == (64, 64)
    assert _head_widths("classifier", small, {"hidden_layers": 1, "hidden_width": 8}) == {
        "classification_hidden": (8,)}
    older = head_options({"hidden_layers": 1, "regression_hidden": [16, 8],
                          "output_bounds": [None, 5.0], "lower_bound": 1.0})
    assert older == {"regression_hidden": (16, 8), "output_bounds": (None, 5.0)}
    with pytest.raises(AAMInputError, match="hidden_width=8 only acts with hidden layers"):
        head_options({"hidden_layers": 0, "hidden_width": 8})


def test_aam_gives_its_preset_by_name_with_a_pretrained_model():
    """So that fit checks it against the encoder's shape (a preset that
    differs is refused, as in QIIME 2) instead of dropping it."""
    from aam_core.settings import fit_arguments
    assert fit_arguments({"preset": "base"}, pretrained=True)["model"] == "base"
    assert fit_arguments({"preset": "base"}, pretrained=False)["model"].d_model == 128
