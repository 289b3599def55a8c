"""Probe 15 (2026-12-01): head and memory options a model's shape or a
frozen encoder made ignored, settings a ridge readout's summary listed as
applied, and folders a refused tracking flag left behind."""
import json

import pandas as pd

from q2_aam._model_facts import applied_training
from tests.core.test_aam_command_probe_5 import RUN, aam
from tests.core.test_aam_command_probe_6 import refused
from tests.core.test_aam_command_probe_11 import files, model  # noqa: F401 (fixtures)
from aam_core import tracking


def _fit(capsys, files, run, *more):
    return aam(capsys, "fit-regressor", "--table", files / "table.biom", "--metadata",
               files / "md.tsv", "--target", "age", "--output-dir", run, *RUN, *more)


def test_a_residual_head_without_hidden_layers_is_refused(files, tmp_path, capsys):
    """The weights were byte-identical to a run without it."""
    code, output = _fit(capsys, files, tmp_path / "run", "--hidden-layers", 0,
                        "--residual-head")
    refused(output, code, "--residual-head makes the head's hidden layers residual "
            "blocks, but --hidden-layers 0 makes the head linear")


def test_gradient_checkpointing_with_a_frozen_encoder_is_refused(files, model, tmp_path,
                                                                 capsys):
    code, output = _fit(capsys, files, tmp_path / "run", "--pretrained", model,
                        "--freeze-encoder", "--gradient-checkpointing")
    refused(output, code, "--gradient-checkpointing saves the encoder's memory in the "
            "backward pass, and --freeze-encoder leaves it none")


def test_a_ridge_readouts_summary_lists_no_gradient_settings(model):
    config = json.loads((model / "config.json").read_text())
    config["training"].update(readout="ridge", pretrained=True)
    applied = applied_training(config, pd.DataFrame({"train_target": [1.0]}))
    assert "readout" in applied and "batch_size" in applied
    for name in ("epochs", "learning_rate", "scheduler", "patience", "freeze_encoder"):
        assert name not in applied, name


def test_a_refused_tracking_flag_leaves_no_folders(files, tmp_path, capsys, monkeypatch):
    """The run folder and the TensorBoard folder were made, then the flag
    was refused for its missing package."""
    def missing(args):
        raise tracking.AAMInputError("--tensorboard needs the tensorboard package")
    monkeypatch.setattr(tracking, "check_available", missing)
    code, output = _fit(capsys, files, tmp_path / "runs" / "run", "--tensorboard",
                        tmp_path / "tb" / "events")
    refused(output, code, "--tensorboard needs the tensorboard package")
    assert not (tmp_path / "runs").exists() and not (tmp_path / "tb").exists()
