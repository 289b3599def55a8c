"""Does pretraining pay? Learning curves with few labels, on grouped folds.

For each grouped fold of the accuracy benchmark (oral-age, 5 folds by
`group`): pretrain one encoder on every training-fold sample WITHOUT labels
(aam pretrain with its defaults, UniFrac on those samples), then give each
method only N labelled training samples (whole groups, drawn at random;
the last group drawn is cut to fill N) and score it on the held-out fold:

- median: the labelled samples' median age for every sample (no model;
  a method must beat it to show it reads anything at all)
- study_mean: each sample gets its study's mean labelled age (an unseen
  study: the labelled mean); it reads no ASV, so a model must beat it to
  show signal beyond recognising the study
- forest: q2-sample-classifier fit-regressor (500 trees) on the N samples
- aam: aam fit-regressor from the pretrained encoder (all defaults)
- knn, ridge: on the frozen encoder's embeddings (the fast probe of the
  representation: k and alpha chosen by grouped CV inside the N samples)
- counts_ridge: q2-aam's ridge readout (its penalty rule, one fit on the N
  samples) on the counts instead of an encoder's embeddings (square roots
  of relative abundance of the ASVs in at least 5% of the N samples): what
  the same linear model reads without pretraining
- blend: aam blend-predictions of two methods' predictions (`--blend`,
  the forest's and the ridge readout's by default), equal weights

`--population american-gut` asks where only the microbiome can tell age:
the labelled and the test samples are American Gut's (study 10317, one
sample per person); the encoder is the same (all training-fold samples,
unlabelled).

`--pretrain-on all` is the transductive use: one encoder pretrained on every
sample of the table, the held-out ones included (never their labels), as a
user who pretrains on everything they have, the samples to predict among
them. Its rows are kept apart (tag `transductive`) and never mixed into the
honest figures.

    python -m benchmarks.label_efficiency                 # every fold, N 50,150,500
    python -m benchmarks.label_efficiency --folds 2 --sizes 150 --methods study_mean,forest,knn,ridge
    python -m benchmarks.label_efficiency --report        # tables from saved folds
Writes benchmarks/results/label_efficiency/<population>-fold<F>.json per
fold, and docs/label-efficiency.md (+ .png) from whatever folds are saved.
"""
from __future__ import annotations

import argparse
import functools
import hashlib
import itertools
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.accuracy import (REPO, RESULTS, Methods, Recipe, Settings, grouped_folds,
                                 load, regression_scores)
from benchmarks.study_rules import rule_predictions

OUT = RESULTS / "label_efficiency"
DOCS = REPO / "docs"
CACHE = RESULTS.parent / ".pretrained-cache"  # git-ignored
PREDICTIONS = RESULTS.parent / ".predictions" / "label_efficiency"  # git-ignored
# settings under the names the cache keys were written with
SAVED_AS = {"random_state": "seed", "loss": "target_loss"}
AMERICAN_GUT = "10317"
METHODS = ("median", "study_mean", "forest", "aam", "knn", "ridge", "counts_ridge")
# fit options of a --variant that shape the head, not TrainConfig's
HEAD_OPTIONS = ("output_activation",)
# a --variant's metadata column whose categories normalise the target
# (`--p-normalise-by`: each study's own mean and spread), read at prediction too
NORMALISE_BY = "normalise_by"


# pretraining options added after the first encoders were cached; unused
# without their inputs (an alpha-diversity vector, a taxonomy, experts) or
# at their default (contrastive views, nucleotide_epochs: 0), so an encoder saved without them
# is the same recipe
LATER_OPTIONS = ("alpha_weight", "taxonomy_weight", "expert_balance", "contrastive_weight",
                 "nucleotide_epochs")
# pretrain's earlier defaults (before 2026-12-01; then until batch 64):
# encoders of those times were keyed by them, with --pretrain naming what
# differed from them, or every field of a recipe it set
EARLIER_DEFAULTS = ({"epochs": 16, "learning_rate": 1e-3, "batch_size": 32},
                    {"epochs": 8, "learning_rate": 2e-3, "batch_size": 32})


