"""Every user-facing option, declared once, and the questions asked of them.

Most options are fields of the settings dataclasses (config.py). The few
declared here are translated by the front ends before they reach a settings
object: the target and grouping columns, the conditioning metadata, the
preset name, head shapes given as a depth and a width, the pipelines' own
options. `aam_core.cli` builds its flags from `for_command`, the QIIME 2
plugin its parameters and descriptions from `for_action`; both turn the
values back into settings objects with `build`. No torch here.
"""
from __future__ import annotations

from dataclasses import replace

from .config import (DEFAULT_PRESET, FIT_TRAIN_DEFAULTS, HEAD_FIELDS, HEAD_SHAPE,
                     PRESETS, PRETRAIN_TRAIN_DEFAULTS, ConditioningConfig, DataConfig,
                     ModelConfig, TrainConfig)
from .errors import AAMInputError
from .fit_checks import check_front_end
from .option import (APPLYING, ERRORS, FIT, FIT_COMMANDS, HOLDOUT, NCV, PIPELINES,
                     TRAINING, TRAINING_COMMANDS, TUNE_COMMANDS, Option, declared,
                     defaults_for, field_name)
from .spelling import spelled

REQUIRED = object()  # an option with no default: the caller must give it

_MISSING_SAMPLES = Option(
    "missing_samples", "str", "error",
    'How to handle table samples absent from the metadata: "error" fails and '
    'names some of them, "ignore" drops them. A regressor with readout '
    '"propagation" keeps them either way, as its unlabelled samples.',
    choices=("error", "ignore"),
    actions=FIT + PIPELINES + ERRORS + ("summarize_predictions",),
    commands=FIT_COMMANDS + TUNE_COMMANDS,
    per={"error_analysis": {"help": """
        How to handle predicted samples absent from the truth column: "error"
        fails and names some of them, "ignore" leaves them out (the page says
        how many)."""},
         "summarize_predictions": {"help": 'How to handle predicted samples absent '
         'from the truth metadata: "error" fails and names some of them, "ignore" '
         'leaves them out (their number is shown).'}})

# what each preset costs: parameters of a regressor built on it, and
# training speed on 2 CPU cores (docs/benchmarks.md, unique-ASV batching)
_PRESET_COST = {"tiny": "33k parameters, ~270 samples/s: for tests",
                "small": "220k parameters, ~60 samples/s: for CPUs",
                "base": "1.6M parameters, ~7 samples/s at batch 8: for GPUs"}


def _preset_help() -> str:
    sizes = "; ".join(
        f"'{name}' (width {c.d_model}, {c.nucleotide_layers} nucleotide and "
        f"{c.sample_layers} sample layers, {_PRESET_COST[name]})"
        for name, c in PRESETS.items())
    return ("Model size: " + sizes + ". Speeds: training on 2 CPU cores. With a "
            "pretrained model, its own size is used; another preset than the "
            "default is then an error.")


