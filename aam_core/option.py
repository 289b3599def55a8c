"""What one declaration of an option holds, and how it is read per action.

An option is declared once: as a field of a settings dataclass
(config.py, `field(default, metadata=option(...))`) or, for the few that
only the front ends translate (a metadata column, a preset name), in
settings.py. The `aam` command's flags, the QIIME 2 parameters and the
range and choice checks are all read from these records. No torch here:
the plugin imports this at load time.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Mapping

from .errors import AAMInputError
from .spelling import interface, spelled

# what each QIIME 2 action and `aam` command does, for defaults and help
# that differ by job (pretraining trains longer, fine-tuning more gently)
JOB = {"pretrain": "pretrain", "fit_regressor": "fit", "fit_classifier": "fit",
       "fit-regressor": "fit", "fit-classifier": "fit",
       "regress_samples": "pipeline", "classify_samples": "pipeline",
       "regress_samples_ncv": "pipeline", "classify_samples_ncv": "pipeline",
       "predict_regression": "predict", "predict_regression_interval": "predict",
       "predict_classification": "predict", "feature_importance": "predict",
       "predict": "predict", "embed": "predict", "error_analysis": "analysis",
       "summarize_predictions": "analysis", "blend_predictions": "analysis",
       "attention_map": "predict",
       "tune": "tune"}

PRETRAIN = ("pretrain",)
FIT = ("fit_regressor", "fit_classifier")
TRAINING = PRETRAIN + FIT
HOLDOUT = ("regress_samples", "classify_samples")  # one train/test split
NCV = ("regress_samples_ncv", "classify_samples_ncv")  # cross-validated
PIPELINES = HOLDOUT + NCV
# what fits a regressor: fit-regressor and the regression pipelines
REGRESSING = ("fit_regressor", "regress_samples", "regress_samples_ncv")
# attention_map applies a model as these do (device, batches, conditioning)
PREDICTING = ("predict_regression", "predict_regression_interval",
              "predict_classification", "feature_importance", "attention_map")
APPLYING = PREDICTING + ("embed",)
ERRORS = ("error_analysis",)  # a visualizer of any regressor's predictions

FIT_COMMANDS = ("fit-regressor", "fit-classifier")
TRAINING_COMMANDS = ("pretrain",) + FIT_COMMANDS
APPLY_COMMANDS = ("predict", "embed")
TUNE_COMMANDS = ("tune",)

# every count without a declared ceiling stays a 32-bit one: beyond it torch
# overflows ("Overflow when unpacking long long") or a run never ends
INT_CEILING = 2 ** 31 - 1

# value kinds: Python's, and what the front ends make of them
KINDS = ("int", "int_auto", "float", "bool", "str", "ints", "floats", "bounds",
         "metadata", "column", "categorical_column", "numeric_column")
# int_auto: a count, or 'auto' for a default worked out from other settings
# (QIIME 2 cannot tell a typed value from its default, so a default that
# depends on other options must be a word of its own)
AUTO = "auto"


@dataclass(frozen=True)
class Option:
    """One user-facing setting. `name` is its Python and QIIME 2 name and,
    with dashes, its `aam` flag; `field` names the settings field its
    value lands in ('TrainConfig.random_state')."""
    name: str
    kind: str
    default: object
    help: str
    low: float | None = None
    high: float | None = None
    # QIIME 2's Range: start included, end excluded unless said otherwise
    inclusive: tuple = (True, False)
    choices: tuple = ()
    actions: tuple = ()
    commands: tuple = ()
    field: str = ""
    # differences by action, command or job: {'pretrain': {'default': 16}}
    per: Mapping[str, Mapping] = dataclasses.field(default_factory=dict)
    # an older spelling still accepted, with a warning
    old_name: str = ""
    # an older form of these options (a list of widths for a depth and a
    # width): still read, with a warning naming them
    now: tuple = ()
    # (field, value) or (field, "above", number): the option only acts when
    # that field of the same settings holds that value, or a larger number
    # (quantiles: loss 'quantile'; mask_ratio: nucleotide_weight above 0);
    # set to anything but its default otherwise, it would be silently ignored
    needs: tuple = ()

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"option {self.name}: unknown kind {self.kind!r}")
        # help may be written as an indented block; it is read as one line
        object.__setattr__(self, "help", " ".join(self.help.split()))

    def at(self, where: str) -> "Option":
        """This option as the action or command `where` takes it."""
        changes = {**self.per.get(JOB.get(where, ""), {}), **self.per.get(where, {})}
        return dataclasses.replace(self, per={}, **changes) if changes else self

    def applies_to(self, where: str) -> bool:
        return where in self.actions or where in self.commands

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def old_flag(self) -> str:
        """The `aam` flag of the older name ('' when there is none)."""
        return "--" + self.old_name.replace("_", "-") if self.old_name else ""

    def problem(self, value, where: str = "") -> str | None:
        """Why `value` is not allowed, or None."""
        listed = self.kind in ("ints", "floats", "bounds") and isinstance(value, (list, tuple))
        values = value if listed else (value,)
        here = self.at(where)
        low, high, (start, end) = here.low, here.high, here.inclusive
        if high is None and self.kind in ("int", "int_auto", "ints"):
            high, end = INT_CEILING, True
        for item in values:
            if self.kind == "int_auto" and isinstance(item, str):
                if item == AUTO:
                    continue
                return f"must be an integer or {AUTO!r}, not {item!r}"
            if here.choices and item not in here.choices:
                return f"must be one of {', '.join(map(repr, here.choices))}, not {item!r}"
            if isinstance(item, bool) or not isinstance(item, (int, float)):
                continue
            if item != item:  # NaN passes every comparison below
                return "must be a number, not nan"
            if low is not None and (item < low or (item == low and not start)):
                return f"must be {'at least' if start else 'above'} {low}, not {item}"
            if high is not None and (item > high or (item == high and not end)):
                return f"must be {'at most' if end else 'below'} {high}, not {item}"
        return None


def setting(default, help: str, **declaration):
    """A settings-dataclass field declared as an option; its name (unless
    `name` is given) and its kind (unless `kind` is) come from the field."""
    return dataclasses.field(default=default, metadata={
        "option": dict(default=default, help=help, **declaration)})


def declared(cls) -> list[Option]:
    """The options declared on a settings dataclass, in field order."""
    found = []
    for spec in dataclasses.fields(cls):
        meta = spec.metadata.get("option")
        if meta is None:
            continue  # internal: set from other options or by the front ends
        meta = dict(meta)
        kind = meta.pop("kind", "") or type(meta["default"]).__name__
        found.append(Option(name=meta.pop("name", spec.name), kind=kind,
                            field=f"{cls.__name__}.{spec.name}", **meta))
    return found


def field_name(declaration: Option) -> str:
    return declaration.field.rpartition(".")[2]


def defaults_for(cls, where: str) -> dict:
    """Field values of `cls` whose default differs for the job `where`."""
    out = {}
    for declaration in declared(cls):
        here = declaration.at(where)
        if here.default != declaration.default:
            out[field_name(declaration)] = here.default
    return out


def plain(value):
    """numpy scalars (np.int64(3), what a DataFrame's max gives), alone or in
    a list or tuple, as Python's own: JSON and torch's seeds refuse them.
    Read by their module, so that declarations load without numpy."""
    if type(value).__module__ == "numpy" and hasattr(value, "item"):
        return value.item()
    if isinstance(value, (list, tuple)):
        return type(value)(plain(v) for v in value)
    return value


def plain_numbers(settings) -> None:
    """plain() on every field of a frozen settings object."""
    for field in dataclasses.fields(settings):
        object.__setattr__(settings, field.name, plain(getattr(settings, field.name)))


KIND_WORDS = {"int": "an integer", "int_auto": f"an integer or {AUTO!r}", "float": "a number",
              "bool": "true or false", "str": "a string", "ints": "a list of integers", "floats": "a list of numbers",
              "bounds": "a list of two numbers (null: open)", "metadata": "a list of columns"}


def is_number(value, kinds) -> bool:
    """isinstance, except that a bool is no number (JSON true is not 1)."""
    kinds = kinds if isinstance(kinds, tuple) else (kinds,)
    if isinstance(value, bool):
        return bool in kinds
    return isinstance(value, kinds)


def of_kind(kind: str, value, listed=(list, tuple)) -> bool:
    """Whether `value` is of the declared kind: an int is a float's value
    too, a bool is no number, a list kind is a `listed` of such values."""
    if kind in ("ints", "floats", "bounds", "metadata"):
        if not isinstance(value, listed):
            return False
        element = {"ints": int, "floats": (int, float), "bounds": (int, float, type(None)),
                   "metadata": str}[kind]
        return (len(value) == 2 or kind != "bounds") and all(
            is_number(v, element) if kind != "metadata" else isinstance(v, str)
            for v in value)
    if kind == "int_auto":
        return value == AUTO or is_number(value, int)
    return is_number(value, {"int": int, "float": (int, float), "bool": bool,
                             "str": str}[kind])


def check_fields(settings) -> None:
    """Refuse a settings object with a value not of its declared kind, or
    outside its declared range or choices; the message names the option as
    the caller's interface does."""
    plain_numbers(settings)
    for declaration in declared(type(settings)):
        name = field_name(declaration)
        value = getattr(settings, name)
        if declaration.kind.endswith("column"):  # None too: no field defaults to it
            continue
        if not of_kind(declaration.kind, value):
            raise AAMInputError(f"{spelled(declaration.name)} must be "
                                f"{KIND_WORDS[declaration.kind]}, not {value!r} "
                                f"({declaration.help})")
        problem = declaration.problem(value)
        if problem:
            raise AAMInputError(f"{spelled(declaration.name)} {problem} "
                                f"({declaration.help})")


def check_needs(settings, where: str) -> None:
    """Refuse an option set away from its default (for the job `where`)
    while the option it needs is set so that it has no effect: a parameter
    is never silently ignored."""
    declarations = {field_name(d): d for d in declared(type(settings))}
    for name, declaration in declarations.items():
        if not declaration.needs:
            continue
        other = declaration.needs[0]
        # the job's default, or the dataclass's (a TrainConfig() built in Python)
        value, defaults = getattr(settings, name), (declaration.at(where).default,
                                                    declaration.default)
        if any(_same(value, d) for d in defaults) or \
                _met(getattr(settings, other), declaration.needs):
            continue
        wanted = _wanted(declarations[other], declaration.needs)
        raise AAMInputError(
            f"{spelled(declaration.name, _shown(value))} only acts with {wanted}, "
            f"but {spelled(declarations[other].name)} is {getattr(settings, other)!r}, "
            f"so it would be ignored: set {wanted}, or leave "
            f"{spelled(declaration.name)} at its default.")


# the `aam` command of each training job of the Python API: the options a
# declaration gives that command are the ones the job reads
COMMAND_OF = {"pretrain": "pretrain", "fit_regressor": "fit-regressor",
              "fit_classifier": "fit-classifier"}
JOB_WORDS = {"pretrain": "pretraining", "fit_regressor": "fitting a regressor",
             "fit_classifier": "fitting a classifier"}


def check_applies(settings, where: str) -> None:
    """Refuse a field set away from its defaults that the training job
    `where` never reads (a classifier's class_weight in pretrain, a
    regressor's loss in fit_classifier): the front ends offer no such flag,
    but a settings object built in Python holds every field."""
    for declaration in declared(type(settings)):
        name = field_name(declaration)
        value = getattr(settings, name)
        if declaration.applies_to(COMMAND_OF[where]) or any(
                _same(value, d) for d in (declaration.at(where).default,
                                          declaration.default)):
            continue
        readers = [JOB_WORDS[j] for j, c in COMMAND_OF.items() if declaration.applies_to(c)]
        if readers:  # none: an internal field, set from other options
            raise AAMInputError(
                f"{spelled(declaration.name, _shown(value))} acts only in "
                f"{' or '.join(readers)}, not in {JOB_WORDS[where]}, so it would be "
                f"ignored: leave {spelled(declaration.name)} at its default.")


def _met(value, needs: tuple) -> bool:
    if len(needs) == 2:
        return value == needs[1]
    return value > needs[2]  # (field, "above", number)


def _wanted(needed: Option, needs: tuple) -> str:
    if len(needs) == 2:
        return spelled(needed.name, needs[1])
    return f"{spelled(needed.name)} above {needs[2]}"


def _same(value, default) -> bool:
    if isinstance(value, (list, tuple)) and isinstance(default, (list, tuple)):
        return len(value) == len(default) and all(
            float(a) == float(b) for a, b in zip(value, default))
    return value == default


def _shown(value):
    """A list as the caller's interface writes it: [0.2, 0.8] in Python,
    several values after one flag otherwise."""
    if not isinstance(value, (list, tuple)):
        return value
    return list(value) if interface() == "python" else " ".join(map(str, value))


def choices_of(cls, name: str, where: str = "") -> tuple:
    """The declared choices of the field `name` of `cls` (at `where`), for the
    modules that check or dispatch on them."""
    declaration = next(d for d in declared(cls) if field_name(d) == name)
    return declaration.at(where).choices
