"""Time to a result: the default recipe end to end beside the random forest.

In one process, on the oral-age data, one grouped hold-out (grouped_folds of
benchmarks.accuracy, fold 0), everything through the QIIME 2 Artifact API:

- random forest: q2-sample-classifier fit-regressor (500 trees) + predict-regression
- q2-aam, the recommended recipe at the plugin's defaults: diversity-lib
  weighted-unifrac on the training samples, aam pretrain, aam fit-regressor
  from the pretrained encoder (readout 'auto': the ridge readout, 5 members
  on grouped splits), aam predict-regression

with the same threads for both (--threads, default 2), the wall time of each
phase (pretraining epochs, ASV-vector caching, each ensemble member,
prediction), the ratio of the two wall times, and the accuracy of both on
the same held-out samples, so that speed is never bought with accuracy.
Then: predict-regression's samples/s on --predict-samples samples made by
resampling the real table, and the start-up cost of a tiny action (a fresh
interpreter; the `qiime` command when it is on PATH).

The phases inside an action are timed by wrapping aam_core's functions in
this process (the Artifact API runs actions in-process); a function that is
not where this script expects it is reported as not broken down, not guessed.

    python -m benchmarks.time_to_result                         # the full run (~30-40 min)
    python -m benchmarks.time_to_result --pretrain-epochs 2 --fit-epochs 3   # a subset
Writes benchmarks/results/time_to_result.{json,md} and docs/time-to-result.md.
"""
from __future__ import annotations

import argparse
import functools
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.reports import write_report

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
DOCS = REPO / "docs"


# -- timing ----------------------------------------------------------------------

class Timer:
    """Named phases in the order they ran: (name, seconds, extra)."""

    def __init__(self):
        self.phases: list[dict] = []

    @contextmanager
    def phase(self, name: str, **extra):
        started = time.perf_counter()
        try:
            yield
        finally:
            self.phases.append({"phase": name, "seconds": time.perf_counter() - started,
                                **extra})

    def total(self, prefix: str) -> float:
        return sum(p["seconds"] for p in self.phases if p["phase"].startswith(prefix))


@contextmanager
def wrapped(module, name: str, on_call):
    """Replace module.name by a wrapper that times each call and reports it to
    on_call(seconds, index, result); yields False when there is no such
    function (then nothing is broken down)."""
    original = getattr(module, name, None)
    if original is None:
        yield False
        return
    calls = []

    @functools.wraps(original)
    def timed(*args, **kwargs):
        started = time.perf_counter()
        result = original(*args, **kwargs)
        on_call(time.perf_counter() - started, len(calls), result)
        calls.append(1)
        return result
    setattr(module, name, timed)
    try:
        yield True
    finally:
        setattr(module, name, original)


def epoch_phases(history: pd.DataFrame, prefix: str) -> list[dict]:
    """One phase per epoch from a model's history (its 'seconds' column);
    per ensemble member when the history has a 'member' column."""
    rows = []
    for _, record in history.iterrows():
        member = f" member {int(record['member']) + 1}" if "member" in history else ""
        rows.append({"phase": f"{prefix}{member} epoch {int(record['epoch'])}",
                     "seconds": float(record["seconds"])})
    return rows


def ratio(aam_seconds: float, forest_seconds: float) -> float:
    return aam_seconds / forest_seconds if forest_seconds > 0 else float("inf")


def resample_table(table, n_samples: int, seed: int = 0):
    """A biom.Table of n_samples columns drawn with replacement from `table`
    (each a copy of a real sample, with a new id)."""
    import biom
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, table.shape[1], n_samples)
    matrix = table.matrix_data.tocsc()[:, picks]
    ids = [f"r{i}" for i in range(n_samples)]
    return biom.Table(matrix, table.ids(axis="observation"), ids)


# -- the runs --------------------------------------------------------------------

def split(args):
    """Fold 0 of the grouped folds: train/test tables as artifacts, metadata."""
    import qiime2
    from benchmarks.accuracy import Settings, grouped_folds, load
    settings = Settings(data=args.data, seed=args.seed)
    table, metadata, tree = load(settings)
    folds = grouped_folds(metadata[settings.group], settings.folds, settings.seed)
    train_md = metadata[folds != args.fold]
    test_ids = metadata.index[folds == args.fold]
    if args.train_fraction < 1:  # a documented subset: fewer training samples
        keep = np.random.default_rng(args.seed).random(len(train_md)) < args.train_fraction
        train_md = train_md[keep]

    def artifact(ids):
        return qiime2.Artifact.import_data("FeatureTable[Frequency]", table.filter(
            ids, inplace=False).remove_empty(axis="observation"))
    return (artifact(train_md.index), artifact(test_ids), train_md,
            metadata.loc[test_ids, settings.target], tree, table, settings)


