"""What a fine-tuning run learns from, besides the ASVs: targets aligned with
the table, subject groups, conditioning codes, the target normalisation,
class and sample weights, each fitted on the training samples only."""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from .arguments import one_column
from .config import ConditioningConfig, TrainConfig
from .data.split import MIN_TRAINING_SAMPLES, sample_units, ungrouped
from .data.targets import (CategoryScaler, TargetScaler, category_values,
                           encode_classes, point_index, scaling_parameters)
from .errors import AAMInputError, refuse_disjoint
from .fit_checks import check_conditioning
from .model.conditioning import (build_vocabularies, category_text, encode_conditions,
                                 unknown_parent)
from .spelling import spelled, spelled_column, spelled_metadata
from .train.metrics import classification_metrics, regression_metrics
from .train.objective import as_tensor
from .train.task import TargetTask


def aligned_targets(kind: str, targets: pd.Series, sample_ids: list, log,
                    unlabelled_kept: bool = False, dropped: tuple = (),
                    depth: int = 0) -> pd.Series:
    """The targets of the table's samples that have one (numbers for a
    regressor, category texts for a classifier); at least 4 of them.
    unlabelled_kept: the others stay in the fit unlabelled (the propagation
    readout), and the log says so instead of that they were dropped.
    dropped: samples of the table that the data preparation dropped (no
    reads, or fewer than the rarefaction `depth`)."""
    targets = pd.Series(one_column(targets, "The targets are"))
    if targets.name is None:  # a plain Series: messages call it 'target'
        targets = targets.rename("target")
    # an empty or blank text is no value, as QIIME 2 reads an empty cell
    targets = targets.mask(targets.map(lambda v: isinstance(v, str) and not v.strip()))
    targets.index = targets.index.map(str)
    if kind == "regressor" and pd.api.types.is_bool_dtype(targets):
        raise AAMInputError(f"The target column {targets.name!r} holds true/false values: "
                            "fit a classifier on it, not a regressor.")
    if kind == "regressor" and not pd.api.types.is_numeric_dtype(targets):
        examples = ", ".join(map(repr, targets.dropna().unique()[:3]))
        raise AAMInputError(f"The target column {targets.name!r} must be numeric "
                            f"for a regressor; it holds {targets.dtype} values such as "
                            f"{examples}: give numbers (e.g. pd.to_numeric(column)), or fit "
                            "a classifier for classes.")
    if kind == "regressor" and pd.api.types.is_complex_dtype(targets):
        raise AAMInputError(f"The target column {targets.name!r} holds complex numbers "
                            f"({targets.dtype}); a regressor needs real ones: give their "
                            "real part (targets.real) or their magnitude (abs).")
    repeated = targets.index[targets.index.duplicated()].unique()
    if len(repeated):  # which row would win is nowhere said
        raise AAMInputError(f"The targets name {len(repeated)} sample(s) more than once, "
                            f"e.g. {', '.join(map(repr, repeated[:3]))}: give one value "
                            "per sample.")
    refuse_disjoint(targets.index, sample_ids, "the targets",
                    "no sample would have a target",
                    "give the targets indexed by the table's sample ids.")
    aligned = targets.reindex(sample_ids)
    aligned = aligned[aligned.notna()]
    missing = len(sample_ids) - len(aligned)
    if missing and unlabelled_kept:
        log(f"{missing} sample(s) of the table have no target value (or no row in the "
            "metadata): they take part unlabelled.")
    elif missing:
        log(f"Dropped {missing} sample(s) that have no target value (or no row "
            "in the metadata).")
    # first: two samples of two classes are too few, not an id column
    if len(aligned) < MIN_TRAINING_SAMPLES:
        raise AAMInputError(f"Only {len(aligned)} sample(s) have both counts and a "
                            f"target; a {kind} needs at least {MIN_TRAINING_SAMPLES}."
                            f"{_rarefied_away(targets, dropped, depth)}")
    if kind == "classifier":
        _refuse_measurements(aligned, targets.name)
        aligned = _checked_classes(aligned.map(category_text), targets.name, log)
    if kind == "regressor":
        _check_numbers(aligned.astype(float))
    return aligned.astype(float) if kind == "regressor" else aligned.rename(targets.name)


