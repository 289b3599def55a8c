"""Fine-tuning settings that contradict each other, or that another setting
would make ignored: refused before any data is read, each naming the
options as the caller spells them, so that no parameter is silently ignored.
(One option that needs another's value is declared with `needs` instead;
these are the rules that span settings objects or read several values.)"""
from __future__ import annotations

from .config import FIT_TRAIN_DEFAULTS, ConditioningConfig, ModelConfig, TrainConfig
from .errors import AAMInputError
from .option import AUTO, declared, field_name
from .spelling import interface, spelled, spelled_column

# the conditioning options that act only on conditioning columns
CONDITIONING_ONLY = ("fusion", "conditional_output", "unknown_rate")


def check_training(train: TrainConfig, conditioning: ConditioningConfig,
                   pretrained: bool) -> None:
    """Contradictions among the training settings."""
    if train.target_weight <= 0:
        raise AAMInputError(f"{spelled('target_weight', train.target_weight)} leaves "
                            "fitting nothing to learn: the target is what it learns. "
                            "Give a weight above 0.")
    if train.contrastive_weight > 0:  # its views would also be what validation scores
        raise AAMInputError(f"{spelled('contrastive_weight', train.contrastive_weight)} is "
                            "an objective of pretraining, not of fitting: pretrain with "
                            "it, then fit from that model.")
    if train.epochs == AUTO:  # pretraining's: steps from the table's size
        raise AAMInputError(f"{spelled('epochs', AUTO)} is pretraining's default; fitting "
                            "stops early on its validation split: give a number of epochs.")
    if train.nucleotide_epochs:  # fitting has freeze_nucleotide_encoder for that
        raise AAMInputError(f"{spelled('nucleotide_epochs', train.nucleotide_epochs)} is "
                            "a setting of pretraining, not of fitting: fitting freezes the "
                            f"nucleotide encoder with {spelled('freeze_nucleotide_encoder')}.")
    frozen = [name for name in ("freeze_encoder", "freeze_nucleotide_encoder")
              if getattr(train, name)]
    if pretrained and frozen and train.nucleotide_weight > 0:
        raise AAMInputError(
            f"{spelled(frozen[0], True)} keeps the pretrained nucleotide encoder "
            f"from learning, so {spelled('nucleotide_weight', train.nucleotide_weight)} "
            f"would be ignored: leave it at 0, or set {spelled(frozen[-1], False)}"
            + (f" and leave out {spelled('freeze_encoder')}." if train.freeze_encoder
               else "."))
    if pretrained and train.freeze_encoder and train.gradient_checkpointing:
        # the frozen encoder keeps no activations for a backward pass
        raise AAMInputError(
            f"{spelled('gradient_checkpointing', True)} saves the encoder's memory in "
            f"the backward pass, and {spelled('freeze_encoder', True)} leaves it none "
            f"(its ASV vectors are cached), so it would be ignored: leave out one of them.")
    if pretrained and train.freeze_encoder and train.abundance_weight > 0:
        raise AAMInputError(
            f"{spelled('freeze_encoder', True)} keeps the whole pretrained encoder from "
            f"learning, so {spelled('abundance_weight', train.abundance_weight)} would be "
            f"ignored: leave it at 0, or leave out {spelled('freeze_encoder')}.")
    if train.loss == "asymmetric" and \
            train.overprediction_weight == 0 == train.underprediction_weight:
        raise AAMInputError(
            f"{spelled('loss', 'asymmetric')} with {spelled('overprediction_weight', 0)} "
            f"and {spelled('underprediction_weight', 0)} is 0 for every prediction: "
            "there is nothing to learn. Give at least one weight above 0.")
    if (train.ensemble_validation == "folds"
            and train.validation_fraction != FIT_TRAIN_DEFAULTS.validation_fraction):
        raise AAMInputError(
            f"With {spelled('ensemble_validation', 'folds')} each member validates "
            f"on one of {spelled('ensemble_size')} folds, so "
            f"{spelled('validation_fraction', train.validation_fraction)} would be "
            f"ignored: leave it at its default, or use "
            f"{spelled('ensemble_validation', 'random')}.")
    if conditioning.normalise_by and train.normalisation == "none":
        raise AAMInputError(
            f"{spelled_column('normalise_by', conditioning.normalise_by)} normalises the "
            f"target per category, but {spelled('normalisation', 'none')} turns "
            "normalisation off: choose 'zscore' or 'minmax', or leave out "
            f"{spelled_column('normalise_by')}.")