def run_forest(args, train_table, test_table, train_md, settings, timer: Timer):
    import qiime2
    from qiime2.plugins import sample_classifier as sc
    column = qiime2.Metadata(train_md[[settings.target]]).get_column(settings.target)
    with timer.phase("forest fit"):
        fitted = sc.methods.fit_regressor(
            table=train_table, metadata=column, estimator="RandomForestRegressor",
            n_estimators=args.n_estimators, random_state=args.seed, n_jobs=args.threads)
    with timer.phase("forest predict"):
        out = sc.methods.predict_regression(table=test_table,
                                            sample_estimator=fitted.sample_estimator)
    return out.predictions.view(pd.Series)


def run_aam(args, train_table, test_table, train_md, settings, tree, timer: Timer):
    import qiime2
    import importlib
    fitting = importlib.import_module("aam_core.fit")  # the module, not api's function
    pretraining = importlib.import_module("aam_core.pretrain")
    from qiime2.plugins import aam, diversity_lib
    from aam_core.bundle import ModelBundle
    metadata = qiime2.Metadata(train_md.astype({settings.group: str}))
    recipe = {k: v for k, v in (("epochs", args.pretrain_epochs),
                                ("nucleotide_epochs", args.nucleotide_epochs)) if v is not None}
    with timer.phase(f"aam {args.distance.replace('_', ' ')} (diversity-lib)"):
        distances = getattr(diversity_lib.methods, args.distance)(
            table=train_table, phylogeny=tree).distance_matrix
    loop = {}
    with wrapped(pretraining, "fit", lambda s, i, r: loop.update(seconds=s)) as found:
        with timer.phase("aam pretrain (action)"):
            pretrained = aam.methods.pretrain(
                table=train_table, distance_matrix=distances, random_state=args.seed,
                n_threads=args.threads, **recipe).model
    action = timer.phases[-1]["seconds"]
    history = pretrained.view(ModelBundle).history
    timer.phases += [{**p, "phase": "  " + p["phase"]}
                     for p in epoch_phases(history, "pretrain")]
    if found and "seconds" in loop:
        timer.phases.append({"phase": "  pretrain loop outside its epochs (set-up, "
                             "best weights)", "seconds": loop["seconds"]
                             - float(history["seconds"].sum())})
        timer.phases.append({"phase": "  pretrain outside the training loop (data, "
                             "artifact I/O)", "seconds": action - loop["seconds"]})
    fit_params = dict(table=train_table, metadata=metadata.get_column(settings.target),
                      groups=metadata.get_column(settings.group),
                      pretrained_model=pretrained, random_state=args.seed,
                      n_threads=args.threads)
    if args.fit_epochs is not None:
        fit_params["epochs"] = args.fit_epochs
    if args.ensemble_size is not None:
        fit_params["ensemble_size"] = args.ensemble_size
    if args.readout is not None:
        fit_params["readout"] = args.readout
    inner = []
    cache = lambda s, i, r: inner.append({"phase": "  ASV-vector caching", "seconds": s})
    member = lambda s, i, r: inner.append({"phase": f"  ensemble member {i + 1} "
                                           f"(best epoch {r.best_epoch})", "seconds": s})
    oof = lambda s, i, r: inner.append({"phase": f"  member {i + 1} out-of-fold "
                                        "predictions", "seconds": s})
    ridge = lambda s, i, r: inner.append({"phase": "  ridge readout (embeddings, "
                                          "closed-form heads)", "seconds": s})
    with wrapped(fitting, "cache_asv_vectors", cache), \
            wrapped(fitting, "fit", member), \
            wrapped(fitting, "validation_predictions", oof), \
            wrapped(importlib.import_module("aam_core.readout"), "fit_members", ridge):
        with timer.phase("aam fit-regressor (action)"):
            model = aam.methods.fit_regressor(**fit_params).model
    action = timer.phases[-1]["seconds"]
    timer.phases += inner
    timer.phases.append({"phase": "  fit-regressor outside members and caching "
                         "(data, artifact I/O)",
                         "seconds": action - sum(p["seconds"] for p in inner)})
    with timer.phase("aam predict-regression"):
        predictions = aam.methods.predict_regression(
            table=test_table, model=model, n_threads=args.threads).predictions
    return predictions.view(pd.Series), model