def _cache_path(key: list) -> Path:
    text = json.dumps(key, sort_keys=True)
    return CACHE / f"label-efficiency-{hashlib.sha1(text.encode()).hexdigest()[:12]}.qza"


def _earlier_keys(key: list) -> list:
    """The key as encoders were cached before some of LATER_OPTIONS existed:
    without each subset of them, the key itself first."""
    fold, seed, pretraining, *rest = key
    subsets = [set(c) for r in range(len(LATER_OPTIONS) + 1)
               for c in itertools.combinations(LATER_OPTIONS, r)]
    return [[fold, seed, {k: v for k, v in pretraining.items() if k not in left_out}, *rest]
            for left_out in subsets]


def recipe_keys(head: list, defaults: dict, size: int, overrides: dict) -> list:
    """Cache keys of one recipe (`defaults` updated by `overrides`): as keyed
    now, then as keyed when pretrain's defaults were one of EARLIER_DEFAULTS
    (the same recipe, whatever defaults it was named against)."""
    keys = [head + [defaults, size] + ([overrides] if overrides else [])]
    recipe = {**defaults, **overrides}
    for earlier in EARLIER_DEFAULTS:
        base = {**defaults, **earlier}
        differs = {k: v for k, v in recipe.items() if base[k] != v}
        keys.append(head + [base, size] + ([differs] if differs else []))
        named = {**{k: recipe[k] for k in earlier}, **differs}
        if differs and named != differs:
            keys.append(head + [base, size, named])
    return keys


