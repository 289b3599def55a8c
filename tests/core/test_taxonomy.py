"""Taxonomy as a per-ASV pretraining target, on small planted data: reading
lineages (SILVA/GTDB, Greengenes, unprefixed, unassigned), the labels of a
table's ASVs, the loss against hand-computed values, the option reaching the
objective, the taxonomy heads through save, load, embed and fine-tuning,
`aam pretrain --taxonomy`, and clear refusals. Learning on real data:
tests/plugin/test_taxonomy_pretrain.py."""
import math

import biom
import h5py
import numpy as np
import pandas as pd
import pytest
import torch

from aam_core import api, cli, losses
from aam_core.bundle import ModelBundle
from aam_core.config import PRETRAIN_TRAIN_DEFAULTS, TrainConfig
from aam_core.data.table import CountTable
from aam_core.data.taxonomy import parse_lineage, read_taxonomy, taxonomy_labels
from aam_core.errors import AAMInputError
from aam_core.spelling import speaking
from aam_core.train.objective import Objective

QUIET = dict(log=lambda message: None)
FAST = TrainConfig(epochs=2, batch_size=8, nucleotide_weight=0.0, random_state=3,
                   validation_fraction=0.0)


def _mutate(rng, sequence: str, rate: float) -> str:
    return "".join(rng.choice(list("ACGT")) if rng.random() < rate else base
                   for base in sequence)


@pytest.fixture
def planted(rng):
    """40 samples of 36 ASVs descending from 3 'phyla' of 2 'classes' each
    (ancestral 40-mers, mutated); their lineages, one unassigned at class."""
    features, taxa = [], []
    for p in range(3):
        phylum = "".join(rng.choice(list("ACGT"), size=40))
        for c in range(2):
            klass = _mutate(rng, phylum, 0.2)
            for _ in range(6):
                features.append(_mutate(rng, klass, 0.05))
                taxa.append(f"d__Bacteria; p__P{p}; c__C{p}{c}; o__; f__; g__")
    taxa[5] = "d__Bacteria; p__P0; c__; o__"
    counts = rng.poisson(3.0, size=(40, 36)).astype(float) * (rng.random((40, 36)) < 0.5)
    counts[:, 0] += 1
    ids = [f"s{i}" for i in range(40)]
    taxonomy = pd.DataFrame({"Taxon": taxa, "Confidence": 0.9},
                            index=pd.Index(features, name="Feature ID"))
    return CountTable.from_dense(counts, ids, features), taxonomy


@pytest.mark.parametrize("taxon, expected", [
    ("d__Bacteria; p__Firmicutes; c__Bacilli; o__; f__uncultured; g__",
     {"domain": "Bacteria", "phylum": "Firmicutes", "class": "Bacilli"}),
    ("k__Bacteria; p__[Thermi]; c__Deinococci; o__Deinococcales; f__Deinococcaceae; "
     "g__Deinococcus; s__", {"domain": "Bacteria", "phylum": "[Thermi]",
                             "class": "Deinococci", "order": "Deinococcales",
                             "family": "Deinococcaceae", "genus": "Deinococcus"}),
    ("Bacteria;Bacteroidetes;Bacteroidia",
     {"domain": "Bacteria", "phylum": "Bacteroidetes", "class": "Bacteroidia"}),
    ("d__Archaea; p__Nanoarchaeota; c__Unknown_Class",
     {"domain": "Archaea", "phylum": "Nanoarchaeota"}),
    ("Unassigned", {}),
    ("", {}),
])
def test_lineages_are_read_by_prefix_or_position(taxon, expected):
    assert parse_lineage(taxon) == expected


def test_labels_cover_the_tables_asvs_only():
    taxonomy = pd.Series({"a": "p__X; c__X1; o__Q", "b": "p__Y; c__; o__Q",
                          "z": "p__Z; c__Z1",  # not in the table: ignored
                          "c": "p__X; c__X2; o__Q"})
    labels, record = taxonomy_labels(taxonomy, ["a", "b", "c", "d"])
    # order has one class (nothing to learn); d is not in the taxonomy
    assert record["ranks"] == ["phylum", "class"] and record["asvs"] == 3
    assert record["classes"] == {"phylum": ["X", "Y"], "class": ["X1", "X2"]}
    np.testing.assert_array_equal(labels, [[0, 0], [1, -1], [0, 1], [-1, -1]])
    assert record["labelled"] == {"phylum": 3, "class": 2}