def prediction_throughput(args, model, full_table) -> dict:
    import qiime2
    from qiime2.plugins import aam
    table = resample_table(full_table, args.predict_samples, args.seed)
    artifact = qiime2.Artifact.import_data("FeatureTable[Frequency]", table)
    started = time.perf_counter()
    out = aam.methods.predict_regression(table=artifact, model=model,
                                         n_threads=args.threads).predictions
    seconds = time.perf_counter() - started
    assert len(out.view(pd.Series)) == args.predict_samples
    return {"samples": args.predict_samples, "seconds": seconds,
            "samples_per_s": args.predict_samples / seconds}


STARTUP = """
import sys, time
started = time.perf_counter()
import qiime2
from qiime2.plugins import aam
imported = time.perf_counter()
table = qiime2.Artifact.load(sys.argv[1]); model = qiime2.Artifact.load(sys.argv[2])
aam.methods.predict_regression(table=table, model=model, n_threads=1)
done = time.perf_counter()
print(imported - started, done - imported)
"""


def startup_cost(args, model, test_table) -> dict:
    """A tiny action (predict-regression of 5 samples) in a fresh interpreter,
    and through the `qiime` command when it is on PATH."""
    import qiime2
    work = Path(tempfile.mkdtemp(prefix="aam-startup-"))
    try:
        tiny = test_table.view(pd.DataFrame).iloc[:5]
        tiny = tiny.loc[:, tiny.sum() > 0]
        table_path = str(work / "tiny.qza")
        qiime2.Artifact.import_data("FeatureTable[Frequency]", tiny).save(table_path)
        model_path = model.save(str(work / "model.qza"))
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        bare = time.perf_counter() - started
        started = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", STARTUP, table_path, model_path],
                             check=True, capture_output=True, text=True, cwd=REPO)
        total = time.perf_counter() - started
        imports, action = map(float, out.stdout.split())
        result = {"python_start_s": bare, "imports_s": imports, "action_s": action,
                  "total_s": total}
        # the environment's own `qiime` (the one beside this interpreter),
        # not whichever comes first on PATH
        qiime = Path(sys.executable).parent / "qiime"
        if qiime.exists():
            started = time.perf_counter()
            done = subprocess.run([str(qiime), "aam", "predict-regression", "--i-table",
                                   table_path, "--i-model", model_path, "--o-predictions",
                                   str(work / "out.qza")], capture_output=True, text=True)
            if done.returncode == 0:
                result["qiime_cli_s"] = time.perf_counter() - started
            else:  # reported, not fatal: the timings above are already measured
                result["qiime_cli_error"] = (done.stderr or done.stdout).strip()[-300:]
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(args) -> dict:
    import torch
    from benchmarks.accuracy import regression_scores
    torch.set_num_threads(args.threads)
    timer = Timer()
    with timer.phase("load data, split, import artifacts"):
        train_table, test_table, train_md, truth, tree, full, settings = split(args)
    forest = run_forest(args, train_table, test_table, train_md, settings, timer)
    aam_predictions, model = run_aam(args, train_table, test_table, train_md, settings,
                                     tree, timer)
    forest_s, aam_s = timer.total("forest"), timer.total("aam")
    report = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.node()}, {platform.machine()}, "
                   f"{len(os.sched_getaffinity(0))} cores, load average "
                   f"{os.getloadavg()[0]:.1f} at the start",
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "n_train": len(train_md), "n_test": len(truth),
        "phases": timer.phases,
        "forest_seconds": forest_s, "aam_seconds": aam_s, "ratio": ratio(aam_s, forest_s),
        "accuracy": {"random_forest": regression_scores(truth, forest),
                     "q2_aam": regression_scores(truth, aam_predictions)}}
    if args.predict_samples:
        report["prediction"] = prediction_throughput(args, model, full)
    if not args.no_startup:
        report["startup"] = startup_cost(args, model, test_table)
    return report


