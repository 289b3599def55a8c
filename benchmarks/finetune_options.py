"""Fine-tuning options on oral-age: validation MAE of huber vs quantile loss,
with vs without pretraining, with vs without `study` conditioning, beside
the training-median baseline (issue 3's closing measurement).

One grouped holdout: whole `group`s (pseudo-subjects, see the data's README)
go to the test side, never single samples. Only groups of fewer than 50
samples are eligible for the test side: the three repeated-measure studies
(one group each, 178-508 samples of one or two people) and the four largest
study-1841 groups stay in training, so the test MAE is not the error on two
people but on some hundred independent ones. Within the training side the
early-stopping split is grouped the same way. Pretraining (UniFrac from
diversity-lib on the TRAINING samples only, plus masked nucleotides) is run
once and shared by the runs that use it. The same seed everywhere.

    python -m benchmarks.finetune_options                      # tiny preset
    python -m benchmarks.finetune_options --preset small --epochs 20
Writes benchmarks/results/finetune_options.json and .md.
"""
from __future__ import annotations

import argparse
import itertools
import json
import platform
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "oral-age"
RESULTS = REPO / "benchmarks" / "results"


def load(data: Path):
    import biom
    from aam_core.data.table import CountTable
    table = CountTable.from_biom(biom.load_table(str(data / "table.biom")))
    metadata = pd.read_csv(data / "metadata.tsv", sep="\t", index_col=0, dtype={
        "study": str, "group": str})
    metadata.index = metadata.index.map(str)
    keep = [s for s in table.sample_ids if s in metadata.index]
    return table.select_samples(keep), metadata.loc[keep]


def holdout(groups: pd.Series, fraction: float, seed: int, largest: int = 50):
    """(train rows, test rows): random whole groups of fewer than `largest`
    samples go to the test side until it holds `fraction` of the samples."""
    sizes = groups.value_counts()
    eligible = sorted(sizes[sizes < largest].index)
    order = np.random.default_rng(seed).permutation(len(eligible))
    chosen, taken = set(), 0
    for i in order:
        if taken >= fraction * len(groups):
            break
        chosen.add(eligible[i])
        taken += sizes[eligible[i]]
    is_test = groups.isin(chosen).to_numpy()
    return np.flatnonzero(~is_test), np.flatnonzero(is_test)


def unifrac(table, data: Path):
    """Unweighted UniFrac of these samples (diversity-lib, through QIIME 2)."""
    import biom
    import qiime2
    from qiime2.plugins import diversity_lib
    counts = table.drop_unused_features()
    biom_table = biom.Table(counts.counts.T.toarray(), counts.feature_ids, counts.sample_ids)
    tree = qiime2.Artifact.import_data("Phylogeny[Rooted]", str(data / "tree.nwk"))
    artifact = qiime2.Artifact.import_data("FeatureTable[Frequency]", biom_table)
    distances, = diversity_lib.methods.unweighted_unifrac(table=artifact, phylogeny=tree)
    import skbio
    return distances.view(skbio.DistanceMatrix)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--pretrain-epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--patience", type=int, default=5)
    parser.add_argument("--test-fraction", type=float, default=0.15)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--runs", default="all",
                        help="comma-separated run names (loss/pretraining/conditioning), "
                             "e.g. huber/scratch/none; 'all' runs the 8 combinations")
    parser.add_argument("--group-weights", default="",
                        help="comma-separated run names to repeat with the loss "
                             "weighted by inverse `group` frequency (every "
                             "pseudo-subject counts the same)")
    parser.add_argument("--name", default="finetune_options")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    from aam_core import api
    from aam_core.config import ConditioningConfig, DataConfig, TrainConfig

    def log(message):
        print(message, flush=True)

    table, metadata = load(args.data)
    train_rows, test_rows = holdout(metadata["group"], args.test_fraction, args.seed)
    train_table, test_table = table.take_samples(train_rows), table.take_samples(test_rows)
    train_meta, test_meta = metadata.iloc[train_rows], metadata.iloc[test_rows]
    log(f"{len(train_rows)} training samples ({train_meta['group'].nunique()} groups, "
        f"{train_meta['study'].nunique()} studies), {len(test_rows)} test samples "
        f"({test_meta['group'].nunique()} groups, {test_meta['study'].nunique()} studies; "
        f"{len(set(test_meta['study']) - set(train_meta['study']))} studies unseen in training).")
    truth = test_meta["age"].to_numpy()
    median = float(train_meta["age"].median())
    rows = [{"run": "training median", "loss": "", "pretrained": "", "conditioning": "",
             "test_mae": float(np.abs(truth - median).mean()), "coverage_80": None,
             "best_epoch": None, "minutes": 0.0}]
    # the study alone: each test sample gets its study's training median
    by_study = train_meta.groupby("study")["age"].median()
    study_median = test_meta["study"].map(by_study).fillna(median).to_numpy()
    rows.append({"run": "training median of the sample's study", "loss": "",
                 "pretrained": "", "conditioning": "study",
                 "test_mae": float(np.abs(truth - study_median).mean()),
                 "coverage_80": None, "best_epoch": None, "minutes": 0.0})
    base = TrainConfig(epochs=args.epochs, batch_size=args.batch_size,
                       learning_rate=args.learning_rate, patience=args.patience,
                       nucleotide_weight=0.0, random_state=args.seed, device="cpu",
                       n_threads=args.threads, validation_fraction=0.1)
    combos = [(*c, False) for c in itertools.product(
        ("huber", "quantile"), ("scratch", "pretrained"), ("none", "study"))]
    if args.runs != "all":
        wanted = set(args.runs.split(","))
        combos = [c for c in combos if "/".join(c[:3]) in wanted]
    combos += [(*name.split("/"), True) for name in args.group_weights.split(",") if name]
    encoder, pretrain_minutes = None, 0.0
    if any(c[1] == "pretrained" for c in combos):
        started = time.perf_counter()
        distances = unifrac(train_table, args.data)
        encoder = api.pretrain(train_table, distances=distances, model=args.preset,
                               data=DataConfig(), log=log,
                               train=replace(base, epochs=args.pretrain_epochs,
                                             nucleotide_weight=1.0, unifrac_weight=1.0))
        pretrain_minutes = (time.perf_counter() - started) / 60
    for loss, start, conditioning, weighted in combos:
        started = time.perf_counter()
        name = f"{loss}/{start}/{conditioning}" + (" + group weights" if weighted else "")
        log(f"== {name}")
        frame = train_meta[["study"]] if conditioning == "study" else None
        options = ConditioningConfig(fusion="add", weight_by="group" if weighted else "")
        bundle = api.fit_regressor(
            train_table, train_meta["age"], groups=train_meta["group"],
            pretrained=encoder if start == "pretrained" else None, model=args.preset,
            train=replace(base, loss=loss), conditioning=frame,
            conditioning_config=options, categories=train_meta[["group"]], log=log)
        test_frame = test_meta[["study"]] if conditioning == "study" else None
        predicted = api.predict(bundle, test_table, conditioning=test_frame, log=log)
        coverage = None
        if loss == "quantile":
            intervals = api.predict_quantiles(bundle, test_table, conditioning=test_frame,
                                              log=log)
            coverage = float(np.mean((truth >= intervals["q0.1"].to_numpy())
                                     & (truth <= intervals["q0.9"].to_numpy())))
        rows.append({"run": name, "loss": loss, "pretrained": start == "pretrained",
                     "conditioning": conditioning,
                     "test_mae": float(np.abs(predicted.to_numpy() - truth).mean()),
                     "coverage_80": coverage,
                     "best_epoch": bundle.config["training"]["best_epoch"],
                     "minutes": (time.perf_counter() - started) / 60})
        log(f"   test MAE {rows[-1]['test_mae']:.2f}")
    report = {"settings": {k: str(v) for k, v in vars(args).items()},
              "n_train": len(train_rows), "n_test": len(test_rows),
              "pretrain_minutes": pretrain_minutes, "machine": platform.platform(),
              "torch": torch.__version__, "rows": rows}
    write(report, args.name)
    return report