def test_the_loss_is_cross_entropy_over_labelled_asvs_and_ranks():
    phylum = torch.tensor([[2.0, 0.0], [0.0, 1.0], [5.0, -5.0]])
    klass = torch.tensor([[0.0, 0.0, 3.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    labels = torch.tensor([[0, -1], [1, 0], [-1, -1]])  # -1: unknown, no loss

    def entropy(logits, k):
        return math.log(sum(math.exp(v) for v in logits)) - logits[k]
    expected_phylum = (entropy([2, 0], 0) + entropy([0, 1], 1)) / 2
    expected = (expected_phylum + entropy([1, 0, 0], 0)) / 2
    value = losses.taxonomy_loss([phylum, klass], labels)
    assert value.item() == pytest.approx(expected, rel=1e-6)
    # a rank with no labelled ASV in the batch is left out of the mean
    only_phylum = labels.clone()
    only_phylum[:, 1] = -1
    assert losses.taxonomy_loss([phylum, klass], only_phylum).item() == pytest.approx(
        expected_phylum, rel=1e-6)


def test_taxonomy_weight_reaches_the_objective():
    labels = torch.zeros(5, 2, dtype=torch.long)
    assert Objective(FAST, taxonomy=labels).weights == {"taxonomy": 1.0}
    heavy = TrainConfig(**{**FAST.to_dict(), "taxonomy_weight": 2.5})
    assert Objective(heavy, taxonomy=labels).weights == {"taxonomy": 2.5}
    assert "taxonomy" not in Objective(FAST).weights


def test_a_taxonomy_encoder_learns_saves_loads_embeds_and_fine_tunes(planted, tmp_path):
    table, taxonomy = planted
    messages = []
    bundle = api.pretrain(table, taxonomy=taxonomy, model="tiny", log=messages.append,
                          train=TrainConfig(**{**FAST.to_dict(), "epochs": 12,
                                               "learning_rate": 3e-3}))
    text = "\n".join(messages)
    assert "objectives: taxonomy" in text
    assert "Taxonomy: 36 of 36 ASVs; ranks phylum (3 classes, 36 ASVs), " \
           "class (6 classes, 35 ASVs)" in text
    loss = bundle.history["train_taxonomy"]
    assert loss.iloc[-1] < 0.5 * loss.iloc[0]
    assert bundle.config["taxonomy"]["ranks"] == ["phylum", "class"]
    assert bundle.state_dict["taxonomy_heads.1.weight"].shape == (6, 32)
    bundle.save(tmp_path / "model")
    loaded = ModelBundle.load(tmp_path / "model")  # weights checked against the config
    pd.testing.assert_frame_equal(api.embed(loaded, table, **QUIET),
                                  api.embed(bundle, table, **QUIET))
    target = pd.Series(np.arange(40.0), index=table.sample_ids, name="age")
    regressor = api.fit_regressor(table, target, pretrained=loaded, model="tiny",
                                  train=TrainConfig(epochs=1, batch_size=8,
                                                    ensemble_size=1), **QUIET)
    # the heads are a pretraining aid: the regressor does not carry them
    assert not any(k.startswith("taxonomy_heads.") for k in regressor.state_dict)
    assert "taxonomy" not in regressor.config
    assert np.isfinite(api.predict(regressor, table, **QUIET)).all()


def test_taxonomy_weight_0_says_the_taxonomy_is_not_used(planted):
    table, taxonomy = planted
    messages = []
    bundle = api.pretrain(table, taxonomy=taxonomy, model="tiny", log=messages.append,
                          train=TrainConfig(**{**FAST.to_dict(), "taxonomy_weight": 0.0,
                                               "nucleotide_weight": 1.0}))
    assert "taxonomy_weight is 0: the taxonomy given is not used." in messages
    assert bundle.config["taxonomy"] is None
    assert not any(k.startswith("taxonomy_heads.") for k in bundle.state_dict)


def test_asvs_missing_from_the_taxonomy_get_no_loss(planted):
    table, taxonomy = planted
    part = taxonomy.iloc[:30]
    messages = []
    bundle = api.pretrain(table, taxonomy=part, model="tiny", train=FAST,
                          log=messages.append)
    assert bundle.config["taxonomy"]["asvs"] == 30
    assert any(m.startswith("Taxonomy: 30 of 36 ASVs") for m in messages)


@pytest.mark.parametrize("interface, name", [("python", "taxonomy"),
                                             ("q2cli", "--i-taxonomy"),
                                             ("aam", "--taxonomy")])
def test_a_taxonomy_of_other_features_is_refused_in_the_callers_words(
        planted, interface, name):
    table, taxonomy = planted
    other = taxonomy.set_axis([f"feature{i}" for i in range(36)])
    # the distance weight as q2cli and the command pass it: their own default
    train = TrainConfig(**{**FAST.to_dict(),
                           "unifrac_weight": PRETRAIN_TRAIN_DEFAULTS.unifrac_weight})
    with speaking(interface), pytest.raises(AAMInputError) as error:
        api.pretrain(table, taxonomy=other, model="tiny", train=train, **QUIET)
    message = str(error.value)
    assert "None of the table's 36 ASVs is in the taxonomy" in message
    assert "'feature0'" in message and f"Give {name} the taxonomy" in message


@pytest.mark.parametrize("taxa, message", [
    (["Unassigned"] * 36, "names no rank from phylum to genus with two classes"),
    (["d__Bacteria; p__Firmicutes"] * 36, "names no rank from phylum to genus"),
    (["not a lineage; at all"] * 36, "no rank is written as"),
])
def test_a_taxonomy_without_a_usable_rank_is_refused(planted, taxa, message):
    table, taxonomy = planted
    with pytest.raises(AAMInputError, match=message):
        api.pretrain(table, taxonomy=taxonomy.assign(Taxon=taxa), model="tiny",
                     train=FAST, **QUIET)


def test_taxonomy_files_as_qiime_exports_them(tmp_path):
    exported = tmp_path / "taxonomy.tsv"
    exported.write_text("Feature ID\tTaxon\tConfidence\nAC\tk__Bacteria; p__A\t0.9\n"
                        "GT\td__Bacteria; p__B; c__\t0.8\n")
    assert read_taxonomy(exported).to_dict() == {"AC": "k__Bacteria; p__A",
                                                 "GT": "d__Bacteria; p__B; c__"}
    wrong = tmp_path / "wrong.tsv"
    wrong.write_text("Feature ID\tlineage\nAC\tp__A\n")
    with pytest.raises(AAMInputError, match="has no 'Taxon' column"):
        read_taxonomy(wrong)
    with pytest.raises(AAMInputError, match="No taxonomy file"):
        read_taxonomy(tmp_path / "absent.tsv")


def test_aam_pretrain_takes_a_taxonomy_file(planted, tmp_path, capsys):
    table, taxonomy = planted
    counts = biom.Table(np.asarray(table.counts.T.todense()), table.feature_ids,
                        table.sample_ids)
    with h5py.File(tmp_path / "table.biom", "w") as handle:
        counts.to_hdf5(handle, "aam tests")
    base = ["pretrain", "--table", str(tmp_path / "table.biom"), "--preset", "tiny",
            "--epochs", "1", "--batch-size", "8", "--nucleotide-weight", "0",
            "--taxonomy-weight", "2"]
    taxonomy.to_csv(tmp_path / "taxonomy.tsv", sep="\t")
    assert cli.main(base + ["--taxonomy", str(tmp_path / "taxonomy.tsv"),
                            "--output-dir", str(tmp_path / "run")]) == 0
    config = ModelBundle.load(tmp_path / "run" / "model").config
    assert config["taxonomy"]["ranks"] == ["phylum", "class"]
    assert config["training"]["taxonomy_weight"] == 2.0
    taxonomy.assign(Taxon="Unassigned").to_csv(tmp_path / "bad.tsv", sep="\t")
    capsys.readouterr()
    assert cli.main(base + ["--taxonomy", str(tmp_path / "bad.tsv"),
                            "--output-dir", str(tmp_path / "bad")]) == 1
    assert "--taxonomy" in capsys.readouterr().err