def markdown(report: dict) -> str:
    s = report["settings"]
    subset = [f"{k.replace('_', ' ')} {s[k]}" for k in
              ("pretrain_epochs", "nucleotide_epochs", "fit_epochs", "ensemble_size",
               "readout")
              if s.get(k) is not None]
    if s.get("distance", "weighted_unifrac") != "weighted_unifrac":
        subset.append(f"distance {s['distance']}")
    if s.get("train_fraction", 1) < 1:
        subset.append(f"training samples x{s['train_fraction']}")
    lines = [f"Time to a result, {report['date']}, {report['machine']}; "
             f"{s['threads']} threads for both; oral-age, grouped hold-out (fold 0): "
             f"{report['n_train']} training, {report['n_test']} held-out samples. "
             + ("The plugin's defaults." if not subset else
                "NOT the defaults; changed: " + ", ".join(subset) + "."), "",
             "| phase | seconds |", "|---|---|"]
    for p in report["phases"]:
        indent = "&nbsp;&nbsp;&nbsp;&nbsp;" if p["phase"].startswith("  ") else ""
        lines.append(f"| {indent}{p['phase'].strip()} | {p['seconds']:.1f} |")
    acc = report["accuracy"]
    lines += ["", "| | wall time (s) | MAE (years) | RMSE | R2 | Spearman |",
              "|---|---|---|---|---|---|"]
    for name, seconds in (("random forest (fit + predict)", report["forest_seconds"]),
                          ("q2-aam (UniFrac + pretrain + fit + predict)",
                           report["aam_seconds"])):
        a = acc["random_forest" if name.startswith("random") else "q2_aam"]
        lines.append(f"| {name} | {seconds:.0f} | {a['mae']:.2f} | {a['rmse']:.2f} "
                     f"| {a['r2']:.3f} | {a['spearman']:.3f} |")
    lines += ["", f"Ratio q2-aam / forest: **{report['ratio']:.1f}x** (goal: at most 5x)."]
    if "prediction" in report:
        p = report["prediction"]
        lines.append(f"\npredict-regression on {p['samples']:,} resampled samples: "
                     f"{p['seconds']:.1f} s, {p['samples_per_s']:.0f} samples/s.")
    if "startup" in report:
        st = report["startup"]
        lines.append(f"\nStart-up of a tiny action (predict 5 samples, fresh interpreter): "
                     f"{st['total_s']:.1f} s = python {st['python_start_s']:.1f} s + "
                     f"imports {st['imports_s']:.1f} s + action {st['action_s']:.1f} s"
                     + (f"; through `qiime aam predict-regression`: {st['qiime_cli_s']:.1f} s"
                        if "qiime_cli_s" in st else "") + ".")
        if "qiime_cli_error" in st:
            lines.append(f"\n`qiime aam predict-regression` failed: {st['qiime_cli_error']}")
    return "\n".join(lines) + "\n"


def parse_args(argv=None):
    from benchmarks.accuracy import DEFAULT_DATA
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--fold", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--n-estimators", type=int, default=500)
    parser.add_argument("--pretrain-epochs", type=int, default=None,
                        help="a subset: fewer pretraining epochs than the default")
    parser.add_argument("--nucleotide-epochs", type=int, default=None,
                        help="pretrain's nucleotide_epochs, when not its default")
    parser.add_argument("--fit-epochs", type=int, default=None)
    parser.add_argument("--ensemble-size", type=int, default=None)
    parser.add_argument("--readout", default=None, choices=["auto", "fine_tune", "ridge"],
                        help="fit-regressor's readout, when not its default")
    parser.add_argument("--distance", default="weighted_unifrac",
                        choices=["unweighted_unifrac", "weighted_unifrac"],
                        help="the distance pretraining learns (diversity-lib's name)")
    parser.add_argument("--train-fraction", type=float, default=1.0,
                        help="a subset: this share of the training samples")
    parser.add_argument("--predict-samples", type=int, default=10000)
    parser.add_argument("--no-startup", action="store_true")
    parser.add_argument("--name", default="time_to_result")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--docs", type=Path, default=DOCS)
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    report = run(args)
    table = markdown(report)
    write_report(report, table, args.out, args.name, args.docs, "Time to a result",
                 page=args.name.replace("_", "-"))
    print(table)


if __name__ == "__main__":
    main()