_LEADING = [
    Option("metadata", "numeric_column", REQUIRED,
           "Numeric metadata column to predict. Samples with no value are dropped.",
           actions=("fit_regressor", "fit_classifier") + PIPELINES + ERRORS,
           per={"error_analysis": {
                    "kind": "metadata", "default": None,
                    "help": "Sample metadata to break the errors down by: residuals "
                            "per category of each categorical column, against each "
                            "numeric column, and the mean absolute error of each "
                            "category."},
                "fit_classifier": {
                    "kind": "categorical_column",
                    "help": "Categorical metadata column to predict. Samples with no "
                            "value are dropped; classes are the distinct values."},
                **{action: {"help": "Numeric metadata column to predict."}
                   for action in ("regress_samples", "regress_samples_ncv")},
                **{action: {"kind": "categorical_column",
                            "help": "Categorical metadata column to predict."}
                   for action in ("classify_samples", "classify_samples_ncv")}}),
    Option("groups", "column", None, """
           Metadata column of group labels (numbers, e.g. family ids, are
           read as labels); samples of one group stay together on
           one side of the validation split (e.g. one subject).""",
           actions=FIT + PIPELINES, commands=FIT_COMMANDS + TUNE_COMMANDS,
           per={"pipeline": {"help": """
               Metadata column of group labels (e.g. subject; numbers are
               read as labels); all samples of a group go to the same side of
               the test split and of the
               validation split, so no subject is both trained on and
               tested."""},
                **{action: {"help": """
                   Metadata column of group labels (e.g. subject; numbers are
                   read as labels); all samples of a group go to the same
                   cross-validation fold and to the
                   same side of each validation split, so no subject is
                   predicted by a model trained on it."""} for action in NCV},
                "tune": {"help": """
               Metadata column of group labels (e.g. subject; numbers are
               read as labels); all samples of a group go to the same
               cross-validation fold, and to the same
               side of each fit's validation split."""}}),
    Option("conditioning", "metadata", None, """
           Categorical sample metadata (site, season, sex, study...) the model
           is conditioned on: every column of it is used, so pass a file (or
           files) with only those columns, never the target or the subject.
           Numeric columns are read as categories. Missing values, and
           categories not seen in training (also at prediction), use a
           reserved 'unknown' embedding. Pass the same metadata to the predict
           actions.""", actions=FIT + APPLYING, commands=FIT_COMMANDS,
           per={**{command: {"help": """
               Categorical columns of --metadata (site, season, sex, study...) the
               model is conditioned on, never the target or the subject. Numeric
               columns are read as categories. Missing values, and categories not
               seen in training (also at prediction), use a reserved 'unknown'
               embedding. Give `aam predict` a --metadata with the same
               columns."""} for command in FIT_COMMANDS},
                "predict": {"help": """
               The conditioning metadata of the samples, for a model fitted with
               conditioning or a target normalised per category: it must hold
               the columns the model was fitted on (they are taken from it).
               Missing samples or values, and categories not seen in training,
               use the 'unknown' embedding, with a message."""},
                "embed": {"help": """
               The conditioning metadata of the samples, for a model fitted with
               fusion 'cross_attention', whose sample encoder reads its
               conditioning columns (they are taken from it); the other fusions
               add the categories after the embedding, which then needs
               none."""}}),
    Option("test_size", "float", 0.2,
           "Fraction of the samples (or groups) held out for testing.", low=0, high=1,
           inclusive=(False, False), actions=HOLDOUT,
           per={"classify_samples": {"help": "Fraction of the samples (or groups) held "
                                     "out for testing, drawn within each class so that "
                                     "every class with two samples (groups) or more is "
                                     "on both sides."}}),
    Option("cv", "int", 5, """
           Number of cross-validation folds: every sample is predicted once,
           by the model fitted on the other folds (whole groups to one
           fold).""", low=2, actions=NCV,
           per={"classify_samples_ncv": {"help": """
               Number of cross-validation folds: every sample is predicted
               once, by the model fitted on the other folds (whole groups to
               one fold, the groups of each class spread over the
               folds)."""}}),
    Option("preset", "str", DEFAULT_PRESET, _preset_help(),
           choices=tuple(PRESETS), actions=TRAINING + PIPELINES,
           commands=TRAINING_COMMANDS),
]

_HEAD = [
    Option("hidden_layers", "int", 1, "Number of hidden layers of the head (0: linear).",
           low=0, high=64, inclusive=(True, True), actions=FIT, commands=FIT_COMMANDS,
           per={"fit_classifier": {"default": 0}, "fit-classifier": {"default": 0}}),
    Option("hidden_width", "int", 0, "Width of the hidden layers of the head; 0 uses "
           "the width of the model (the preset's, or the pretrained model's).", low=0,
           high=65_536, inclusive=(True, True),
           actions=FIT, commands=FIT_COMMANDS),
    Option("lower_bound", "float", float("-inf"),
           "Predictions stay above this value (sigmoid between the bounds when both "
           "are given); -inf: no lower bound. Not with an output_activation.",
           low=None, inclusive=(True, False), actions=("fit_regressor",),
           commands=("fit-regressor",)),
    Option("upper_bound", "float", float("inf"),
           "Predictions stay below this value; inf: no upper bound.",
           inclusive=(True, True), actions=("fit_regressor",), commands=("fit-regressor",)),
]