def check_quantiles(quantiles) -> None:
    """The 'quantile' loss's quantiles: each once (a repeat would shrink the
    interval without a word), and on both sides of 0.5, so that the
    prediction (the one closest to 0.5) lies inside the interval."""
    values = [float(q) for q in quantiles]
    if not values:
        raise AAMInputError(f"{spelled('quantiles')} holds no quantile: give the quantiles "
                            "the 'quantile' loss fits, e.g. 0.1 0.5 0.9 (the default).")
    repeated = sorted({q for q in values if values.count(q) > 1})
    if repeated:
        raise AAMInputError(f"{spelled('quantiles')} repeats {', '.join(map(str, repeated))}: "
                            "give each quantile once, e.g. 0.1 0.5 0.9.")
    ordered = sorted(values)
    # the prediction is the quantile closest to 0.5 (the first of a tie, as
    # targets.point_index takes it): it must lie inside the interval
    point = min(range(len(ordered)), key=lambda i: abs(ordered[i] - 0.5))
    if len(ordered) > 1 and point in (0, len(ordered) - 1):
        raise AAMInputError(
            f"With {spelled('quantiles')} {' '.join(map(str, ordered))} the prediction "
            f"(the quantile closest to 0.5, {ordered[point]}) would be an edge of its own "
            "interval: give a quantile between the lowest and the highest, at or near "
            "0.5, e.g. 0.1 0.5 0.9.")


def check_head(kind: str, train: TrainConfig, architecture: ModelConfig) -> None:
    """Head settings that the head's shape would make ignored."""
    if (train.expert_balance != FIT_TRAIN_DEFAULTS.expert_balance
            and architecture.regression_experts <= 1):
        raise AAMInputError(
            f"{spelled('expert_balance', train.expert_balance)} balances the experts "
            f"of a head with {spelled('regression_experts')} above 1, and this head "
            f"has {architecture.regression_experts}, so it would be ignored: set "
            f"{spelled('regression_experts')}, or leave {spelled('expert_balance')} "
            "at its default.")
    widths = getattr(architecture, "classification_hidden" if kind == "classifier"
                     else "regression_hidden")
    if architecture.head_dropout != ModelConfig().head_dropout and not widths:
        raise AAMInputError(
            f"{spelled('head_dropout', architecture.head_dropout)} acts in the head's "
            f"hidden layers, but {spelled('hidden_layers', 0)} makes the head linear, "
            f"so it would be ignored: leave {spelled('head_dropout')} at its default.")
    if kind == "regressor" and architecture.residual_head and not widths:
        raise AAMInputError(
            f"{spelled('residual_head', True)} makes the head's hidden layers residual "
            f"blocks, but {spelled('hidden_layers', 0)} makes the head linear, so it "
            f"would be ignored: set {spelled('hidden_layers')} to 1 or more, or leave "
            f"out {spelled('residual_head')}.")


# the head fields no option declares (set from hidden_layers, hidden_width
# and the bounds), by the kind whose head reads them
_HEAD_READERS = {"regression_hidden": "regressor", "output_bounds": "regressor",
                 "classification_hidden": "classifier"}


def check_head_options(kind: str, head_options: dict) -> None:
    """A head option that only the other kind's head reads (a classifier's
    output_bounds or regression_experts, a regressor's classification_hidden)
    would be ignored: refused, as head_options of that kind of fit."""
    for name, value in head_options.items():
        reader = _head_reader(name)
        if reader in (None, kind) or value == getattr(ModelConfig(), name):
            continue
        raise AAMInputError(
            f"{spelled(name, value)} shapes a {reader}'s head, and a {kind}'s head "
            f"has no such setting, so it would be ignored: leave it out of head_options.")


def _head_reader(name: str) -> str | None:
    """'regressor' or 'classifier' where one kind's head alone reads `name`."""
    declaration = next((d for d in declared(ModelConfig) if field_name(d) == name), None)
    if declaration is None:
        return _HEAD_READERS.get(name)
    readers = [k for k in ("regressor", "classifier") if declaration.applies_to(f"fit-{k}")]
    return readers[0] if len(readers) == 1 else None


