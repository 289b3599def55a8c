"""The `aam` command on the example data: torchrun, kill and resume, the
distance-matrix formats, the round trip through QIIME 2, and clear errors."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import biom
import h5py
import numpy as np
import pandas as pd
import pytest
import skbio
import torch

from aam_core import cli
from aam_core.skbio_compat import beta_diversity
from tests.conftest import HAVE_QIIME2, REPO

EXAMPLE = REPO / "examples" / "oral-age-mini"
BIN = Path(sys.executable).parent
TINY = ["--preset", "tiny", "--batch-size", "8", "--n-threads", "1", "--seed", "7"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """48 example samples: BIOM table, metadata, and their unweighted UniFrac
    as TSV, as .npy + ids, and as HDF5 in unifrac's `ssu` layout."""
    folder = tmp_path_factory.mktemp("aam-cli")
    table = biom.load_table(str(EXAMPLE / "table.biom"))
    ids = list(table.ids())[:48]
    table = table.filter(ids, inplace=False).remove_empty(axis="observation")
    with h5py.File(folder / "table.biom", "w") as handle:
        table.to_hdf5(handle, "aam tests")
    shutil.copy(EXAMPLE / "metadata.tsv", folder / "metadata.tsv")
    features = list(table.ids(axis="observation"))
    tree = skbio.TreeNode.read(str(EXAMPLE / "tree.nwk")).shear(features)
    counts = table.matrix_data.T.toarray().astype(int)
    distances = beta_diversity("unweighted_unifrac", counts, ids=ids, taxa=features,
                               tree=tree)
    matrix = distances.data.astype(np.float32)
    # the text keeps every float32 digit, so all formats hold the same numbers
    pd.DataFrame(matrix.astype(np.float64), index=ids, columns=ids).to_csv(
        folder / "unifrac.tsv", sep="\t", float_format="%.9g")
    order = np.random.default_rng(0).permutation(len(ids))  # files need not follow the table
    np.save(folder / "unifrac.npy", matrix[np.ix_(order, order)])
    (folder / "unifrac.ids").write_text("\n".join(ids[i] for i in order) + "\n")
    with h5py.File(folder / "unifrac.h5", "w") as handle:
        handle["order"] = np.array([ids[i].encode() for i in order], dtype=object)
        handle["matrix"] = matrix[np.ix_(order, order)]
    return folder


