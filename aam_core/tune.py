"""`aam tune`: an Optuna search of fit settings, scored by grouped cross-validation.

Each trial draws values of the options in SPACE, fits a model on the
training side of every fold (data/split.py's `fold_splits`: whole groups,
e.g. subjects, per fold) and scores it on the fold it did not see: mean
absolute error for a regressor (lower is better), balanced accuracy for a
classifier (higher is better). The running mean over the folds is reported
after each fold, so the median pruner stops a trial that is already worse
than the median of the earlier trials at the same fold. The study lives in a
SQLite file: running again adds trials to it. The best trial's values, with
the fixed ones, are written as a settings file that `aam fit-regressor
--settings` (fit-classifier) reads (settings_file.py).

optuna is optional: this module imports it only when a study runs.
"""
from __future__ import annotations

import contextlib
import json
import sys
import warnings
import zlib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from . import settings_file
from .data.split import fold_splits, sample_units
from .data.table import CountTable
from .errors import AAMInputError
from .config import HEAD_SHAPE, ConditioningConfig
from .spelling import speaking, spelled
from .settings import BY_NAME, fit_arguments

NEEDS_OPTUNA = "tuning needs optuna, which is not installed: pip install optuna"
STUDY_NAME = "aam-tune"
# a running trial writes a heartbeat this often (seconds); one silent for
# GRACE_S was left by a process that died (killed, out of memory) and is failed
HEARTBEAT_S, GRACE_S = 10, 60
METRIC = {"regressor": ("mae", "minimize"), "classifier": ("balanced_accuracy", "maximize")}
Log = Callable[[str], None]


class MissingOptuna(AAMInputError, ImportError):
    """optuna is not installed; the message says how to install it."""


def require_optuna():
    try:
        import optuna
    except ImportError as error:
        raise MissingOptuna(NEEDS_OPTUNA) from error
    return optuna


@dataclass(frozen=True)
class Dimension:
    """The range of one searched option: low..high (integers when both are
    ints; log-uniform with `log`), or one of `choices`."""
    low: float = 0
    high: float = 0
    log: bool = False
    step: int = 1
    choices: tuple = ()

    def suggest(self, trial, name: str):
        if self.choices:
            return trial.suggest_categorical(name, list(self.choices))
        if isinstance(self.low, int) and isinstance(self.high, int):
            return trial.suggest_int(name, self.low, self.high, step=self.step)
        return trial.suggest_float(name, self.low, self.high, log=self.log)


# The search space, by option name (`aam fit-regressor --help`). A width and
# a dropout are drawn only for a head with hidden layers.
SPACE = {
    "learning_rate": Dimension(1e-4, 3e-3, log=True),
    "hidden_layers": Dimension(0, 2),
    "hidden_width": Dimension(choices=(32, 64, 128)),
    "head_dropout": Dimension(0.0, 0.5),
    "asv_dropout": Dimension(0.0, 0.3),
    "epochs": Dimension(10, 50, step=10),
    "ensemble_size": Dimension(1, 5),
}


def _old_head(kind: str) -> str:
    """The older form of the head's shape, a list of widths, which a fixed
    settings file may still give (it wins over the depth and the width)."""
    return "classification_hidden" if kind == "classifier" else "regression_hidden"


def searched(space: dict, fixed: dict, kind: str) -> dict:
    """The dimensions of `space` that the fixed settings leave open."""
    return {name: dimension for name, dimension in space.items()
            if name not in fixed and not (name in HEAD_SHAPE and _old_head(kind) in fixed)}


def check_something_to_search(dimensions: dict, fixed: dict, space: dict) -> None:
    """Every trial would fit the same settings: the study would only repeat
    one cross-validation. A linear head (hidden_layers 0) draws no width or
    dropout, so those alone leave nothing to search either."""
    drawn = [name for name in dimensions if not (
        fixed.get("hidden_layers") == 0 and name in ("hidden_width", "head_dropout"))]
    if not drawn:
        raise AAMInputError(f"nothing to tune: --settings fixes every option of the search "
                            f"space ({', '.join(space)}); leave some out.")


