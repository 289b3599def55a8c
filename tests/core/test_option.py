"""option: one declaration of an option holds its name, kind, default,
range, choices and the differences by action; everything reads it."""
from dataclasses import dataclass

import pytest

from aam_core.config import DataConfig, TrainConfig
from aam_core.errors import AAMInputError
from aam_core.option import (check_fields, choices_of, declared, defaults_for,
                             field_name, setting)
from aam_core.settings import build, for_action, for_command


@dataclass(frozen=True)
class Example:
    rate: float = setting(0.5, "A rate.", low=0, high=1, inclusive=(False, True),
                          actions=("fit_regressor",), per={"pretrain": {"default": 0.25}})
    mode: str = setting("a", "A mode.", choices=("a", "b"), commands=("pretrain",))
    internal: int = 3  # no declaration: not an option


def test_a_declaration_reads_its_name_kind_and_field():
    rate, mode = declared(Example)
    assert (rate.name, rate.kind, rate.default, field_name(rate)) == ("rate", "float", 0.5, "rate")
    assert (mode.kind, mode.choices, mode.flag) == ("str", ("a", "b"), "--mode")
    assert rate.applies_to("fit_regressor") and not rate.applies_to("pretrain")


@pytest.mark.parametrize("value, problem", [
    (0.0, "must be above 0, not 0.0"), (1.0, None), (1.5, "must be at most 1, not 1.5"),
    (0.3, None)])
def test_ranges_follow_the_declared_inclusive_ends(value, problem):
    rate = declared(Example)[0]
    assert rate.problem(value) == problem


def test_choices_and_per_job_differences():
    rate, mode = declared(Example)
    assert mode.problem("c") == "must be one of 'a', 'b', not 'c'"
    assert rate.at("pretrain").default == 0.25 and rate.at("fit_regressor").default == 0.5
    assert defaults_for(Example, "pretrain") == {"rate": 0.25}
    assert choices_of(Example, "mode") == ("a", "b")


def test_a_settings_object_outside_its_range_is_refused_by_name():
    with pytest.raises(AAMInputError, match="asv_dropout must be below 1, not 1.5"):
        DataConfig(asv_dropout=1.5)
    with pytest.raises(AAMInputError, match="validation_fraction must be"):
        check_fields(TrainConfig(validation_fraction=1.5))  # as a fit checks it
    check_fields(DataConfig(max_length=0))  # 0: the longest sequence, allowed


def test_the_front_ends_read_the_same_declaration():
    # the QIIME 2 action, the `aam` command and the Python settings agree on
    # the default and range of one option
    action = next(o for o in for_action("fit_regressor") if o.name == "asv_dropout")
    command = next(o for o in for_command("fit-regressor") if o.name == "asv_dropout")
    assert (action.low, action.high, action.default) == (command.low, command.high, 0.0)
    assert build(DataConfig, {"asv_dropout": 0.2}, "fit").asv_dropout == 0.2
    assert build(TrainConfig, {}, "pretrain").epochs == next(
        o for o in for_action("pretrain") if o.name == "epochs").default