def aam(*args, cwd=None):
    return subprocess.run([str(BIN / "aam"), *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, env={**os.environ, "OMP_NUM_THREADS": "1"})


def torchrun(*args, **options):
    command = [str(BIN / "torchrun"), "--standalone", "--nproc_per_node", "2",
               "-m", "aam_core.cli", *map(str, args)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env={**os.environ, "OMP_NUM_THREADS": "1"},
                            **options)


def weights(run: Path) -> dict:
    return torch.load(run / "model" / "model.pt", weights_only=True)


def pretrain_args(files, run, *more):
    return ["pretrain", "--table", files / "table.biom", "--distances",
            files / "unifrac.h5", "--output-dir", run, "--epochs", 3,
            "--checkpoint-every", 1, *TINY, *more]


def descendants(pid: int) -> list:
    """The process ids below `pid` (torchrun's workers start new sessions)."""
    children = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def test_torchrun_killed_mid_epoch_resumes_to_the_same_weights(files, tmp_path):
    reference = torchrun(*pretrain_args(files, tmp_path / "reference"))
    output = reference.communicate(timeout=300)[0]
    assert reference.returncode == 0, output
    config = json.loads((tmp_path / "reference" / "model" / "config.json").read_text())
    assert config["training"]["distributed"] == {"world_size": 2, "strategy": "ddp",
                                                 "backend": "gloo"}

    run = tmp_path / "interrupted"
    job = torchrun(*pretrain_args(files, run))
    info = run / "checkpoints" / "last.json"
    deadline = time.time() + 240
    while time.time() < deadline and job.poll() is None:
        position = json.loads(info.read_text()) if info.exists() else {"epoch": 0}
        if position["epoch"] >= 2 and position["step"] > 0:  # inside epoch 2
            break
        time.sleep(0.02)
    assert job.poll() is None, f"the run ended uninterrupted: {job.communicate()[0]}"
    for pid in descendants(job.pid) + [job.pid]:
        os.kill(pid, signal.SIGKILL)
    job.communicate()
    assert not (run / "model").exists()
    position = json.loads(info.read_text())
    assert position["step"] > 0 or position["epoch"] > 2  # killed inside the run

    resumed = torchrun(*pretrain_args(files, run, "--resume"))
    output = resumed.communicate(timeout=300)[0]
    assert resumed.returncode == 0, output
    assert "Resumed from" in output
    expected, got = weights(tmp_path / "reference"), weights(run)
    for name, value in expected.items():
        assert torch.equal(value, got[name]), name
    history = pd.read_csv(run / "model" / "history.tsv", sep="\t")
    assert history["epoch"].tolist() == [1, 2, 3]


def test_memory_mapped_and_hdf5_matrices_train_as_the_in_memory_one(files):
    from aam_core import api
    from aam_core.config import TrainConfig
    from aam_core.data.distances import read_distances
    table = biom.load_table(str(files / "table.biom"))
    in_memory = skbio.DistanceMatrix.read(str(files / "unifrac.tsv"))
    train = TrainConfig(epochs=1, batch_size=8, random_state=3, n_threads=1)
    runs = {}
    for name, distances in [("skbio", in_memory),
                            ("npy", read_distances(files / "unifrac.npy", files / "unifrac.ids")),
                            ("hdf5", read_distances(files / "unifrac.h5")),
                            ("tsv", read_distances(files / "unifrac.tsv"))]:
        runs[name] = api.pretrain(table, distances=distances, model="tiny", train=train,
                                  log=lambda message: None)
    assert isinstance(read_distances(files / "unifrac.npy", files / "unifrac.ids").matrix,
                      np.memmap)
    for name in ("npy", "hdf5", "tsv"):
        for key, value in runs["skbio"].state_dict.items():
            assert torch.equal(value, runs[name].state_dict[key]), (name, key)
        pd.testing.assert_frame_equal(runs[name].history.drop(columns="seconds"),
                                      runs["skbio"].history.drop(columns="seconds"))


def qiime(*args):
    from tests.qiime_cli import qiime as run  # q2cli: needs QIIME 2, like this test
    return run(*args)


@pytest.mark.skipif(not HAVE_QIIME2, reason="QIIME 2 is not installed here "
                    "(the newest-stack environment)")
def test_cli_models_round_trip_through_qiime(files, tmp_path):
    encoder = tmp_path / "encoder"
    done = aam("pretrain", "--table", files / "table.biom", "--distances",
               files / "unifrac.npy", "--distance-ids", files / "unifrac.ids",
               "--output-dir", encoder, "--epochs", 1, *TINY)
    assert done.returncode == 0, done.stderr
    # fine-tune, predict and embed in this process (cheaper than new ones)
    fit = tmp_path / "regressor"
    assert cli.main(["fit-regressor", "--table", str(files / "table.biom"),
                     "--metadata", str(files / "metadata.tsv"), "--target", "age",
                     "--groups", "group", "--pretrained", str(encoder / "model"),
                     "--output-dir", str(fit), "--epochs", "1", *TINY]) == 0
    assert cli.main(["predict", "--model", str(fit / "model"), "--table",
                     str(files / "table.biom"), "--output", str(tmp_path / "age.tsv")]) == 0
    predictions = pd.read_csv(tmp_path / "age.tsv", sep="\t", index_col=0)
    assert predictions.shape == (48, 1) and predictions.index.name == "sample-id"
    assert cli.main(["embed", "--model", str(encoder / "model"), "--table",
                     str(files / "table.biom"), "--output", str(tmp_path / "e.tsv")]) == 0
    assert pd.read_csv(tmp_path / "e.tsv", sep="\t", index_col=0).shape == (48, 32)

    for run, variant in ((encoder, "AAMEncoder"), (fit, "AAMRegressor")):
        artifact = tmp_path / f"{variant}.qza"
        done = qiime("tools", "import", "--type", f"AAMModel[{variant}]",
                     "--input-path", run / "model", "--output-path", artifact)
        assert done.returncode == 0, done.stderr
    done = qiime("tools", "export", "--input-path", tmp_path / "AAMEncoder.qza",
                 "--output-path", tmp_path / "exported")
    assert done.returncode == 0, done.stderr
    for name in ("config.json", "model.pt", "history.tsv"):
        assert (tmp_path / "exported" / name).read_bytes() == \
            (encoder / "model" / name).read_bytes()


@pytest.mark.parametrize("arguments, message", [
    (["pretrain", "--table", "{f}/missing.biom", "--output-dir", "{t}/r"],
     "does not exist"),
    (["pretrain", "--table", "{f}/table.biom", "--distances", "{f}/unifrac.npy",
      "--output-dir", "{t}/r"], "--distance-ids"),
    (["pretrain", "--table", "{f}/table.biom", "--distances", "{f}/metadata.tsv",
      "--output-dir", "{t}/r"], "distance matrix"),
    (["fit-regressor", "--table", "{f}/table.biom", "--metadata", "{f}/metadata.tsv",
      "--target", "agee", "--output-dir", "{t}/r"], "no column 'agee'"),
    (["fit-regressor", "--table", "{f}/table.biom", "--metadata", "{f}/metadata.tsv",
      "--target", "split", "--output-dir", "{t}/r"], "must be numeric"),
    (["predict", "--model", "{t}", "--table", "{f}/table.biom", "--output", "{t}/p.tsv"],
     "has no config.json"),
])
def test_user_mistakes_are_one_line_errors(files, tmp_path, capsys, arguments, message):
    arguments = [a.format(f=files, t=tmp_path) for a in arguments]
    assert cli.main(arguments) == 1
    error = capsys.readouterr().err
    assert message in error and "Traceback" not in error, error


def test_a_run_directory_is_never_mixed_up(files, tmp_path, capsys):
    run = tmp_path / "run"
    (run / "model").mkdir(parents=True)
    arguments = ["pretrain", "--table", str(files / "table.biom"), "--output-dir", str(run)]
    assert cli.main(arguments) == 1
    assert "already holds a run; pass --resume" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("ssu") is None, reason="unifrac's ssu is not installed")