def check_conditioning(options: ConditioningConfig, given: bool) -> None:
    """Conditioning options without conditioning columns, or columns that
    the options leave unused."""
    defaults = ConditioningConfig()
    changed = [n for n in CONDITIONING_ONLY if getattr(options, n) != getattr(defaults, n)]
    if not given and changed:
        name = changed[0]
        raise AAMInputError(
            f"{spelled(name, getattr(options, name))} acts on the conditioning "
            "columns, and none were given, so it would be ignored: give "
            f"conditioning metadata, or leave {spelled(name)} at its default.")
    if given and options.fusion == "none" and not options.conditional_output:
        raise AAMInputError(
            f"{spelled('fusion', 'none')} uses the conditioning columns only for "
            f"{spelled('conditional_output')}, which is off, so the columns would "
            f"be ignored: set {spelled('conditional_output', True)}, or choose a fusion.")
    if given and options.fusion == "none" and options.parents:
        hierarchy = "--parent" if interface() == "aam" else spelled("hierarchical", True)
        raise AAMInputError(
            f"{hierarchy} adds each parent category's embedding to its child's for the "
            f"fusion; {spelled('fusion', 'none')} fuses nothing (the conditional output "
            "reads each column alone), so the hierarchy would be ignored: choose a "
            f"fusion, or leave out {hierarchy}.")


def check_normalise_by(options: ConditioningConfig, target_name) -> None:
    """normalise_by names a column read again at prediction, when the target
    is unknown: it cannot be the target's own column."""
    if options.normalise_by and options.normalise_by == str(target_name):
        raise AAMInputError(
            f"{spelled_column('normalise_by', options.normalise_by)} names the target column: "
            "the target cannot be normalised by itself (at prediction it is "
            f"unknown). Name another categorical column, or leave out "
            f"{spelled_column('normalise_by')}.")


def check_weights_column(kind: str, weights, targets) -> None:
    """A regressor's numeric loss weights taken from its own target column
    would weigh each sample by its target (older people counting more):
    most likely the wrong column was named. (A classifier's categorical
    weights by its own classes are class weights, and allowed.)"""
    if kind != "regressor" or not is_target_column(weights, targets):
        return
    name = weights.name
    raise AAMInputError(
        f"{spelled_column('loss_weights', str(name))} is the target column itself: each "
        f"sample would weigh as much as its own {name}, so samples with larger targets "
        "would count more. Name a column of weights; to weigh by the target on purpose, "
        "copy it under another name.")


def check_groups_column(kind: str, groups, targets) -> None:
    """A regressor's groups named as its target column would put every
    sample of one target value on one side of each split: most likely the
    wrong column was named. (A classifier's are refused by their values,
    supervision.refuse_class_groups, also under another name.)"""
    if kind != "regressor" or not is_target_column(groups, targets):
        return
    raise AAMInputError(
        f"{spelled_column('groups', str(groups.name))} is the target column itself: every "
        "validation split would hold whole target values, never samples of a value seen "
        "in training. Group by what ties samples together (a subject, a family), or "
        f"leave out {spelled_column('groups')}.")


def is_target_column(column, targets) -> bool:
    """Whether `column` is the target's own column: its name, and its values
    wherever both have one. In q2cli and Python each column may come from a
    file of its own, whose column may share the target's name and hold
    other values (a generic 'value' in every file): that one is not it."""
    import pandas as pd
    name = getattr(column, "name", None)
    if name is None or str(name) != str(getattr(targets, "name", None)):
        return False
    column, targets = pd.Series(column), pd.Series(targets)
    column.index, targets.index = column.index.map(str), targets.index.map(str)
    shared = column.dropna().index.intersection(targets.dropna().index)
    return all(_same_value(column[i], targets[i]) for i in shared)


def _same_value(a, b) -> bool:
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return str(a) == str(b)


def check_front_end(train: TrainConfig) -> None:
    """What only the front ends can tell: they build fit's settings from its
    defaults (freeze_nucleotide_encoder on), so there an off is the caller's,
    and it contradicts freeze_encoder (a TrainConfig built in Python starts
    with it off, and freeze_encoder then wins, as documented)."""
    if train.freeze_encoder and not train.freeze_nucleotide_encoder:
        raise AAMInputError(
            f"{spelled('freeze_encoder', True)} freezes the whole encoder, its "
            f"nucleotide encoder too, so {spelled('freeze_nucleotide_encoder', False)} "
            "contradicts it: leave one of the two out.")
