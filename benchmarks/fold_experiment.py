"""One recipe on one held-out fold of the accuracy benchmark, via aam_core directly.

Cheaper than the full 5-fold run, for exploring what moves the number. The
folds are those of benchmarks.accuracy (grouped by `group`, same seed); the
UniFrac matrix for pretraining is computed on the training folds only.

    python -m benchmarks.fold_experiment NAME '{"epochs": 15, "pretrain_epochs": 8}'
Appends one JSON line to benchmarks/results/experiments.jsonl.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import time

import biom
import pandas as pd
import torch

from aam_core import api
from aam_core.config import ConditioningConfig, DataConfig, ModelConfig, TrainConfig
from benchmarks.accuracy import (DEFAULT_DATA, RESULTS, Settings, grouped_folds,
                                 load_samples, regression_scores)

CACHE = RESULTS.parent / ".pretrained-cache"  # git-ignored
PREDICTIONS = RESULTS.parent / ".predictions"  # git-ignored: one column per seed


def training_unifrac(table: biom.Table):
    import qiime2
    from qiime2.plugins import diversity_lib
    tree = qiime2.Artifact.import_data("Phylogeny[Rooted]", str(DEFAULT_DATA / "tree.nwk"))
    artifact = qiime2.Artifact.import_data("FeatureTable[Frequency]", table)
    result = diversity_lib.methods.unweighted_unifrac(table=artifact, phylogeny=tree)
    import skbio
    return result.distance_matrix.view(skbio.DistanceMatrix)


def benchmark_data():
    """The oral-age table, its metadata in table order, and each sample's
    fold: those of the accuracy benchmark's default settings (5 folds
    grouped by `group`, seed 0), loaded the way it loads them."""
    settings = Settings()
    table, metadata = load_samples(settings)
    metadata["study"] = metadata["study"].astype(str)
    return table, metadata, grouped_folds(metadata[settings.group], settings.folds,
                                          settings.seed)


def cached_pretraining(train_table: biom.Table, model: ModelConfig, pretrain: TrainConfig,
                       fold: int):
    """Pretrain once per (fold, model, settings); later runs load the bundle."""
    from aam_core.bundle import ModelBundle
    key = json.dumps([fold, model.to_dict(), pretrain.to_dict()], sort_keys=True)
    directory = CACHE / hashlib.sha1(key.encode()).hexdigest()[:16]
    if (directory / "config.json").exists():
        return ModelBundle.load(directory)
    bundle = api.pretrain(train_table, distances=training_unifrac(train_table),
                          model=model, train=pretrain)
    bundle.save(directory)
    return bundle


def model_and_pretraining(cfg: dict) -> tuple[ModelConfig, TrainConfig | None]:
    """Take the model and pretraining settings out of `cfg` (what is left is
    for fine-tuning); no pretraining (None) unless pretrain_epochs is set."""
    model = ModelConfig.preset(cfg.pop("preset", "small"), kmer_size=cfg.pop("kmer_size", 0),
                               **cfg.pop("model", {}))
    epochs = cfg.pop("pretrain_epochs", 0)
    pretrain = TrainConfig(epochs=epochs, learning_rate=cfg.pop("pretrain_lr", 1e-3),
                           unifrac_weight=cfg.pop("pretrain_unifrac_weight", 1.0),
                           random_state=cfg.pop("pretrain_seed", 0), **cfg.pop("pretrain", {}))
    return model, (pretrain if epochs else None)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("name")
    parser.add_argument("settings", nargs="?", default="{}",
                        help="JSON: fold, preset, kmer_size, model (ModelConfig "
                             "overrides of the preset), pretrain_epochs, "
                             "pretrain_lr, pretrain_seed, pretrain_unifrac_weight, "
                             "pretrain (other TrainConfig fields for pretraining, "
                             "e.g. nucleotide_weight, abundance_weight), "
                             "group_weights, seeds (an ensemble), condition_on "
                             "(metadata columns, e.g. ['study']), fusion, "
                             "conditional_output, unknown_rate, rarefaction_depth, "
                             "asv_dropout, fit_unifrac_weight, and any TrainConfig "
                             "field for fine-tuning")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    settings = json.loads(args.settings)
    cfg = dict(settings)
    fold = cfg.pop("fold", 2)
    model, pretrain = model_and_pretraining(cfg)

    table, metadata, folds = benchmark_data()
    train_md, test_ids = metadata[folds != fold], metadata.index[folds == fold]
    train = table.filter(train_md.index, inplace=False).remove_empty(axis="observation")
    test = table.filter(test_ids, inplace=False).remove_empty(axis="observation")

    started, pretrained = time.perf_counter(), None
    if pretrain is not None:
        pretrained = cached_pretraining(train, model, pretrain, fold)
    pretrain_seconds = time.perf_counter() - started
    # each pseudo-subject counts the same, however many samples it has
    # (group_weights: true = 1/size; a number p = 1/size**p, e.g. 0.5 for sqrt)
    weights = None
    power = cfg.pop("group_weights", False)
    if power:
        counts = train_md["group"].map(train_md["group"].value_counts())
        weights = 1.0 / counts ** (1.0 if power is True else float(power))
    # categorical metadata the model is conditioned on (known at prediction)
    columns = cfg.pop("condition_on", [])
    conditioning = metadata[columns].astype(str) if columns else None
    options = ConditioningConfig(fusion=cfg.pop("fusion", "add"),
                                 conditional_output=cfg.pop("conditional_output", False),
                                 unknown_rate=cfg.pop("unknown_rate", 0.05))
    # augmentation in fine-tuning (DataConfig)
    data = DataConfig(rarefaction_depth=cfg.pop("rarefaction_depth", 0),
                      asv_dropout=cfg.pop("asv_dropout", 0.0))
    # auxiliary UniFrac term in fine-tuning too (training samples' distances)
    fit_unifrac_weight = cfg.pop("fit_unifrac_weight", 0.0)
    distances = training_unifrac(train) if fit_unifrac_weight else None
    predictions = []
    for seed in cfg.pop("seeds", [cfg.pop("seed", 0)]):
        fit = TrainConfig(**{"epochs": 20, "nucleotide_weight": 0.0, **cfg, "random_state": seed,
                             "unifrac_weight": fit_unifrac_weight})
        regressor = api.fit_regressor(
            train, train_md["age"], groups=train_md["group"], pretrained=pretrained,
            model=model, data=data, train=fit, sample_weights=weights, distances=distances,
            conditioning=None if conditioning is None else conditioning.loc[train_md.index],
            conditioning_config=options)
        predictions.append(api.predict(
            regressor, test,
            conditioning=None if conditioning is None else conditioning.loc[test_ids]))
    ensemble = sum(predictions) / len(predictions)
    PREDICTIONS.mkdir(parents=True, exist_ok=True)
    pd.concat(predictions, axis=1, keys=[f"seed{s}" for s in range(len(predictions))]).to_csv(
        PREDICTIONS / f"{args.name}-fold{fold}.tsv", sep="\t")
    scores = regression_scores(metadata.loc[test_ids, "age"], ensemble)
    record = {"name": args.name, "fold": fold, "settings": settings, **scores,
              "pretrain_seconds": round(pretrain_seconds),
              "fit_seconds": round(time.perf_counter() - started - pretrain_seconds),
              "threads": args.threads, "date": time.strftime("%Y-%m-%d")}
    RESULTS.mkdir(parents=True, exist_ok=True)
    with open(RESULTS / "experiments.jsonl", "a") as handle:
        handle.write(json.dumps(record) + "\n")
    print(json.dumps(record))


if __name__ == "__main__":
    main()