def write(report: dict, name: str) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(report, indent=2) + "\n")
    s = report["settings"]
    lines = [
        "# Fine-tuning options on oral-age (one grouped holdout)", "",
        f"{report['n_train']} training / {report['n_test']} test samples; whole `group`s "
        f"held out (test fraction {s['test_fraction']}, seed {s['seed']}; only groups of "
        "fewer than 50 samples may go to the test side, so the repeated-measure "
        "studies 550, 2202 and 11052 and the largest 1841 subjects stay in training). "
        f"Preset "
        f"`{s['preset']}`, up to {s['epochs']} fine-tuning epochs (patience "
        f"{s['patience']}, early stopping on a grouped 10% validation split of the "
        f"training side), batch {s['batch_size']}, learning rate {s['learning_rate']}, "
        f"{s['threads']} CPU thread(s). Pretraining: {s['pretrain_epochs']} epochs on "
        "the training samples (unweighted UniFrac + masked nucleotides), "
        f"{report['pretrain_minutes']:.1f} min, shared by the pretrained runs. "
        "Conditioning: the `study` column, `add` fusion; test studies absent from "
        "training use the 'unknown' embedding. Quantile runs fit 0.1/0.5/0.9 and "
        "predict the median; coverage is the share of test ages inside [q0.1, q0.9]. "
        "'+ group weights': the loss weighted by inverse `group` frequency among the "
        "training samples, so that each pseudo-subject counts the same (the training "
        "side holds 508 samples of two people in study 550).",
        "", "| run (loss/start/conditioning) | test MAE (years) | 80% interval coverage "
        "| best epoch | minutes |", "|---|---|---|---|---|"]
    for row in report["rows"]:
        coverage = "" if row["coverage_80"] is None else f"{row['coverage_80']:.2f}"
        epoch = "" if row["best_epoch"] is None else str(row["best_epoch"])
        lines.append(f"| {row['run']} | {row['test_mae']:.2f} | {coverage} | {epoch} "
                     f"| {row['minutes']:.1f} |")
    lines += ["", "One holdout of some 200 independent pseudo-subjects, one seed, the tiny "
              "preset and a CPU budget of minutes per run: a screen of the options, not "
              "a tuned result; compare with benchmarks/accuracy.py's cross-validation."]
    weights = f" --group-weights {s['group_weights']}" if s["group_weights"] else ""
    lines += ["", f"`python -m benchmarks.finetune_options --preset {s['preset']} "
              f"--epochs {s['epochs']} --pretrain-epochs {s['pretrain_epochs']} "
              f"--patience {s['patience']} --threads {s['threads']}{weights}` on "
              f"{report['machine']}, torch {report['torch']}."]
    (RESULTS / f"{name}.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