def test_reads_the_hdf5_that_ssu_writes(files, tmp_path):
    from aam_core.data.distances import read_distances
    tree = skbio.TreeNode.read(str(EXAMPLE / "tree.nwk"))
    table = biom.load_table(str(files / "table.biom"))
    tree.shear(list(table.ids(axis="observation"))).write(str(tmp_path / "tree.nwk"))
    done = subprocess.run(["ssu", "-i", files / "table.biom", "-t", tmp_path / "tree.nwk",
                           "-m", "unweighted", "-o", tmp_path / "u.h5", "--format",
                           "hdf5", "--pcoa", "0"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    ours = read_distances(tmp_path / "u.h5")
    expected = skbio.DistanceMatrix.read(str(files / "unifrac.tsv"))
    view = ours.view(list(expected.ids))
    rows = np.arange(len(expected.ids))
    np.testing.assert_allclose(view.block(rows, rows), expected.data, atol=1e-5)


def test_the_head_flags_are_the_qiime2_names_and_the_old_form_warns(files, tmp_path):
    fit = ["fit-regressor", "--table", files / "table.biom", "--metadata",
           files / "metadata.tsv", "--target", "age", "--epochs", 1, "--ensemble-size", 1,
           *TINY]
    done = aam(*fit, "--hidden-layers", 2, "--hidden-width", 8, "--lower-bound", 0,
               "--output-dir", tmp_path / "new")
    assert done.returncode == 0, done.stderr
    architecture = json.loads((tmp_path / "new/model/config.json").read_text())["architecture"]
    assert (architecture["regression_hidden"], architecture["output_bounds"]) == (
        [8, 8], [0.0, None])
    done = aam(*fit, "--regression-hidden", 16, 4, "--output-dir", tmp_path / "old")
    assert done.returncode == 0, done.stderr
    assert ("--regression-hidden is now --hidden-layers and --hidden-width; the old "
            "form still works") in done.stderr
    architecture = json.loads((tmp_path / "old/model/config.json").read_text())["architecture"]
    assert architecture["regression_hidden"] == [16, 4]
    done = aam("fit-classifier", *fit[1:5], "--target", "split", "--hidden-width", 8,
               "--output-dir", tmp_path / "linear")
    assert done.returncode == 1
    assert ("--hidden-width 8 only acts with hidden layers, but --hidden-layers 0 "
            "makes the head linear") in done.stderr, done.stderr


def test_loss_weights_reads_the_column_type_as_qiime2_does(files, tmp_path):
    """--loss-weights (QIIME 2's name): a numeric column weighs each sample, a
    categorical one (here declared so by '#q2:types') weighs by category."""
    metadata = pd.read_csv(files / "metadata.tsv", sep="\t", index_col=0)
    metadata["weight"] = np.where(metadata["age"] > 30, 2.0, 0.5)
    types = pd.DataFrame([["numeric", "categorical", "categorical", "categorical",
                           "numeric"]], index=["#q2:types"], columns=metadata.columns)
    pd.concat([types, metadata.astype(object)]).rename_axis("sample-id").to_csv(
        tmp_path / "m.tsv", sep="\t")
    fit = ["fit-regressor", "--table", files / "table.biom", "--metadata", tmp_path / "m.tsv",
           "--target", "age", "--epochs", 1, "--ensemble-size", 1, *TINY]
    done = aam(*fit, "--loss-weights", "weight", "--output-dir", tmp_path / "numeric")
    assert done.returncode == 0, done.stderr
    assert "Loss weights from 0.5 to 2 over the training samples" in done.stderr
    done = aam(*fit, "--loss-weights", "study", "--output-dir", tmp_path / "categorical")
    assert done.returncode == 0, done.stderr
    weighed = [line for line in done.stderr.splitlines() if "Loss weights from" in line]
    assert weighed and "from 0.5 to 2 " not in weighed[0]  # by study, not by sample
    done = aam(*fit, "--loss-weights", "weight", "--category-weight", "a:2",
               "--output-dir", tmp_path / "both")
    assert done.returncode == 1
    assert "--category-weight weighs categories, but --loss-weights 'weight' is numeric" \
        in done.stderr


def test_the_ridge_readout_from_the_aam_command(files, tmp_path):
    encoder = tmp_path / "encoder"
    done = aam("pretrain", "--table", files / "table.biom", "--distances",
               files / "unifrac.tsv", "--epochs", 1, "--output-dir", encoder, *TINY)
    assert done.returncode == 0, done.stderr
    fit = ["fit-regressor", "--table", files / "table.biom", "--metadata",
           files / "metadata.tsv", "--target", "age", "--groups", "group",
           "--pretrained", encoder / "model", "--readout", "ridge", *TINY]
    done = aam(*fit, "--output-dir", tmp_path / "ridge")
    assert done.returncode == 0, done.stderr
    assert "Ridge readout (member 1 of 5)" in done.stderr
    config = json.loads((tmp_path / "ridge/model/config.json").read_text())
    assert (config["training"]["readout"], config["architecture"]["regression_hidden"]) == (
        "ridge", [])
    done = aam(*fit, "--epochs", 3, "--output-dir", tmp_path / "refused")
    assert done.returncode == 1
    assert "--readout ridge trains no network, so --epochs 3 would be ignored" in done.stderr
    # two processes would each solve the same head: refused, as n_devices is
    launched = torchrun(*fit, "--output-dir", tmp_path / "two")
    output, _ = launched.communicate(timeout=300)
    assert launched.returncode != 0
    assert ("--readout ridge solves its head in closed form in one process, so "
            "torchrun started 2 processes: run it without torchrun") in output
    assert not (tmp_path / "two").exists()


def test_an_ensemble_resumes_each_member_from_its_own_checkpoints(files, tmp_path):
    """Member 2 of an ensemble saves apart from member 1: a run stopped after
    member 1 (its model not yet written, member 2 not yet saved) resumes
    member 1 from its finished checkpoint, trains member 2, and ends with
    the weights of a run never stopped."""
    import torch
    fit = ["fit-regressor", "--table", files / "table.biom", "--metadata",
           files / "metadata.tsv", "--target", "age", "--epochs", 2,
           "--ensemble-size", 2, "--checkpoint-every", 2, *TINY]
    for run in ("whole", "stopped"):
        done = aam(*fit, "--output-dir", tmp_path / run)
        assert done.returncode == 0, done.stderr
    assert (tmp_path / "stopped/checkpoints/member_2/last.pt").is_file()
    shutil.rmtree(tmp_path / "stopped/model")  # as if stopped before member 2 began
    shutil.rmtree(tmp_path / "stopped/checkpoints/member_2")
    done = aam(*fit, "--output-dir", tmp_path / "stopped", "--resume")
    assert done.returncode == 0, done.stderr
    assert "Resumed from" in done.stderr and "checkpoints/last.pt" in done.stderr
    whole, resumed = (torch.load(tmp_path / run / "model/model.pt", weights_only=True)
                      for run in ("whole", "stopped"))
    assert all(torch.equal(whole[name], resumed[name]) for name in whole)


def test_the_propagation_readout_from_the_aam_command(files, tmp_path):
    """Samples of the table that --metadata lacks are its unlabelled ones:
    no --missing-samples needed, and the log counts them."""
    encoder = tmp_path / "encoder"
    done = aam("pretrain", "--table", files / "table.biom", "--distances",
               files / "unifrac.tsv", "--epochs", 1, "--output-dir", encoder, *TINY)
    assert done.returncode == 0, done.stderr
    samples = list(biom.load_table(str(files / "table.biom")).ids())
    metadata = pd.read_csv(files / "metadata.tsv", sep="\t", dtype=str)
    metadata = metadata[metadata.iloc[:, 0].isin(samples)]
    labelled = metadata.iloc[::2]
    labelled.to_csv(tmp_path / "labelled.tsv", sep="\t", index=False)
    fit = ["fit-regressor", "--table", files / "table.biom", "--metadata",
           tmp_path / "labelled.tsv", "--target", "age", "--groups", "group",
           "--pretrained", encoder / "model", "--readout", "propagation", *TINY]
    done = aam(*fit, "--output-dir", tmp_path / "spread")
    assert done.returncode == 0, done.stderr
    unlabelled = len(metadata) - len(labelled)
    assert f"{unlabelled} sample(s) of the table have no target value" in done.stderr
    assert f"Propagation readout: {len(labelled)} labelled and {unlabelled} unlabelled" \
        in done.stderr
    config = json.loads((tmp_path / "spread/model/config.json").read_text())
    assert config["architecture"]["neighbour_nodes"] == len(metadata)
    done = aam(*fit, "--loss", "quantile", "--output-dir", tmp_path / "refused")
    assert done.returncode == 1
    assert "--readout propagation predicts one value per sample, not quantiles" \
        in done.stderr
