"""Experiment tracking of the `aam` training commands: TensorBoard event
files (--tensorboard DIR), an MLflow run (--mlflow-uri URI), both, or none.

cli.py opens the tracker on rank 0 only (other processes get NONE) and puts
it in the Runtime; the training loop hands it each epoch's record (losses,
metrics, learning rate), already summed over every process, from one place
(loop._Training.end_epoch); fit.py hands it the validation predictions of a
regressor at the end. The packages are optional: asking for one that is not
installed is refused before any work, with the pip command that fixes it.
"""
from __future__ import annotations

import importlib
import math
import os
import time
from pathlib import Path

import numpy as np

from .errors import AAMInputError

# flag -> (module imported, package to install)
PACKAGES = {"--tensorboard": ("tensorboard", "tensorboard"),
            "--mlflow-uri": ("mlflow", "mlflow-skinny")}


class Tracker:
    """Tracks nothing: runs without tracking, and processes other than rank 0."""

    def member(self, index: int, count: int) -> None:
        """The epochs that follow are those of ensemble member `index` (from 0)
        of `count`; each member restarts at epoch 1."""

    def epoch(self, record: dict) -> None:
        """One epoch's history row: epoch, train_*, val_*, lr, seconds."""

    def resumed(self, records: list) -> None:
        """A resumed run's epochs so far (from its checkpoint), before the
        next: a tracker given only at the resume still holds the whole run."""
        for record in records:
            self.epoch(record)

    def validation(self, truth: np.ndarray, predicted: np.ndarray) -> None:
        """Validation predictions against the truth, in the target's units."""

    def finish(self, model_dir: Path | None) -> None:
        """The run is over; model_dir is None when it failed."""


NONE = Tracker()


def check_available(args) -> None:
    """Refuse a tracking flag whose package is missing, before any work."""
    for flag, (module, package) in PACKAGES.items():
        if getattr(args, flag[2:].replace("-", "_"), None) is None:
            continue
        try:
            importlib.import_module(module)
        except ImportError:
            raise AAMInputError(f"{flag} needs the {package} package, which is not "
                                f"installed here: pip install {package}") from None


def open_tracker(tensorboard: str | None, mlflow_uri: str | None, run_name: str,
                 params: dict) -> Tracker:
    """The tracker the flags ask for (NONE without any)."""
    trackers = []
    for flag, value in (("--tensorboard", tensorboard), ("--mlflow-uri", mlflow_uri)):
        if value is not None and not str(value).strip():
            raise AAMInputError(f"{flag} is empty; give a "
                                f"{'directory' if flag == '--tensorboard' else 'tracking URI'}"
                                f", or leave out {flag}.")
    if tensorboard is not None:
        trackers.append(TensorBoardTracker(tensorboard, params))
    if mlflow_uri is not None:
        from mlflow.exceptions import MlflowException
        check_server(mlflow_uri)
        try:
            trackers.append(MLflowTracker(mlflow_uri, run_name, params))
        except MlflowException as error:  # a bad URI or store: the user's to fix
            raise AAMInputError(f"--mlflow-uri {mlflow_uri}: {error.message}") from None
        except Exception as error:  # noqa: BLE001 (the store's driver, e.g. SQLAlchemy)
            raise AAMInputError(f"--mlflow-uri {mlflow_uri}: the tracking store cannot "
                                f"be opened ({type(error).__name__}: "
                                f"{str(error).splitlines()[0]}); check the URI and that "
                                "its place is writable.") from None
    return NONE if not trackers else trackers[0] if len(trackers) == 1 else Both(trackers)


def check_server(uri: str, timeout: float = 5.0) -> None:
    """An http(s) tracking URI whose server does not answer is refused in
    seconds: MLflow itself retries for minutes before it says so."""
    import socket
    from urllib.parse import urlsplit
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https"):
        return
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise AAMInputError(f"--mlflow-uri {uri}: the port is not a number from 0 to "
                            "65535.") from None
    try:
        socket.create_connection((parts.hostname or "", port), timeout=timeout).close()
    except OSError as error:
        reason = "timed out" if isinstance(error, TimeoutError) else (
            error.strerror or type(error).__name__)
        raise AAMInputError(f"--mlflow-uri {uri}: no tracking server answers at "
                            f"{parts.hostname}:{port} ({reason.lower()}); start one "
                            "(mlflow server) or check the address.") from None


class Both(Tracker):
    """Hands every call on to each of its trackers, in turn."""

    def __init__(self, trackers: list):
        self.trackers = trackers

    def _each(self, call: str, *args) -> None:
        for tracker in self.trackers:
            getattr(tracker, call)(*args)

    def member(self, index, count):
        self._each("member", index, count)

    def epoch(self, record):
        self._each("epoch", record)

    def resumed(self, records):
        self._each("resumed", records)

    def validation(self, truth, predicted):
        self._each("validation", truth, predicted)

    def finish(self, model_dir):
        self._each("finish", model_dir)


def scalars(record: dict) -> dict:
    """{name: value} of a history row worth plotting: finite numbers but the
    epoch (the step they are logged at)."""
    return {key: float(value) for key, value in record.items()
            if key != "epoch" and isinstance(value, (int, float, np.floating))
            and math.isfinite(value)}


