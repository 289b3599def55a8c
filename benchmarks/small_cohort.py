"""One small cohort pretrained on its own samples: how many epochs?

A user with a single cohort pretrains on a few hundred samples, where the
default recipe's 8 epochs are a few dozen optimizer steps (on oral-age's
training folds, ~1,450 samples at batches of 64, they are 170-190). This
pretrains on American Gut's training samples of a grouped fold only
(study 10317, one sample per person, ~210 people; folds 1-4 of the
label-efficiency benchmark, weighted UniFrac on those samples), at each
`--epochs` (a number, or 'auto', pretrain's default), then fits the default
readout (`aam fit-regressor` from the encoder, all defaults) on N labelled
people of the same cohort (the label-efficiency benchmark's draws) and
scores held-out people. Beside it: q2-sample-classifier's forest on the
same N, and the labelled mean (no model).

    python -m benchmarks.small_cohort                    # epochs 8 and auto
    python -m benchmarks.small_cohort --epochs 8,32,auto --folds 1
Writes benchmarks/results/small_cohort.json and prints a Markdown table.
"""
from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import pandas as pd

from benchmarks.accuracy import RESULTS, Settings
from benchmarks.label_efficiency import (Fold, draw_labelled, population,
                                         pretraining_distance)

OUT = RESULTS / "small_cohort.json"
SIZES = (50, 150, 100000)  # 100000: every labelled person


def encoder(fold: Fold, ids: list, epochs, threads: int):
    """aam pretrain (defaults but epochs) on these samples only; (model, s)."""
    from qiime2.plugins import aam
    table = fold._artifact(ids)
    distances = pretraining_distance("weighted_unifrac", table, fold.tree)
    started = time.perf_counter()
    model = aam.methods.pretrain(table=table, distance_matrix=distances,
                                 random_state=fold.settings.seed, n_threads=threads,
                                 epochs=epochs).model
    return model, time.perf_counter() - started


def aam_readout(fold: Fold, model, labelled: list, test_ids: list, threads: int):
    import qiime2
    from qiime2.plugins import aam
    md = fold.metadata.loc[labelled, ["age", "group"]].astype({"group": str})
    metadata = qiime2.Metadata(md)
    fitted = aam.methods.fit_regressor(
        table=fold._artifact(labelled), metadata=metadata.get_column("age"),
        groups=metadata.get_column("group"), pretrained_model=model,
        random_state=fold.settings.seed, n_threads=threads).model
    return aam.methods.predict_regression(table=fold._artifact(test_ids), model=fitted,
                                          n_threads=threads).predictions.view(pd.Series)


def run_fold(number: int, epochs_list: list, threads: int) -> list:
    from aam_core.bundle import ModelBundle
    fold = Fold(Settings(), number, threads, {}, {})
    candidates, test_ids = population(fold, "american-gut")
    truth = fold.metadata.loc[test_ids, "age"].astype(float)
    draws = [(n, d, draw_labelled(candidates, min(n, len(candidates)), seed=d))
             for n in SIZES for d in ((0,) if n >= len(candidates) else (0, 1))]
    rows = []

    def score(method, n, draw, predicted, **extra):
        error = float(np.abs(predicted.reindex(truth.index) - truth).mean())
        rows.append({"fold": number, "n": "all" if n >= len(candidates) else n,
                     "draw": draw, "method": method, "mae": error, **extra})
        print(json.dumps(rows[-1]), flush=True)

    for n, draw, labelled in draws:
        labelled_md = fold.metadata.loc[labelled]
        score("labelled_mean", n, draw, pd.Series(labelled_md["age"].mean(), index=test_ids))
        score("forest", n, draw, fold.methods.random_forest(
            fold._artifact(labelled), fold._artifact(test_ids), labelled_md, test_ids))
    for epochs in epochs_list:
        model, seconds = encoder(fold, list(candidates.index), epochs, threads)
        ran = model.view(ModelBundle).config["training"]["epochs"]  # 'auto' settled
        for n, draw, labelled in draws:
            score(f"aam_epochs_{epochs}", n, draw,
                  aam_readout(fold, model, labelled, test_ids, threads),
                  pretrain_seconds=round(seconds, 1), epochs_run=ran)
    return rows


def table(rows: list) -> str:
    frame = pd.DataFrame(rows).assign(n=lambda f: f["n"].astype(str))
    mean = frame.pivot_table(index="method", columns="n", values="mae", aggfunc="mean")
    lines = ["| method | " + " | ".join(f"N = {n}" for n in mean.columns) + " |",
             "|---|" + "---|" * len(mean.columns)]
    lines += [f"| {m} | " + " | ".join(f"{v:.2f}" for v in mean.loc[m]) + " |"
              for m in mean.index]
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", default="1,2,3,4")
    parser.add_argument("--epochs", default="8,auto",
                        help="pretraining epochs to compare: numbers or 'auto'")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    args = parser.parse_args(argv)
    epochs = [e if e == "auto" else int(e) for e in args.epochs.split(",")]
    rows = [row for f in map(int, args.folds.split(","))
            for row in run_fold(f, epochs, args.threads)]
    OUT.write_text(json.dumps({"date": time.strftime("%Y-%m-%d"), "rows": rows},
                              indent=1) + "\n")
    print(table(rows))


if __name__ == "__main__":
    main()
