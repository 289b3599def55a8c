"""ONNX export: the graph of a fitted model in onnxruntime predicts as torch does."""
import subprocess
import sys
from dataclasses import replace

import biom
import numpy as np
import pandas as pd
import pytest

from aam_core import api, cli, export
from aam_core.config import FIT_TRAIN_DEFAULTS, ModelConfig, TrainConfig
from tests.conftest import REPO

EXAMPLE = REPO / "examples" / "oral-age-mini"
TRAIN = replace(FIT_TRAIN_DEFAULTS, epochs=2, batch_size=16, ensemble_size=2,
                validation_fraction=0.2, n_threads=1, device="cpu")


def _mini(n_samples: int):
    table = biom.load_table(str(EXAMPLE / "table.biom"))
    table = table.filter(list(table.ids())[:n_samples], inplace=False)
    table = table.remove_empty(axis="observation", inplace=False)
    metadata = pd.read_csv(EXAMPLE / "metadata.tsv", sep="\t", index_col=0)
    return table, metadata["age"].reindex(table.ids())


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """A tiny two-member regressor with two experts, fitted on 48 real oral
    samples, saved as `aam` writes it."""
    table, age = _mini(48)
    bundle = api.fit_regressor(table, age, model="tiny", train=TRAIN,
                               head_options={"regression_experts": 2},
                               log=lambda message: None)
    directory = tmp_path_factory.mktemp("export") / "model"
    bundle.save(directory)
    return directory


def test_onnxruntime_predicts_as_torch_on_real_samples(fitted, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    bundle = api.load(fitted)
    path = export.export_onnx(bundle, tmp_path / "model.onnx")
    # samples the model never saw, of a different number of ASVs each
    table, _ = _mini(64)
    table = table.filter(list(table.ids())[48:], inplace=False)
    expected = api.predict(bundle, table, n_threads=1, log=lambda message: None)
    ids, inputs = export.onnx_inputs(bundle, table)
    assert ids == list(expected.index)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got, = session.run(["prediction"], inputs)
    difference = np.abs(got - expected.to_numpy()).max()
    print(f"max |onnxruntime - torch| = {difference:.2e} over {len(ids)} samples "
          f"of up to {inputs['tokens'].shape[1]} ASVs")
    assert got.shape == (len(ids),)
    assert difference < 1e-4
    # padding slots and a batch of one change nothing
    padded = {"tokens": np.pad(inputs["tokens"][:1], ((0, 0), (0, 5), (0, 0))),
              "abundances": np.pad(inputs["abundances"][:1], ((0, 0), (0, 5)))}
    alone, = session.run(["prediction"], padded)
    assert abs(alone[0] - expected.iloc[0]) < 1e-4


def test_a_classifier_with_kmers_exports_its_probabilities(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    table, age = _mini(48)
    labels = (age > 40).map({True: "over 40", False: "40 or under"})
    bundle = api.fit_classifier(table, labels, model=ModelConfig.preset("tiny", kmer_size=3),
                                train=TRAIN, log=lambda message: None)
    path = export.export_onnx(bundle, tmp_path / "classifier.onnx")
    _, expected = api.predict_classification(bundle, table, n_threads=1,
                                             log=lambda message: None)
    got, = ort.InferenceSession(str(path)).run(["probabilities"],
                                               export.onnx_inputs(bundle, table)[1])
    assert np.abs(got - expected.to_numpy()).max() < 1e-4


def test_a_propagation_readout_exports_its_neighbours(tmp_path):
    """The head that stores the fitted samples and their spread labels: the
    exported graph finds the same nearest samples."""
    ort = pytest.importorskip("onnxruntime")
    table, age = _mini(64)
    encoder = api.pretrain(table, model="tiny", train=TrainConfig(epochs=1, batch_size=16),
                           log=lambda message: None)
    labelled = age.iloc[::3]  # the others take part unlabelled
    bundle = api.fit_regressor(table, labelled, pretrained=encoder,
                               train=replace(FIT_TRAIN_DEFAULTS, readout="propagation",
                                             batch_size=16, n_threads=1),
                               log=lambda message: None)
    path = export.export_onnx(bundle, tmp_path / "propagation.onnx")
    expected = api.predict(bundle, table, n_threads=1, log=lambda message: None)
    got, = ort.InferenceSession(str(path)).run(["prediction"],
                                               export.onnx_inputs(bundle, table)[1])
    # a fitted sample is its own nearest node, at a distance that is ~0 in
    # both and weighs by its inverse: agreement to 0.1%, not to float noise
    assert np.allclose(got, expected.to_numpy(), rtol=1e-3, atol=1e-4)


def test_export_command_writes_the_model(fitted, tmp_path):
    pytest.importorskip("onnx")
    assert cli.main(["export-onnx", str(fitted), "--output",
                     str(tmp_path / "m.onnx")]) == 0
    assert (tmp_path / "m.onnx").stat().st_size > 0


def test_without_onnx_the_command_says_how_to_install_it(fitted, tmp_path):
    # a None entry in sys.modules makes `import onnx` fail, as if not installed
    script = ("import sys; sys.modules['onnx'] = None; from aam_core import cli; "
              f"sys.exit(cli.main(['export-onnx', {str(fitted)!r}, '--output', "
              f"{str(tmp_path / 'm.onnx')!r}]))")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True,
                            text=True)
    assert result.returncode == 1
    assert "pip install onnx onnxruntime" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "m.onnx").exists()


def test_a_model_that_cannot_be_exported_is_said_before_the_missing_package(tmp_path):
    """Without onnx, an encoder was told to install it, then refused."""
    table, _ = _mini(24)
    encoder = api.pretrain(table, model="tiny", train=TrainConfig(epochs=1, batch_size=8),
                           log=lambda message: None)
    encoder.save(tmp_path / "encoder")
    script = ("import sys; sys.modules['onnx'] = None; from aam_core import cli; "
              f"sys.exit(cli.main(['export-onnx', {str(tmp_path / 'encoder')!r}, "
              f"'--output', {str(tmp_path / 'm.onnx')!r}]))")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 1
    assert "This is a pretrained encoder; it predicts nothing to export" in result.stderr
    assert "pip install" not in result.stderr