def _refuse_measurements(targets: pd.Series, column: str) -> None:
    """Fractional numbers (20.5, 56.25) are measurements, not class codes
    (0/1, 2024): a classifier would make each value a class of its own."""
    if not pd.api.types.is_float_dtype(targets):
        return
    fractional = targets[targets != targets.round()]
    if len(fractional):
        raise AAMInputError(
            f"The target column {column!r} holds numbers such as "
            f"{', '.join(f'{v:g}' for v in fractional.unique()[:3])}, and a classifier "
            "would make each value a class of its own: fit a regressor, or give the "
            "classes as texts.")


def _checked_classes(classes: pd.Series, column: str, log=None) -> pd.Series:
    """A classifier's labelled targets, as class texts, refused where no
    classifier could be fitted on them or its predictions not be written."""
    if classes.nunique() < 2:
        # name the one class: QIIME 2 strips spaces, so 'a' and 'a ' are one
        raise AAMInputError(f"The target column {column!r} needs at least two classes "
                            "among the table's samples; those with a target have one, "
                            f"{classes.iloc[0]!r}.")
    if classes.value_counts().max() < 2:  # nothing seen twice: nothing to learn
        raise AAMInputError(
            f"Every sample has a class of its own in the target column "
            f"{column!r} ({classes.nunique()} classes for {len(classes)} "
            "samples): is it an id column? A classifier needs classes shared "
            "by several samples.")
    # the predictions are tab-separated lines, one per sample: such a class
    # fitted, then broke every prediction ('Expected data record to be TSV
    # with 2 fields'), after the whole fit
    broken = [c for c in classes.unique() if any(ch in c for ch in "\t\r\n")]
    if broken:
        raise AAMInputError(
            f"The target column {column!r} holds the class {broken[0]!r}, with a tab or "
            "a line break, which the predictions (tab-separated, a line per sample) "
            "cannot hold: replace it by a space in the class names.")
    single = classes.value_counts()
    single = list(single.index[single == 1])
    if single and log is not None:  # a validation split or a member may miss it
        log(f"Warning: {len(single)} class(es) of the target column {column!r} have one "
            f"sample each ({', '.join(map(repr, single[:5]))}): a classifier learns "
            "little from one sample; give more of them, or leave them out.")
    return classes


# the target's mean and spread are kept in 32-bit floats (largest ~3.4e38)
LARGEST_TARGET = 1e30
# the smallest normal 32-bit float: a head's activation or bounds, applied in
# the target's units, need the target's scale above it (fit._check_head_precision)
SMALLEST_TARGET = float(np.finfo(np.float32).tiny)


def _check_numbers(target: pd.Series) -> None:
    """A regressor's target must vary and be finite: a constant leaves
    nothing to learn (and no scale to normalise by)."""
    infinite = target.index[~np.isfinite(target.to_numpy())]
    if len(infinite):
        raise AAMInputError(f"The target column {target.name!r} holds infinite "
                            f"values, e.g. samples {', '.join(infinite[:5])}.")
    huge = target.index[np.abs(target.to_numpy()) > LARGEST_TARGET]
    if len(huge):
        raise AAMInputError(
            f"The target column {target.name!r} holds values beyond +-{LARGEST_TARGET:g} "
            f"(e.g. {target[huge[0]]:g} in sample {huge[0]}), too large for the model's "
            "32-bit numbers: give the target in other units (or its logarithm).")
    if target.nunique() < 2:
        raise AAMInputError(f"The target column {target.name!r} has the same value "
                            f"({target.iloc[0]:g}) for every sample: there is nothing "
                            "to learn. Choose a column that varies.")


def check_classes(target: pd.Series, splits, validation: str = "random",
                  log=None) -> None:
    """Each member of a classifier must see two classes in training; a
    class a member never trains on (all its samples went to validation) is
    said, as that member cannot predict it."""
    # with 'folds' each member holds out a whole fold, whatever the fraction
    remedy = (f"{spelled('ensemble_validation', 'random')} (a smaller split per "
              "member)" if validation == "folds" else
              f"a lower {spelled('validation_fraction')}")
    for number, (train_rows, _) in enumerate(splits, start=1):
        seen = target.iloc[train_rows].unique()
        if len(seen) < 2:
            raise AAMInputError(
                f"The training samples of ensemble member {number} are all of "
                f"class {seen[0]!r} (the others went to validation): give more "
                f"samples (groups) of the other classes, or {remedy}.")
        unseen = sorted(set(target.unique()) - set(seen))
        if unseen and log is not None:
            log(f"Warning: ensemble member {number} trains on no sample of class(es) "
                f"{', '.join(map(repr, unseen[:5]))} (all went to validation), so it "
                "cannot predict them: give more samples of them, or leave them out.")


