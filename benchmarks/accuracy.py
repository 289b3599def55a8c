"""q2-aam against q2-sample-classifier's random forest, split honestly by subject.

Grouped k-fold cross-validation (whole `group`s go to one fold); every method
runs through the real QIIME 2 actions via the Artifact API:

- random forest: sample-classifier fit-regressor / fit-classifier (500 trees)
- baseline: the training median (regression) or training class shares
- q2-aam: diversity-lib weighted-unifrac (the recommended recipe's
  distance; --aam-distance) on the TRAINING samples only, aam pretrain on
  them, aam fit-regressor/-classifier (a regressor read out by ridge, the
  default readout; validation split grouped within the training folds),
  predict on the held-out fold.

    python -m benchmarks.accuracy                       # oral-age, age, 5 folds
    python -m benchmarks.accuracy --task classification --threshold 30
    python -m benchmarks.accuracy --jobs 2    # two folds at a time
Writes benchmarks/results/<name>.json and .md.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "oral-age"
RESULTS = REPO / "benchmarks" / "results"


from aam_core.config import FIT_TRAIN_DEFAULTS as _F  # noqa: E402
from aam_core.config import PRETRAIN_TRAIN_DEFAULTS as _P  # noqa: E402


@dataclass
class Recipe:
    """q2-aam's recipe: by default the plugin's own defaults (its
    recommended recipe), passed explicitly so that the report records them."""
    preset: str = "small"
    pretrain: bool = True
    distance: str = "weighted_unifrac"  # diversity-lib's method name
    readout: str = _F.readout
    pretrain_epochs: int = _P.epochs
    pretrain_learning_rate: float = _P.learning_rate
    unifrac_weight: float = _P.unifrac_weight
    fit_epochs: int = _F.epochs
    learning_rate: float = _F.learning_rate
    batch_size: int = _F.batch_size
    loss: str = _F.loss
    patience: int = _F.patience
    freeze_nucleotide_encoder: bool = _F.freeze_nucleotide_encoder
    ensemble_size: int = _F.ensemble_size


@dataclass
class Settings:
    data: Path = DEFAULT_DATA
    target: str = "age"
    group: str = "group"
    task: str = "regression"          # regression | classification
    threshold: float | None = None    # classification: target above threshold
    folds: int = 5
    seed: int = 0
    n_estimators: int = 500
    methods: tuple = ("baseline", "random_forest", "q2_aam")
    name: str = "oral_age"
    jobs: int = 1                     # folds run at a time (processes)


def grouped_folds(groups: pd.Series, k: int, seed: int,
                  labels: pd.Series | None = None) -> list[np.ndarray]:
    """Fold number of every sample; whole groups per fold, sizes balanced.

    Groups are dealt largest first to the currently smallest fold (ties by a
    seeded shuffle); with labels, to the fold whose class mix needs it most.
    """
    rng = np.random.default_rng(seed)
    sizes = groups.value_counts()
    order = sizes.index.to_numpy()[rng.permutation(len(sizes))]
    order = sorted(order, key=lambda g: -sizes[g])
    fold_of_group, fold_sizes = {}, np.zeros(k)
    class_counts = None
    if labels is not None:
        classes = sorted(labels.unique())
        class_counts = np.zeros((k, len(classes)))
        share = labels.groupby(groups).agg(lambda s: s.value_counts().idxmax())
    for group in order:
        if class_counts is not None:
            c = sorted(labels.unique()).index(share[group])
            fold = int(np.lexsort((fold_sizes, class_counts[:, c]))[0])
            class_counts[fold, c] += sizes[group]
        else:
            fold = int(np.argmin(fold_sizes))
        fold_of_group[group] = fold
        fold_sizes[fold] += sizes[group]
    return groups.map(fold_of_group).to_numpy()


def regression_scores(truth: pd.Series, predicted: pd.Series) -> dict:
    from scipy.stats import spearmanr
    predicted = predicted.reindex(truth.index).astype(float)
    error = predicted - truth
    total = ((truth - truth.mean()) ** 2).sum()
    # a constant prediction has no rank order: its correlation is 0, not NaN
    spearman = (spearmanr(truth, predicted).correlation
                if predicted.nunique() > 1 else 0.0)
    return {"mae": float(error.abs().mean()),
            "rmse": float(np.sqrt((error ** 2).mean())),
            "r2": float(1 - (error ** 2).sum() / total),
            "spearman": float(spearman)}


def classification_scores(truth: pd.Series, probabilities: pd.DataFrame) -> dict:
    from sklearn.metrics import accuracy_score, roc_auc_score
    probabilities = probabilities.reindex(truth.index)
    positive = sorted(truth.unique())[-1]
    predicted = probabilities.idxmax(axis=1)
    return {"auroc": float(roc_auc_score(truth == positive, probabilities[positive])),
            "accuracy": float(accuracy_score(truth, predicted))}


class Methods:
    """Each method: (train table artifact, test table artifact, fold metadata) ->
    predictions (Series) or probabilities (DataFrame), via QIIME 2 actions."""

    def __init__(self, settings: Settings, recipe: Recipe, tree):
        self.settings, self.recipe, self.tree = settings, recipe, tree
        # torch threads of q2-aam: the cores shared among the folds at work
        self.threads = max(1, len(os.sched_getaffinity(0)) // settings.jobs)

    def baseline(self, train_table, test_table, train_md, test_ids):
        y = train_md[self.settings.target]
        if self.settings.task == "regression":
            return pd.Series(float(y.median()), index=test_ids)
        shares = y.value_counts(normalize=True)
        return pd.DataFrame([shares.to_dict()] * len(test_ids), index=test_ids)

    def random_forest(self, train_table, test_table, train_md, test_ids):
        import qiime2
        from qiime2.plugins import sample_classifier as sc
        column = qiime2.Metadata(train_md[[self.settings.target]]).get_column(
            self.settings.target)
        if self.settings.task == "regression":
            fitted = sc.methods.fit_regressor(
                table=train_table, metadata=column, estimator="RandomForestRegressor",
                n_estimators=self.settings.n_estimators,
                random_state=self.settings.seed, n_jobs=-1)
            out = sc.methods.predict_regression(table=test_table,
                                                sample_estimator=fitted.sample_estimator)
            return out.predictions.view(pd.Series)
        fitted = sc.methods.fit_classifier(
            table=train_table, metadata=column, estimator="RandomForestClassifier",
            n_estimators=self.settings.n_estimators, random_state=self.settings.seed,
            n_jobs=-1)
        out = sc.methods.predict_classification(table=test_table,
                                                sample_estimator=fitted.sample_estimator)
        return out.probabilities.view(pd.DataFrame)

    def q2_aam(self, train_table, test_table, train_md, test_ids):
        import qiime2
        from qiime2.plugins import aam, diversity_lib
        r, s = self.recipe, self.settings
        metadata = qiime2.Metadata(train_md.astype({s.group: str}))
        pretrained = None
        if r.pretrain:
            distances = getattr(diversity_lib.methods, r.distance)(
                table=train_table, phylogeny=self.tree).distance_matrix
            pretrained = aam.methods.pretrain(
                table=train_table, distance_matrix=distances, preset=r.preset,
                epochs=r.pretrain_epochs, batch_size=r.batch_size,
                learning_rate=r.pretrain_learning_rate, unifrac_weight=r.unifrac_weight,
                random_state=s.seed, n_threads=self.threads).model
        common = dict(table=train_table, metadata=metadata.get_column(s.target),
                      groups=metadata.get_column(s.group), pretrained_model=pretrained,
                      epochs=r.fit_epochs, batch_size=r.batch_size,
                      learning_rate=r.learning_rate, patience=r.patience,
                      freeze_nucleotide_encoder=r.freeze_nucleotide_encoder,
                      ensemble_size=r.ensemble_size, random_state=s.seed,
                      n_threads=self.threads,
                      **({} if pretrained else {"preset": r.preset}))
        if s.task == "regression":
            model = aam.methods.fit_regressor(loss=r.loss, readout=r.readout,
                                              **common).model
            return aam.methods.predict_regression(
                table=test_table, model=model,
                n_threads=self.threads).predictions.view(pd.Series)
        model = aam.methods.fit_classifier(**common).model
        return aam.methods.predict_classification(
            table=test_table, model=model,
            n_threads=self.threads).probabilities.view(pd.DataFrame)


def load(settings: Settings):
    """The table, its metadata (see load_samples) and the tree, if any."""
    import qiime2
    table, metadata = load_samples(settings)
    tree = None
    if (settings.data / "tree.nwk").exists():
        tree = qiime2.Artifact.import_data("Phylogeny[Rooted]",
                                           str(settings.data / "tree.nwk"))
    return table, metadata, tree


def load_samples(settings: Settings):
    """The table and the metadata of its samples that have a target, in
    table order (a classification target made from the threshold)."""
    import biom
    table = biom.load_table(str(settings.data / "table.biom"))
    metadata = pd.read_csv(settings.data / "metadata.tsv", sep="\t", index_col=0,
                           dtype={settings.group: str})
    metadata = metadata.loc[[i for i in table.ids() if i in metadata.index]]
    metadata = metadata.dropna(subset=[settings.target])
    if settings.task == "classification" and settings.threshold is not None:
        above = metadata[settings.target] > settings.threshold
        metadata[settings.target] = np.where(above, f"above_{settings.threshold:g}",
                                             f"at_most_{settings.threshold:g}")
    return table, metadata


def run(settings: Settings, recipe: Recipe, log=print) -> dict:
    if not (settings.data / "tree.nwk").exists():
        recipe = Recipe(**{**asdict(recipe), "pretrain": False})
    folds = list(range(settings.folds))
    if settings.jobs > 1:
        # spawned, not forked: each fold process starts its own torch threads
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(settings.jobs, mp_context=context) as pool:
            per_fold = list(pool.map(run_fold, [settings] * len(folds),
                                     [recipe] * len(folds), folds))
    else:
        per_fold = [run_fold(settings, recipe, fold, log) for fold in folds]
    rows = [row for fold_rows in per_fold for row in fold_rows]
    return {"settings": {**asdict(settings), "data": str(settings.data)},
            "recipe": asdict(recipe), "date": time.strftime("%Y-%m-%d"),
            "machine": f"{platform.machine()}, {len(os.sched_getaffinity(0))} cores",
            "folds": rows, "summary": summarise(rows)}


def _log_to_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_fold(settings: Settings, recipe: Recipe, fold: int, log=_log_to_stderr) -> list:
    """Every method on one held-out fold: a row of scores per method."""
    import qiime2
    table, metadata, tree = load(settings)
    labels = metadata[settings.target] if settings.task == "classification" else None
    folds = grouped_folds(metadata[settings.group], settings.folds, settings.seed, labels)
    methods = Methods(settings, recipe, tree)
    train_md = metadata[folds != fold]
    test_ids = metadata.index[folds == fold]
    assert not set(train_md[settings.group]) & set(metadata.loc[test_ids, settings.group])
    train_table = qiime2.Artifact.import_data(
        "FeatureTable[Frequency]",
        table.filter(train_md.index, inplace=False).remove_empty(axis="observation"))
    test_table = qiime2.Artifact.import_data(
        "FeatureTable[Frequency]",
        table.filter(test_ids, inplace=False).remove_empty(axis="observation"))
    truth = metadata.loc[test_ids, settings.target]
    rows = []
    for name in settings.methods:
        started = time.perf_counter()
        output = getattr(methods, name)(train_table, test_table, train_md, test_ids)
        scores = (regression_scores(truth, output) if settings.task == "regression"
                  else classification_scores(truth, output))
        rows.append({"fold": fold, "method": name, "n_train": len(train_md),
                     "n_test": len(test_ids), **scores,
                     "seconds": time.perf_counter() - started})
        log(f"fold {fold}: {name} " + " ".join(
            f"{k} {v:.3f}" for k, v in scores.items()) + f" ({rows[-1]['seconds']:.0f}s)")
    return rows


def summarise(rows: list[dict]) -> dict:
    frame = pd.DataFrame(rows)
    metrics = [c for c in frame.columns if c not in ("fold", "method", "n_train", "n_test")]
    summary = {}
    for method, part in frame.groupby("method", sort=False):
        summary[method] = {m: {"mean": float(part[m].mean()),
                               "sd": float(part[m].std(ddof=1)) if len(part) > 1 else 0.0}
                           for m in metrics}
    return summary


def markdown(report: dict) -> str:
    summary = report["summary"]
    metrics = list(next(iter(summary.values())))
    lines = [f"{report['settings']['folds']}-fold CV grouped by "
             f"`{report['settings']['group']}`, target `{report['settings']['target']}` "
             f"({report['settings']['task']}); {report['date']}, {report['machine']}.", "",
             "| method | " + " | ".join(metrics) + " |",
             "|---" * (len(metrics) + 1) + "|"]
    for method, values in summary.items():
        lines.append(f"| {method} | " + " | ".join(
            f"{values[m]['mean']:.3f} ± {values[m]['sd']:.3f}" for m in metrics) + " |")
    frame = pd.DataFrame(report["folds"])
    headline = metrics[0]  # mae, or auroc for classification
    per_fold = frame.pivot(index="method", columns="fold", values=headline)
    per_fold = per_fold.reindex(list(summary))
    sizes = frame.groupby("fold")["n_test"].first()
    lines += ["", f"{headline} per fold (held-out samples):", "",
              "| method | " + " | ".join(f"fold {f} ({sizes[f]})" for f in per_fold.columns)
              + " |", "|---" * (len(per_fold.columns) + 1) + "|"]
    for method, values in per_fold.iterrows():
        lines.append(f"| {method} | " + " | ".join(f"{v:.3f}" for v in values) + " |")
    return "\n".join(lines) + "\n"


def _parse_bool(text: str) -> bool:
    if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
        raise argparse.ArgumentTypeError(f"expected true or false, not {text!r}")
    return text.lower() in ("true", "1", "yes")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--target", default="age")
    parser.add_argument("--group", default="group")
    parser.add_argument("--task", choices=["regression", "classification"],
                        default="regression")
    parser.add_argument("--threshold", type=float, default=None,
                        help="classification: label samples above/below this target value")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-estimators", type=int, default=500)
    parser.add_argument("--methods", default="baseline,random_forest,q2_aam")
    parser.add_argument("--name", default=None, help="results file name")
    parser.add_argument("--jobs", type=int, default=1,
                        help="folds run at a time, each in its own process with "
                             "its share of the cores")
    for field, value in asdict(Recipe()).items():
        parse = _parse_bool if isinstance(value, bool) else type(value)
        parser.add_argument(f"--aam-{field.replace('_', '-')}", type=parse,
                            default=value, dest=f"aam_{field}")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    name = args.name or ("oral_age" if args.task == "regression"
                         else f"oral_age_above_{args.threshold:g}")
    settings = Settings(args.data, args.target, args.group, args.task, args.threshold,
                        args.folds, args.seed, args.n_estimators,
                        tuple(args.methods.split(",")), name, args.jobs)
    recipe = Recipe(**{f: getattr(args, f"aam_{f}") for f in asdict(Recipe())})
    report = run(settings, recipe, log=_log_to_stderr)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{name}.json").write_text(json.dumps(report, indent=2) + "\n")
    table = markdown(report)
    (args.out / f"{name}.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
