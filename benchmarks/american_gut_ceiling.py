"""How far below the study mean can a plain model get inside American Gut?

The label-efficiency goal asks q2-aam for at most 0.90x the study-mean rule
inside American Gut (study 10317, one sample per person, ages 18-85). This
asks what the counts themselves allow: on the same grouped folds (1-4, the
ones with American Gut test samples) and with every American Gut training
sample labelled, simple models on the counts, each with its setting chosen
by grouped CV inside the labelled samples where it has one:

- ridge and kNN on CLR (pseudocount 0.5) and on square-root relative
  abundances of the ASVs in at least 5% of the labelled samples;
- random forest and extra-trees (500 trees, a third of the features per
  split) on square-root relative abundances of every ASV.

No pretraining, no q2-aam: a reference for what the data allow, beside the
study-mean rule and q2-sample-classifier's forest of the label-efficiency
benchmark.

    python -m benchmarks.american_gut_ceiling            # fit, then the table
    python -m benchmarks.american_gut_ceiling --report   # the table from saved rows

The table also lists, from the label-efficiency benchmark's saved rows,
q2-sample-classifier's forest and q2-aam on the same folds.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

from benchmarks.accuracy import RESULTS, Settings
from benchmarks.label_efficiency import Fold, embedding_head, population

FOLDS = (1, 2, 3, 4)  # fold 0 holds no American Gut test sample
PREVALENCE = 0.05


def features(fold: Fold, labelled: list, test: list):
    """(labelled, test) frames of relative abundances over the ASVs of either."""
    table = fold.table.filter(labelled + test, inplace=False).remove_empty(axis="observation")
    counts = pd.DataFrame(table.matrix_data.T.toarray(), index=table.ids(),
                          columns=table.ids("observation"))
    relative = counts.div(counts.sum(axis=1), axis=0)
    return relative.loc[labelled], relative.loc[test], counts


def predictions(fold: Fold) -> tuple[dict, np.ndarray]:
    from sklearn.ensemble import ExtraTreesRegressor, RandomForestRegressor
    candidates, test_ids = population(fold, "american-gut")
    labelled = list(candidates.index)
    train, test, counts = features(fold, labelled, test_ids)
    y = candidates["age"].astype(float).to_numpy()
    truth = fold.metadata.loc[test_ids, "age"].astype(float).to_numpy()
    groups = candidates["group"].astype(str)
    common = (train > 0).mean() >= PREVALENCE

    def clr(ids):
        logs = np.log(counts.loc[ids, common] + 0.5)
        return logs.sub(logs.mean(axis=1), axis=0).to_numpy()

    inputs = {"clr": (clr(labelled), clr(test_ids)),
              "sqrt": (np.sqrt(train.loc[:, common]).to_numpy(),
                       np.sqrt(test.loc[:, common]).to_numpy())}
    out = {"study_mean": np.full(len(truth), y.mean())}
    for name, (x_train, x_test) in inputs.items():
        for head in ("ridge", "knn"):
            out[f"{head} on {name}"] = embedding_head(head, x_train, y, groups, x_test)
    for name, model in (("random forest", RandomForestRegressor),
                        ("extra-trees", ExtraTreesRegressor)):
        fitted = model(500, max_features=1 / 3, n_jobs=1, random_state=0).fit(
            np.sqrt(train).to_numpy(), y)
        out[f"{name} on sqrt"] = fitted.predict(np.sqrt(test).to_numpy())
    return out, truth


# the same folds' rows of the label-efficiency benchmark, all labels
MODELS = {("american-gut", "forest"): "q2-sample-classifier forest (counts)",
          ("american-gut", "aam"): "q2-aam fit-regressor (unweighted UniFrac encoder)",
          ("american-gut-weighted_unifrac", "aam"): "q2-aam fit-regressor (weighted)",
          ("american-gut-weighted_unifrac", "aam_ridge40"): "q2-aam ridge readout (weighted)",
          ("american-gut-weighted_unifrac", "blend"): "blend: readout + forest"}


def model_rows() -> list:
    from benchmarks.label_efficiency import OUT
    rows = []
    for (label, method), name in MODELS.items():
        for number in FOLDS:
            path = OUT / f"{label}-fold{number}.json"
            if path.exists():
                rows += [{"fold": number, "method": name, "mae": r["mae"]}
                         for r in json.loads(path.read_text())
                         if r["n"] == "all" and r["method"] == method]
    return rows


def markdown(rows: list) -> str:
    frame = pd.DataFrame(rows).pivot_table(index="method", columns="fold", values="mae")
    frame["mean"] = frame.mean(axis=1)
    ratio = frame["mean"] / frame.loc["study_mean", "mean"]
    lines = ["| method | " + " | ".join(f"fold {f}" for f in FOLDS)
             + " | mean | vs study mean |", "|---" * (len(FOLDS) + 3) + "|"]
    for method in frame.sort_values("mean").index:
        cells = [f"{frame.loc[method, f]:.2f}" for f in FOLDS]
        lines.append(f"| {method} | {' | '.join(cells)} | {frame.loc[method, 'mean']:.2f} "
                     f"| {ratio[method]:.3f}x |")
    return "\n".join(lines)


def main() -> None:
    import argparse
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--report", action="store_true",
                        help="only print the table from the saved rows")
    path = RESULTS / "american_gut_ceiling.json"
    if not parser.parse_args().report:
        rows = []
        for number in FOLDS:
            predicted, truth = predictions(Fold(Settings(), number, 1, {}, {}))
            for method, values in predicted.items():
                rows.append({"fold": number, "method": method,
                             "mae": float(np.abs(values - truth).mean())})
                print(json.dumps(rows[-1]), flush=True)
        path.write_text(json.dumps(rows, indent=1) + "\n")
    print(markdown(json.loads(path.read_text()) + model_rows()))


if __name__ == "__main__":
    main()
