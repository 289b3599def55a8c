"""Experiment tracking of the `aam` command on the example data: TensorBoard
event files and an MLflow file store, read back with the packages' own
readers; and the one-line error when a package is missing (runs everywhere).
The tracking tests skip only where the package is absent (the Debian venv);
the newest-stack environment has both."""
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aam_core import cli
from aam_core.errors import AAMInputError
from aam_core.tracking import scatter_image
from tests.conftest import REPO, write_example_table

EXAMPLE = REPO / "examples" / "oral-age-mini"
TINY = ["--preset", "tiny", "--batch-size", "8", "--n-threads", "1",
        "--random-state", "7", "--epochs", "2"]
needs_tensorboard = pytest.mark.skipif(importlib.util.find_spec("tensorboard") is None,
                                       reason="tensorboard is not installed here")
needs_mlflow = pytest.mark.skipif(importlib.util.find_spec("mlflow") is None,
                                  reason="mlflow(-skinny) is not installed here")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The first 48 example samples and their metadata."""
    folder = tmp_path_factory.mktemp("aam-tracking")
    write_example_table(folder, 48)
    shutil.copy(EXAMPLE / "metadata.tsv", folder / "metadata.tsv")
    return folder


def fit_args(files, run, *more):
    return ["fit-regressor", "--table", str(files / "table.biom"), "--metadata",
            str(files / "metadata.tsv"), "--target", "age", "--groups", "group",
            "--output-dir", str(run), *TINY, *map(str, more)]


def scalars(directory) -> dict:
    """{tag: [(step, value)]} of the TensorBoard event files in `directory`."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    events = EventAccumulator(str(directory), size_guidance={"images": 0}).Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)]
            for tag in events.Tags()["scalars"]}, events


@needs_tensorboard
def test_pretrain_writes_every_epoch_to_tensorboard(files, tmp_path):
    board = tmp_path / "board"
    assert cli.main(["pretrain", "--table", str(files / "table.biom"), "--output-dir",
                     str(tmp_path / "run"), "--tensorboard", str(board), *TINY]) == 0
    found, _ = scalars(board)
    history = pd.read_csv(tmp_path / "run" / "model" / "history.tsv", sep="\t")
    assert [step for step, _ in found["learning_rate"]] == [1, 2]
    # every loss and metric of history.tsv, at the value it recorded
    for column in history.columns.drop(["epoch", "seconds", "lr"]):
        split, _, name = column.partition("_")
        steps, values = zip(*found[f"{name}/{split}"])
        assert steps == (1, 2), column
        np.testing.assert_allclose(values, history[column], rtol=1e-6)
    np.testing.assert_allclose([v for _, v in found["learning_rate"]], history["lr"],
                               rtol=1e-6)


@needs_tensorboard
@pytest.mark.parametrize("from_the_start", [False, True], ids=["added", "kept"])
def test_a_resumed_run_holds_every_epoch_once(files, tmp_path, from_the_start):
    """--tensorboard added at --resume showed only the epochs after it; the
    checkpoint's epochs are written first, over what an earlier attempt
    wrote to the same folder (purged, so no epoch is drawn twice)."""
    board, run = tmp_path / "board", tmp_path / "run"
    first = ["pretrain", "--table", str(files / "table.biom"), "--output-dir", str(run),
             "--checkpoint-every", "1", *TINY]
    assert cli.main(first + (["--tensorboard", str(board)] if from_the_start else [])) == 0
    shutil.rmtree(run / "model")  # as if killed after its last checkpoint
    assert cli.main(first + ["--resume", "--tensorboard", str(board)]) == 0
    found, _ = scalars(board)
    history = pd.read_csv(run / "model" / "history.tsv", sep="\t")
    steps, values = zip(*found["loss/train"])
    assert steps == (1, 2)
    np.testing.assert_allclose(values, history["train_loss"], rtol=1e-6)


@needs_tensorboard
def test_two_processes_write_one_set_of_event_files_with_the_gathered_metrics(
        files, tmp_path):
    """Under torchrun only rank 0 writes, and what it writes is the history
    (metrics over both processes' samples), not its own half."""
    board, run = tmp_path / "board", tmp_path / "run"
    done = subprocess.run(
        [str(Path(sys.executable).parent / "torchrun"), "--standalone", "--nproc_per_node",
         "2", "-m", "aam_core.cli", *fit_args(files, run, "--ensemble-size", 1,
                                               "--tensorboard", board)],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr
    assert len(list(board.glob("events.out.tfevents.*"))) == 1
    found, _ = scalars(board)
    history = pd.read_csv(run / "model" / "history.tsv", sep="\t")
    for tag, column in (("loss/train", "train_loss"), ("mae/val", "val_mae")):
        np.testing.assert_allclose([v for _, v in found[tag]], history[column],
                                   rtol=1e-6)


@needs_tensorboard
def test_an_ensemble_writes_one_run_per_member_and_the_validation_scatter(
        files, tmp_path):
    board = tmp_path / "board"
    assert cli.main(fit_args(files, tmp_path / "run", "--ensemble-size", 2,
                             "--tensorboard", board)) == 0
    for member in ("member_1", "member_2"):
        found, _ = scalars(board / member)
        for tag in ("loss/train", "loss/val", "mae/val", "learning_rate"):
            assert [step for step, _ in found[tag]] == [1, 2], (member, tag)
    _, events = scalars(board)
    assert events.Tags()["images"] == ["validation/predicted_vs_true"]
    assert "validation/residual" in events.Tags()["histograms"]


@needs_mlflow
def test_fit_logs_to_an_mlflow_file_store(files, tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient
    # MLflow 3 keeps the file store for those who opt in; the test needs no server
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    uri = (tmp_path / "mlruns").as_uri()
    assert cli.main(fit_args(files, tmp_path / "run", "--ensemble-size", 1,
                             "--mlflow-uri", uri)) == 0
    client = MlflowClient(tracking_uri=uri)
    run, = client.search_runs([client.get_experiment_by_name("aam").experiment_id])
    assert run.info.status == "FINISHED" and run.info.run_name == "aam fit-regressor"
    assert run.data.params["target"] == "age" and run.data.params["preset"] == "tiny"
    history = pd.read_csv(tmp_path / "run" / "model" / "history.tsv", sep="\t")
    for key in ("train_loss", "val_loss", "val_mae", "lr"):
        logged = client.get_metric_history(run.info.run_id, key)
        assert [m.step for m in logged] == [1, 2], key
        np.testing.assert_allclose([m.value for m in logged], history[key], rtol=1e-6)
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "model")}
    assert artifacts == {"model/config.json", "model/model.pt", "model/history.tsv"}
    table = client.download_artifacts(run.info.run_id, "validation_predictions.tsv",
                                      str(tmp_path))
    assert list(pd.read_csv(table, sep="\t").columns) == ["truth", "prediction"]