def check_study_file(path) -> None:
    """An existing --study must be an SQLite file that is empty or holds an
    Optuna study (its 'studies' table): Optuna would otherwise add its
    tables to another program's database. A file that is no SQLite at all
    is refused when the study opens (open_study)."""
    import sqlite3
    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        return
    with open(path, "rb") as handle:
        if handle.read(16) != b"SQLite format 3\x00":
            return
    try:
        # read-only: refusing the file must leave it as it was
        connection = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
        try:
            tables = {row[0] for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE "
                "'sqlite_%'")}
        finally:
            connection.close()
    except sqlite3.Error as error:
        raise AAMInputError(f"--study {path} is not a study file of aam tune ({error}); "
                            "choose another --study file.") from error
    if tables and "studies" not in tables:
        shown = ", ".join(sorted(tables)[:5]) + (", ..." if len(tables) > 5 else "")
        raise AAMInputError(f"--study {path} is an SQLite database of another program "
                            f"(its tables: {shown}), not an aam tune study; choose a new "
                            "--study file.")


@dataclass
class TuneData:
    """The samples a study cross-validates on, and its folds."""
    kind: str
    table: CountTable
    target: pd.Series
    sequences: object
    groups: pd.Series | None
    pretrained: object
    splits: list


@dataclass
class TuneResult:
    settings: dict          # fit options: the fixed ones and the best trial's
    value: float            # the best trial's mean over the folds
    metric: str
    about: dict             # what the settings file records of the study
    study: object


def tune(kind: str, table, targets: pd.Series, sequences=None, groups=None,
         pretrained=None, *, study: str | Path, fixed: dict | None = None,
         trials: int = 20, folds: int = 5, space: dict | None = None,
         log: Log = None) -> TuneResult:
    """Run `trials` more trials of the study in the SQLite file `study` and
    return the best settings found so far. `fixed`: fit options (by option
    name) held fixed, whose dimensions are not searched; `space`: the
    dimensions to search (default SPACE)."""
    optuna = require_optuna()
    log = log or _stderr
    trials, folds = _count("trials", trials), _count("folds", folds)
    fixed = settings_file.check(fixed or {}, f"fit-{kind}", "the fixed settings")
    _refuse_columns(fixed)
    fit_arguments(fixed, pretrained is not None)  # a conflict fails now, not in trial 1
    seed = int(fixed.get("random_state", 0))
    space = SPACE if space is None else space
    _refuse_readout(fixed, space)
    dimensions = searched(space, fixed, kind)
    check_something_to_search(dimensions, fixed, space)
    check_study_file(study)
    data = tune_data(kind, table, targets, sequences, groups, pretrained, folds, seed, log)
    identity = _identity(data, fixed, folds, seed, dimensions)
    # one line per trial instead; and a failing trial's error reaches the
    # caller once, as a message, not also as optuna's logged traceback
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    new_file = not Path(study).exists()
    opened = open_study(optuna, study, identity, METRIC[kind][1], seed, log)
    try:
        opened.optimize(lambda trial: objective(trial, data, fixed, dimensions),
                        n_trials=trials, callbacks=[_report(log, METRIC[kind][0])])
        return best_result(opened, kind, fixed, study, folds)
    except BaseException:
        if new_file and not _finished(opened):
            Path(study).unlink(missing_ok=True)  # it holds nothing worth resuming
        raise


def _count(name: str, value) -> int:
    """trials and folds as Python ints (numpy's too, which JSON cannot
    store), in their declared range: the aam command's parser checks its
    flags by the same declaration."""
    whole = isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
    problem = BY_NAME[name].problem(int(value)) if whole else \
        f"must be a whole number, not {value!r}"
    if problem:
        raise AAMInputError(f"{spelled(name)} {problem}.")
    return int(value)


def _finished(study) -> bool:
    return any(t.state.name == "COMPLETE" for t in study.trials)


