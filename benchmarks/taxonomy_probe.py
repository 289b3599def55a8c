"""Does the taxonomy objective change what the sample embedding holds?

On examples/oral-age-mini: pretrain encoders on the training subjects (139
samples) with weighted UniFrac, with and without the taxonomy term (the
tree-derived stand-in taxonomy of benchmarks/tree_taxonomy.py: no real one
exists offline, and it comes from the same tree as UniFrac), then probe the
embeddings of the 52 held-out subjects' samples (split by `group`):

- ridge, knn: age from the embeddings (fitted on the training samples;
  ridge's alpha by leave-one-out, kNN's k by grouped CV), mean absolute
  error on the held-out samples, against the training mean's;
- mantel: Pearson r between embedding distances and weighted UniFrac on the
  held-out samples;
- phylum_probe, family_probe, genus_probe: accuracy of a 5-nearest-
  neighbour probe of the taxon of the 30% of ASVs whose taxonomy was held
  out, from their ASV vectors (the other 70% as neighbours): did the ASV
  vectors take the taxonomy in?

    python -m benchmarks.taxonomy_probe --seeds 0 1 2 --preset tiny
Writes benchmarks/results/taxonomy_probe.json and prints a table.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import biom
import numpy as np
import pandas as pd
import skbio
import torch
from scipy.spatial.distance import pdist, squareform
from scipy.stats import pearsonr

from aam_core import api
from aam_core.config import TrainConfig
from aam_core.data.taxonomy import parse_lineage
from aam_core.data.tokens import tokenize
from aam_core.model.build import build_model
from aam_core.train.cache import cache_asv_vectors
from benchmarks.tree_taxonomy import tree_taxonomy

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "oral-age-mini"
OUT = REPO / "benchmarks" / "results" / "taxonomy_probe.json"


def load():
    table = biom.load_table(str(EXAMPLE / "table.biom"))
    metadata = pd.read_csv(EXAMPLE / "metadata.tsv", sep="\t", index_col=0)
    ids = [str(i) for i in table.ids()]
    metadata = metadata.loc[ids]
    tree = skbio.TreeNode.read(str(EXAMPLE / "tree.nwk"))
    counts = table.matrix_data.T.toarray()
    features = [str(f) for f in table.ids(axis="observation")]
    unifrac = skbio.diversity.beta_diversity("weighted_unifrac", counts, ids, tree=tree,
                                             otu_ids=features)
    return table, metadata, unifrac, tree_taxonomy(tree)


def ridge_and_knn(embedding, metadata, train, test) -> dict:
    from sklearn.linear_model import RidgeCV
    from sklearn.model_selection import GridSearchCV, GroupKFold
    from sklearn.neighbors import KNeighborsRegressor
    age = metadata["age"]
    ridge = RidgeCV(alphas=np.logspace(-3, 3, 13)).fit(embedding.loc[train], age[train])
    knn = GridSearchCV(KNeighborsRegressor(), {"n_neighbors": [3, 5, 10, 20]},
                       cv=GroupKFold(5), scoring="neg_mean_absolute_error").fit(
        embedding.loc[train], age[train], groups=metadata.loc[train, "group"])
    def error(model):
        return float(np.abs(model.predict(embedding.loc[test]) - age[test]).mean())
    return {"ridge_mae": error(ridge), "knn_mae": error(knn)}


def rank_probes(bundle, taxonomy, known, unseen, ranks=("phylum", "family", "genus")):
    """{rank: accuracy} of a 5-nearest-neighbour (cosine) probe of the taxon
    of the `unseen` ASVs from their ASV vectors, neighbours among the
    `known` (ASVs unassigned at a rank are left out at it)."""
    from sklearn.neighbors import KNeighborsClassifier
    network = build_model(bundle)
    tokens = tokenize(known + unseen, max_length=bundle.config["data"]["max_length"])
    vectors = cache_asv_vectors(network, tokens, torch.device("cpu")).numpy()
    lineages = taxonomy["Taxon"].map(parse_lineage)
    scores = {}
    for rank in ranks:
        names = lineages.map(lambda lineage: lineage.get(rank))
        fit = [i for i, a in enumerate(known) if names[a] is not None]
        score = [i for i, a in enumerate(unseen) if names[a] is not None]
        probe = KNeighborsClassifier(5, metric="cosine").fit(
            vectors[fit], names[[known[i] for i in fit]].to_numpy())
        guesses = probe.predict(vectors[len(known) + np.array(score)])
        scores[f"{rank}_probe"] = float(
            (guesses == names[[unseen[i] for i in score]].to_numpy()).mean())
    return scores


def run(arm: str, seed: int, preset: str, epochs: int, data) -> dict:
    table, metadata, unifrac, taxonomy = data
    train = metadata.index[metadata["split"] == "train"].tolist()
    test = metadata.index[metadata["split"] == "test"].tolist()
    train_table = table.filter(train, inplace=False).remove_empty(axis="observation")
    asvs = [str(f) for f in train_table.ids(axis="observation")]
    unseen = sorted(np.random.default_rng(0).choice(asvs, len(asvs) * 3 // 10,
                                                    replace=False).tolist())
    known = [a for a in asvs if a not in set(unseen)]
    settings = TrainConfig(epochs=epochs, batch_size=16, learning_rate=4e-3,
                           nucleotide_weight=0.0, validation_fraction=0.0, random_state=seed,
                           n_threads=2)
    bundle = api.pretrain(train_table, distances=unifrac, model=preset, train=settings,
                          taxonomy=taxonomy.loc[known] if arm == "taxonomy" else None,
                          log=lambda message: None)
    embedding = api.embed(bundle, table, log=lambda message: None)
    distances = squareform(pdist(embedding.loc[test].to_numpy()))
    mantel = pearsonr(squareform(distances, checks=False),
                      unifrac.filter(test).condensed_form())[0]
    history = bundle.history
    return {"arm": arm, "seed": seed, "preset": preset, "epochs": epochs,
            **ridge_and_knn(embedding, metadata, train, test), "mantel_r": float(mantel),
            **rank_probes(bundle, taxonomy, known, unseen),
            "unifrac_loss": float(history["train_unifrac"].iloc[-1]),
            "taxonomy_loss": (float(history["train_taxonomy"].iloc[-1])
                              if "train_taxonomy" in history else None)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--epochs", type=int, default=16)
    args = parser.parse_args()
    data = load()
    metadata = data[1]
    train = metadata["split"] == "train"
    mean_mae = float(np.abs(metadata.loc[train, "age"].mean()
                            - metadata.loc[~train, "age"]).mean())
    rows = []
    for seed in args.seeds:
        for arm in ("unifrac", "taxonomy"):
            rows.append(run(arm, seed, args.preset, args.epochs, data))
            print(json.dumps(rows[-1]), flush=True)
            # saved after every run: a long run stopped early keeps its pairs
            OUT.write_text(json.dumps({"mean_mae": mean_mae, "runs": rows}, indent=1)
                           + "\n")
    frame = pd.DataFrame(rows)
    columns = ["ridge_mae", "knn_mae", "mantel_r", "phylum_probe", "family_probe",
               "genus_probe", "unifrac_loss"]
    summary = frame.groupby("arm")[columns].agg(["mean", "std"]).round(3)
    print(f"training-mean MAE on the held-out samples: {mean_mae:.2f} years")
    print(summary.to_string())


if __name__ == "__main__":
    main()
