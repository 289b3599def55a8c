"""Where a recipe's held-out error is: per study block, beside the forest.

    python -m benchmarks.error_by_study NAME [--members 5]

Reads the per-seed predictions that `benchmarks.fold_experiment NAME` kept
for each of the five folds (`.predictions/NAME-fold{k}.tsv`), averages the
first `--members` columns (the ensemble), and sets them beside the random
forest refitted with scikit-learn as q2-sample-classifier fits it (500
trees, counts as given, random_state 0; cached as `.predictions/forest-*`).
For each fold and each study with at least 20 held-out samples it prints
Markdown rows: whether the study was in the training folds, the true mean
age, the training folds' mean age, and each method's mean prediction, MAE
and bias. This is what showed that a fold's MAE is mostly a few people's
offset from the training mean (experiments.md).
"""
from __future__ import annotations

import argparse

import biom
import numpy as np
import pandas as pd

from benchmarks.accuracy import regression_scores
from benchmarks.fold_experiment import PREDICTIONS, benchmark_data

MIN_BLOCK = 20  # smaller studies are listed only in the fold's total


def forest_predictions(table: biom.Table, metadata: pd.DataFrame, folds: np.ndarray,
                       fold: int) -> pd.Series:
    path = PREDICTIONS / f"forest-fold{fold}.tsv"
    if path.exists():
        return pd.read_csv(path, sep="\t", index_col=0).iloc[:, 0]
    from sklearn.ensemble import RandomForestRegressor
    counts = pd.DataFrame(table.matrix_data.T.toarray(), index=table.ids(),
                          columns=table.ids("observation")).loc[metadata.index]
    train, test = folds != fold, folds == fold
    forest = RandomForestRegressor(n_estimators=500, random_state=0, n_jobs=1)
    forest.fit(counts[train], metadata["age"][train])
    predicted = pd.Series(forest.predict(counts[test]), index=counts.index[test], name="forest")
    PREDICTIONS.mkdir(parents=True, exist_ok=True)
    predicted.to_csv(path, sep="\t")
    return predicted


def study_blocks(held_out: pd.DataFrame, training: pd.DataFrame,
                 methods: tuple = ("q2-aam", "forest")) -> pd.DataFrame:
    """One row per held-out study: size, seen in training, ages, and each
    method's mean prediction, MAE and bias (prediction - truth)."""
    rows = []
    for study, block in held_out.groupby("study"):
        row = {"study": study, "samples": len(block), "groups": block["group"].nunique(),
               "seen": study in set(training["study"]), "age": block["age"].mean(),
               "training_mean": training["age"].mean()}
        for method in methods:
            error = block[method] - block["age"]
            row.update({f"{method} mean": block[method].mean(),
                        f"{method} MAE": error.abs().mean(), f"{method} bias": error.mean()})
        rows.append(row)
    return pd.DataFrame(rows).set_index("study")


def recipe_prediction_paths(parser: argparse.ArgumentParser, name: str) -> list:
    """The per-seed prediction files of fold_experiment run NAME, one per
    fold; exits through the parser, saying what to run, if any is missing."""
    paths = [PREDICTIONS / f"{name}-fold{fold}.tsv" for fold in range(5)]
    missing = [str(path) for path in paths if not path.exists()]
    if missing:
        parser.exit(2, f"No predictions at {', '.join(missing)}: run `python -m "
                       f"benchmarks.fold_experiment {name} ...` on those folds first.\n")
    return paths


def ensemble_predictions(path, members: int) -> pd.Series:
    """The mean of the first `members` per-seed columns of a prediction file."""
    return pd.read_csv(path, sep="\t", index_col=0).iloc[:, :members].mean(axis=1)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("name", help="a fold_experiment run with predictions for all 5 folds")
    parser.add_argument("--members", type=int, default=5,
                        help="average the first N per-seed columns (default 5)")
    args = parser.parse_args(argv)

    paths = recipe_prediction_paths(parser, args.name)
    table, metadata, folds = benchmark_data()
    print("| fold | study (held-out samples, people or groups) | seen in training | age | "
          "training mean | q2-aam mean, MAE, bias | forest mean, MAE, bias |")
    print("|---|---|---|---|---|---|---|")
    totals = []
    for fold, path in enumerate(paths):
        ensemble = ensemble_predictions(path, args.members)
        held_out = metadata.loc[ensemble.index].assign(
            **{"q2-aam": ensemble,
               "forest": forest_predictions(table, metadata, folds, fold)})
        blocks = study_blocks(held_out, metadata[folds != fold])
        for study, row in blocks[blocks["samples"] >= MIN_BLOCK].iterrows():
            print(f"| {fold} | {study} ({row['samples']}, {row['groups']}) | "
                  f"{'yes' if row['seen'] else 'no'} | {row['age']:.1f} | "
                  f"{row['training_mean']:.1f} | " + " | ".join(
                      f"{row[m + ' mean']:.1f}, {row[m + ' MAE']:.2f}, {row[m + ' bias']:+.2f}"
                      for m in ("q2-aam", "forest")) + " |")
        blend = (held_out["q2-aam"] + held_out["forest"]) / 2
        totals.append([regression_scores(held_out["age"], predicted)["mae"]
                       for predicted in (held_out["q2-aam"], held_out["forest"], blend)])
    totals = np.array(totals)
    print()
    print("| | " + " | ".join(f"fold {k}" for k in range(5)) + " | mean |")
    print("|---|" + "---|" * 6)
    for name, column in zip(("q2-aam", "forest", "mean of the two"), totals.T):
        print(f"| {name} | " + " | ".join(f"{v:.2f}" for v in column)
              + f" | {column.mean():.2f} |")


if __name__ == "__main__":
    main()