def tune_data(kind, table, targets, sequences, groups, pretrained, folds: int,
              seed: int, log: Log) -> TuneData:
    """The table's samples with a target, and `folds` grouped folds of them."""
    from .supervision import aligned_targets
    counts = table if isinstance(table, CountTable) else CountTable.from_biom(table)
    target = aligned_targets(kind, targets, counts.sample_ids, log)
    units = sample_units(list(target.index), groups)
    if units.nunique() < folds:
        raise AAMInputError(f"--folds {folds} needs at least {folds} groups (whole groups "
                            f"go to one fold), but the {len(target)} samples fall into "
                            f"{units.nunique()}; lower --folds.")
    splits = fold_splits(len(target), folds, seed, units.to_numpy())
    if any(len(validation) == 0 for _, validation in splits):
        raise AAMInputError(f"Some of the {folds} folds hold no samples: one group holds "
                            "most samples, and it always stays in training; lower "
                            "--folds or give more groups.")
    if kind == "classifier":
        _two_classes_per_fold(target, splits, folds)
    return TuneData(kind, counts, target, sequences, groups, pretrained, splits)


def _two_classes_per_fold(target: pd.Series, splits, folds: int) -> None:
    """Each fold's fit trains on the other folds: it needs two classes there."""
    for number, (train_rows, validation_rows) in enumerate(splits, 1):
        classes = target.iloc[train_rows].astype(str).unique()
        if len(classes) < 2:
            held = sorted(set(target.iloc[validation_rows].astype(str)) - set(classes))
            raise AAMInputError(
                f"With --folds {folds}, the training samples of fold {number} are all of "
                f"class {classes[0]!r} (every sample of {held[:3]} falls in its held-out "
                "part), and a classifier needs two classes to train: lower --folds, "
                "give --groups that spread the classes, or more samples of the rarer "
                "ones.")


def _refuse_readout(fixed: dict, space: dict) -> None:
    """The ridge and propagation readouts train no network: each trial would
    be refused for a drawn learning rate or epochs (options the user never
    set), and they choose their own penalty or neighbours by grouped
    cross-validation."""
    readout = fixed.get("readout", "fine_tune")
    if readout in ("fine_tune", "auto"):  # a study fine-tunes every trial
        return
    raise AAMInputError(f"aam tune searches options of gradient training ({', '.join(space)}), "
                        f"which readout {readout!r} does not use: it trains no network and "
                        f"chooses its own {'penalty' if readout == 'ridge' else 'neighbours'} "
                        "by grouped cross-validation. Fit it with aam fit-regressor, or "
                        "remove readout from the settings.")


def _refuse_columns(fixed: dict) -> None:
    columns = [name for name in ("groups", "conditioning", "normalise_by", "loss_weights",
                                 "weight_by")
               if name in fixed]
    if columns:
        raise AAMInputError(f"aam tune takes no metadata columns in its fixed settings "
                            f"({', '.join(columns)}); give the grouping column with "
                            "--groups. Conditioned models are not tuned yet.")
    # they act on conditioning columns, which a tuned fit never has
    unused = [f.name for f in fields(ConditioningConfig) if f.name in fixed] + (
        ["hierarchical"] if "hierarchical" in fixed else [])
    if unused:
        raise AAMInputError(f"aam tune fits without conditioning, so the fixed setting(s) "
                            f"{', '.join(unused)} would be ignored (and then written to "
                            "the best settings): remove them from the settings.")


def _identity(data: TuneData, fixed: dict, folds: int, seed: int, dimensions) -> dict:
    """What a study is about; stored in it, so that adding trials to it with
    other data or settings is refused rather than mixed in."""
    target = data.target.astype(str)
    digest = zlib.crc32("\n".join(f"{i}\t{v}" for i, v in target.items()).encode())
    # where it runs may change between runs of a study; what it fits may not
    fixed = {k: v for k, v in fixed.items() if k not in ("device", "n_threads")}
    identity = {"kind": data.kind, "target": str(data.target.name),
                "samples": len(target), "digest": int(digest), "folds": folds,
                "random_state": seed, "fixed": fixed, "searched": sorted(dimensions),
                "pretrained": data.pretrained is not None}
    return json.loads(json.dumps(identity))  # as the storage returns it