def _rarefied_away(targets: pd.Series, dropped: tuple, depth: int) -> str:
    """What the rarefaction depth took of the samples with a target: its
    log line shows in q2cli only with --verbose."""
    lost = [i for i in dropped if i in targets.index and pd.notna(targets[i])]
    if not lost or depth <= 0:
        return ""
    return (f" {spelled('rarefaction_depth', depth)} dropped {len(lost)} more that have "
            f"one (e.g. {', '.join(lost[:3])}), with fewer reads than that: lower it, or "
            "set it to 0 (no rarefaction).")


def group_values(groups, index: pd.Index, log=None):
    """Each sample's group (itself when it has none, which is said), or None
    without groups; groups that name none of the samples would be ignored,
    so are refused."""
    if groups is None:
        return None
    known = pd.Series(groups).dropna()
    refuse_disjoint(known.index, index,
                    f"the {spelled_metadata('groups')}", "every sample would be its own group",
                    "give the groups of these samples.")
    said = ungrouped(index, groups, "the validation splits")
    if said and log is not None:
        log(said)
    return sample_units(list(index), groups).to_numpy(dtype=str)


def refuse_class_groups(groups, target: pd.Series) -> None:
    """Groups that are the classes themselves put whole classes into each
    validation split, which then fails for want of a class: say so, rather
    than advise more samples."""
    if groups is not None and _same_as_groups(groups, target.rename(index=str)):
        raise AAMInputError(
            f"The {spelled_metadata('groups')} are the classes of the target itself, so "
            "every grouped validation split would hold whole classes: group by what ties "
            "samples together (a subject, a family), or leave the groups out.")


def conditioning_frame(conditioning, sample_ids: list, target_name, named: str = ""):
    """The metadata by sample, its columns as text; `named` (the input as
    the caller spells it): metadata that names none of the samples is
    refused, as prediction refuses it (every sample would be 'unknown')."""
    if conditioning is None:
        return None
    if conditioning.shape[1] == 0:  # it would leave the model unconditioned
        raise AAMInputError(
            f"The conditioning metadata ({spelled_metadata('conditioning')}) has no "
            "columns, only sample ids: give a file with the categorical column(s) to "
            "condition on, or leave it out.")
    frame = pd.DataFrame(conditioning).copy()
    frame.index = frame.index.map(str)
    frame.columns = [str(c) for c in frame.columns]
    if target_name is not None and str(target_name) in frame.columns:
        raise AAMInputError(f"The conditioning metadata holds the target column "
                            f"{target_name!r}; conditioning on it would leak the answer.")
    if named:
        refuse_disjoint(frame.index, sample_ids, f"the conditioning metadata ({named})",
                        "every sample would be of an unknown category, and the column(s) "
                        "would condition nothing", "give the metadata of these samples.")
    return frame.reindex(sample_ids)


def refuse_subject_conditioning(frame, groups) -> None:
    """A conditioning column that is the groups column teaches the model
    each subject, and every new subject is then unknown."""
    if frame is None or groups is None:
        return
    for column in frame.columns:
        if _same_as_groups(groups, frame[column]):
            raise AAMInputError(
                f"The conditioning column {column!r} holds the same values as the groups "
                f"({spelled_metadata('groups')}: what ties samples together, e.g. the "
                "subject): the model would learn "
                "each subject, and every new one would be unknown. Condition on what "
                "new samples share with the training ones (a study, a sequencing run), "
                "never the subject.")