class TensorBoardTracker(Tracker):
    """Scalars tagged 'loss/train', 'loss/val', 'mae/val'... (train and
    validation of a metric share a chart), 'learning_rate', and at the end
    the validation scatter as an image with the residuals as a histogram.
    The members of an ensemble write to DIR/member_1, DIR/member_2...: runs
    that TensorBoard shows side by side."""

    def __init__(self, directory: str, params: dict):
        from torch.utils.tensorboard import SummaryWriter
        self.directory, self.make = Path(directory), SummaryWriter
        self.writer = self.epochs = SummaryWriter(log_dir=directory)
        rows = "\n".join(f"| {k} | {v} |" for k, v in sorted(params.items()))
        self.writer.add_text("options", "| option | value |\n|---|---|\n" + rows, 0)

    def member(self, index, count):
        if count > 1:
            if self.epochs is not self.writer:
                self.epochs.close()
            self.epochs = self.make(log_dir=str(self.directory / f"member_{index + 1}"))

    def resumed(self, records):
        """Written again from the first epoch; purge_step hides what an earlier
        attempt of the run wrote there, so no epoch is drawn twice."""
        if not records:
            return
        fresh = self.make(log_dir=self.epochs.log_dir, purge_step=records[0]["epoch"])
        if self.epochs is self.writer:
            self.writer.close()
            self.writer = fresh
        else:
            self.epochs.close()
        self.epochs = fresh
        super().resumed(records)

    def epoch(self, record):
        for key, value in scalars(record).items():
            split, _, name = key.partition("_")
            tag = {"lr": "learning_rate", "seconds": "epoch_seconds"}.get(
                key, f"{name}/{split}")
            self.epochs.add_scalar(tag, value, record["epoch"])
        self.epochs.flush()

    def validation(self, truth, predicted):
        self.writer.add_image("validation/predicted_vs_true",
                              scatter_image(truth, predicted), 0, dataformats="HWC")
        self.writer.add_histogram("validation/residual", predicted - truth, 0)
        self.writer.add_text("validation/summary", _summary(truth, predicted), 0)

    def finish(self, model_dir):
        self.epochs.close()
        self.writer.close()


class MLflowTracker(Tracker):
    """One MLflow run per command: the options as parameters, every history
    column as a metric per epoch (the names of history.tsv), the validation
    predictions as a TSV, and the model directory as the artifact 'model'.
    The metrics of ensemble member 2, 3... are named member_2/train_loss..."""

    def __init__(self, uri: str, run_name: str, params: dict):
        from mlflow.entities import Param
        from mlflow.tracking import MlflowClient
        self.client = MlflowClient(tracking_uri=uri)
        name = os.environ.get("MLFLOW_EXPERIMENT_NAME", "aam")
        found = self.client.get_experiment_by_name(name)
        experiment = found.experiment_id if found else self.client.create_experiment(name)
        self.run_id = self.client.create_run(experiment, run_name=run_name).info.run_id
        self.prefix = ""
        items = [Param(k, str(v)) for k, v in sorted(params.items())]
        for start in range(0, len(items), 100):  # MLflow takes 100 per batch
            self.client.log_batch(self.run_id, params=items[start:start + 100])

    def member(self, index, count):
        self.prefix = f"member_{index + 1}/" if index else ""

    def epoch(self, record):
        from mlflow.entities import Metric
        now = int(time.time() * 1000)
        self.client.log_batch(self.run_id, metrics=[
            Metric(self.prefix + key, value, now, int(record["epoch"]))
            for key, value in scalars(record).items()])

    def validation(self, truth, predicted):
        rows = "".join(f"{t:.6g}\t{p:.6g}\n" for t, p in zip(truth, predicted))
        self.client.log_text(self.run_id, "truth\tprediction\n" + rows,
                             "validation_predictions.tsv")

    def finish(self, model_dir):
        if model_dir is not None:
            self.client.log_artifacts(self.run_id, str(model_dir), "model")
        self.client.set_terminated(self.run_id, "FINISHED" if model_dir else "FAILED")


def _summary(truth: np.ndarray, predicted: np.ndarray) -> str:
    error = predicted - truth
    return (f"{len(truth)} validation samples; MAE {np.mean(np.abs(error)):.4g}, "
            f"RMSE {np.sqrt(np.mean(error ** 2)):.4g}; truth from {truth.min():.4g} "
            f"to {truth.max():.4g} on both axes, the grey line is prediction = truth.")


def scatter_image(truth: np.ndarray, predicted: np.ndarray, size: int = 256) -> np.ndarray:
    """Predicted (y) against true (x) as an RGB array, drawn with numpy so
    that no plotting library is needed: both axes span the same range, the
    grey diagonal is a perfect prediction."""
    image = np.full((size, size, 3), 255, dtype=np.uint8)
    low = float(min(truth.min(), predicted.min()))
    high = float(max(truth.max(), predicted.max()))
    span = high - low or 1.0
    margin = 6

    def pixel(values):
        scaled = (np.asarray(values, dtype=float) - low) / span
        return np.clip(np.rint(margin + scaled * (size - 1 - 2 * margin)), 0,
                       size - 1).astype(int)
    diagonal = np.arange(margin, size - margin)
    image[size - 1 - diagonal, diagonal] = 180
    x, y = pixel(truth), size - 1 - pixel(predicted)
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            image[np.clip(y + dy, 0, size - 1), np.clip(x + dx, 0, size - 1)] = (31, 119, 180)
    return image