@needs_mlflow
def test_an_unusable_mlflow_store_is_a_one_line_error(files, tmp_path, capsys,
                                                      monkeypatch):
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "false")
    uri = (tmp_path / "mlruns").as_uri()
    assert cli.main(fit_args(files, tmp_path / "run", "--mlflow-uri", uri)) == 1
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith(f"aam fit-regressor: error: --mlflow-uri {uri}: ")


@pytest.mark.parametrize("flag, module, package", [
    ("--tensorboard", "tensorboard", "tensorboard"),
    ("--mlflow-uri", "mlflow", "mlflow-skinny")])
def test_a_missing_package_is_named_with_its_pip_command(files, tmp_path, capsys,
                                                         monkeypatch, flag, module,
                                                         package):
    monkeypatch.setitem(sys.modules, module, None)  # what `import` sees without it
    assert cli.main(fit_args(files, tmp_path / "run", flag, tmp_path / "x")) == 1
    error = capsys.readouterr().err
    assert error == (f"aam fit-regressor: error: {flag} needs the {package} package, "
                     f"which is not installed here: pip install {package}\n")


@pytest.mark.parametrize("flag", ["--tensorboard", "--mlflow-uri"])
def test_an_empty_place_to_track_to_is_refused(flag):
    from aam_core.errors import AAMInputError
    from aam_core.tracking import open_tracker
    options = {"tensorboard": "", "mlflow_uri": None} if flag == "--tensorboard" else \
        {"tensorboard": None, "mlflow_uri": " "}
    with pytest.raises(AAMInputError, match=f"{flag} is empty"):
        open_tracker(options["tensorboard"], options["mlflow_uri"], "aam", {})


def test_the_scatter_image_puts_perfect_predictions_on_the_diagonal():
    truth = np.array([0.0, 5.0, 10.0])
    image = scatter_image(truth, truth, size=64)
    blue = np.argwhere((image == (31, 119, 180)).all(axis=2))
    # y grows downwards: x + y is constant along the drawn diagonal
    assert image.shape == (64, 64, 3) and len(blue) == 27
    assert set((blue[:, 0] + blue[:, 1]).tolist()) <= set(range(61, 66))


def test_an_mlflow_server_that_does_not_answer_is_refused_at_once():
    import socket
    from aam_core.tracking import check_server
    with socket.socket() as free:  # a port nothing listens on once closed
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    uri = f"http://127.0.0.1:{port}"
    with pytest.raises(AAMInputError, match=rf"^--mlflow-uri {uri}: no tracking server "
                                            rf"answers at 127.0.0.1:{port} \(connection "
                                            r"refused\); start one \(mlflow server\)"):
        check_server(uri)
    with pytest.raises(AAMInputError, match="the port is not a number"):
        check_server("http://127.0.0.1:99999")
    check_server("sqlite:///mlflow.db")  # not a server: MLflow opens it itself


@needs_mlflow
def test_fit_with_an_unreachable_mlflow_server_fails_in_one_line(files, tmp_path, capsys):
    import socket
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        uri = f"http://127.0.0.1:{free.getsockname()[1]}"
    assert cli.main(fit_args(files, tmp_path / "run", "--mlflow-uri", uri)) == 1
    error = capsys.readouterr().err.strip().splitlines()
    assert error[-1].startswith(f"aam fit-regressor: error: --mlflow-uri {uri}: no tracking "
                                "server answers")


@needs_mlflow
def test_an_unusable_mlflow_store_under_torchrun_is_one_line_from_each_process(
        files, tmp_path):
    """Probe 23: rank 0 alone opens the tracker; its refusal (here a URI
    MLflow has no store for) left rank 1 waiting in the first collective,
    which failed with a traceback of q2-aam's code ('Connection closed by
    peer'). Every process now says the refusal in one line."""
    run = tmp_path / "run"
    done = subprocess.run(
        [str(Path(sys.executable).parent / "torchrun"), "--standalone", "--nproc_per_node",
         "2", "-m", "aam_core.cli", *fit_args(files, run, "--ensemble-size", 1, "--epochs",
                                               1, "--mlflow-uri", "bogus://store")],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode != 0
    for rank in (0, 1):
        assert f"aam fit-regressor (process {rank}): error: --mlflow-uri bogus://store: " \
            in done.stderr, done.stderr
    assert "[rank1]: Traceback" not in done.stderr, done.stderr
    assert "aam_core/" not in done.stderr, done.stderr  # no frame of q2-aam
    assert not run.exists()