def refuse_subject_normalisation(columns, column, groups) -> None:
    """A normalise_by column that is the groups column normalises each
    subject's targets by its own statistics, and every new subject (each
    validation sample's too, the split being grouped) falls back to the
    global ones: the model would learn deviations from a subject's own mean
    that no new sample is scaled by."""
    if not column or columns is None or groups is None or column not in columns.columns:
        return
    if _same_as_groups(groups, columns[column]):
        raise AAMInputError(
            f"{spelled_column('normalise_by', column)} holds the same values as the "
            f"groups ({spelled_metadata('groups')}: what ties samples together, e.g. the "
            "subject): each subject's targets would be normalised by its own mean and "
            "spread, and every new subject, the validation samples' too, would use the "
            "global ones. Normalise by what new samples share with the training ones (a "
            f"study, a sequencing run), or leave out {spelled_column('normalise_by')}.")


def _same_as_groups(groups, values: pd.Series) -> bool:
    """Whether every sample of `values` (indexed by text ids) has its group
    as its value, read as text."""
    given = pd.Series(groups).rename(index=str).reindex(values.index)
    return bool(given.notna().all() and (given.astype(str).to_numpy()
                                         == values.astype(str).to_numpy()).all())


def lookup(frame, categories):
    """Where normalise_by / weight_by find their column: either frame."""
    if frame is None or categories is None:
        return frame if categories is None else categories
    extra = [c for c in categories.columns if c not in frame.columns]
    return frame.join(categories[extra])


def conditioning(frame, columns, train_rows, options: ConditioningConfig, log):
    """The model's conditioning block (vocabularies from training samples
    only: a category seen only in validation is 'unknown', as at prediction)
    and the code of every sample. `columns`: where normalise_by and
    weight_by are looked up."""
    for what, column in (("normalise_by", options.normalise_by),
                         ("loss_weights", options.weight_by)):
        if column and (columns is None or column not in columns.columns):
            known = [] if columns is None else list(columns.columns)
            # only the Python API can get here: the front ends pass the column
            raise AAMInputError(
                f"{spelled(what)}: {column!r} is not a column of conditioning or of "
                f"categories (their columns: {known}): give it by sample id in "
                f"categories= (a DataFrame), or leave out {spelled(what)}.")
    check_conditioning(options, given=frame is not None)
    for child, parent in options.parents:
        if frame is None or not {child, parent} <= set(frame.columns):
            raise unknown_parent(child, parent, [] if frame is None else list(frame.columns))
    if frame is None:
        return None, None
    vocabularies = build_vocabularies(frame.iloc[train_rows])
    refuse_uninformative(frame.iloc[train_rows], vocabularies)
    spec = {**options.to_dict(), "columns": list(frame.columns),
            "vocabularies": vocabularies, "parents": dict(options.parents),
            "category_weights": dict(options.category_weights)}
    codes = encode_conditions(frame, list(frame.index), vocabularies,
                              list(frame.columns), log)
    sizes = ", ".join(f"{c} ({len(v)})" for c, v in vocabularies.items())
    log(f"Conditioning on {sizes} with {options.fusion} fusion.")
    return spec, codes


def refuse_uninformative(train_frame, vocabularies: dict) -> None:
    """A conditioning column with one category (or none) among the training
    samples tells none apart; one with a category of its own for every training
    sample (an id) teaches the model each sample, and every new one is then
    'unknown'. Either is a wrong column, so it is named."""
    for column, categories in vocabularies.items():
        n_values = int(train_frame[column].notna().sum())
        if not categories:
            raise AAMInputError(
                f"The conditioning column {column!r} has no value among the training "
                "samples (their cells are empty), so it tells none apart, yet the "
                "model would ask for it at prediction: fill it in, or leave it out of "
                "the conditioning metadata.")
        if len(categories) == 1:
            raise AAMInputError(
                f"The conditioning column {column!r} has one category ({categories[0]!r}) "
                "among the training samples, so it tells none apart: condition on a "
                "column whose values differ between samples, or leave it out.")
        if n_values > 2 and len(categories) == n_values:
            raise AAMInputError(
                f"The conditioning column {column!r} has a value of its own for every "
                f"training sample ({n_values} categories): is it an id column, or a "
                "measurement? Conditioning reads categories: the model would learn "
                "each sample, and every new one would be 'unknown'. "
                "Condition on what new samples share with the training ones (a study, "
                "a sequencing run), or leave it out.")