# the `aam` command's older forms of the head's shape and bounds, still read
# (the flags warn): a list of widths, a pair of bounds
_OLD_HEAD = [
    Option("regression_hidden", "ints", None, "Older form of --hidden-layers and "
           "--hidden-width: the width of each hidden layer of the head (none: "
           "linear); wins over them.", low=1, high=65_536, inclusive=(True, True),
           commands=("fit-regressor",),
           now=HEAD_SHAPE),
    Option("classification_hidden", "ints", None, "Older form of --hidden-layers and "
           "--hidden-width: the width of each hidden layer of the head (none: "
           "linear); wins over them.", low=1, high=65_536, inclusive=(True, True),
           commands=("fit-classifier",),
           now=HEAD_SHAPE),
    Option("output_bounds", "bounds", None, "Older form of --lower-bound and "
           "--upper-bound: the lower and upper bound ('none': open); wins over them.",
           commands=("fit-regressor",), now=("lower_bound", "upper_bound")),
]

_PIPELINE_TRAINING = [
    # pretrain's own defaults: the pipelines pretrain as the action does
    Option("pretrain_epochs", "int_auto", PRETRAIN_TRAIN_DEFAULTS.epochs,
           "Maximum epochs of pretraining (only with a distance matrix); 'auto' as "
           "pretrain's epochs.", low=1, actions=PIPELINES),
    Option("pretrain_learning_rate", "float", PRETRAIN_TRAIN_DEFAULTS.learning_rate,
           "Peak learning rate of pretraining (only with a distance matrix); "
           "learning_rate is that of fine-tuning.", low=0, high=1,
           inclusive=(False, True),
           actions=PIPELINES),
]

_CONDITIONING = [
    Option("hierarchical", "bool", False,
           "Treat nested conditioning columns as a hierarchy: when every category of "
           "one column lies within one category of another (city within country), "
           "the child's embedding adds its parent's, so an unseen city still carries "
           "its country.", actions=FIT),
    Option("loss_weights", "column", None,
           "Weights of the samples in the loss. A categorical column weighs each "
           "category by its inverse frequency among the training samples (every "
           "category then counts the same in total); a numeric column gives each "
           "sample its weight (give the samples of a category the same value to set "
           "per-category weights). Samples without a value weigh 1.", actions=FIT,
           commands=FIT_COMMANDS, per={command: {"help": """
               Weights of the samples in the loss, a column of --metadata: a
               categorical one weighs each category by its inverse frequency
               among the training samples (or as --category-weight says); a
               numeric one gives each sample its weight. As in QIIME 2, a
               column is numeric when all its values are numbers, unless the
               file's '#q2:types' row says categorical. Samples without a
               value weigh 1."""} for command in FIT_COMMANDS}),
    Option("weight_by", "categorical_column", None, "Older form of --loss-weights, "
           "for a categorical column.", commands=FIT_COMMANDS, now=("loss_weights",)),
]

# options given as a file, and those of `aam tune` (aam_core/tune.py)
_TUNING = [
    Option("settings", "str", None, """
           JSON or YAML file of option values by option name, e.g.
           {"learning_rate": 0.001, "hidden_layers": 2}, as `aam tune`
           writes it; flags given on the command line win over it. Unknown
           names and values out of range are errors.""",
           commands=FIT_COMMANDS + TUNE_COMMANDS, per={"tune": {"help": """
               JSON or YAML file of fit-regressor (fit-classifier) option values
               held fixed in every trial (e.g. {"preset": "tiny", "epochs": 10});
               the options it names are not searched."""}}),
    Option("trials", "int", 20, "Trials to run now; a study that already has "
           "trials (--study) gets this many more.", low=1, commands=TUNE_COMMANDS),
    Option("folds", "int", 5, "Grouped cross-validation folds each trial is scored "
           "on (whole groups per fold); the trial's score is their mean.", low=2,
           commands=TUNE_COMMANDS),
]

_TRAILING = [
    _MISSING_SAMPLES,
    Option("n_devices", "int", 1,
           "Devices of this machine to train on in parallel (torch.distributed DDP, "
           "one process per device, started from inside the action). With device "
           "'cuda', or 'auto' where GPUs are visible: that many GPUs (NCCL). With "
           "device 'cpu', or 'auto' without GPUs: that many CPU processes (gloo) "
           "sharing n_threads. batch_size is then the global batch, split over the "
           "devices; the UniFrac loss still covers every pair of it. 1 trains in "
           "this process.", low=1, high=1024, inclusive=(True, True), actions=TRAINING),
]