def draw_labelled(train_md: pd.DataFrame, n: int, seed: int, group: str = "group") -> list:
    """N training sample ids, whole groups in a seeded random order; the
    group that would overflow N is cut to fill it exactly. A first group
    that alone would fill N gives half of it, so that every draw holds two
    groups or more (a fit's grouped validation split needs a second group)."""
    rng = np.random.default_rng(seed)
    groups = train_md[group].unique()
    chosen = []
    for g in groups[rng.permutation(len(groups))]:
        members = list(train_md.index[train_md[group] == g])
        room = n - len(chosen)
        if room <= 0:
            break
        if not chosen and len(members) >= n:
            room = max(1, n // 2)
        if len(members) > room:
            members = list(rng.choice(members, room, replace=False))
        chosen += members
    return chosen


def study_mean(labelled: pd.DataFrame, test: pd.DataFrame) -> pd.Series:
    """study_rules' study recogniser, fitted on the labelled samples."""
    return rule_predictions(test, labelled)["study's training mean"].astype(float)


def _inner_folds(groups: pd.Series, k: int = 5) -> list:
    folds = grouped_folds(groups, min(k, groups.nunique()), seed=0)
    return [(np.flatnonzero(folds != f), np.flatnonzero(folds == f))
            for f in range(min(k, groups.nunique()))]


def embedding_head(kind: str, x_train: np.ndarray, y: np.ndarray, groups: pd.Series,
                   x_test: np.ndarray) -> np.ndarray:
    """kNN (k) or ridge (alpha) on embeddings, the setting chosen by grouped
    CV inside the labelled samples (what a user with N labels can do)."""
    from sklearn.linear_model import Ridge
    from sklearn.neighbors import KNeighborsRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    folds = _inner_folds(groups)
    if kind == "knn":
        smallest = min(len(fit_rows) for fit_rows, _ in folds)  # k fits every inner fold
        grid = [k for k in (3, 5, 10, 15, 25, 40) if k <= smallest] or [smallest]
        make = lambda k: KNeighborsRegressor(k, weights="distance")  # noqa: E731
    else:
        grid = [0.1, 1.0, 10.0, 100.0, 1000.0]
        make = lambda a: make_pipeline(StandardScaler(), Ridge(alpha=a))  # noqa: E731
    errors = []
    for setting in grid:
        error = 0.0
        for fit_rows, val_rows in folds:
            model = make(setting).fit(x_train[fit_rows], y[fit_rows])
            error += np.abs(model.predict(x_train[val_rows]) - y[val_rows]).sum()
        errors.append(error)
    best = grid[int(np.argmin(errors))]
    return make(best).fit(x_train, y).predict(x_test)


def abundance_features(table, labelled: list, test_ids: list) -> tuple:
    """Square roots of relative abundance of the ASVs in at least 5% of the
    labelled samples, for the labelled and the test samples."""
    frame = pd.DataFrame(table.matrix_data.toarray().T, index=table.ids(),
                         columns=table.ids(axis="observation"))
    relative = frame.div(frame.sum(axis=1), axis=0)
    kept = (relative.loc[labelled] > 0).mean() >= 0.05
    features = np.sqrt(relative.loc[:, kept])
    return features.loc[labelled].to_numpy(), features.loc[test_ids].to_numpy()


def readout_line(x_train: np.ndarray, y: np.ndarray, groups: pd.Series,
                 x_test: np.ndarray) -> np.ndarray:
    """q2-aam's ridge readout (aam_core.readout: the penalty by grouped
    cross-validation, shrunk within one standard error with few groups),
    one fit on every labelled sample."""
    from aam_core.readout import choose_alpha, solve
    weights, units = np.ones(len(y)), groups.astype(str).to_numpy()
    alpha, _ = choose_alpha(x_train, y, weights, units, seed=0)
    w, b = solve(x_train, y, weights, alpha)
    return x_test @ w + b


class Fold:
    """One grouped fold: its pretrained encoder (cached) and embeddings."""

    def __init__(self, settings: Settings, fold: int, threads: int, variants: dict,
                 pretraining: dict, pretrain_on: str = "training",
                 distance: str = "unweighted_unifrac", taxonomy: bool = False):
        self.settings, self.fold, self.threads = settings, fold, threads
        self.variants = variants  # method name -> TrainConfig fields for fitting
        self.pretraining = pretraining  # aam pretrain parameters over its defaults
        self.pretrain_on = pretrain_on  # "training" samples, or "all" (transductive)
        self.distance = distance  # diversity-lib's name of the pretraining distance
        self.taxonomy = taxonomy  # pretrain also on the tree-derived stand-in taxonomy
        self.table, self.metadata, self.tree = load(settings)
        self.metadata["study"] = self.metadata["study"].astype(str)
        folds = grouped_folds(self.metadata[settings.group], settings.folds, settings.seed)
        self.train_md = self.metadata[folds != fold]
        self.test_md = self.metadata[folds == fold]
        self.train_table = self._artifact(self.train_md.index)
        self.methods = Methods(settings, Recipe(), self.tree)

    @functools.cached_property
    def encoder(self):
        return self._pretrained()

    @functools.cached_property
    def embeddings(self) -> pd.DataFrame:
        return self._embeddings()

    def _artifact(self, ids):
        import qiime2
        table = self.table.filter(list(ids), inplace=False).remove_empty(axis="observation")
        return qiime2.Artifact.import_data("FeatureTable[Frequency]", table)

    def _pretrained(self):
        """aam pretrain (defaults) on the training fold, unlabelled, or on
        every sample (transductive: one encoder for all folds); cached."""
        import qiime2
        from qiime2.plugins import aam
        from aam_core.config import PRETRAIN_TRAIN_DEFAULTS
        transductive = self.pretrain_on == "all"
        samples = self.metadata.index if transductive else self.train_md.index
        # the same keys as before these options existed or took their option's
        # name, so saved encoders still match
        pretraining = PRETRAIN_TRAIN_DEFAULTS.to_dict()
        pretraining.pop("readout")  # a fine-tuning option, added after these keys
        pretraining = {SAVED_AS.get(k, k): v for k, v in pretraining.items()}
        tail = [self.distance] if self.distance != "unweighted_unifrac" else []
        tail += ["taxonomy: tree clades"] if self.taxonomy else []
        keys = recipe_keys(["all" if transductive else self.fold, self.settings.seed],
                           pretraining, len(samples), self.pretraining)
        keys = [key + tail for key in keys]
        path = next((p for key in keys for p in map(_cache_path, _earlier_keys(key))
                     if p.exists()), _cache_path(keys[0]))
        if path.exists():
            return qiime2.Artifact.load(str(path))
        started = time.perf_counter()
        table = self._artifact(samples) if transductive else self.train_table
        inputs = {}
        distances = pretraining_distance(self.distance, table, self.tree)
        if self.taxonomy:  # no classifier's taxonomy offline: clades of the tree
            import skbio
            from benchmarks.tree_taxonomy import tree_taxonomy
            taxa = tree_taxonomy(self.tree.view(skbio.TreeNode))
            inputs["taxonomy"] = qiime2.Artifact.import_data("FeatureData[Taxonomy]", taxa)
        model = aam.methods.pretrain(table=table, distance_matrix=distances, **inputs,
                                     **{"random_state": self.settings.seed,
                                        "n_threads": self.threads, **self.pretraining}).model
        CACHE.mkdir(parents=True, exist_ok=True)
        model.save(str(path))
        print(f"fold {self.fold}: pretrained on {len(samples)} samples in "
              f"{time.perf_counter() - started:.0f} s", flush=True)
        return model

    def _embeddings(self) -> pd.DataFrame:
        from aam_core import api
        from aam_core.bundle import ModelBundle
        bundle = self.encoder.view(ModelBundle)
        return api.embed(bundle, self.table.filter(list(self.metadata.index),
                                                   inplace=False).remove_empty(axis="observation"),
                         n_threads=self.threads, log=lambda m: None)

    def run(self, method: str, labelled: list, test_ids: list) -> pd.Series:
        target = self.settings.target
        labelled_md = self.metadata.loc[labelled]
        if method == "study_mean":
            return study_mean(labelled_md, self.metadata.loc[test_ids])
        if method == "median":  # what a model that reads nothing scores
            return pd.Series(labelled_md[target].median(), index=test_ids)
        if method == "counts_ridge":
            train_x, test_x = abundance_features(self.table, labelled, test_ids)
            return pd.Series(readout_line(train_x, labelled_md[target].to_numpy(float),
                                          labelled_md[self.settings.group], test_x),
                             index=test_ids)
        if method in ("knn", "ridge"):
            values = embedding_head(method, self.embeddings.loc[labelled].to_numpy(),
                                    labelled_md[target].to_numpy(float),
                                    labelled_md[self.settings.group],
                                    self.embeddings.loc[test_ids].to_numpy())
            return pd.Series(values, index=test_ids)
        train_table, test_table = self._artifact(labelled), self._artifact(test_ids)
        if method == "forest":
            return self.methods.random_forest(train_table, test_table, labelled_md, test_ids)
        return self.aam(train_table, test_table, labelled_md, self.variants.get(method, {}))

    def aam(self, train_table, test_table, labelled_md, options: dict) -> pd.Series:
        """aam fit-regressor from the fold's encoder, through the action with
        its defaults; a variant (TrainConfig fields over the action's
        defaults) through aam_core, for settings not yet parameters."""
        import qiime2
        from qiime2.plugins import aam
        s = self.settings
        if options:
            return self.aam_variant(train_table, test_table, labelled_md, options)
        metadata = qiime2.Metadata(labelled_md[[s.target, s.group]].astype({s.group: str}))
        model = aam.methods.fit_regressor(
            table=train_table, metadata=metadata.get_column(s.target),
            groups=metadata.get_column(s.group), pretrained_model=self.encoder,
            random_state=s.seed, n_threads=self.threads).model
        outputs = aam.methods.predict_regression_interval(
            table=test_table, model=model, n_threads=self.threads)
        return pd.DataFrame({name: output.view(pd.Series) for name, output in
                             zip(("prediction", "lower", "upper"), outputs)})

    def aam_variant(self, train_table, test_table, labelled_md, options: dict) -> pd.Series:
        options = dict(options)
        import biom
        from dataclasses import replace
        from aam_core import api
        from aam_core.bundle import ModelBundle
        from aam_core.config import FIT_TRAIN_DEFAULTS, ConditioningConfig
        s = self.settings
        # the head's shape (e.g. output_activation) is no TrainConfig field
        head = {k: options.pop(k) for k in list(options) if k in HEAD_OPTIONS}
        by = options.pop(NORMALISE_BY, None)
        categories = None if by is None else self.metadata[[by]].astype(str)
        train = replace(FIT_TRAIN_DEFAULTS, random_state=s.seed, n_threads=self.threads, **options)
        if train.readout == "propagation":  # every training sample, most unlabelled
            train_table = self.train_table
        bundle = api.fit_regressor(train_table.view(biom.Table), labelled_md[s.target],
                                   groups=labelled_md[s.group].astype(str),
                                   pretrained=self.encoder.view(ModelBundle), train=train,
                                   head_options=head, log=lambda m: None,
                                   categories=categories,
                                   conditioning_config=ConditioningConfig(normalise_by=by))
        return api.predict_interval(bundle, test_table.view(biom.Table),
                                    conditioning=categories, n_threads=self.threads,
                                    log=lambda m: None)


def population(fold: Fold, name: str) -> tuple[pd.DataFrame, list]:
    """(candidate labelled samples, test ids) of a population."""
    if name == "all":
        return fold.train_md, list(fold.test_md.index)
    if name == "american-gut":
        test = fold.test_md[fold.test_md["study"] == AMERICAN_GUT]
        return fold.train_md[fold.train_md["study"] == AMERICAN_GUT], list(test.index)
    raise ValueError(f"unknown population {name!r}")


def pretraining_distance(name: str, table, tree):
    """diversity-lib's distance NAME on a table artifact; generalized UniFrac
    is weighted at alpha 0.5, between unweighted (0) and weighted (1);
    Aitchison with a pseudocount of 1."""
    from qiime2.plugins import diversity_lib
    if name == "generalized_unifrac":
        return diversity_lib.methods.beta_phylogenetic_passthrough(
            table=table, phylogeny=tree, metric="generalized_unifrac",
            alpha=0.5).distance_matrix
    if name == "unifrac_mix":  # both views of the tree, each on a 0-1 scale
        return mixed_unifrac(table, tree)
    if name == "aitchison":  # CLR needs no zeros: a pseudocount of 1
        return diversity_lib.methods.beta_passthrough(
            table=table, metric="aitchison", pseudocount=1).distance_matrix
    distance = getattr(diversity_lib.methods, name)
    return (distance(table=table, phylogeny=tree) if "unifrac" in name
            else distance(table=table)).distance_matrix


def mixed_unifrac(table, tree):
    """The mean of unweighted and weighted UniFrac, each divided by its
    largest distance: presence and abundance in one matrix (a sum of
    metrics is a metric)."""
    import qiime2
    import skbio
    from qiime2.plugins import diversity_lib
    views = [getattr(diversity_lib.methods, name)(table=table, phylogeny=tree)
             .distance_matrix.view(skbio.DistanceMatrix)
             for name in ("unweighted_unifrac", "weighted_unifrac")]
    data = sum(view.data / view.data.max() for view in views) / 2
    return qiime2.Artifact.import_data(
        "DistanceMatrix", skbio.DistanceMatrix(data, ids=views[0].ids))


def read_predictions(path: Path) -> pd.DataFrame:
    """A saved predictions file, its sample ids as text (American Gut's
    '10317.000002335' is no number). Files written before ids were read so
    hold each sample twice, each row with some of the columns: joined."""
    frame = pd.read_csv(path, sep="\t", dtype={0: str})
    frame = frame.set_index(frame.columns[0]).rename_axis(None)
    return frame.groupby(level=0, sort=False).first()


def base_population(label: str) -> str:
    """The population a run's label starts with ('all-weighted8' -> 'all')."""
    return "american-gut" if label.startswith("american-gut") else "all"


def saved_predictions(label: str, fold_number: int) -> pd.DataFrame:
    path = PREDICTIONS / f"{label}-fold{fold_number}.tsv"
    return read_predictions(path) if path.exists() else pd.DataFrame()


def blended(blend_of: tuple, draw: str, kept: list, saved: list,
            fold_number: int) -> pd.Series:
    """aam blend-predictions of two methods' predictions of this draw: from
    this run (`kept`), else saved by an earlier one (`saved`: this run's
    label's file, then for the methods that read no encoder its
    population's)."""
    import qiime2
    from qiime2.plugins import aam
    here = pd.concat(kept[1:], axis=1) if len(kept) > 1 else pd.DataFrame()
    sets = []
    for method in blend_of:
        column = f"{draw}/{method}"
        frame = next((f for f in (here, *saved) if column in f), None)
        if frame is None:
            raise SystemExit(f"blend: no predictions {column} of fold {fold_number}; "
                             f"run {method} first (same sizes and draws).")
        series = frame[column].dropna().rename("prediction")
        series.index.name = "id"
        sets.append(qiime2.Artifact.import_data("SampleData[RegressorPredictions]", series))
    return aam.methods.blend_predictions(predictions=sets).blended.view(pd.Series)


def run_fold(settings: Settings, fold_number: int, sizes: list, draws: int,
             methods: list, name: str, threads: int, variants: dict,
             pretraining: dict, label: str, pretrain_on: str = "training",
             distance: str = "unweighted_unifrac", taxonomy: bool = False,
             blend_of: tuple = ("forest", "aam_ridge")) -> list:
    """Every method at every size on one fold; `label` names the run (the
    population, and a tag for changed settings) in rows and files."""
    fold = Fold(settings, fold_number, threads, variants, pretraining, pretrain_on, distance,
                taxonomy)
    candidates, test_ids = population(fold, name)
    truth = fold.metadata.loc[test_ids, settings.target]
    saved = ([saved_predictions(label, fold_number),
              saved_predictions(base_population(label), fold_number)]
             if any(m.startswith("blend") for m in methods) else [])
    rows, kept = [], [truth]
    for n in sizes:
        n_draws = 1 if n >= len(candidates) else draws
        for draw in range(n_draws):
            labelled = draw_labelled(candidates, min(n, len(candidates)), seed=draw)
            for method in methods:
                started = time.perf_counter()
                if method.startswith("blend"):  # 'blend', or a name for this pair
                    predicted = blended(blend_of, f"{n}/{draw}", kept, saved, fold_number)
                else:
                    predicted = fold.run(method, labelled, test_ids)
                extra = {}
                if isinstance(predicted, pd.DataFrame):  # with an 80% interval
                    extra["coverage"] = float(truth.between(
                        predicted["lower"].reindex(truth.index),
                        predicted["upper"].reindex(truth.index)).mean())
                    predicted = predicted["prediction"]
                kept.append(predicted.rename(f"{n}/{draw}/{method}"))
                size = "all" if n >= len(candidates) else n
                rows.append({"population": label, "fold": fold_number, "n": size,
                             "n_labelled": len(labelled), "draw": draw, "method": method,
                             "n_test": len(test_ids),
                             **regression_scores(truth, predicted),
                             "seconds": round(time.perf_counter() - started, 1), **extra})
                print(json.dumps(rows[-1]), flush=True)
    # every prediction, for blends and per-study looks without refitting; a
    # run of some methods keeps the columns of the others
    PREDICTIONS.mkdir(parents=True, exist_ok=True)
    path = PREDICTIONS / f"{label}-fold{fold_number}.tsv"
    new = pd.concat(kept, axis=1)
    if path.exists():
        old = read_predictions(path)
        new = pd.concat([old.drop(columns=[c for c in new if c in old]), new], axis=1)
    new.to_csv(path, sep="\t")
    return rows


def fold_path(name: str, fold: int) -> Path:
    return OUT / f"{name}-fold{fold}.json"


def summary(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean MAE and Spearman per (N, method), over folds and draws, and the
    MAE as a ratio of the forest's."""
    rows = rows.assign(n=rows["n"].astype(str))
    per = rows.groupby(["n", "method"], sort=False).agg(
        mae=("mae", "mean"), spearman=("spearman", "mean"), folds=("fold", "nunique"),
        n_labelled=("n_labelled", "mean"), seconds=("seconds", "median"),
        **({"coverage": ("coverage", "mean")} if "coverage" in rows else {}))
    if "forest" in set(rows["method"]):
        # against the forest's MAE on the same folds and draws, where a
        # method ran on fewer of them than the forest
        keys = ["fold", "n", "draw"]
        forest = rows[rows["method"] == "forest"].set_index(keys)["mae"]
        paired = rows.join(forest.rename("forest_mae"), on=keys)
        per["vs_forest"] = (paired.groupby(["n", "method"], sort=False)["mae"].mean()
                            / paired.groupby(["n", "method"], sort=False)["forest_mae"].mean())
    return per.reset_index()


def _in_order(table: pd.DataFrame) -> pd.DataFrame:
    """Rows by N (all last), the baselines first, then the models."""
    size = table["n"].map(lambda n: float("inf") if n == "all" else float(n))
    rank = table["method"].map(lambda m: METHODS.index(m) if m in METHODS else len(METHODS))
    return table.assign(_size=size, _rank=rank).sort_values(
        ["_size", "_rank", "method"]).drop(columns=["_size", "_rank"])


def markdown(name: str, rows: pd.DataFrame) -> str:
    table = _in_order(summary(rows))
    machine = f"{platform.machine()}, {len(os.sched_getaffinity(0))} cores"
    lines = [f"### Population `{name}`", "",
             f"{rows['fold'].nunique()} grouped folds ({sorted(rows['fold'].unique())}), "
             f"{rows['draw'].nunique()} draw(s) of N labelled samples; "
             f"{time.strftime('%Y-%m-%d')}, {machine}. MAE in years (mean over folds "
             "and draws), ratio to the forest's MAE, Spearman, median seconds, and "
             "the share of held-out samples inside the 80% interval.", "",
             "| N | method | MAE | vs forest | Spearman | s | 80% coverage |",
             "|---|---|---|---|---|---|---|"]
    for _, row in table.iterrows():
        ratio = f"{row['vs_forest']:.2f}x" if pd.notna(row.get("vs_forest")) else ""
        lines.append(f"| {row['n']} | {row['method']} | {row['mae']:.2f} | {ratio} | "
                     f"{row['spearman']:.2f} | {row['seconds']:.0f} | "
                     f"{_percent(row.get('coverage'))} |")
    return "\n".join(lines) + "\n"


def _percent(value) -> str:
    return "" if value is None or pd.isna(value) else f"{value:.0%}"


def plot(frames: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(frames), figsize=(5.5 * len(frames), 4), squeeze=False)
    methods = sorted({m for rows in frames.values() for m in rows["method"]})
    colours = {m: f"C{i}" for i, m in enumerate(methods)}  # one colour per method
    for ax, (name, rows) in zip(axes[0], frames.items()):
        table = summary(rows)
        for method, part in table.groupby("method"):
            ax.plot(part["n_labelled"], part["mae"], marker="o", label=method,
                    color=colours[method])
        ax.set_xscale("log")
        ax.set_xlabel("labelled samples N")
        ax.set_ylabel("MAE of age on held-out people (years)")
        ax.set_title(name)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def with_baselines(name: str, rows: pd.DataFrame, frames: dict) -> pd.DataFrame:
    """A tagged run (a changed encoder) that did not rerun the methods that
    read no encoder gets them from its population's run: the same folds,
    sizes and draws, so its ratios to the forest stand."""
    base = base_population(name)
    if base == name or base not in frames:
        return rows
    borrowed = frames[base][frames[base]["method"].isin(["median", "study_mean", "forest"])
                            & ~frames[base]["method"].isin(rows["method"])]
    keys = ["fold", "n", "draw"]
    ran = pd.MultiIndex.from_frame(rows[keys].astype(str))
    borrowed = borrowed[pd.MultiIndex.from_frame(borrowed[keys].astype(str)).isin(ran)]
    return pd.concat([borrowed.assign(population=name), rows], ignore_index=True)


def report() -> str:
    frames = {}
    for path in sorted(OUT.glob("*-fold*.json")):
        rows = json.loads(path.read_text())
        frames.setdefault(rows[0]["population"], []).extend(rows)
    frames = {k: pd.DataFrame(v) for k, v in frames.items()}
    frames = {k: with_baselines(k, rows, frames) for k, rows in frames.items()}
    if not frames:
        raise SystemExit(f"No saved folds under {OUT}; run the benchmark first.")
    text = "".join(markdown(name, rows) + "\n" for name, rows in frames.items())
    DOCS.mkdir(exist_ok=True)
    plot(frames, DOCS / "label-efficiency.png")
    (DOCS / "label-efficiency-tables.md").write_text(text)
    return text


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--folds", default="0,1,2,3,4")
    parser.add_argument("--sizes", default="50,150,500")
    parser.add_argument("--draws", type=int, default=2)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--population", default="all", choices=["all", "american-gut"])
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=JSON",
                        help="an aam method NAME (list it in --methods) that fits "
                             "with these TrainConfig fields over fit-regressor's "
                             "defaults, e.g. "
                             "aam_frozen='{\"freeze_encoder\": true}'")
    parser.add_argument("--pretrain", default="{}", metavar="JSON",
                        help="aam pretrain parameters over its defaults: the "
                             "probe of a pretraining change, e.g. "
                             "--pretrain '{\"epochs\": 8}' --sizes 150 "
                             "--methods forest,knn,ridge")
    parser.add_argument("--tag", default="",
                        help="a name for this run's settings (e.g. a pretraining "
                             "change): its results are kept apart as <population>-<tag>")
    parser.add_argument("--pretrain-on", default="training", choices=["training", "all"],
                        help="all: pretrain one encoder on every sample, the held-out "
                             "ones included (transductive; tagged and kept apart)")
    parser.add_argument("--distance", default="unweighted_unifrac",
                        choices=["unweighted_unifrac", "weighted_unifrac",
                                 "generalized_unifrac", "bray_curtis", "jaccard",
                                 "aitchison", "unifrac_mix"],
                        help="the distance pretraining learns (diversity-lib's name, or "
                             "unifrac_mix: unweighted and weighted UniFrac, each "
                             "scaled to 0-1, averaged); another than the default is tagged with its name")
    parser.add_argument("--taxonomy", action="store_true",
                        help="pretrain also on a taxonomy: the tree-derived stand-in "
                             "(benchmarks/tree_taxonomy.py) of every ASV; tagged")
    parser.add_argument("--blend", default="forest,aam_ridge", metavar="A,B",
                        help="the two methods the method 'blend' (or any method "
                             "named blend_...) averages (aam blend-predictions), from "
                             "this run or saved ones")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--report", action="store_true",
                        help="only write the tables and plot from saved folds")
    args = parser.parse_args(argv)
    if not args.report:
        import torch
        torch.set_num_threads(args.threads)
        OUT.mkdir(parents=True, exist_ok=True)
        variants = {name: json.loads(text) for name, text in
                    (v.split("=", 1) for v in args.variant)}
        for fold in [int(f) for f in args.folds.split(",")]:
            tag = args.tag or "-".join(filter(None, [
                "transductive" if args.pretrain_on == "all" else "",
                "" if args.distance == "unweighted_unifrac" else args.distance,
                "taxonomy" if args.taxonomy else ""]))
            label = "-".join(filter(None, [args.population, tag]))
            rows = run_fold(Settings(), fold, [int(n) for n in args.sizes.split(",")],
                            args.draws, args.methods.split(","), args.population,
                            args.threads, variants, json.loads(args.pretrain), label,
                            args.pretrain_on, args.distance, args.taxonomy,
                            tuple(args.blend.split(",")))
            path = fold_path(label, fold)
            old = json.loads(path.read_text()) if path.exists() else []
            keep = [r for r in old if (r["n"], r["method"], r["draw"]) not in
                    {(r2["n"], r2["method"], r2["draw"]) for r2 in rows}]
            path.write_text(json.dumps(keep + rows, indent=1) + "\n")
    print(report())


if __name__ == "__main__":
    main()