def classification_task(target, train_rows, train: TrainConfig, conditions, weights):
    """(TargetTask, the model's 'target' block, score_on): score_on(val_rows)
    scores validation predictions of those rows."""
    labels, classes = encode_classes(target.to_numpy())
    class_weights = None
    if train.class_weight == "balanced":
        counts = np.bincount(classes[train_rows], minlength=len(labels))
        # n / (k * n_c), as scikit-learn's 'balanced'; unseen classes weigh 1
        class_weights = np.where(counts > 0, len(train_rows) / (
            len(labels) * np.maximum(counts, 1)), 1.0)
    task = TargetTask.classification(classes, train, class_weights, sample_weights=weights,
                                     conditions=conditions)

    def score_on(val_rows):
        def score(logits):
            probabilities = torch.softmax(torch.as_tensor(logits), -1).numpy()
            return classification_metrics(classes[val_rows], probabilities)
        return score
    return task, {"name": str(target.name), "labels": labels}, score_on


def regression_task(target, columns, train_rows, train: TrainConfig,
                    options: ConditioningConfig, conditions, weights, log):
    """As classification_task, for a numeric target normalised on the
    training samples (per category of options.normalise_by, if set)."""
    truth = target.to_numpy(dtype=float)
    if options.normalise_by:
        categories = category_values(columns, options.normalise_by)
        scaler = CategoryScaler.fit(truth[train_rows], categories[train_rows],
                                    train.normalisation, options.normalise_by)
        shift, scale = scaler.parameters(categories, log)
    else:
        scaler = TargetScaler.fit(truth[train_rows], train.normalisation)
        shift, scale = scaling_parameters(scaler, len(truth))
    task = TargetTask.regression((truth - shift) / scale, train, sample_weights=weights,
                                 conditions=conditions, shift=_in_64_bits(shift),
                                 scale=_in_64_bits(scale))
    block = {"name": str(target.name), **scaler.to_dict()}
    if train.loss == "quantile":
        block["quantiles"] = list(train.quantiles)

    def score_on(val_rows):
        def score(predictions):
            wide = predictions.ndim == 2
            original = (predictions * _column(scale[val_rows], wide)
                        + _column(shift[val_rows], wide))
            point = original[:, point_index(train.quantiles)] if wide else original
            metrics = regression_metrics(truth[val_rows], point)
            if wide:  # share of truths inside the outer quantiles
                metrics["coverage"] = float(np.mean((truth[val_rows] >= original[:, 0])
                                                    & (truth[val_rows] <= original[:, -1])))
            return metrics
        return score
    return task, block, score_on


def _in_64_bits(values: np.ndarray) -> torch.Tensor:
    """The normalisation's shift or scale as the readouts and the intervals'
    calibration read it back into target units: in 32 bits a target of
    1e-300 would have a spread of 0, and every interval a margin of 0 (the
    head converts it to its own precision)."""
    return torch.as_tensor(np.asarray(values, dtype=np.float64))


def _column(values: np.ndarray, wide: bool) -> np.ndarray:
    return values[:, None] if wide else values


def sample_weights(columns, given, sample_ids, train_rows,
                   options: ConditioningConfig, log):
    """Per-sample loss weights: the weight_by column's, times the given
    ones; None when neither is asked for."""
    weights = None
    if given is not None:
        given = pd.Series(given).rename(index=str)
        refuse_disjoint(given.dropna().index, sample_ids,
                        f"the {spelled_metadata('loss_weights')}", "they would be ignored",
                        "give the weights of these samples.")
        given = given.reindex(sample_ids)  # the ids named before: other samples' too
        unweighted = given.index[given.isna()]
        if len(unweighted):
            log(f"{len(unweighted)} sample(s) have no loss weight and weigh 1 (e.g. "
                f"{', '.join(unweighted[:5])}).")
        weights = given.fillna(1.0).to_numpy(dtype=float)
        bad = given.index[(weights < 0) | ~np.isfinite(weights)]
        if len(bad):
            shown = ", ".join(f"{i}: {given[i]:g}" for i in bad[:5])
            raise AAMInputError(f"The loss weights must be finite and not negative; "
                                f"{len(bad)} sample(s) are not ({shown}). Correct the "
                                "weights column.")
    if options.weight_by:
        by_category = _category_weights(columns, train_rows, options, log)
        weights = by_category if weights is None else weights * by_category
    if weights is None:
        return None
    top = weights[train_rows].max()
    if top <= 0:
        raise AAMInputError("The loss weights of the training samples are all 0.")
    log(f"Loss weights from {weights[train_rows].min():.3g} to "
        f"{top:.3g} over the training samples.")
    # the losses are weighted means, so only the ratios count: at most 1,
    # huge weights (1e300) do not overflow the float32 tensor into nan
    return as_tensor(weights / top)