# a study's identity (_identity), in the words of the command's inputs
_SAID = {"kind": "--kind", "target": "--target", "samples": "the samples with a target",
         "digest": "the target values", "folds": "--folds",
         "random_state": "random_state", "fixed": "the settings of --settings",
         "searched": "the options searched", "pretrained": "--pretrained"}


def open_study(optuna, path, identity: dict, direction: str, seed: int, log: Log):
    """The study in the SQLite file `path`, created or resumed."""
    from sqlalchemy.exc import SQLAlchemyError  # optuna's storage layer
    try:
        with _heartbeats_quiet(optuna):
            storage = optuna.storages.RDBStorage(
                f"sqlite:///{Path(path).resolve()}", heartbeat_interval=HEARTBEAT_S,
                grace_period=GRACE_S)
        study = optuna.create_study(
            storage=storage, study_name=STUDY_NAME, direction=direction,
            load_if_exists=True,
            pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=0))
    except SQLAlchemyError as error:
        raise AAMInputError(f"--study {path} is not a study file of aam tune "
                            f"({getattr(error, 'orig', None) or error}); choose another "
                            "--study file.") from error
    stored = study.user_attrs.get("aam")
    if stored is None:
        study.set_user_attr("aam", identity)
    elif stored != identity:
        differing = sorted(_SAID.get(k, k) for k in set(stored) | set(identity)
                           if stored.get(k) != identity.get(k))
        raise AAMInputError(f"--study {path} holds a study of other inputs or settings "
                            f"(they differ in: {', '.join(differing)}); give the same "
                            "inputs to add trials to it, or choose another --study file.")
    fail_abandoned(optuna, study, log)
    # a resumed study must not replay the first run's random draws
    study.sampler = optuna.samplers.TPESampler(seed=seed + len(study.trials))
    return study


def fail_abandoned(optuna, study, log: Log) -> None:
    """Trials a dead process left running are failed, and said: they would
    stay 'running' in the study for good."""
    running = optuna.trial.TrialState.RUNNING
    before = {t.number for t in study.get_trials(deepcopy=False, states=(running,))}
    with _heartbeats_quiet(optuna):
        optuna.storages.fail_stale_trials(study)
    after = {t.number for t in study.get_trials(deepcopy=False, states=(running,))}
    if before - after:
        log(f"Trial(s) {', '.join(map(str, sorted(before - after)))} of an earlier run "
            "stopped without finishing (the process ended): marked failed; the "
            "study goes on from the finished ones.")


@contextlib.contextmanager
def _heartbeats_quiet(optuna):
    """optuna calls its heartbeats experimental, and warns of each use (and
    of heartbeats outside Study.optimize): nothing for the user to act on."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        warnings.filterwarnings("ignore", message="Heartbeat of storage")
        yield


def objective(trial, data: TuneData, fixed: dict, dimensions: dict) -> float:
    """The trial's mean score over the folds (pruned early when poor)."""
    params = {}
    for name, dimension in dimensions.items():
        if name in ("hidden_width", "head_dropout") and params.get("hidden_layers") == 0:
            continue  # a linear head has no hidden layer to size or drop out
        params[name] = dimension.suggest(trial, name)
    # the searched settings steer gradient training, which a regressor's
    # readout 'auto' would skip in trials that leave them at their defaults
    # (a classifier always fine-tunes, and has no readout to set)
    gradient = {"readout": "fine_tune"} if data.kind == "regressor" else {}
    arguments = fit_arguments({**fixed, **params, **gradient}, data.pretrained is not None)
    return cross_validate(trial, data.splits,
                          lambda train, validation: fold_score(data, arguments, train,
                                                               validation))


