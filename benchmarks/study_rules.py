"""How far knowing a sample's study goes on the accuracy benchmark's folds.

    python -m benchmarks.study_rules [--recipe NAME] [--members 5]

Scores, on the same five grouped folds, rules that see only which study a
held-out sample comes from, never its microbiome:

- `training median`, `training mean`: one age for everyone.
- `study's training mean`: a sample of a study seen in the training folds
  gets that study's mean training age, any other the training mean. This
  is what a perfect study recogniser without any within-study age signal
  would predict.
- `oracle: study's held-out median`: a seen study's samples get the median
  of their own held-out ages, read from the test labels, any other the
  training mean. No method can do this; it bounds what any model scores
  that tells studies apart perfectly but has no age signal inside a study
  and no information about people from studies it never saw.

Beside them the forest (refitted as q2-sample-classifier fits it, cached)
and, with --recipe, the mean of a fold_experiment run's first --members
seeds. If the oracle is not far below the goal, reaching the goal needs
real within-study age signal; experiments.md says how much there is.
"""
from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from benchmarks.accuracy import regression_scores

RULES = ("training median", "training mean", "study's training mean",
         "oracle: study's held-out median")


def rule_predictions(held_out: pd.DataFrame, training: pd.DataFrame) -> pd.DataFrame:
    """One column per rule in RULES, indexed like held_out (columns `study`
    and `age`; training needs the same two)."""
    seen = held_out["study"].isin(set(training["study"]))
    training_mean = training["age"].mean()
    study_mean = held_out["study"].map(training.groupby("study")["age"].mean())
    held_out_median = held_out.groupby("study")["age"].transform("median")
    return pd.DataFrame({
        RULES[0]: training["age"].median(),
        RULES[1]: training_mean,
        RULES[2]: np.where(seen, study_mean, training_mean),
        RULES[3]: np.where(seen, held_out_median, training_mean),
    }, index=held_out.index)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recipe", help="a fold_experiment run with predictions for all 5 folds")
    parser.add_argument("--members", type=int, default=5,
                        help="with --recipe, average the first N per-seed columns (default 5)")
    args = parser.parse_args(argv)

    # Imported here so that the rules and their test need no data or QIIME 2.
    from benchmarks.error_by_study import (ensemble_predictions, forest_predictions,
                                           recipe_prediction_paths)
    from benchmarks.fold_experiment import benchmark_data

    paths = recipe_prediction_paths(parser, args.recipe) if args.recipe else []
    table, metadata, folds = benchmark_data()
    scores: dict[str, list[float]] = {}
    for fold in range(5):
        held_out, training = metadata[folds == fold], metadata[folds != fold]
        columns = rule_predictions(held_out, training)
        columns["forest"] = forest_predictions(table, metadata, folds, fold)
        if paths:
            columns[f"q2-aam ({args.recipe})"] = ensemble_predictions(paths[fold], args.members)
        for name, predicted in columns.items():
            scores.setdefault(name, []).append(
                regression_scores(held_out["age"], predicted.loc[held_out.index])["mae"])
    print("| rule or method | " + " | ".join(f"fold {k}" for k in range(5)) + " | mean MAE |")
    print("|---|" + "---|" * 6)
    for name, maes in scores.items():
        print(f"| {name} | " + " | ".join(f"{v:.2f}" for v in maes)
              + f" | {np.mean(maes):.2f} |")


if __name__ == "__main__":
    main()
