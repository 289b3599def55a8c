"""Distances of any scale, and alpha diversity as a pretraining target, on
small planted data: the scale the distance loss works in, the checks of the
alpha input (Python and `aam`), and the alpha head through save, load,
embed and fine-tuning. Learning on real data: tests/plugin/
test_distances_pretrain.py."""
import biom
import h5py
import numpy as np
import pandas as pd
import pytest
import skbio
import torch
from scipy.spatial.distance import pdist, squareform

from aam_core import api, cli
from aam_core.bundle import ModelBundle
from aam_core.config import TrainConfig
from aam_core.data.alpha import read_alpha
from aam_core.data.distances import DistanceFile, distance_scale, scaled
from aam_core.data.table import CountTable
from aam_core.errors import AAMInputError
from aam_core.train.objective import Objective
from tests.conftest import random_dna

QUIET = dict(log=lambda message: None)
FAST = TrainConfig(epochs=2, batch_size=8, nucleotide_weight=0.0, random_state=3,
                   validation_fraction=0.0)


@pytest.fixture
def planted(rng):
    """40 samples of 30 ASVs; their Aitchison distances (up to ~10) and
    Shannon entropy."""
    features = random_dna(rng, 30, 24)
    counts = rng.poisson(3.0, size=(40, 30)).astype(float) * (rng.random((40, 30)) < 0.5)
    counts[:, 0] += 1
    ids = [f"s{i}" for i in range(40)]
    logs = np.log(counts + 1)
    clr = logs - logs.mean(1, keepdims=True)
    aitchison = skbio.DistanceMatrix(squareform(pdist(clr)), ids)
    shares = counts / counts.sum(1, keepdims=True)
    shannon = pd.Series(-(shares * np.log(np.where(shares > 0, shares, 1))).sum(1),
                        index=ids, name="shannon_entropy")
    return CountTable.from_dense(counts, ids, features), aitchison, shannon


def test_the_distance_scale_is_one_within_unit_and_the_largest_beyond():
    unit = np.array([[0, 0.4], [0.4, 0]], dtype=np.float32)
    assert distance_scale(unit) == 1.0
    assert distance_scale(unit * 25) == pytest.approx(10.0)
    wide = squareform(pdist(np.arange(20.0)[:, None])).astype(np.float32)  # up to 19
    view = DistanceFile([f"s{i}" for i in range(20)], wide).view([f"s{i}" for i in range(20)])
    assert distance_scale(view) == pytest.approx(19.0)
    rows = np.array([0, 19])
    np.testing.assert_allclose(scaled(view, 19.0).block(rows, rows), [[0, 1], [1, 0]])
    np.testing.assert_allclose(scaled(torch.tensor(wide), 19.0).max(), 1.0)
    objective = Objective(FAST, distances=torch.tensor(wide))
    assert objective.distance_scale == pytest.approx(19.0)
    assert float(objective.distances.max()) == pytest.approx(1.0)


def test_pretraining_is_the_same_on_distances_of_any_scale(planted):
    table, aitchison, _ = planted
    assert aitchison.condensed_form().max() > 1
    runs = [api.pretrain(table, distances=skbio.DistanceMatrix(aitchison.data * factor,
                                                               aitchison.ids),
                         model="tiny", train=FAST, **QUIET) for factor in (1, 1e30)]
    largest = aitchison.condensed_form().max()
    assert runs[0].config["training"]["distance_scale"] == pytest.approx(largest, rel=1e-5)
    # huge distances once ended in an infinite loss; now they train alike
    assert runs[1].config["training"]["distance_scale"] == pytest.approx(1e30 * largest,
                                                                         rel=1e-5)
    np.testing.assert_allclose(runs[0].history["train_unifrac"],
                               runs[1].history["train_unifrac"], rtol=1e-4)
    # within [0, 1] (UniFrac, Bray-Curtis, Jaccard) the distances are as given
    unit = skbio.DistanceMatrix(aitchison.data / (2 * largest), aitchison.ids)
    bundle = api.pretrain(table, distances=unit, model="tiny", train=FAST, **QUIET)
    assert bundle.config["training"]["distance_scale"] == 1.0