def cross_validate(trial, splits, score) -> float:
    """Mean of score(train_rows, validation_rows) over the folds; the running
    mean is reported after each fold, for the pruner."""
    optuna = require_optuna()
    scores = []
    for step, (train_rows, validation_rows) in enumerate(splits):
        scores.append(float(score(train_rows, validation_rows)))
        trial.report(float(np.mean(scores)), step)
        if trial.should_prune():
            raise optuna.TrialPruned(f"pruned after fold {step + 1}")
    trial.set_user_attr("fold_scores", scores)
    return float(np.mean(scores))


def fold_score(data: TuneData, arguments: dict, train_rows, validation_rows) -> float:
    """Fit on the training rows, score on the validation rows."""
    from .fit import fit_classifier, fit_regressor  # torch, only when a study runs
    from .predict import predict_classification, predict_regression
    ids = data.target.index
    train_ids, validation_ids = list(ids[train_rows]), list(ids[validation_rows])
    fit = fit_classifier if data.kind == "classifier" else fit_regressor
    try:
        # the fit's own settings are keys of the settings, named as in Python
        with speaking("python"):
            bundle = fit(data.table.select_samples(train_ids).drop_unused_features(),
                         data.target.loc[train_ids], data.sequences, data.groups,
                         data.pretrained, **arguments, log=_quiet)
    except AAMInputError as error:
        raise AAMInputError(f"The fit of a tuning fold ({len(train_ids)} training "
                            f"samples) was refused: {error}") from error
    unseen = data.table.select_samples(validation_ids).drop_unused_features()
    options = dict(device=arguments["train"].device, n_threads=arguments["train"].n_threads,
                   log=_quiet)
    truth = data.target.loc[validation_ids]
    if data.kind == "classifier":
        labels, _ = predict_classification(bundle, unseen, data.sequences, **options)
        return balanced_accuracy(truth, labels.reindex(truth.index))
    predicted = predict_regression(bundle, unseen, data.sequences, **options)
    # nanmean: a sample rarefaction drops has no prediction
    return float(np.nanmean(np.abs(predicted.reindex(truth.index).to_numpy()
                                   - truth.to_numpy())))


def balanced_accuracy(truth: pd.Series, predicted: pd.Series) -> float:
    """Mean recall over the classes present in `truth`."""
    hits = truth.astype(str).to_numpy() == predicted.astype(str).to_numpy()
    return float(pd.Series(hits).groupby(truth.astype(str).to_numpy()).mean().mean())


def best_result(study, kind: str, fixed: dict, path, folds: int) -> TuneResult:
    optuna = require_optuna()
    states = [t.state for t in study.trials]
    finished = states.count(optuna.trial.TrialState.COMPLETE)
    if not finished:
        raise AAMInputError(f"No trial of --study {path} has finished (all were pruned or "
                            "failed); run more --trials.")
    best = study.best_trial
    metric = METRIC[kind][0]
    settings = {**fixed, **best.params}
    about = {"written_by": "aam tune", "command": f"fit-{kind}", "study": str(path),
             "trial": best.number,
             metric: best.value, "folds": folds,
             "fold_scores": best.user_attrs.get("fold_scores"), "trials": len(states),
             "finished": finished,
             "pruned": states.count(optuna.trial.TrialState.PRUNED)}
    return TuneResult(settings, best.value, metric, about, study)


def _report(log: Log, metric: str):
    def after_trial(study, trial):
        values = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                           for k, v in trial.params.items())
        folds = len(trial.intermediate_values)
        if trial.state.name == "PRUNED":
            outcome = f"pruned after {folds} fold(s), {metric} {_last(trial):.4g} so far"
        elif trial.value is not None:
            outcome = f"{metric} {trial.value:.4g}"
        else:
            outcome = trial.state.name.lower()
        log(f"Trial {trial.number}: {outcome} ({values}); best so far: trial "
            f"{_best_number(study)}.")
    return after_trial


def _last(trial) -> float:
    return trial.intermediate_values[max(trial.intermediate_values)]


def _best_number(study):
    try:
        return study.best_trial.number
    except ValueError:  # no trial has finished yet
        return None


def _quiet(message: str) -> None:
    """The fits of a study say nothing: one line per trial is enough."""


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