def check_member_weights(weights, splits) -> None:
    """Each ensemble member needs training samples of some loss weight: a
    member whose weighted samples all fall in its validation split would
    learn nothing (its loss 0 throughout, or a ridge head of nan)."""
    if weights is None or len(splits) < 2:
        return  # one member: sample_weights refused training weights all 0
    weights = np.asarray(weights, dtype=float)
    empty = [index + 1 for index, (train_rows, _) in enumerate(splits)
             if weights[train_rows].sum() <= 0]
    if empty:
        raise AAMInputError(
            f"The training samples of ensemble member{'s' * (len(empty) > 1)} "
            f"{', '.join(map(str, empty))} all have loss weight 0 "
            f"({spelled_metadata('loss_weights')}): their validation split holds every "
            f"sample of weight above 0, so they would learn nothing. Give more samples a "
            f"weight above 0, or lower {spelled('ensemble_size')}.")


def _refuse_numbers_read_as_categories(categories: np.ndarray, column: str) -> None:
    """Mostly numbers with a few words: numeric weights that a typo or an
    'inf' turned into categories, which would replace them unseen."""
    values = pd.Series(categories).dropna().astype(str)
    numbers = pd.to_numeric(values, errors="coerce")
    finite = np.isfinite(numbers.to_numpy(dtype=float))  # 'inf' parses, as a number
    words = values[~finite].unique()
    if len(values) and finite.mean() >= 0.5 and len(words):
        raise AAMInputError(
            f"The loss-weights column {column!r} is read as categories, but most of its "
            f"values are numbers; these are not: {', '.join(map(repr, words[:5]))}. "
            "For numeric weights, correct those values (any text value makes QIIME 2 "
            "read the whole column as categorical); for categories, use names.")


def _category_weights(columns, train_rows, options: ConditioningConfig,
                      log) -> np.ndarray:
    categories = category_values(columns, options.weight_by)
    if options.category_weights:
        given = {str(k): float(v) for k, v in options.category_weights}
        if any(v < 0 for v in given.values()):
            raise AAMInputError("category_weights must not be negative.")
        return np.array([given.get(c, 1.0) for c in categories])
    # inverse frequency among the training samples with a value: n / (k * n_c);
    # a missing value is no category: such samples weigh 1, as numeric ones do
    valued = [r for r in train_rows if categories[r] is not None]
    seen, counts = np.unique(categories[valued].astype(str), return_counts=True)
    _refuse_numbers_read_as_categories(categories, options.weight_by)
    _refuse_unweighing(seen, len(valued), options.weight_by)
    missing = len(train_rows) - len(valued)
    if missing:
        log(f"{missing} training sample(s) have no value in the loss-weights column "
            f"{options.weight_by!r} and weigh 1.")
    per = dict(zip(seen, len(valued) / (len(seen) * counts)))
    return np.array([1.0 if c is None else per.get(str(c), 1.0) for c in categories])


def _refuse_unweighing(seen, n_valued: int, column: str) -> None:
    """Categories that weigh every training sample alike: none or one among
    them (every weight 1), or one of its own for each (an id column)."""
    if len(seen) < 2:
        found = f"one category ({str(seen[0])!r})" if len(seen) else "no value"
        raise AAMInputError(
            f"The loss-weights column {column!r} has {found} among the training "
            "samples, so weighing by its categories weighs every sample the same: "
            f"choose a column with two categories or more, or leave out "
            f"{spelled_metadata('loss_weights')}.")
    if len(seen) == n_valued:
        raise AAMInputError(
            f"Every training sample has a value of its own in the loss-weights column "
            f"{column!r}, read as categories, so weighing them by category "
            "weighs nothing: is it an id column? For numeric weights, make every value "
            "a finite number (one text value, such as a typo or 'inf', makes QIIME 2 "
            "read the whole column as categorical).")