# the `aam` training commands only; the packages are optional (tracking.py)
_TRACKING = [
    Option("tensorboard", "str", None,
           "Write TensorBoard event files to this directory: every loss and metric "
           "per epoch, the learning rate and, for a regressor, the validation "
           "predictions against the truth (needs: pip install tensorboard)",
           commands=TRAINING_COMMANDS, field="tracking.tensorboard"),
    Option("mlflow_uri", "str", None,
           "Log the run to this MLflow tracking URI (e.g. sqlite:///mlflow.db): the "
           "options as parameters, the metrics per epoch, the model directory as "
           "an artifact; the experiment is $MLFLOW_EXPERIMENT_NAME, else 'aam' "
           "(needs: pip install mlflow-skinny)",
           commands=TRAINING_COMMANDS, field="tracking.mlflow_uri"),
]

# error_analysis (q2_aam/_errors.py) and summarize_predictions, besides
# metadata and missing_samples
_ERRORS = [
    Option("truth", "column", REQUIRED, "Metadata column of the true values: "
           "numeric for a regressor's predictions, categorical for a "
           "classifier's. Samples with no value are left out (counted).",
           actions=("summarize_predictions",) + ERRORS,
           per={"error_analysis": {"kind": "numeric_column", "help": """
               Metadata column of the true values of the predicted samples;
               predicted samples with no value are left out (the page says
               how many)."""}}),
    Option("largest", "int", 20, "Number of samples listed among the largest errors.",
           low=1, actions=ERRORS),
]

# blend_predictions (q2_aam/_blend.py)
_BLEND = [
    Option("weights", "floats", (1.0,), """
           Weight of each set of predictions, in the order they are given
           (they need not sum to 1: each set counts its share of the total);
           one value weighs every set the same.""", low=0,
           inclusive=(False, False), actions=("blend_predictions",)),
]

# attention_map (q2_aam/_attention.py)
_ATTENTION = [
    Option("group_by", "categorical_column", None, """
           Categorical metadata column to group the samples by: one section
           (top ASVs, plots, tables) per category, and a heatmap of mean
           attention across them. It must cover every sample of the table
           (samples with no value form a '(no value)' group). Without it, all
           samples form one group.""", actions=("attention_map",)),
    Option("top_asvs", "int", 20, "Number of ASVs shown per group in each plot "
           "and table (the TSV downloads list all).", low=1,
           actions=("attention_map",)),
]

SETTINGS_CLASSES = {cls.__name__: cls for cls in
                    (ModelConfig, DataConfig, TrainConfig, ConditioningConfig)}

# the order of the actions' signatures and --help: what to fit, how to
# train, the model, the data, the conditioning, then where and how to run
_RUN = ("missing_samples", "random_state", "device", "n_threads", "n_devices")
OPTIONS: tuple[Option, ...] = tuple(sorted(
    _LEADING + declared(TrainConfig) + _PIPELINE_TRAINING + declared(ModelConfig)
    + _HEAD + _OLD_HEAD + declared(DataConfig) + declared(ConditioningConfig) + _CONDITIONING
    + _TUNING + _TRAILING + _TRACKING + _ERRORS + _BLEND + _ATTENTION,
    key=lambda o: _RUN.index(o.name) + 1 if o.name in _RUN else 0))
BY_NAME = {option.name: option for option in OPTIONS}


def missing_samples_for(readout: str, missing_samples: str) -> str:
    """missing_samples as a fit applies it: the propagation readout's
    unlabelled samples are those the metadata lacks, so it keeps them
    (as its help says), whichever was chosen."""
    return "ignore" if readout == "propagation" else missing_samples


def for_action(action: str) -> list[Option]:
    """The options a QIIME 2 action takes, as it takes them."""
    return [o.at(action) for o in OPTIONS if action in o.actions]


def for_command(command: str) -> list[Option]:
    """The options an `aam` command takes, as it takes them."""
    return [o.at(command) for o in OPTIONS if command in o.commands]


def given(cls, values: dict) -> dict:
    """{field: value} of `cls` for every option in `values` (keyed by option
    name) that is not None."""
    fields = {}
    for option in declared(cls):
        value = values.get(option.name)
        if value is not None:
            fields[field_name(option)] = tuple(value) if isinstance(value, list) else value
    return fields


