"""Borderline cases left by probes 14-15, now fixed: export-onnx names its
model as every other command does, a restart schedule of more cycles than
optimizer steps, and the ridge readout's refusal of a switched-off flag."""
import importlib.util

import pytest

from aam_core import api
from aam_core.config import TrainConfig
from aam_core.errors import AAMInputError
from tests.core.test_aam_command_probe_5 import RUN, aam
from tests.core.test_aam_command_probe_6 import refused
from tests.core.test_aam_command_probe_11 import files, model  # noqa: F401 (fixtures)


@pytest.mark.parametrize("given, message", [
    ([], "Give the model directory once: aam export-onnx MODEL_DIR --output model.onnx "
         "(or --model MODEL_DIR)."),
    (["a", "--model", "b"], "(or --model MODEL_DIR), not both (a and b)."),
    (["--model", "nowhere"], "--model nowhere does not exist; give a model directory"),
    (["nowhere"], "MODEL_DIR nowhere does not exist; give a model directory"),
])
def test_export_onnx_takes_its_model_as_an_argument_or_as_model(given, message, tmp_path,
                                                                capsys):
    code, output = aam(capsys, "export-onnx", *given, "--output", tmp_path / "m.onnx")
    refused(output, code, message)


@pytest.mark.skipif(importlib.util.find_spec("onnx") is None, reason="needs onnx")
def test_export_onnx_with_the_model_flag_writes_the_graph(model, tmp_path, capsys):
    code, output = aam(capsys, "export-onnx", "--model", model, "--output",
                       tmp_path / "m.onnx")
    assert code == 0, output
    assert (tmp_path / "m.onnx").stat().st_size > 0


def test_more_restart_cycles_than_optimizer_steps_are_refused(files, tmp_path, capsys):
    """The rate stayed at its peak the whole run, without a word."""
    run = tmp_path / "run"
    code, output = aam(capsys, "fit-regressor", "--table", files / "table.biom",
                       "--metadata", files / "md.tsv", "--target", "age", "--output-dir",
                       run, *RUN, "--scheduler", "cosine_restarts", "--lr-cycles", 40)
    refused(output, code, "--lr-cycles is 40, but the run makes only")
    assert "Lower --lr-cycles to at most" in output
    assert not run.exists()


def test_the_library_says_the_same_in_its_names(files):
    import biom
    import pandas as pd
    table = biom.load_table(str(files / "table.biom"))
    target = pd.read_csv(files / "md.tsv", sep="\t", index_col=0)["age"]
    train = TrainConfig(epochs=1, batch_size=8, scheduler="cosine_restarts", lr_cycles=40)
    with pytest.raises(AAMInputError, match="lr_cycles is 40, but the run makes only"):
        api.fit_regressor(table, target, model="tiny", train=train, log=lambda m: None)