def test_an_alpha_encoder_saves_loads_embeds_and_fine_tunes(planted, tmp_path):
    table, aitchison, shannon = planted
    messages = []
    bundle = api.pretrain(table, distances=aitchison, alpha_diversity=shannon,
                          model="tiny", train=FAST, log=messages.append)
    assert "objectives: unifrac, alpha" in "\n".join(messages)
    assert "train_alpha" in bundle.history
    assert bundle.config["alpha_diversity"]["name"] == "shannon_entropy"
    assert bundle.config["alpha_diversity"]["mean"] == pytest.approx(shannon.mean())
    assert any(k.startswith("alpha_head.") for k in bundle.state_dict)
    bundle.save(tmp_path / "model")
    loaded = ModelBundle.load(tmp_path / "model")  # weights checked against the config
    pd.testing.assert_frame_equal(api.embed(loaded, table, **QUIET),
                                  api.embed(bundle, table, **QUIET))
    messages.clear()
    regressor = api.fit_regressor(table, shannon.rename("age") * 10, pretrained=loaded,
                                  model="tiny", train=TrainConfig(
                                      epochs=1, batch_size=8, ensemble_size=1),
                                  log=messages.append)
    assert not any(k.startswith("alpha_head.") for k in regressor.state_dict)
    assert np.isfinite(api.predict(regressor, table, **QUIET)).all()


def test_alpha_weight_0_says_the_alpha_is_not_used(planted):
    table, aitchison, shannon = planted
    messages = []
    bundle = api.pretrain(table, distances=aitchison, alpha_diversity=shannon,
                          model="tiny", train=TrainConfig(**{**FAST.to_dict(),
                                                             "alpha_weight": 0.0}),
                          log=messages.append)
    assert "alpha_weight is 0: the alpha diversity given is not used." in messages
    assert bundle.config["alpha_diversity"] is None
    assert not any(k.startswith("alpha_head.") for k in bundle.state_dict)


@pytest.mark.parametrize("change, message", [
    (lambda s: s.drop(["s3", "s7"]), "2 sample(s) of the table are not in the alpha "
     "diversity, e.g. 's3', 's7'"),
    (lambda s: s.astype(object).where(s.index != "s5", "n/a"),
     "must hold a finite number for every sample; 1 do not ('s5': 'n/a')"),
    (lambda s: s.where(s.index != "s2", np.nan), "1 do not ('s2': nan)"),
    (lambda s: s * 0 + 2.5, "is the same (2.5) for every training sample"),
    (lambda s: s * 1e306, "holds values too large to scale"),
])
def test_bad_alpha_diversity_is_refused_clearly(planted, change, message):
    table, _, shannon = planted
    with pytest.raises(AAMInputError) as error:
        api.pretrain(table, alpha_diversity=change(shannon), model="tiny", train=FAST,
                     **QUIET)
    assert message in str(error.value)


def test_alpha_files_as_qiime_exports_them(tmp_path):
    exported = tmp_path / "alpha-diversity.tsv"
    exported.write_text("\tshannon_entropy\ns1\t3.5\ns2\t4.25\n")
    series = read_alpha(exported)
    assert series.name == "shannon_entropy" and series.to_dict() == {"s1": "3.5",
                                                                       "s2": "4.25"}
    metadata = tmp_path / "metadata.tsv"  # q2 metadata, with its types row
    metadata.write_text("sample-id\tfaith_pd\n#q2:types\tnumeric\ns1\t7.5\n")
    assert read_alpha(metadata).to_dict() == {"s1": "7.5"}
    wide = tmp_path / "wide.tsv"
    wide.write_text("id\tshannon\tfaith_pd\ns1\t1\t2\n")
    with pytest.raises(AAMInputError, match="has 2 value columns"):
        read_alpha(wide)
    with pytest.raises(AAMInputError, match="No alpha diversity file"):
        read_alpha(tmp_path / "absent.tsv")


def test_aam_pretrain_takes_an_alpha_file(planted, tmp_path, capsys):
    table, _, shannon = planted
    counts = biom.Table(np.asarray(table.counts.T.todense()), table.feature_ids,
                        table.sample_ids)
    with h5py.File(tmp_path / "table.biom", "w") as handle:
        counts.to_hdf5(handle, "aam tests")
    base = ["pretrain", "--table", str(tmp_path / "table.biom"), "--preset", "tiny",
            "--epochs", "1", "--batch-size", "8", "--nucleotide-weight", "0"]
    shannon.to_frame().to_csv(tmp_path / "alpha.tsv", sep="\t")
    assert cli.main(base + ["--alpha-diversity", str(tmp_path / "alpha.tsv"),
                            "--output-dir", str(tmp_path / "run")]) == 0
    assert ModelBundle.load(tmp_path / "run" / "model").config["alpha_diversity"]
    shannon.astype(object).where(shannon.index != "s4", "high").to_frame().to_csv(
        tmp_path / "bad.tsv", sep="\t")
    assert cli.main(base + ["--alpha-diversity", str(tmp_path / "bad.tsv"),
                            "--output-dir", str(tmp_path / "bad")]) == 1
    error = capsys.readouterr().err
    assert "('s4': 'high')" in error and "Traceback" not in error, error