def build(cls, values: dict, where: str):
    """A `cls` settings object: the defaults of the job `where`, then every
    option given in `values`."""
    return cls(**{**defaults_for(cls, where), **given(cls, values)})


def fit_arguments(options: dict, pretrained: bool, distances: bool = False) -> dict:
    """Keyword arguments of api.fit_regressor / fit_classifier (model, data,
    train, head_options) from option values by option name; options left
    out (or None) take the fit commands' defaults."""
    model_options = given(ModelConfig, options)
    encoder = {k: v for k, v in model_options.items() if k not in HEAD_FIELDS}
    if encoder and pretrained:
        # the encoder comes whole from --pretrained, its dropout included
        flags = ', '.join('--' + k.replace('_', '-') for k in encoder)
        what = ("the encoder's dropout" if set(encoder) == {"dropout"} else
                "the encoder's shape" if "dropout" not in encoder else
                "the encoder's shape and dropout")
        raise AAMInputError(f"{flags} would change {what}, which --pretrained fixes "
                            "(fine-tuning keeps the pretrained encoder's settings); "
                            "leave it out.")
    train = build(TrainConfig, options, "fit")
    check_front_end(train)
    if not distances and train.unifrac_weight == FIT_TRAIN_DEFAULTS.unifrac_weight:
        # nothing to fit it on; a weight given without --distances is refused
        # by the fit itself, as a flag that would be ignored
        train = replace(train, unifrac_weight=0.0)
    preset = options.get("preset") or BY_NAME["preset"].default
    # with a pretrained model, the name: fit checks it against the encoder's shape
    model = preset if pretrained else ModelConfig.preset(preset, **encoder)
    return dict(model=model,
                data=build(DataConfig, options, "fit"), train=train,
                head_options=head_options(options))


def _check_bounds(bounds: list, finite: tuple, activation) -> None:
    """An infinite bound means none, but only on its own side; bounds and an
    output activation both shape the output, so only one may be given.
    `finite`: the bounds that bound (None for an absent or infinite one)."""
    for name, bound, wrong in (("lower_bound", bounds[0], float("inf")),
                               ("upper_bound", bounds[1], -float("inf"))):
        if bound == wrong:
            raise AAMInputError(
                f"{spelled(name, bound)} bounds nothing: give a finite number, or "
                f"leave {spelled(name)} out for no bound.")
    if any(b is not None for b in finite) and activation not in (None, "none"):
        raise AAMInputError(
            f"{spelled('output_activation', activation)} and "
            f"{spelled('lower_bound')}/{spelled('upper_bound')} both shape the "
            "output: give either the bounds or the activation, not both.")


def head_options(options: dict) -> dict:
    """The head's settings for api.fit_* from option values by name (None:
    not given): ModelConfig head fields, the shape as hidden_layers and
    hidden_width (made into widths against the encoder's width when it is
    known), the bounds as one pair. An older form (a list of widths, a pair
    of bounds) wins over the options that replaced it."""
    head = {k: v for k, v in given(ModelConfig, options).items() if k in HEAD_FIELDS}
    head.update({name: options[name] for name in HEAD_SHAPE
                 if options.get(name) is not None})
    if head.get("hidden_layers") == 0 and head.get("hidden_width"):
        raise AAMInputError(
            f"{spelled('hidden_width', head['hidden_width'])} only acts with hidden "
            f"layers, but {spelled('hidden_layers', 0)} makes the head linear: set "
            f"{spelled('hidden_layers')} to 1 or more, or leave out "
            f"{spelled('hidden_width')}.")
    bounds = [options.get(name) for name in ("lower_bound", "upper_bound")]
    finite = tuple(None if b is None or abs(b) == float("inf") else b for b in bounds)
    _check_bounds(bounds, finite, options.get("output_activation"))
    if None not in bounds and bounds[0] >= bounds[1]:
        raise AAMInputError(
            f"{spelled('lower_bound', bounds[0])} is not below "
            f"{spelled('upper_bound', bounds[1])}: swap them, or leave one out.")
    if any(b is not None for b in finite):
        head["output_bounds"] = finite
    for old in ("regression_hidden", "classification_hidden", "output_bounds"):
        if options.get(old) is not None:
            head[old] = tuple(options[old])
            if old.endswith("hidden"):
                for name in HEAD_SHAPE:
                    head.pop(name, None)
    return head
